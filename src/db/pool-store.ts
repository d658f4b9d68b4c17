/**
 * The pool lease table, `pydhcp_pool_lease`: one row per address of a pool
 * that was ever handed out. The database arbitrates: PRIMARY KEY (pool,
 * ipnum) makes an address one client's, UNIQUE (pool, client_key) makes a
 * client hold one address per pool. Every write is a single conditional
 * statement whose changed-row count says whether this server won, so
 * servers sharing the database (or Galera nodes) need no protocol between
 * them: the loser sees 0 rows (or a certification conflict) and tries again.
 *
 * A row is never deleted by pydhcp: an expired or released row keeps its
 * client, so the client gets the address back while nobody else took it
 * (affinity), and an expired row is reclaimed by overwriting it.
 */

import { DbError, type Backend, type Row } from "./backend.ts";

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
type Statements = Record<"mine" | "row" | "insert" | "renew" | "takeOver" | "taken" | "expired" | "release" | "decline" | "forget" | "inUse", string>;

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
    inUse: "SELECT pool, COUNT(*) AS n FROM pydhcp_pool_lease WHERE expires >= ? GROUP BY pool",
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
    inUse: `SELECT pool, COUNT(*) AS n FROM pydhcp_pool_lease WHERE expires >= ${n} GROUP BY pool`,
  };
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

export class PoolStore {
  private readonly sql: Statements;

  private constructor(
    private readonly db: Backend,
    /** read-only use of a database without the table: it reads as empty */
    private readonly missing = false,
  ) {
    this.sql = statements(db.kind);
  }

  /** Creates the table when missing; `readOnly` (--explain) creates nothing and reads a missing table as empty. */
  static async open(db: Backend, readOnly = false): Promise<PoolStore> {
    if (readOnly) {
      const there = await db.internal("pydhcp_pool_lease probe", "SELECT 1 FROM pydhcp_pool_lease LIMIT 1", []).then(() => true, () => false);
      return new PoolStore(db, !there);
    }
    for (const ddl of DDL[db.kind] ?? []) await db.internal("pydhcp_pool_lease create", ddl, []);
    return new PoolStore(db);
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
    return this.one("mine", this.sql.mine, [pool, clientKey]);
  }

  row(pool: string, ipnum: number): Promise<PoolLeaseRow | null> {
    return this.one("row", this.sql.row, [pool, ipnum]);
  }

  /** A never-used address for the client; false when the address or the client already has a row. */
  insert(c: PoolClaim): Promise<boolean> {
    return this.write("insert", this.sql.insert, [c.pool, c.ipnum, c.ip, c.clientKey, c.mac, c.state, c.expires, c.now, c.server]);
  }

  /** The client's own row gets a new state and expiry; false when the row is not the client's. */
  renew(c: PoolClaim): Promise<boolean> {
    return this.write("renew", this.sql.renew, [c.state, c.expires, c.now, c.mac, c.server, c.pool, c.ipnum, c.clientKey]);
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

  /** Rows not expired, per pool: addresses in use (bound, offered, on probation). */
  async inUse(now: number): Promise<Map<string, number>> {
    const r = await this.run("count", this.sql.inUse, [now]);
    return new Map(r.rows.map((x) => [String(x.pool), num(x.n)]));
  }
}
