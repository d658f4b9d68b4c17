/**
 * Backend on PostgreSQL through Bun's built-in client (Bun.SQL), chosen by
 * bench/pg-drivers.ts (docs/benchmark.md): against the `pg` and `postgres`
 * packages it cost the least client CPU on the offer chain and the lease
 * upserts, about the same on history batches, and it is no dependency.
 * Every statement is a named prepared statement; values travel apart from
 * the SQL.
 *
 * At most poolSize statements are in flight: Bun.SQL sends a query down a
 * busy connection when every one is taken (pipelining), so one slow lookup
 * would hold up the quick ones behind it. Waiting lookups of one offer
 * query go out grouped instead (db/lookup-batch.ts), as on MySQL.
 *
 * Timeouts: a statement still running at its deadline is cancelled on the
 * server (a CancelRequest on a second connection) and its caller answered
 * with a timeout error at once. The server's statement_timeout is a
 * backstop for a lost cancel, long enough not to cut the write batches,
 * which on MySQL have no timeout at all. Outages: a connection-level error marks
 * the database down, logs once, and a backoff loop pings until it answers.
 */

import { SQL } from "bun";
import { LEASE_COLUMNS, LEASE_WRITE_COLUMNS, LEASE_WRITE_PLACEHOLDERS, LEASE_WRITER, RELEASE_WRITER, leaseFrom, leasesFrom, listWhere } from "./lease-row.ts";
import { chunkSizes, multiRowSql, splitSingleRowInsert } from "./multirow.ts";
import { batchable, batchSql, LookupBatcher, type BatchRunner } from "./lookup-batch.ts";
import { numberPlaceholders } from "./postgresql-sql.ts";
import { DbError, type Backend, type ConnectFailure, type HistoryMark, type Lease, type LeaseStore, type Param, type PreparedQuery, type Row } from "./backend.ts";
import { POSTGRESQL_SCHEMA, leaseStatements } from "./schema.ts";
import type { Logger } from "../log/types.ts";
import type { PostgresqlSettings } from "./settings.ts";

/** The <postgresql> settings (db/settings.ts), plus the query timeout. */
export type PostgresqlOptions = Omit<PostgresqlSettings, "kind"> & {
  /** query timeout, ms */
  timeoutMs: number;
  /** the `writer` id of this process's lease upserts (db/lease-row.ts LEASE_WRITER unless given) */
  leaseWriter?: string;
};

/** Bun.SQL error codes that mean "no working connection" rather than "bad query". */
const CONNECTION_CODES = new Set([
  "ERR_POSTGRES_CONNECTION_CLOSED", "ERR_POSTGRES_CONNECTION_REFUSED", "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_CONNECTION_FAILED", "ERR_POSTGRES_IDLE_TIMEOUT", "ERR_POSTGRES_LIFETIME_TIMEOUT",
  "ERR_POSTGRES_TLS_NOT_AVAILABLE", "ERR_POSTGRES_TLS_UPGRADE_FAILED",
  "ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH",
]);
/**
 * SQLSTATEs of the same kind: class 08 (connection exception), server
 * shutting down or starting, too many connections, login refused, no such
 * database.
 */
const CONNECTION_STATES = /^(08|57P0[123]|53300|28|3D000)/;
/**
 * The server refused the login or the database name (SQLSTATE class 28,
 * 3D000), or the client could not complete the authentication it asked
 * for: a configuration problem, not an outage (db/backend.ts ConnectFailure).
 */
const REFUSED_STATES = /^(28|3D000)/;
const REFUSED_CODES = new Set([
  "ERR_POSTGRES_AUTHENTICATION_FAILED_PBKDF2", "ERR_POSTGRES_UNSUPPORTED_AUTHENTICATION_METHOD", "ERR_POSTGRES_UNKNOWN_AUTHENTICATION_METHOD",
  "ERR_POSTGRES_SASL_SIGNATURE_MISMATCH", "ERR_POSTGRES_SASL_SIGNATURE_INVALID_BASE64", "ERR_POSTGRES_SASL_NO_KNOWN_MECHANISM",
  "ERR_POSTGRES_INVALID_SERVER_SIGNATURE", "ERR_POSTGRES_INVALID_SERVER_KEY", "ERR_POSTGRES_CHANNEL_BINDING_REQUIRED",
]);
/** SQLSTATE 57014: statement cancelled (our cancel, or statement_timeout). */
const CANCELLED = "57014";

