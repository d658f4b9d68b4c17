/**
 * The pool lease table, `pydhcp_pool_lease`: one row per address of a pool
 * that was ever handed out. The database arbitrates: PRIMARY KEY (pool,
 * ipnum) makes an address one client's, UNIQUE (pool, client_key) makes a
 * client hold one address per pool. Every write is a single conditional
 * statement whose changed-row count says whether this server won, so
 * servers sharing the database (or Galera nodes) need no protocol between
 * them: the loser sees 0 rows (or a certification conflict) and tries again.
 * With several exchanges in flight, the `mine` reads, inserts and renewals
 * of one event-loop turn go as one statement each (db/pool-batch.ts), the
 * grouped insert and renewal conditional row by row like the single ones.
 *
 * A row is never deleted by pydhcp: an expired or released row keeps its
 * client, so the client gets the address back while nobody else took it
 * (affinity), and an expired row is reclaimed by overwriting it.
 */

import { DbError, type Backend, type Row } from "./backend.ts";
import { groupSize, padded, TurnBatch } from "./pool-batch.ts";

export type PoolLeaseState = "offered" | "bound" | "released" | "declined";

export interface PoolLeaseRow {
  pool: string;
  ipnum: number;
  ip: string;
  /** null while the address is on probation after a DECLINE */
  clientKey: string | null;
  mac: string;
  state: PoolLeaseState;
  expires: number;
  updated: number;
  server: string;
}

/** A write of one row: the client it goes to and until when. */
export interface PoolClaim {
  pool: string;
  ipnum: number;
  ip: string;
  clientKey: string;
  mac: string;
  state: "offered" | "bound";
  expires: number;
  now: number;
  server: string;
}

const SQLITE_DDL = [
  `CREATE TABLE IF NOT EXISTS pydhcp_pool_lease (
  pool       TEXT NOT NULL,
  ipnum      INTEGER NOT NULL,
  ip         TEXT NOT NULL,
  client_key TEXT,
  mac        TEXT NOT NULL DEFAULT '',
  state      TEXT NOT NULL,
  expires    INTEGER NOT NULL,
  updated    INTEGER NOT NULL,
  server     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (pool, ipnum),
  UNIQUE (pool, client_key)
)`,
  "CREATE INDEX IF NOT EXISTS pydhcp_pool_lease_expires ON pydhcp_pool_lease (pool, expires)",
];

const MYSQL_DDL = [
  // ascii: every value is an address, hex or a pool name; keeps the unique key short
  `CREATE TABLE IF NOT EXISTS pydhcp_pool_lease (
  pool       varchar(64) NOT NULL,
  ipnum      bigint NOT NULL,
  ip         varchar(15) NOT NULL,
  client_key varchar(600) NULL,
  mac        varchar(64) NOT NULL DEFAULT '',
  state      varchar(16) NOT NULL,
  expires    bigint NOT NULL,
  updated    bigint NOT NULL,
  server     varchar(15) NOT NULL DEFAULT '',
  PRIMARY KEY (pool, ipnum),
  UNIQUE KEY pydhcp_pool_lease_client (pool, client_key),
  KEY pydhcp_pool_lease_expires (pool, expires)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin`,
];

const POSTGRESQL_DDL = [
  `CREATE TABLE IF NOT EXISTS pydhcp_pool_lease (
  pool       varchar(64) NOT NULL,
  ipnum      bigint NOT NULL,
  ip         varchar(15) NOT NULL,
  client_key varchar(600),
  mac        varchar(64) NOT NULL DEFAULT '',
  state      varchar(16) NOT NULL,
  expires    bigint NOT NULL,
  updated    bigint NOT NULL,
  server     varchar(15) NOT NULL DEFAULT '',
  PRIMARY KEY (pool, ipnum),
  UNIQUE (pool, client_key)
)`,
  "CREATE INDEX IF NOT EXISTS pydhcp_pool_lease_expires ON pydhcp_pool_lease (pool, expires)",
];

const DDL: Readonly<Record<string, readonly string[]>> = { sqlite: SQLITE_DDL, mysql: MYSQL_DDL, postgresql: POSTGRESQL_DDL };

const COLUMNS = "pool, ipnum, ip, client_key, mac, state, expires, updated, server";

