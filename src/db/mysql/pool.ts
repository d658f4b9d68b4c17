/**
 * The mysql2 pool and its health: statements with a deadline that covers
 * the wait for a connection, and the outage state.
 *
 * Timeouts: a query still running after its timeout is answered with a
 * timeout error at once; its connection is destroyed (it is busy with the
 * late result) and the server is asked to KILL QUERY it, so the pool stays
 * usable. Outages: a connection-level error marks the database down, logs
 * once, and a backoff loop pings until it answers; meanwhile queries fail
 * at once instead of each waiting for a connect timeout.
 */
import mysql, { type Pool, type PoolConnection } from "mysql2/promise";
import type { PoolConnection as CoreConnection } from "mysql2";
import { DbError, type ConnectFailure, type Row } from "../backend.ts";
import type { DatabaseSettings } from "../settings.ts";
import type { Logger } from "../../log/types.ts";

/** The <mysql> settings from the config, plus the query timeout. */
export type MysqlOptions = Omit<Extract<DatabaseSettings, { kind: "mysql" }>, "kind"> & {
  timeoutMs: number;
  /** the `writer` id of this process's lease upserts (db/lease-row.ts LEASE_WRITER unless given) */
  leaseWriter?: string;
};

/** What this backend binds: variable text, NULL, and its own integers (lease times, limits). */
export type SqlValue = string | number | null;

/** mysql2 / server error codes that mean "no working connection" rather than "bad query". */
export const CONNECTION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH",
  "PROTOCOL_CONNECTION_LOST", "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR", "PROTOCOL_ENQUEUE_AFTER_QUIT",
  "ER_SERVER_SHUTDOWN", "ER_CON_COUNT_ERROR", "ER_ACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR",
  "ER_CONNECTION_KILLED", "POOL_CLOSED",
  // 1047: a Galera node outside the primary component ("WSREP has not yet prepared node for
  // application use") answers SELECT 1 and refuses every table until it rejoins
  "ER_UNKNOWN_COM_ERROR",
]);

/**
 * What the reconnect loop and /health run: it reads a table, since a Galera
 * node outside the primary component answers a table-less SELECT 1.
 * pydhcp_lease exists on every MySQL/MariaDB database pydhcp has opened.
 */
export const READY_SQL = "SELECT 1 FROM pydhcp_lease LIMIT 1";

/** The server refused the login or the database name: a configuration problem, not an outage (db/backend.ts ConnectFailure). */
const REFUSED_CODES = new Set([
  "ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR", "ER_ACCESS_DENIED_NO_PASSWORD_ERROR",
  "ER_HOST_NOT_PRIVILEGED", "ER_MUST_CHANGE_PASSWORD_LOGIN",
]);