/** What this module binds: variable text and NULL (its own integers go as text). */
type SqlValue = string | null;

/** Backstop on the server for every statement (ms); lookups are cancelled at their own timeout. */
const STATEMENT_TIMEOUT_MS = 30_000;

/** How long a cancelled statement may take to end before its connection counts as dead (at least the query timeout). */
const STUCK_MIN_MS = 1000;

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

function errCode(e: unknown): string {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
}
function errState(e: unknown): string {
  return typeof e === "object" && e !== null && "errno" in e ? String((e as { errno: unknown }).errno) : "";
}
function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
function isConnectionError(e: unknown): boolean {
  return CONNECTION_CODES.has(errCode(e)) || CONNECTION_STATES.test(errState(e));
}
/** Why opening the database failed; only "unreachable" lets a start serve from the lease snapshot. */
export function openFailure(e: unknown): ConnectFailure {
  if (REFUSED_CODES.has(errCode(e)) || REFUSED_STATES.test(errState(e))) return "refused";
  // socket-level errors (ECONNREFUSED, EAI_AGAIN ...) count as not reached whatever their name
  if (isConnectionError(e) || /^E[A-Z0-9]+$/.test(errCode(e))) return "unreachable";
  return "unusable";
}

/**
 * PostgreSQL text cannot hold U+0000; such a value (only from a hostile
 * packet) is bound with U+FFFD in its place, as UTF-8 does for invalid
 * UTF-16, rather than failing its lookup or its whole history batch.
 */
function safeParams(params: readonly Param[]): SqlValue[] {
  const out = params as SqlValue[];
  for (let k = 0; k < out.length; k++) {
    const v = out[k];
    if (v != null && v.includes("\0")) return out.map((x) => (x == null ? x : x.replaceAll("\0", "\uFFFD")));
  }
  return out;
}

const UPSERT_ROWS = { head: `INSERT INTO pydhcp_lease (${LEASE_WRITE_COLUMNS}) VALUES`, tuple: LEASE_WRITE_PLACEHOLDERS };

/** Result of a statement: rows, plus the affected-row count Bun puts on the array. */
type Result = Row[] & { count?: number | null };

export class PostgresqlBackend implements Backend {
  readonly kind = "postgresql" as const;
  readonly leases: LeaseStore;
  private down = false;
  private downSince = 0;
  private closed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** statements in flight (a slot each); at most poolSize */
  private busy = 0;
  /** statements waiting for a slot, in order */
  private readonly waiting: (() => void)[] = [];
  private readonly batchers: LookupBatcher[] = [];
  /** connections known-slow lookups hold now; always fewer than the pool */
  private slowRunning = 0;
  private readonly batcherByQuery = new Map<string, LookupBatcher>();
  private nextBatcher = 0;
  /** `?` text -> `$n` text */
  private readonly numbered = new Map<string, string>();
  private readonly inserts = new Map<string, ReturnType<typeof splitSingleRowInsert>>();

  private constructor(
    /** replaced when a cancelled statement never ends (resetPool) */
    private sql: SQL,
    private readonly opts: PostgresqlOptions,
    private readonly log: Logger,
  ) {
    this.leases = this.leaseStore();
  }

  /** A Bun.SQL pool for these settings (connections open lazily). */
  private static pool(opts: PostgresqlOptions): SQL {
    return new SQL({
      adapter: "postgres",
      // a socket directory (Debian's /var/run/postgresql) or the socket file itself
      ...(opts.socket
        ? opts.socket.includes(".s.PGSQL.") ? { path: opts.socket } : { hostname: opts.socket, port: opts.port }
        : { hostname: opts.host, port: opts.port }),
      username: opts.user,
      password: opts.password,
      database: opts.database,
      max: opts.poolSize,
      prepare: true,
      connectionTimeout: Math.max(1, Math.ceil(opts.timeoutMs / 1000)),
      connection: {
        application_name: "pydhcp",
        // the server ends any statement by then even if a cancel is lost
        statement_timeout: Math.max(STATEMENT_TIMEOUT_MS, Math.floor(opts.timeoutMs)),
      },
    });
  }