/**
 * Statement texts per dialect: SQLite says OR IGNORE, MySQL IGNORE,
 * PostgreSQL ON CONFLICT DO NOTHING (and binds text only, so its numbers
 * are cast; a take-over that would give a client a second row fails there
 * with a unique violation, read as "not taken").
 */
type Statements = Record<"mine" | "row" | "insert" | "renew" | "takeOver" | "taken" | "expired" | "release" | "decline" | "forget", string>;

function statements(kind: string): Statements {
  if (kind === "postgresql") return postgresqlStatements();
  const ignore = kind === "sqlite" ? "OR IGNORE" : "IGNORE";
  return {
    mine: `SELECT ${COLUMNS} FROM pydhcp_pool_lease WHERE pool = ? AND client_key = ?`,
    row: `SELECT ${COLUMNS} FROM pydhcp_pool_lease WHERE pool = ? AND ipnum = ?`,
    insert: `INSERT ${ignore} INTO pydhcp_pool_lease (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    // the client's own row: renew, re-offer, bind
    renew: `UPDATE pydhcp_pool_lease SET state = ?, expires = ?, updated = ?, mac = ?, server = ?
            WHERE pool = ? AND ipnum = ? AND client_key = ?`,
    // someone else's expired row (or a probation that ended) becomes this client's
    takeOver: `UPDATE ${ignore} pydhcp_pool_lease SET client_key = ?, mac = ?, state = ?, expires = ?, updated = ?, server = ?
               WHERE pool = ? AND ipnum = ? AND expires < ?`,
    taken: "SELECT ipnum FROM pydhcp_pool_lease WHERE pool = ? AND ipnum BETWEEN ? AND ?",
    expired: "SELECT ipnum FROM pydhcp_pool_lease WHERE pool = ? AND expires < ? ORDER BY expires LIMIT ?",
    release: `UPDATE pydhcp_pool_lease SET state = 'released', expires = ?, updated = ?
              WHERE pool = ? AND ipnum = ? AND client_key = ? AND state <> 'declined'`,
    decline: `UPDATE pydhcp_pool_lease SET state = 'declined', client_key = NULL, expires = ?, updated = ?
              WHERE pool = ? AND ipnum = ? AND client_key = ?`,
    forget: `UPDATE pydhcp_pool_lease SET client_key = NULL, state = 'released', expires = 0, updated = ?
             WHERE pool = ? AND ipnum = ? AND client_key = ?`,
  };
}

function postgresqlStatements(): Statements {
  const n = "CAST(? AS bigint)";
  return {
    mine: `SELECT ${COLUMNS} FROM pydhcp_pool_lease WHERE pool = ? AND client_key = ?`,
    row: `SELECT ${COLUMNS} FROM pydhcp_pool_lease WHERE pool = ? AND ipnum = ${n}`,
    insert: `INSERT INTO pydhcp_pool_lease (${COLUMNS}) VALUES (?, ${n}, ?, ?, ?, ?, ${n}, ${n}, ?) ON CONFLICT DO NOTHING`,
    renew: `UPDATE pydhcp_pool_lease SET state = ?, expires = ${n}, updated = ${n}, mac = ?, server = ?
            WHERE pool = ? AND ipnum = ${n} AND client_key = ?`,
    takeOver: `UPDATE pydhcp_pool_lease SET client_key = ?, mac = ?, state = ?, expires = ${n}, updated = ${n}, server = ?
               WHERE pool = ? AND ipnum = ${n} AND expires < ${n}`,
    taken: `SELECT ipnum FROM pydhcp_pool_lease WHERE pool = ? AND ipnum BETWEEN ${n} AND ${n}`,
    expired: `SELECT ipnum FROM pydhcp_pool_lease WHERE pool = ? AND expires < ${n} ORDER BY expires LIMIT CAST(? AS integer)`,
    release: `UPDATE pydhcp_pool_lease SET state = 'released', expires = ${n}, updated = ${n}
              WHERE pool = ? AND ipnum = ${n} AND client_key = ? AND state <> 'declined'`,
    decline: `UPDATE pydhcp_pool_lease SET state = 'declined', client_key = NULL, expires = ${n}, updated = ${n}
              WHERE pool = ? AND ipnum = ${n} AND client_key = ?`,
    forget: `UPDATE pydhcp_pool_lease SET client_key = NULL, state = 'released', expires = 0, updated = ${n}
             WHERE pool = ? AND ipnum = ${n} AND client_key = ?`,
  };
}

/**
 * The grouped forms (db/pool-batch.ts), for `n` members. `mine`: the rows
 * of up to n clients of one pool. `renew`: n of those clients' own rows get
 * one state, expiry and server (each its own MAC) in one statement, each
 * row only while it is its client's (`client_key` matched per address), so
 * a row that is no longer the client's is left alone as by the single
 * renew; the changed-row count says whether all were.
 */
function mineManySql(n: number): string {
  return `SELECT ${COLUMNS} FROM pydhcp_pool_lease WHERE pool = ? AND client_key IN (${Array(n).fill("?").join(", ")})`;
}

/**
 * `insert`: n rows in one statement, each row on its own ignored when its
 * address or its client already has a row (the single insert's IGNORE, row
 * by row); the changed-row count says whether all went in.
 */
function insertManySql(kind: string, n: number): string {
  if (kind === "postgresql") {
    const b = "CAST(? AS bigint)";
    const values = Array(n).fill(`(?, ${b}, ?, ?, ?, ?, ${b}, ${b}, ?)`).join(", ");
    return `INSERT INTO pydhcp_pool_lease (${COLUMNS}) VALUES ${values} ON CONFLICT DO NOTHING`;
  }
  const values = Array(n).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ");
  return `INSERT ${kind === "sqlite" ? "OR IGNORE" : "IGNORE"} INTO pydhcp_pool_lease (${COLUMNS}) VALUES ${values}`;
}

/** The rows at n addresses of one pool: who holds each after a grouped insert that did not insert every row. */
function rowsAtSql(kind: string, n: number): string {
  const num = kind === "postgresql" ? "CAST(? AS bigint)" : "?";
  return `SELECT ${COLUMNS} FROM pydhcp_pool_lease WHERE pool = ? AND ipnum IN (${Array(n).fill(num).join(", ")})`;
}

function renewManySql(kind: string, n: number): string {
  const num = kind === "postgresql" ? "CAST(? AS bigint)" : "?";
  const cases = Array(n).fill(`WHEN ${num} THEN ?`).join(" ");
  return `UPDATE pydhcp_pool_lease SET state = ?, expires = ${num}, updated = ${num}, server = ?, mac = CASE ipnum ${cases} END
          WHERE pool = ? AND ipnum IN (${Array(n).fill(num).join(", ")}) AND client_key = CASE ipnum ${cases} END`;
}

/**
 * Rows in use per pool, for the configured pools: a range of the
 * (pool, expires) index per pool, read from the index alone. MariaDB would
 * rather walk the whole table by its primary key (every row, expired ones
 * too, each with its client key); IGNORE INDEX (PRIMARY) leaves it the
 * expiry index, and no error when an operator dropped that.
 */
function inUseSql(kind: string, pools: number): string {
  const list = Array(pools).fill("?").join(", ");
  const hint = kind === "mysql" ? " IGNORE INDEX (PRIMARY)" : "";
  const n = kind === "postgresql" ? "CAST(? AS bigint)" : "?";
  return `SELECT pool, COUNT(*) AS n FROM pydhcp_pool_lease${hint} WHERE pool IN (${list}) AND expires >= ${n} GROUP BY pool`;
}

/** Backends where statements are round trips worth grouping; SQLite runs in-process, only its commits are worth sharing. */
const GROUP_MINE = new Set(["mysql", "postgresql"]);
const GROUP_RENEW = new Set(["mysql", "postgresql", "sqlite"]);
const GROUP_INSERT = GROUP_RENEW;

/** Errors after which running the members one by one would fail the same way (database away, out of time). */
function failsAll(e: unknown): boolean {
  return e instanceof DbError && (e.kind === "connect" || e.kind === "timeout");
}

/** PostgreSQL's unique_violation: the write would break a unique key, so it did not happen. */
const UNIQUE_VIOLATION = "23505";

function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

function fromRow(r: Row): PoolLeaseRow {
  return {
    pool: String(r.pool),
    ipnum: num(r.ipnum),
    ip: String(r.ip),
    clientKey: r.client_key === null || r.client_key === undefined ? null : String(r.client_key),
    mac: String(r.mac ?? ""),
    state: String(r.state) as PoolLeaseState,
    expires: num(r.expires),
    updated: num(r.updated),
    server: String(r.server ?? ""),
  };
}

/**
 * Errors that mean "another writer got there at the same moment; run the
 * step again": InnoDB deadlock and lock wait, Galera certification failure
 * (reported as a deadlock), SQLite busy.
 */
const RETRY_CODES = new Set([
  "ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT", "ER_CHECKREAD", "SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT",
  // PostgreSQL SQLSTATEs: deadlock_detected, serialization_failure
  "40P01", "40001",
]);

export function isRetryable(e: unknown): boolean {
  return e instanceof DbError && RETRY_CODES.has(e.code);
}

export interface PoolStoreOptions {
  /** --explain: create nothing, read a missing table as empty */
  readOnly?: boolean;
  /** group the `mine` reads and renewals of one event-loop turn (db/pool-batch.ts); default on where it pays */
  group?: boolean;
}

export class PoolStore {
  private readonly sql: Statements;
  private readonly mineBatch: TurnBatch<{ pool: string; clientKey: string }, PoolLeaseRow | null> | null = null;
  private readonly renewBatch: TurnBatch<PoolClaim, boolean> | null = null;
  private readonly insertBatch: TurnBatch<PoolClaim, boolean> | null = null;
  /** statement texts of the grouped forms, per size */
  private readonly texts = new Map<string, string>();
  /** told when a grouped write lost to a concurrent one (its members then run on their own) */
  private conflictListener: ((pool: string) => void) | null = null;

  private constructor(
    private readonly db: Backend,
    /** read-only use of a database without the table: it reads as empty */
    private readonly missing: boolean,
    group: boolean,
  ) {
    this.sql = statements(db.kind);
    if (group && GROUP_MINE.has(db.kind)) this.mineBatch = new TurnBatch((m) => m.pool, (ms) => this.mineGroup(ms));
    if (group && GROUP_RENEW.has(db.kind)) {
      this.renewBatch = new TurnBatch((c) => `${c.pool}\0${c.state}\0${c.expires}\0${c.now}\0${c.server}`, (cs) => this.renewGroup(cs));
    }
    if (group && GROUP_INSERT.has(db.kind)) this.insertBatch = new TurnBatch((c) => c.pool, (cs) => this.insertGroup(cs));
  }

  /** Creates the table when missing; `readOnly` (--explain) creates nothing and reads a missing table as empty. */
  static async open(db: Backend, opts: PoolStoreOptions = {}): Promise<PoolStore> {
    if (opts.readOnly) {
      const there = await db.internal("pydhcp_pool_lease probe", "SELECT 1 FROM pydhcp_pool_lease LIMIT 1", []).then(() => true, () => false);
      return new PoolStore(db, !there, false);
    }
    for (const ddl of DDL[db.kind] ?? []) await db.internal("pydhcp_pool_lease create", ddl, []);
    return new PoolStore(db, false, opts.group ?? true);
  }

  /** `f` hears of grouped writes that lost to a concurrent write (deadlock, certification conflict, SQLITE_BUSY) and were run again one by one. */
  onConflict(f: (pool: string) => void): void {
    this.conflictListener = f;
  }

  private conflicted(pool: string, e: unknown): void {
    if (isRetryable(e)) this.conflictListener?.(pool);
  }

  private text(name: string, n: number, make: () => string): string {
    const k = `${name}/${n}`;
    let t = this.texts.get(k);
    if (t === undefined) this.texts.set(k, (t = make()));
    return t;
  }

  private run(name: string, sql: string, params: (string | number | null)[]): Promise<{ rows: Row[]; changes: number }> {
    if (this.missing) return Promise.resolve({ rows: [], changes: 0 });
    return this.db.internal(`pydhcp_pool_lease ${name}`, sql, params);
  }

  private async one(name: string, sql: string, params: (string | number | null)[]): Promise<PoolLeaseRow | null> {
    const r = await this.run(name, sql, params);
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  private async write(name: string, sql: string, params: (string | number | null)[]): Promise<boolean> {
    try {
      return (await this.run(name, sql, params)).changes > 0;
    } catch (e) {
      if (e instanceof DbError && e.code === UNIQUE_VIOLATION) return false;
      throw e;
    }
  }

  /** The client's row in the pool, if it has one. */
  mine(pool: string, clientKey: string): Promise<PoolLeaseRow | null> {
    if (this.mineBatch) return this.mineBatch.add({ pool, clientKey });
    return this.mineOne(pool, clientKey);
  }

  private mineOne(pool: string, clientKey: string): Promise<PoolLeaseRow | null> {
    return this.one("mine", this.sql.mine, [pool, clientKey]);
  }

  /** One pool's `mine` reads of a turn as one `client_key IN (...)` read. */
  private mineGroup(ms: { pool: string; clientKey: string }[]): Promise<PoolLeaseRow | null>[] {
    const keys = [...new Set(ms.map((m) => m.clientKey))];
    if (keys.length === 1) {
      const one = this.mineOne(ms[0]!.pool, keys[0]!);
      return ms.map(() => one);
    }
    const n = groupSize(keys.length);
    const rows = this.run("mine", this.text("mine", n, () => mineManySql(n)), [ms[0]!.pool, ...padded(keys, n)]).then((r) => {
      const byKey = new Map<string, PoolLeaseRow>();
      for (const x of r.rows) {
        const row = fromRow(x);
        if (row.clientKey !== null) byKey.set(row.clientKey, row);
      }
      return byKey;
    });
    return ms.map((m) =>
      rows.then(
        (byKey) => byKey.get(m.clientKey) ?? null,
        (e) => {
          if (failsAll(e)) throw e;
          return this.mineOne(m.pool, m.clientKey);
        },
      ),
    );
  }

  row(pool: string, ipnum: number): Promise<PoolLeaseRow | null> {
    return this.one("row", this.sql.row, [pool, ipnum]);
  }

  /** A never-used address for the client; false when the address or the client already has a row. */
  insert(c: PoolClaim): Promise<boolean> {
    if (this.insertBatch) return this.insertBatch.add(c);
    return this.insertOne(c);
  }

  private insertOne(c: PoolClaim): Promise<boolean> {
    return this.write("insert", this.sql.insert, [c.pool, c.ipnum, c.ip, c.clientKey, c.mac, c.state, c.expires, c.now, c.server]);
  }

  /**
   * A turn's inserts into one pool as one multi-row INSERT (one commit),
   * each row ignored on its own when its address or its client already has
   * a row. When every row went in, all won. When fewer did (another server
   * took an address or gave the client a row a moment earlier; two claims
   * of one turn on one address), the rows at those addresses are read
   * back: a claim won where the row is exactly the one it wrote (its
   * client, state, expiry, time and server), so each gets the answer its
   * single insert would have given. After an error another writer caused
   * (deadlock, certification conflict, SQLITE_BUSY) nothing was written
   * and each runs on its own.
   */
  private insertGroup(cs: PoolClaim[]): Promise<boolean>[] {
    if (cs.length === 1) return [this.insertOne(cs[0]!)];
    const n = groupSize(cs.length);
    const p = padded(cs, n);
    const params: (string | number)[] = [];
    for (const c of p) params.push(c.pool, c.ipnum, c.ip, c.clientKey, c.mac, c.state, c.expires, c.now, c.server);
    const pool = cs[0]!.pool;
    const won: Promise<boolean[] | null> = this.run("insert", this.text("insert", n, () => insertManySql(this.db.kind, n)), params).then(
      async (r) => {
        if (r.changes === cs.length) return cs.map(() => true);
        const back = await this.run("insert check", this.text("rowsAt", n, () => rowsAtSql(this.db.kind, n)), [pool, ...p.map((c) => c.ipnum)]);
        const byIp = new Map<number, PoolLeaseRow>();
        for (const x of back.rows) {
          const row = fromRow(x);
          byIp.set(row.ipnum, row);
        }
        return cs.map((c) => {
          const row = byIp.get(c.ipnum);
          return !!row && row.clientKey === c.clientKey && row.mac === c.mac && row.state === c.state && row.expires === c.expires && row.updated === c.now && row.server === c.server;
        });
      },
      (e) => {
        if (failsAll(e)) throw e;
        this.conflicted(pool, e);
        return null;
      },
    );
    return cs.map((c, i) => won.then((w) => (w === null ? this.insertOne(c) : w[i]!)));
  }

  /** The client's own row gets a new state and expiry; false when the row is not the client's. */
  renew(c: PoolClaim): Promise<boolean> {
    if (this.renewBatch) return this.renewBatch.add(c);
    return this.renewOne(c);
  }

  private renewOne(c: PoolClaim): Promise<boolean> {
    return this.write("renew", this.sql.renew, [c.state, c.expires, c.now, c.mac, c.server, c.pool, c.ipnum, c.clientKey]);
  }

  /**
   * A turn's renewals with the same pool, state, expiry, time and server as
   * one UPDATE (one commit). When it changed every row all are renewed;
   * otherwise (a row was no longer its client's) or after an error another
   * writer caused (deadlock, certification conflict, SQLITE_BUSY), each is
   * run on its own, which is harmless for rows already renewed and gives
   * each its own answer. A second claim on an address already in the
   * statement (two clients, one address, one turn) runs on its own after it.
   */
  private renewGroup(cs: PoolClaim[]): Promise<boolean>[] {
    const inStatement = new Map<number, PoolClaim>();
    for (const c of cs) if (!inStatement.has(c.ipnum)) inStatement.set(c.ipnum, c);
    if (inStatement.size === 1 && cs.length === 1) return [this.renewOne(cs[0]!)];
    const group = [...inStatement.values()];
    const n = groupSize(group.length);
    const p = padded(group, n);
    const f = p[0]!;
    const params: (string | number)[] = [f.state, f.expires, f.now, f.server];
    for (const c of p) params.push(c.ipnum, c.mac);
    params.push(f.pool);
    for (const c of p) params.push(c.ipnum);
    for (const c of p) params.push(c.ipnum, c.clientKey);
    const all: Promise<boolean> = this.run("renew", this.text("renew", n, () => renewManySql(this.db.kind, n)), params).then(
      (r) => r.changes === group.length,
      (e) => {
        if (failsAll(e)) throw e;
        this.conflicted(f.pool, e);
        return false;
      },
    );
    return cs.map((c) => {
      if (inStatement.get(c.ipnum) === c) return all.then((ok) => ok || this.renewOne(c));
      return all.then(
        () => this.renewOne(c),
        () => this.renewOne(c),
      );
    });
  }

  /** An expired row becomes the client's; false when it is still held (or the client holds another). */
  takeOver(c: PoolClaim): Promise<boolean> {
    return this.write("take over", this.sql.takeOver, [c.clientKey, c.mac, c.state, c.expires, c.now, c.server, c.pool, c.ipnum, c.now]);
  }

  /** Addresses in [from, to] that have a row (held or not). */
  async taken(pool: string, from: number, to: number): Promise<number[]> {
    const r = await this.run("scan", this.sql.taken, [pool, from, to]);
    return r.rows.map((x) => num(x.ipnum));
  }

  /** Up to `limit` addresses whose rows expired, oldest first (reclaimed in that order, so recent leavers keep theirs longest). */
  async expired(pool: string, now: number, limit: number): Promise<number[]> {
    const r = await this.run("expired", this.sql.expired, [pool, now, limit]);
    return r.rows.map((x) => num(x.ipnum));
  }

  /** Expired from the second before: reclaimable at once (takeOver wants expires < now). */
  release(pool: string, ipnum: number, clientKey: string, now: number): Promise<boolean> {
    return this.write("release", this.sql.release, [now - 1, now, pool, ipnum, clientKey]);
  }

  decline(pool: string, ipnum: number, clientKey: string, until: number, now: number): Promise<boolean> {
    return this.write("decline", this.sql.decline, [until, now, pool, ipnum, clientKey]);
  }

  /** Drops the client from a row it can no longer use (an address the config took out of the pool). */
  forget(pool: string, ipnum: number, clientKey: string, now: number): Promise<boolean> {
    return this.write("forget", this.sql.forget, [now, pool, ipnum, clientKey]);
  }

  /** Rows not expired, per pool of `pools`: addresses in use (bound, offered, on probation). */
  async inUse(pools: readonly string[], now: number): Promise<Map<string, number>> {
    if (pools.length === 0) return new Map();
    const r = await this.run("count", this.text("inUse", pools.length, () => inUseSql(this.db.kind, pools.length)), [...pools, now]);
    return new Map(r.rows.map((x) => [String(x.pool), num(x.n)]));
  }
}
