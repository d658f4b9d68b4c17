/**
 * Backend on MySQL/MariaDB through a mysql2 pool. Every statement runs as a
 * server-side prepared statement (`execute`), so values travel apart from
 * the SQL; mysql2 caches the prepared handle per connection.
 *
 * Timeouts: a query still running after its timeout is answered with a
 * timeout error at once; its connection is destroyed (it is busy with the
 * late result) and the server is asked to KILL QUERY it, so the pool stays
 * usable. Outages: a connection-level error marks the database down, logs
 * once, and a backoff loop pings until it answers; meanwhile queries fail
 * at once instead of each waiting for a connect timeout.
 */

import { LEASE_COLUMNS, leaseFrom } from "./lease-row.ts";
import { chunkSizes, multiRowSql, splitSingleRowInsert } from "./multirow.ts";
import { batchable, batchSql, LookupBatcher, type BatchRunner } from "./lookup-batch.ts";
import mysql, { type Pool, type PoolConnection } from "mysql2/promise";
import type { PoolConnection as CoreConnection } from "mysql2";
import { DbError, type Backend, type Lease, type LeaseStore, type Param, type PreparedQuery, type Row } from "./backend.ts";
import { MYSQL_SCHEMA, leaseStatements } from "./schema.ts";
import type { Logger } from "../log/types.ts";
import type { DatabaseSettings } from "./settings.ts";

/** The <mysql> settings from the config, plus the query timeout. */
export type MysqlOptions = Omit<Extract<DatabaseSettings, { kind: "mysql" }>, "kind"> & { timeoutMs: number };

/** mysql2 / server error codes that mean "no working connection" rather than "bad query". */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH",
  "PROTOCOL_CONNECTION_LOST", "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR", "PROTOCOL_ENQUEUE_AFTER_QUIT",
  "ER_SERVER_SHUTDOWN", "ER_CON_COUNT_ERROR", "ER_ACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR",
  "ER_CONNECTION_KILLED", "POOL_CLOSED",
]);

/** What this module binds: variable text, NULL, and its own integers (lease times). */
type SqlValue = string | number | null;

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

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

function errCode(e: unknown): string {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
}
function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}


export class MysqlBackend implements Backend {
  readonly kind = "mysql" as const;
  readonly leases: LeaseStore;
  private down = false;
  private downSince = 0;
  private closed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** statements running now (lookups, lease reads and writes) */
  private busy = 0;
  /** one per query name and text: a reload that prepares the same query again reuses it */
  private readonly batchers: LookupBatcher[] = [];
  private readonly batcherByQuery = new Map<string, LookupBatcher>();
  private nextBatcher = 0;

  private constructor(
    private readonly pool: Pool,
    private readonly opts: MysqlOptions,
    private readonly log: Logger,
  ) {
    this.leases = this.leaseStore();
  }

  /** Connects, checks the server answers, creates pydhcp_lease when missing. */
  static async open(opts: MysqlOptions, log: Logger): Promise<MysqlBackend> {
    const pool = mysql.createPool({
      ...(opts.socket ? { socketPath: opts.socket } : { host: opts.host, port: opts.port }),
      user: opts.user,
      password: opts.password,
      database: opts.database,
      connectionLimit: opts.poolSize,
      maxIdle: opts.poolSize,
      waitForConnections: true,
      queueLimit: 0,
      connectTimeout: Math.max(1000, opts.timeoutMs),
      enableKeepAlive: true,
      charset: "utf8mb4_general_ci",
      // datetime columns come back as text, as written
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      // every statement text is fixed (operator queries, fixed chunk sizes),
      // so a small cache holds them all; mysql2's default (16,000 per
      // connection) would let a bug pile up statements unseen
      maxPreparedStatements: 256,
    });
    const b = new MysqlBackend(pool, opts, log);
    try {
      for (const stmt of leaseStatements(MYSQL_SCHEMA)) await pool.query(stmt);
    } catch (e) {
      await pool.end().catch(() => {});
      const where = opts.socket ?? `${opts.host}:${opts.port}`;
      throw new DbError("connect", "", `cannot use MySQL database ${opts.database} at ${where} as ${opts.user}: ${errText(e)}`);
    }
    return b;
  }

