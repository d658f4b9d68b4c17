/**
 * Offer queries on MySQL: prepared once at load (so a bad query fails the
 * config, not a packet), run alone while a connection is free and grouped
 * into one statement while all are busy (db/lookup-batch.ts).
 */
import type { PoolConnection } from "mysql2/promise";
import { DbError, type Param, type PreparedQuery } from "../backend.ts";
import { batchable, batchSql, LookupBatcher, type BatchRunner } from "../lookup-batch.ts";
import { CONNECTION_CODES, errCode, errText, type MysqlPool } from "./pool.ts";

export class MysqlLookups {
  /** one per query name and text: a reload that prepares the same query again reuses it */
  private readonly batchers: LookupBatcher[] = [];
  private readonly batcherByQuery = new Map<string, LookupBatcher>();
  private nextBatcher = 0;
  /** connections known-slow lookups hold now; always fewer than the pool */
  private slowRunning = 0;
  /** wakes kick when the statements holding every connection become stuck (the spare opens) */
  private stuckTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly db: MysqlPool) {
    db.onFree = () => this.kick();
  }

  /** A connection was freed (or all are stuck): waiting lookups go out, one statement per free connection. */
  private kick(): void {
    // round robin over the offer queries, so one cannot starve another; one
    // statement per free connection while lookups wait
    const n = this.batchers.length;
    for (let k = 0, quiet = 0; quiet < n && k < 1024 && this.db.idleForWaiting; k++) {
      this.nextBatcher = (this.nextBatcher + 1) % n;
      quiet = this.batchers[this.nextBatcher]!.flush() ? 0 : quiet + 1;
    }
    if (this.batchers.some((b) => b.pending > 0)) this.kickWhenStuck();
  }

  /** Lookups wait: look again when the youngest statement running becomes stuck (the spare may open then). */
  private kickWhenStuck(): void {
    if (this.stuckTimer !== null) return;
    const at = this.db.nextStuck();
    if (at === Infinity) return;
    this.stuckTimer = setTimeout(() => {
      this.stuckTimer = null;
      this.kick();
    }, Math.max(1, at - performance.now()));
  }

  async prepare(name: string, sql: string): Promise<PreparedQuery> {
    const { pool, opts, log } = this.db;
    let conn: PoolConnection;
    try {
      conn = await pool.getConnection();
    } catch (e) {
      throw new DbError("connect", name, `${name}: ${errText(e)}`);
    }
    let grouped = false;
    let columns: string[] | undefined;
    try {
      // prepared here to fail at load; mysql2 keeps the handle for later executes
      const stmt = await conn.prepare(sql);
      // the result columns, as the server describes them at prepare time
      columns = (stmt as unknown as { statement?: { columns?: { name: string }[] } }).statement?.columns?.map((c) => c.name);
      if (opts.lookupBatch > 1 && batchable(sql)) {
        // the grouped form is tried too: a query the server refuses in it runs alone
        grouped = await conn.prepare(batchSql(sql, 2)).then(
          () => true,
          (e: unknown) => {
            log.debug("query runs alone (not groupable)", { query: name, error: errText(e) });
            return false;
          },
        );
      }
    } catch (e) {
      if (CONNECTION_CODES.has(errCode(e))) throw new DbError("connect", name, `${name}: ${errText(e)}`);
      throw new DbError("prepare", name, `${name}: ${errText(e)}`);
    } finally {
      conn.release();
    }
    const timeout = opts.timeoutMs;
    const base = { name, sql, ...(columns ? { columns } : {}) };
    if (!grouped) {
      return { ...base, run: (params: readonly Param[], timeoutMs?: number) => this.db.execute(name, sql, params, timeoutMs ?? timeout) };
    }
    const slowCap = Math.max(1, opts.poolSize - 1);
    const runner: BatchRunner = {
      exec: (text, params, t) => this.db.execute(name, text, params, t),
      idle: () => this.db.idle,
      idleForWaiting: () => this.db.idleForWaiting,
      onSpare: () => this.db.onSpare,
      budgetMs: () => this.db.stuckMs,
      waiting: () => this.kickWhenStuck(),
      retryAlone: (e) => e instanceof DbError && e.kind === "query",
      isTimeout: (e) => e instanceof DbError && e.kind === "timeout",
      timeout: (ms) => new DbError("timeout", name, `${name}: timed out after ${ms} ms`),
      takeSlowSlot: () => (this.slowRunning < slowCap ? (this.slowRunning++, true) : false),
      releaseSlowSlot: () => void this.slowRunning--,
    };
    const key = `${name}\0${sql}`;
    let b = this.batcherByQuery.get(key);
    if (!b) {
      b = new LookupBatcher(sql, opts.lookupBatch, runner);
      this.batcherByQuery.set(key, b);
      this.batchers.push(b);
    }
    const batcher = b;
    return { ...base, run: (params: readonly Param[], timeoutMs?: number) => batcher.run(params, timeoutMs ?? timeout) };
  }
}