  /** Connects, checks the server answers, creates pydhcp_lease when missing. */
  static async open(opts: PostgresqlOptions, log: Logger): Promise<PostgresqlBackend> {
    const where = opts.socket ?? `${opts.host}:${opts.port}`;
    const sql = PostgresqlBackend.pool(opts);
    const b = new PostgresqlBackend(sql, opts, log);
    try {
      // CREATE TABLE IF NOT EXISTS still notices an existing table; quiet that
      await sql.unsafe(`SET client_min_messages = warning; ${leaseStatements(POSTGRESQL_SCHEMA).join(";\n")}`).simple();
    } catch (e) {
      await sql.close({ timeout: 0 }).catch(() => {});
      throw new DbError("connect", "", `cannot use PostgreSQL database ${opts.database} at ${where} as ${opts.user}: ${errText(e)}`, errState(e) || errCode(e), openFailure(e));
    }
    return b;
  }

  private text(sql: string): string {
    let t = this.numbered.get(sql);
    if (t === undefined) this.numbered.set(sql, (t = numberPlaceholders(sql)));
    return t;
  }

  /** Marks the database down and starts the reconnect loop (once). */
  private lost(e: unknown): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.downSince = Date.now();
    this.log.warn("database connection lost; reconnecting with backoff, renewals answered from lease memory", {
      error: errText(e),
      code: errCode(e),
    });
    this.scheduleReconnect(BACKOFF_MIN_MS);
  }

  private scheduleReconnect(delay: number): void {
    if (this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.withDeadline(this.sql.unsafe("SELECT 1"), this.opts.timeoutMs).then(
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

  /** The promise, or a rejection once `ms` have passed (the ping must not hang on a dead connection). */
  private withDeadline<T>(p: PromiseLike<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
    });
  }

  /**
   * A statement that was cancelled and still has not ended: its connection
   * is stuck (the network lost its answer, or the server hangs). Bun.SQL
   * cannot drop one connection, so the whole pool is closed and a new one
   * opened; what ran on the old pool fails as a connection error.
   */
  private resetPool(name: string): void {
    if (this.closed) return;
    this.log.warn("a cancelled statement did not end; reopening the database connections", { query: name });
    const old = this.sql;
    this.sql = PostgresqlBackend.pool(this.opts);
    old.close({ timeout: 0 }).catch(() => {});
  }

  /** Classifies a driver error, starting the reconnect loop for connection-level ones. */
  private fail(name: string, e: unknown, timeoutMs: number): DbError {
    if (e instanceof DbError) return e;
    if (isConnectionError(e)) {
      this.lost(e);
      return new DbError("connect", name, `${name}: ${errText(e)}`);
    }
    // cancelled on the server (statement_timeout, or another client's cancel)
    if (errState(e) === CANCELLED) return new DbError("timeout", name, `${name}: timed out after ${timeoutMs} ms`);
    // the SQLSTATE travels with the error: pool writes tell a unique violation or a deadlock by it
    return new DbError("query", name, `${name}: ${errText(e)}`, errState(e));
  }

  /** Takes a slot for one statement: null when one is free now, else a promise of one. */
  private acquire(): Promise<void> | null {
    if (this.busy < this.opts.poolSize) {
      this.busy++;
      return null;
    }
    return new Promise<void>((resolve) => this.waiting.push(() => { this.busy++; resolve(); }));
  }

  private release(): void {
    this.busy--;
    const next = this.waiting.shift();
    if (next) next();
    this.kickBatchers();
  }

  /** A slot was freed: waiting lookups go out, one group per free slot. */
  private kickBatchers(): void {
    // round robin over the offer queries, so one cannot starve another
    const n = this.batchers.length;
    for (let k = 0, quiet = 0; quiet < n && k < 1024 && this.busy < this.opts.poolSize; k++) {
      this.nextBatcher = (this.nextBatcher + 1) % n;
      quiet = this.batchers[this.nextBatcher]!.flush() ? 0 : quiet + 1;
    }
  }

  /**
   * Runs one statement (`?` placeholders) with a deadline covering the wait
   * for a slot too. The caller hears of a timeout at once; the slot is
   * freed when the cancelled statement has ended on its connection.
   */
  private execute(name: string, sql: string, params: readonly Param[], timeoutMs: number): Promise<Result> {
    if (this.down) return Promise.reject(new DbError("connect", name, `${name}: database unavailable (reconnecting)`));
    const text = this.text(sql);
    const values = safeParams(params);
    return new Promise<Result>((resolve, reject) => {
      let settled = false;
      let query: ReturnType<SQL["unsafe"]> | null = null;
      let abandoned = false;
      let ended = false;
      let stuck: ReturnType<typeof setTimeout> | null = null;
      /** the statement is over (or given up on): its slot goes back, once */
      const end = () => {
        if (ended) return;
        ended = true;
        if (stuck) clearTimeout(stuck);
        this.release();
      };
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        if (query) {
          query.cancel();
          // a cancelled statement ends within moments; one that does not holds a dead connection
          stuck = setTimeout(() => {
            if (ended) return;
            end();
            this.resetPool(name);
          }, Math.max(STUCK_MIN_MS, timeoutMs));
        } else {
          abandoned = true;
        }
        reject(new DbError("timeout", name, `${name}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const start = () => {
        if (abandoned) {
          end();
          return;
        }
        const q = this.sql.unsafe(text, values);
        query = q;
        q.then(
          (rows: Result) => {
            end();
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(rows);
          },
          (e: unknown) => {
            end();
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            reject(this.fail(name, e, timeoutMs));
          },
        );
      };
      const wait = this.acquire();
      if (wait) void wait.then(start);
      else start();
    });
  }

  async prepare(name: string, sql: string): Promise<PreparedQuery> {
    const text = this.text(sql).trim().replace(/;\s*$/, "");
    // PREPARE checks the statement (syntax, tables, types) without running it
    const check = async (t: string): Promise<void> => {
      await this.sql.unsafe(`PREPARE pydhcp_check AS ${t}; DEALLOCATE pydhcp_check`).simple();
    };
    try {
      await check(text);
    } catch (e) {
      if (isConnectionError(e)) throw new DbError("connect", name, `${name}: ${errText(e)}`);
      throw new DbError("prepare", name, `${name}: ${errText(e)}`);
    }
    let grouped = false;
    if (this.opts.lookupBatch > 1 && batchable(sql)) {
      // the grouped form is tried too: a query the server refuses in it runs alone
      grouped = await check(this.text(batchSql(sql, 2))).then(
        () => true,
        (e: unknown) => {
          this.log.debug("query runs alone (not groupable)", { query: name, error: errText(e) });
          return false;
        },
      );
    }
    const timeout = this.opts.timeoutMs;
    if (grouped) {
      // no spare connection here: waiting lookups go out when a slot frees (kickBatchers)
      const slowCap = Math.max(1, this.opts.poolSize - 1);
      const idle = () => this.busy < this.opts.poolSize;
      const runner: BatchRunner = {
        exec: (t, params, ms) => this.execute(name, t, params, ms),
        idle,
        idleForWaiting: idle,
        onSpare: () => false,
        budgetMs: () => timeout,
        waiting: () => {},
        retryAlone: (e) => e instanceof DbError && e.kind === "query",
        isTimeout: (e) => e instanceof DbError && e.kind === "timeout",
        timeout: (ms) => new DbError("timeout", name, `${name}: timed out after ${ms} ms`),
        takeSlowSlot: () => (this.slowRunning < slowCap ? (this.slowRunning++, true) : false),
        releaseSlowSlot: () => void this.slowRunning--,
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
    return { name, sql, run: (params: readonly Param[], timeoutMs?: number) => this.execute(name, sql, params, timeoutMs ?? timeout) };
  }

  private insertParts(sql: string): ReturnType<typeof splitSingleRowInsert> {
    let p = this.inserts.get(sql);
    if (p === undefined) this.inserts.set(sql, (p = splitSingleRowInsert(sql)));
    return p;
  }

  async historyMark(run: string): Promise<number> {
    const rows = await this.execute("pydhcp_history_mark", "SELECT seq FROM pydhcp_history_mark WHERE run = ?", [run], this.opts.timeoutMs);
    return rows[0] ? Number(rows[0].seq) : 0;
  }

  async runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[] = []): Promise<void> {
    if (items.length === 0 && marks.length === 0) return;
    if (this.down) throw new DbError("connect", "", "database unavailable (reconnecting)");
    // the transaction holds a connection: counted, so lookups group behind it
    const wait = this.acquire();
    if (wait) await wait;
    let current = "";
    try {
      await this.sql.begin(async (tx) => {
        for (let i = 0; i < items.length; ) {
          // consecutive rows of one single-row INSERT go as multi-row INSERTs
          const q = items[i]!.query;
          current = q.name;
          let j = i + 1;
          while (j < items.length && items[j]!.query.sql === q.sql) j++;
          const parts = j - i > 1 ? this.insertParts(q.sql) : null;
          if (!parts) {
            for (; i < j; i++) await tx.unsafe(this.text(items[i]!.query.sql), safeParams(items[i]!.params));
            continue;
          }
          for (const n of chunkSizes(j - i)) {
            const values = items.slice(i, i + n).flatMap((it) => safeParams(it.params));
            await tx.unsafe(this.text(n === 1 ? q.sql : multiRowSql(parts, n)), values);
            i += n;
          }
        }
        current = "pydhcp_history_mark";
        for (const m of marks) {
          await tx.unsafe(
            "INSERT INTO pydhcp_history_mark (run, seq, updated) VALUES ($1, $2, $3) ON CONFLICT (run) DO UPDATE SET seq = greatest(pydhcp_history_mark.seq, excluded.seq), updated = excluded.updated",
            [m.run, String(m.seq), String(Math.floor(Date.now() / 1000))],
          );
        }
      });
    } catch (e) {
      throw this.fail(current, e, this.opts.timeoutMs);
    } finally {
      this.release();
    }
  }

  async pruneHistory(days: number, limit: number): Promise<number> {
    // PostgreSQL has no DELETE ... LIMIT: go through the row address
    const res = await this.execute(
      "history retention",
      "DELETE FROM history WHERE ctid IN (SELECT ctid FROM history WHERE dt < localtimestamp - CAST(? AS integer) * interval '1 day' LIMIT CAST(? AS integer))",
      [String(Math.floor(days)), String(Math.max(1, Math.floor(limit)))],
      this.opts.timeoutMs,
    );
    return Number(res.count ?? 0);
  }

  /** pydhcp's own statements (db/pool-store.ts): numbers bound as text, as the lease store does. */
  async internal(name: string, sql: string, params: readonly (string | number | null)[]): Promise<{ rows: Row[]; changes: number }> {
    const res = await this.execute(name, sql, params.map((v) => (typeof v === "number" ? String(v) : v)), this.opts.timeoutMs);
    return { rows: res, changes: Number(res.count ?? 0) };
  }

  /**
   * `EXPLAIN (FORMAT JSON)` of a statement (`?` placeholders) with its values
   * (--check). Sequential scans are priced out for it (enable_seqscan off, in
   * its own transaction): the planner rightly scans a small table whatever
   * the indexes, so a Seq Scan left in this plan means no index can serve the
   * query at any size.
   */
  async explain(name: string, sql: string, params: readonly Param[]): Promise<unknown> {
    const text = this.text(sql).trim().replace(/;\s*$/, "");
    try {
      return await this.sql.begin(async (tx) => {
        await tx.unsafe("SET LOCAL enable_seqscan = off");
        const rows = (await tx.unsafe(`EXPLAIN (FORMAT JSON) ${text}`, safeParams(params))) as Row[];
        return rows[0]?.["QUERY PLAN"] ?? null;
      });
    } catch (e) {
      throw this.fail(name, e, this.opts.timeoutMs);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.sql.unsafe("SELECT 1");
    } catch (e) {
      throw this.fail("", e, this.opts.timeoutMs);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.sql.close({ timeout: 1 }).catch(() => {});
  }

  private leaseStore(): LeaseStore {
    const t = () => this.opts.timeoutMs;
    const q = (name: string, sql: string, params: SqlValue[]) => this.execute(`pydhcp_lease ${name}`, sql, params, t());
    const writer = this.opts.leaseWriter ?? LEASE_WRITER;
    return {
      loadActive: async (now) =>
        leasesFrom(await q("load", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE expires >= CAST(? AS bigint)`, [String(now)])),
      get: async (key) => {
        const rows = await q("get", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE client_key = ?`, [key]);
        return rows[0] ? leaseFrom(rows[0]) : null;
      },
      byIp: async (ip) => {
        const now = Math.floor(Date.now() / 1000);
        const rows = await q(
          "byIp",
          `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE ip = ? ORDER BY (expires >= CAST(? AS bigint)) DESC, updated DESC LIMIT 1`,
          [ip, String(now)],
        );
        return rows[0] ? leaseFrom(rows[0]) : null;
      },
      upsert: async (leases) => {
        // ON CONFLICT may not touch one row twice in a statement: the last change per client wins
        const last = [...new Map(leases.map((l) => [l.clientKey, l])).values()];
        let i = 0;
        for (const n of chunkSizes(last.length)) {
          const chunk = last.slice(i, (i += n));
          const values = chunk.flatMap((l) => [l.clientKey, l.mac, l.ip, l.option82, String(l.expires), l.state, l.answer, String(l.updated), l.relay, l.hostname, writer]);
          await q("upsert", upsertSql(n), values);
        }
      },
      deleteExpired: async (now, limit) => {
        const res = await q(
          "cleanup",
          "DELETE FROM pydhcp_lease WHERE client_key IN (SELECT client_key FROM pydhcp_lease WHERE expires < CAST(? AS bigint) LIMIT CAST(? AS integer))",
          [String(now), String(Math.max(1, Math.floor(limit)))],
        );
        return Number(res.count ?? 0);
      },
      // without this server's own rows: why that loses nothing, db/mysql/leases.ts changedSince
      changedSince: async (since) =>
        leasesFrom(
          await q("sync", `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= CAST(? AS bigint) AND writer <> ?`, [String(since), writer]),
        ),
      list: async (filter, now, limit) => {
        const { where, params } = listWhere(filter, now, "CAST(? AS bigint)");
        const sql = `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease ${where} ORDER BY updated DESC LIMIT CAST(? AS integer)`;
        return (await q("list", sql, [...params.map(String), String(Math.max(1, Math.floor(limit)))])).map(leaseFrom);
      },
      release: async (by, now) => {
        const [col, v] = "mac" in by ? ["mac", by.mac] : ["ip", by.ip];
        // one statement: the rows as they were (o.was) and the update, atomically
        const rows = await q(
          "release",
          `UPDATE pydhcp_lease AS p SET state = 'released', expires = CAST(? AS bigint), updated = CAST(? AS bigint), writer = ?
           FROM (SELECT client_key, state AS was FROM pydhcp_lease
                 WHERE ${col} = ? AND expires >= CAST(? AS bigint) AND state IN ('bound', 'offered') FOR UPDATE) AS o
           WHERE p.client_key = o.client_key
           RETURNING p.client_key, p.mac, p.ip, p.option82, CAST(? AS bigint) AS expires, o.was AS state, p.answer, p.updated, p.relay, p.hostname`,
          [String(now), String(now), RELEASE_WRITER, v, String(now), String(now)],
        );
        return rows.map(leaseFrom);
      },
    };
  }
}

const UPSERT_SQL = new Map<number, string>();

/** The lease upsert for `n` rows (one text per chunk size). */
function upsertSql(n: number): string {
  let sql = UPSERT_SQL.get(n);
  if (sql === undefined) {
    sql = `${multiRowSql(UPSERT_ROWS, n)}
           ON CONFLICT (client_key) DO UPDATE SET mac = EXCLUDED.mac, ip = EXCLUDED.ip, option82 = EXCLUDED.option82,
             expires = EXCLUDED.expires, state = EXCLUDED.state, answer = EXCLUDED.answer, updated = EXCLUDED.updated,
             relay = EXCLUDED.relay, hostname = EXCLUDED.hostname, writer = EXCLUDED.writer`;
    UPSERT_SQL.set(n, sql);
  }
  return sql;
}
