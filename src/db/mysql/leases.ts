/** pydhcp's own lease table `pydhcp_lease` on MySQL (servers sharing one database share leases). */
import type { Pool } from "mysql2/promise";
import { DbError, type LeaseStore, type Row } from "../backend.ts";
import { LEASE_ADDED_COLUMNS, LEASE_COLUMNS, LEASE_PLACEHOLDERS, leaseFrom, leaseValues, listWhere } from "../lease-row.ts";
import { chunkSizes, multiRowSql } from "../multirow.ts";
import { errText, type MysqlPool, type SqlValue } from "./pool.ts";

const UPSERT_ROWS = { head: `INSERT INTO pydhcp_lease (${LEASE_COLUMNS}) VALUES`, tuple: LEASE_PLACEHOLDERS };
const UPSERT_SQL = new Map<number, string>();

/** The lease upsert for `n` rows (one text per chunk size). */
function upsertSql(n: number): string {
  let sql = UPSERT_SQL.get(n);
  if (sql === undefined) {
    sql = `${multiRowSql(UPSERT_ROWS, n)}
           ON DUPLICATE KEY UPDATE mac = VALUES(mac), ip = VALUES(ip), option82 = VALUES(option82),
             expires = VALUES(expires), state = VALUES(state), answer = VALUES(answer), updated = VALUES(updated),
             relay = VALUES(relay), hostname = VALUES(hostname)`;
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
        const values = chunk.flatMap(leaseValues);
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
    changedSince: async (since) => (await q("sync", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= ?`, [since])).map(leaseFrom),
    list: async (filter, now, limit) => {
      const { where, params } = listWhere(filter, now);
      const sql = `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease ${where} ORDER BY updated DESC LIMIT ?`;
      return (await q("list", sql, [...params, Math.max(1, Math.floor(limit))])).map(leaseFrom);
    },
    release: async (by, now) => {
      const [col, v] = "mac" in by ? ["mac", by.mac] : ["ip", by.ip];
      const current = `${col} = ? AND expires >= ? AND state IN ('bound', 'offered')`;
      const conn = await db.pool.getConnection().catch((e: unknown) => {
        throw new DbError("connect", "pydhcp_lease release", errText(e));
      });
      try {
        await conn.beginTransaction();
        const [rows] = await conn.execute(`SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE ${current} FOR UPDATE`, [v, now]);
        await conn.execute(`UPDATE pydhcp_lease SET state = 'released', expires = ?, updated = ? WHERE ${current}`, [now, now, v, now]);
        await conn.commit();
        return (rows as Row[]).map(leaseFrom);
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw new DbError("query", "pydhcp_lease release", errText(e));
      } finally {
        conn.release();
      }
    },
  };
}

/** Adds the lease columns and indexes a table made by an older pydhcp lacks (MySQL has no ADD COLUMN IF NOT EXISTS). */
export async function migrateLeases(pool: Pool): Promise<void> {
  const [cols] = await pool.query("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'pydhcp_lease'");
  const have = new Set((cols as Row[]).map((r) => String(r.c ?? r.C ?? r.COLUMN_NAME).toLowerCase()));
  for (const [name, type] of LEASE_ADDED_COLUMNS) if (!have.has(name)) await pool.query(`ALTER TABLE pydhcp_lease ADD COLUMN \`${name}\` ${type}`);
  const [keys] = await pool.query("SELECT DISTINCT index_name AS k FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'pydhcp_lease'");
  const haveKey = new Set((keys as Row[]).map((r) => String(r.k ?? r.K ?? r.INDEX_NAME)));
  for (const col of ["updated", "mac"]) if (!haveKey.has(`pydhcp_lease_${col}`)) await pool.query(`ALTER TABLE pydhcp_lease ADD KEY \`pydhcp_lease_${col}\` (\`${col}\`)`);
}