/** Why opening the database failed; only "unreachable" lets a start serve from the lease snapshot. */
export function openFailure(e: unknown): ConnectFailure {
  const code = errCode(e);
  if (REFUSED_CODES.has(code)) return "refused";
  // socket-level errors (ECONNREFUSED, ENOTFOUND, EAI_AGAIN ...) and mysql2's lost or timed-out protocol
  if (CONNECTION_CODES.has(code) || /^E[A-Z0-9]+$/.test(code) || code.startsWith("PROTOCOL_") || code === "ER_TOO_MANY_USER_CONNECTIONS") return "unreachable";
  return "unusable";
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export function errCode(e: unknown): string {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
}
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class MysqlPool {
  private down = false;
  private downSince = 0;
  private closed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** statements running now (lookups, lease reads and writes, history batches) */
  private busy = 0;
  /** when each of them started (performance.now() ms) */
  private readonly running = new Set<{ at: number }>();
  /** usual statement time, ms (moving average of successful ones) */
  private usualMs = 2;
  /** called whenever a connection is given back: waiting lookups go out (lookups.ts) */
  onFree: () => void = () => {};

  constructor(
    readonly pool: Pool,
    readonly opts: MysqlOptions,
    readonly log: Logger,
  ) {}

  static create(opts: MysqlOptions): Pool {
    return mysql.createPool({
      ...(opts.socket ? { socketPath: opts.socket } : { host: opts.host, port: opts.port }),
      user: opts.user,
      password: opts.password,
      database: opts.database,
      // one spare beyond poolSize, for waiting lookups while every other connection is stuck
      connectionLimit: opts.poolSize + 1,
      maxIdle: opts.poolSize + 1,
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
  }

  /** true when a connection is free now */
  get idle(): boolean {
    return this.busy < this.opts.poolSize;
  }

  /**
   * A statement running longer than this is taken as stuck: eight times the
   * usual statement time, at least 400 ms (scheduling delays on a busy host
   * must not look like slow rows). Lookups on the spare connection get no
   * more than this before their group is split (lookup-batch.ts).
   */
  get stuckMs(): number {
    return Math.max(400, 8 * this.usualMs);
  }

  /**
   * A connection waiting lookups may take: a free one, or the one spare
   * when every statement running has been running longer than stuckMs
   * (slow rows must not starve the lookups queued behind them).
   */
  get idleForWaiting(): boolean {
    if (this.busy < this.opts.poolSize) return true;
    if (this.busy >= this.opts.poolSize + 1) return false;
    const now = performance.now();
    for (const r of this.running) if (now - r.at < this.stuckMs) return false;
    return true;
  }

  /** true when the next statement would take the spare connection */
  get onSpare(): boolean {
    return this.busy >= this.opts.poolSize;
  }

  /** When the youngest statement running becomes stuck (performance.now() ms), or Infinity. */
  nextStuck(): number {
    let youngest = -Infinity;
    for (const r of this.running) youngest = Math.max(youngest, r.at);
    return youngest === -Infinity ? Infinity : youngest + this.stuckMs;
  }

  get isDown(): boolean {
    return this.down;
  }

  /** Counts a connection taken outside execute (a history batch) until the returned release runs. */
  hold(): () => void {
    this.busy++;
    const entry = { at: performance.now() };
    this.running.add(entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy--;
      this.running.delete(entry);
      this.onFree();
    };
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
      this.pool.query(READY_SQL).then(
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
  fail(name: string, e: unknown): DbError {
    if (e instanceof DbError) return e;
    if (CONNECTION_CODES.has(errCode(e))) {
      this.lost(e);
      return new DbError("connect", name, `${name}: ${errText(e)}`, errCode(e));
    }
    // the code travels with the error: pool writes retry deadlocks and certification conflicts by it
    return new DbError("query", name, `${name}: ${errText(e)}`, errCode(e));
  }

  /** Gives up on a connection whose query timed out; frees the server side too. */
  private abandon(conn: PoolConnection | CoreConnection): void {
    const id = Number(conn.threadId);
    conn.destroy();
    // the thread id comes from the server handshake, never from a packet
    if (Number.isInteger(id) && id > 0) this.pool.query(`KILL QUERY ${id}`).catch(() => {});
  }

  /** Runs one statement with a deadline covering the wait for a connection too. */
  execute(name: string, sql: string, params: readonly SqlValue[], timeoutMs: number): Promise<Row[]> {
    return this.executeRaw(name, sql, params, timeoutMs).then((r) => (Array.isArray(r) ? (r as Row[]) : []));
  }

  /** Rows for a SELECT, the result header (affectedRows...) for other statements. */
  executeRaw(name: string, sql: string, params: readonly SqlValue[], timeoutMs: number): Promise<unknown> {
    if (this.down) {
      return Promise.reject(new DbError("connect", name, `${name}: database unavailable (reconnecting)`));
    }
    this.busy++;
    const entry = { at: performance.now() };
    this.running.add(entry);
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let conn: CoreConnection | null = null;
      /** settles once; the freed connection goes to lookups waiting for one */
      const settle = (then: () => void, ok = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.busy--;
        this.running.delete(entry);
        if (ok) this.usualMs += (performance.now() - entry.at - this.usualMs) / 16;
        then();
        this.onFree();
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
          }, !e);
        });
      });
    });
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query(READY_SQL);
    } catch (e) {
      throw this.fail("", e);
    }
  }

  /** Ends the pool; statements still running are abandoned after `boundMs`. */
  async close(boundMs = 2000): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.pool.end().catch(() => {}), new Promise<void>((r) => (t = setTimeout(r, boundMs)))]);
    clearTimeout(t);
  }
}
