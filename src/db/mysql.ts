/**
 * Backend on MySQL/MariaDB through a mysql2 pool. Every statement runs as a
 * server-side prepared statement (`execute`), so values travel apart from
 * the SQL; mysql2 caches the prepared handle per connection. By concern:
 *
 *   mysql/pool.ts     the pool, deadlines, KILL QUERY on timeout, outage and reconnect
 *   mysql/lookups.ts  offer queries: prepared at load, grouped while the pool is busy
 *   mysql/writes.ts   history batches in one transaction, retention
 *   mysql/leases.ts   the pydhcp_lease table
 * and `internal`, pydhcp's own statements (the pool lease table, db/pool-store.ts).
 */
import { DbError, type Backend, type HistoryMark, type LeaseStore, type Param, type PreparedQuery, type Row } from "./backend.ts";
import { MYSQL_SCHEMA, leaseStatements } from "./schema.ts";
import type { Logger } from "../log/types.ts";
import { MysqlPool, errCode, errText, openFailure, type MysqlOptions } from "./mysql/pool.ts";
import { MysqlLookups } from "./mysql/lookups.ts";
import { MysqlWrites } from "./mysql/writes.ts";
import { migrateLeases, mysqlLeaseStore } from "./mysql/leases.ts";

export type { MysqlOptions } from "./mysql/pool.ts";

export class MysqlBackend implements Backend {
  readonly kind = "mysql" as const;
  readonly leases: LeaseStore;
  private readonly lookups: MysqlLookups;
  private readonly writes: MysqlWrites;

  private constructor(private readonly db: MysqlPool) {
    this.lookups = new MysqlLookups(db);
    this.writes = new MysqlWrites(db);
    this.leases = mysqlLeaseStore(db, db.opts.leaseWriter);
  }

  /** Connects, checks the server answers, creates pydhcp_lease when missing. */
  static async open(opts: MysqlOptions, log: Logger): Promise<MysqlBackend> {
    const pool = MysqlPool.create(opts);
    try {
      for (const stmt of leaseStatements(MYSQL_SCHEMA)) await pool.query(stmt);
      await migrateLeases(pool);
    } catch (e) {
      await pool.end().catch(() => {});
      const where = opts.socket ?? `${opts.host}:${opts.port}`;
      throw new DbError("connect", "", `cannot use MySQL database ${opts.database} at ${where} as ${opts.user}: ${errText(e)}`, errCode(e), openFailure(e));
    }
    return new MysqlBackend(new MysqlPool(pool, opts, log));
  }

  prepare(name: string, sql: string): Promise<PreparedQuery> {
    return this.lookups.prepare(name, sql);
  }

  runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks?: readonly HistoryMark[]): Promise<void> {
    return this.writes.runBatch(items, marks);
  }

  runBatchJson(items: readonly { query: PreparedQuery; values: string }[], marks?: readonly HistoryMark[]): Promise<void> {
    return this.writes.runBatchJson(items, marks);
  }

  historyMark(run: string): Promise<number> {
    return this.writes.historyMark(run);
  }

  pruneHistory(days: number, limit: number): Promise<number> {
    return this.writes.pruneHistory(days, limit);
  }

  async internal(name: string, sql: string, params: readonly (string | number | null)[]): Promise<{ rows: Row[]; changes: number }> {
    const r = await this.db.executeRaw(name, sql, params, this.db.opts.timeoutMs);
    if (Array.isArray(r)) return { rows: r as Row[], changes: 0 };
    return { rows: [], changes: Number((r as { affectedRows?: number }).affectedRows ?? 0) };
  }

  ping(): Promise<void> {
    return this.db.ping();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
