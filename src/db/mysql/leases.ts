/** pydhcp's own lease table `pydhcp_lease` on MySQL (servers sharing one database share leases). */
import type { Pool } from "mysql2/promise";
import { DbError, type LeaseStore, type Row } from "../backend.ts";
import {
  LEASE_ADDED_COLUMNS, LEASE_COLUMNS, LEASE_SYNC_INDEX, LEASE_WRITE_COLUMNS, LEASE_WRITE_PLACEHOLDERS, LEASE_WRITER, RELEASE_WRITER,
  leaseFrom, leasesFrom, leaseValues, listWhere,
} from "../lease-row.ts";
import { chunkSizes, multiRowSql } from "../multirow.ts";
import { errText, type MysqlPool, type SqlValue } from "./pool.ts";

const UPSERT_ROWS = { head: `INSERT INTO pydhcp_lease (${LEASE_WRITE_COLUMNS}) VALUES`, tuple: LEASE_WRITE_PLACEHOLDERS };
const UPSERT_SQL = new Map<number, string>();

/** changedSince's statement: rows changed at or after ?, not written by ? (comment at changedSince). */
export const SYNC_SQL = `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease FORCE INDEX (${LEASE_SYNC_INDEX}) WHERE updated >= ? AND writer <> ?`;
/** The same without the hint, for a table whose index was dropped by hand while the server runs. */
const SYNC_SQL_UNFORCED = `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= ? AND writer <> ?`;
/** ER_KEY_DOES_NOT_EXITS: the forced index is not there */
const NO_SUCH_INDEX = "ER_KEY_DOES_NOT_EXITS";

/** The lease upsert for `n` rows (one text per chunk size). */
function upsertSql(n: number): string {
  let sql = UPSERT_SQL.get(n);
  if (sql === undefined) {
    sql = `${multiRowSql(UPSERT_ROWS, n)}
           ON DUPLICATE KEY UPDATE mac = VALUES(mac), ip = VALUES(ip), option82 = VALUES(option82),
             expires = VALUES(expires), state = VALUES(state), answer = VALUES(answer), updated = VALUES(updated),
             relay = VALUES(relay), hostname = VALUES(hostname), writer = VALUES(writer)`;
    UPSERT_SQL.set(n, sql);
  }
  return sql;
}

/** `writer`: the id this store's upserts carry, and whose rows its changedSince leaves out. */
export function mysqlLeaseStore(db: MysqlPool, writer: string = LEASE_WRITER): LeaseStore {
  const t = () => db.opts.timeoutMs;
  const q = (name: string, sql: string, params: SqlValue[]) => db.execute(`pydhcp_lease ${name}`, sql, params, t());
  return {
    loadActive: async (now) => leasesFrom(await q("load", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE expires >= ?`, [now])),
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
        const values = chunk.flatMap((l) => leaseValues(l, writer));
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
    // Without this server's own rows: a row carries the writer of its current
    // content (the upsert sets writer with the rest of the row), so `writer =
    // ours` means the table holds what this server last wrote for that client,
    // which its memory already has (or something newer it has not written
    // yet). A row another server wrote after ours, in a later second or the
    // same one, carries that server's id and comes back; so does a release
    // (RELEASE_WRITER) and every row from before the column ('').
    // Through the (updated, writer) index, forced: own rows are skipped in
    // the index (index condition pushdown) without reading the row, which
    // MariaDB's cost model does not count; left to itself it scans the whole
    // table once the window holds a tenth of it (10,000 of 110,000 rows:
    // 33 ms a sync instead of a few, bench/lease-sync.ts). migrateLeases
    // makes the index at start; without it (dropped by hand since) the sync
    // still runs, unforced, until a restart makes it again.
    changedSince: async (since) => {
      const rows = await q("sync", SYNC_SQL, [since, writer]).catch((e: unknown) => {
        if (e instanceof DbError && e.code === NO_SUCH_INDEX) return q("sync", SYNC_SQL_UNFORCED, [since, writer]);
        throw e;
      });
      return leasesFrom(rows);
    },
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
        await conn.execute(`UPDATE pydhcp_lease SET state = 'released', expires = ?, updated = ?, writer = ? WHERE ${current}`, [now, now, RELEASE_WRITER, v, now]);
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
  if (!haveKey.has("pydhcp_lease_mac")) await pool.query("ALTER TABLE pydhcp_lease ADD KEY `pydhcp_lease_mac` (`mac`)");
  // the sync index replaces the one on `updated` alone (every index is one more write per upsert)
  if (!haveKey.has(LEASE_SYNC_INDEX)) {
    const drop = haveKey.has("pydhcp_lease_updated") ? "DROP KEY `pydhcp_lease_updated`, " : "";
    await pool.query(`ALTER TABLE pydhcp_lease ${drop}ADD KEY \`${LEASE_SYNC_INDEX}\` (\`updated\`, \`writer\`)`);
  }
}
