/** pydhcp's own lease table `pydhcp_lease` on MySQL (servers sharing one database share leases). */
import type { LeaseStore } from "../backend.ts";
import { LEASE_COLUMNS, leaseFrom } from "../lease-row.ts";
import { chunkSizes, multiRowSql } from "../multirow.ts";
import type { MysqlPool, SqlValue } from "./pool.ts";

const UPSERT_ROWS = { head: `INSERT INTO pydhcp_lease (${LEASE_COLUMNS}) VALUES`, tuple: "(?, ?, ?, ?, ?, ?, ?, ?)" };
const UPSERT_SQL = new Map<number, string>();

/** The lease upsert for `n` rows (one text per chunk size). */
function upsertSql(n: number): string {
  let sql = UPSERT_SQL.get(n);
  if (sql === undefined) {
    sql = `${multiRowSql(UPSERT_ROWS, n)}
           ON DUPLICATE KEY UPDATE mac = VALUES(mac), ip = VALUES(ip), option82 = VALUES(option82),
             expires = VALUES(expires), state = VALUES(state), answer = VALUES(answer), updated = VALUES(updated)`;
    UPSERT_SQL.set(n, sql);
  }
  return sql;
}

export function mysqlLeaseStore(db: MysqlPool): LeaseStore {
  const t = () => db.opts.timeoutMs;
  const q = (name: string, sql: string, params: SqlValue[]) => db.execute(`pydhcp_lease ${name}`, sql, params, t());
  return {
    loadActive: async (now) => (await q("load", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE expires >= ?`, [now])).map(leaseFrom),
    get: async (key) => {
      const rows = await q("get", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE client_key = ?`, [key]);
      return rows[0] ? leaseFrom(rows[0]) : null;
    },
    byIp: async (ip) => {
      const now = Math.floor(Date.now() / 1000);
      const rows = await q(
        "byIp",
        `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE ip = ? ORDER BY (expires >= ?) DESC, updated DESC LIMIT 1`,
        [ip, now],
      );
      return rows[0] ? leaseFrom(rows[0]) : null;
    },
    upsert: async (leases) => {
      // fixed chunk sizes: a statement per batch size would leave one
      // prepared statement per distinct size on every connection (server
      // side too, where max_prepared_stmt_count caps them all)
      let i = 0;
      for (const n of chunkSizes(leases.length)) {
        const chunk = leases.slice(i, (i += n));
        const values = chunk.flatMap((l) => [l.clientKey, l.mac, l.ip, l.option82, l.expires, l.state, l.answer, l.updated]);
        // each statement is its own implicit transaction; an upsert repeated after a failure is harmless
        await q("upsert", upsertSql(n), values);
      }
    },
    deleteExpired: async (now, limit) => {
      const res = (await db.executeRaw("pydhcp_lease cleanup", "DELETE FROM pydhcp_lease WHERE expires < ? LIMIT ?", [now, Math.max(1, Math.floor(limit))], t())) as {
        affectedRows?: number;
      };
      return Number(res.affectedRows ?? 0);
    },
  };
}