  /** Marks the database down and starts the reconnect loop (once). */
  private lost(e: unknown): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.downSince = Date.now();
    // one line per state change: queries fail fast while down and say nothing each
    this.log.warn("database connection lost; reconnecting with backoff, renewals answered from lease memory", {
      error: errText(e),
      code: errCode(e),
    });
    this.scheduleReconnect(BACKOFF_MIN_MS);
  }

  private scheduleReconnect(delay: number): void {
    if (this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.pool.query("SELECT 1").then(
        () => {
          this.down = false;
          this.reconnectTimer = null;
          const downMs = Date.now() - this.downSince;
          this.log.info(`database reconnected after ${(downMs / 1000).toFixed(1)} s`, { downMs });
        },
        () => this.scheduleReconnect(Math.min(delay * 2, BACKOFF_MAX_MS)),
      );
    }, delay);
  }

  /** Classifies a driver error, starting the reconnect loop for connection-level ones. */
  private fail(name: string, e: unknown): DbError {
    if (e instanceof DbError) return e;
    if (CONNECTION_CODES.has(errCode(e))) {
      this.lost(e);
      return new DbError("connect", name, `${name}: ${errText(e)}`);
    }
    return new DbError("query", name, `${name}: ${errText(e)}`);
  }

  /** Gives up on a connection whose query timed out; frees the server side too. */
  private abandon(conn: PoolConnection | CoreConnection): void {
    const id = Number(conn.threadId);
    conn.destroy();
    // the thread id comes from the server handshake, never from a packet
    if (Number.isInteger(id) && id > 0) this.pool.query(`KILL QUERY ${id}`).catch(() => {});
  }

  /** Runs one statement with a deadline covering the wait for a connection too. */
  private execute(name: string, sql: string, params: readonly SqlValue[], timeoutMs: number): Promise<Row[]> {
    return this.executeRaw(name, sql, params, timeoutMs).then((r) => (Array.isArray(r) ? (r as Row[]) : []));
  }

  /** Rows for a SELECT, the result header (affectedRows...) for other statements. */
  private executeRaw(name: string, sql: string, params: readonly SqlValue[], timeoutMs: number): Promise<unknown> {
    if (this.down) {
      return Promise.reject(new DbError("connect", name, `${name}: database unavailable (reconnecting)`));
    }
    this.busy++;
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let conn: CoreConnection | null = null;
      /** settles once; the freed connection goes to lookups waiting for one */
      const settle = (then: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.busy--;
        then();
        this.kickBatchers();
      };
      const timer = setTimeout(() => {
        settle(() => {
          if (conn) this.abandon(conn);
          reject(new DbError("timeout", name, `${name}: timed out after ${timeoutMs} ms`));
        });
      }, timeoutMs);
      // the callback pool: the promise wrapper builds an EventEmitter per checkout
      this.pool.pool.getConnection((err, c) => {
        if (err) {
          settle(() => reject(this.fail(name, err)));
          return;
        }
        if (settled) {
          c.release();
          return;
        }
        conn = c;
        // after a timeout settle does nothing: the connection was already destroyed
        c.execute(sql, params as SqlValue[], (e, rows) => {
          settle(() => {
            if (e) {
              if ((e as { fatal?: boolean }).fatal) c.destroy();
              else c.release();
              reject(this.fail(name, e));
            } else {
              c.release();
              resolve(rows);
            }
          });
        });
      });
    });
  }

  /** A connection was freed: waiting lookups go out, one group per free connection. */
  private kickBatchers(): void {
    // round robin over the offer queries, so one cannot starve another
    const n = this.batchers.length;
    for (let k = 0; k < n && this.busy < this.opts.poolSize; k++) {
      this.nextBatcher = (this.nextBatcher + 1) % n;
      this.batchers[this.nextBatcher]!.flush();
    }
  }

  async prepare(name: string, sql: string): Promise<PreparedQuery> {
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw new DbError("connect", name, `${name}: ${errText(e)}`);
    }
    let grouped = false;
    try {
      // prepared here to fail at load; mysql2 keeps the handle for later executes
      await conn.prepare(sql);
      if (this.opts.lookupBatch > 1 && batchable(sql)) {
        // the grouped form is tried too: a query the server refuses in it runs alone
        grouped = await conn.prepare(batchSql(sql, 2)).then(
          () => true,
          (e: unknown) => {
            this.log.debug("query runs alone (not groupable)", { query: name, error: errText(e) });
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
    const timeout = this.opts.timeoutMs;
    if (grouped) {
      const runner: BatchRunner = {
        exec: (text, params, t) => this.execute(name, text, params, t),
        idle: () => this.busy < this.opts.poolSize,
        retryAlone: (e) => e instanceof DbError && e.kind === "query",
      };
      const key = `${name}\0${sql}`;
      let b = this.batcherByQuery.get(key);
      if (!b) {
        b = new LookupBatcher(sql, this.opts.lookupBatch, runner);
        this.batcherByQuery.set(key, b);
        this.batchers.push(b);
      }
      const batcher = b;
      return { name, sql, run: (params: readonly Param[], timeoutMs?: number) => batcher.run(params, timeoutMs ?? timeout) };
    }
    return {
      name,
      sql,
      run: (params: readonly Param[], timeoutMs?: number) => this.execute(name, sql, params, timeoutMs ?? timeout),
    };
  }

  private readonly inserts = new Map<string, ReturnType<typeof splitSingleRowInsert>>();

  private insertParts(sql: string): ReturnType<typeof splitSingleRowInsert> {
    let p = this.inserts.get(sql);
    if (p === undefined) this.inserts.set(sql, (p = splitSingleRowInsert(sql)));
    return p;
  }

  async runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[]): Promise<void> {
    if (items.length === 0) return;
    if (this.down) throw new DbError("connect", "", "database unavailable (reconnecting)");
    // the connection it holds is counted, so lookups group behind it instead of queueing in the pool one by one
    this.busy++;
    try {
      await this.writeBatch(items);
    } finally {
      this.busy--;
      this.kickBatchers();
    }
  }

  private async writeBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[]): Promise<void> {
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw this.fail("", e);
    }
    let current = "";
    try {
      await conn.beginTransaction();
      for (let i = 0; i < items.length; ) {
        // consecutive rows of one single-row INSERT go as multi-row INSERTs
        const q = items[i]!.query;
        current = q.name;
        let j = i + 1;
        while (j < items.length && items[j]!.query.sql === q.sql) j++;
        const parts = j - i > 1 ? this.insertParts(q.sql) : null;
        if (!parts) {
          for (; i < j; i++) await conn.execute(items[i]!.query.sql, items[i]!.params as SqlValue[]);
          continue;
        }
        for (const n of chunkSizes(j - i)) {
          const values = items.slice(i, i + n).flatMap((it) => it.params as SqlValue[]);
          await conn.execute(n === 1 ? q.sql : multiRowSql(parts, n), values);
          i += n;
        }
      }
      await conn.commit();
      conn.release();
    } catch (e) {
      await conn.rollback().catch(() => {});
      if ((e as { fatal?: boolean }).fatal) conn.destroy();
      else conn.release();
      throw this.fail(current, e);
    }
  }

  async pruneHistory(days: number, limit: number): Promise<number> {
    // MySQL allows LIMIT on a single-table DELETE
    const res = (await this.executeRaw(
      "history retention",
      "DELETE FROM history WHERE dt < NOW() - INTERVAL ? DAY ORDER BY id LIMIT ?",
      [days, Math.max(1, Math.floor(limit))],
      this.opts.timeoutMs,
    )) as { affectedRows?: number };
    return Number(res.affectedRows ?? 0);
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query("SELECT 1");
    } catch (e) {
      throw this.fail("", e);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.pool.end().catch(() => {});
  }

  private leaseStore(): LeaseStore {
    const t = () => this.opts.timeoutMs;
    const q = (name: string, sql: string, params: SqlValue[]) => this.execute(`pydhcp_lease ${name}`, sql, params, t());
    return {
      loadActive: async (now) =>
        (await q("load", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE expires >= ?`, [now])).map(leaseFrom),
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
        const res = (await this.executeRaw("pydhcp_lease cleanup", "DELETE FROM pydhcp_lease WHERE expires < ? LIMIT ?", [
          now,
          Math.max(1, Math.floor(limit)),
        ], t())) as { affectedRows?: number };
        return Number(res.affectedRows ?? 0);
      },
    };
  }
}
