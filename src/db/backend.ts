/**
 * The one database interface the server talks to. Three implementations:
 * db/mysql.ts (mysql2 pool, server-side prepared statements),
 * db/postgresql.ts (Bun.SQL pool, named prepared statements) and
 * db/sqlite.ts (bun:sqlite, WAL). Nothing outside db/ knows which one runs.
 */

import type { Row } from "../core/answer.ts";
import type { Param } from "../core/exchange.ts";
import type { Lease } from "../core/lease.ts";

/** Row (a result row, any-case column names), Param (text or NULL) and Lease are domain types (core/). */
export type { Lease, Param, Row };

export interface PreparedQuery {
  /** config name of the query, e.g. "offer_1", "history_sql" */
  readonly name: string;
  /** SQL as sent to the database (placeholders as ?) */
  readonly sql: string;
  /**
   * Runs with bound values; rejects with DbError on failure or timeout.
   * `timeoutMs` overrides the backend's default (<query><timeout>).
   */
  run(params: readonly Param[], timeoutMs?: number): Promise<Row[]>;
  /** result column names, when the database tells them at prepare time */
  readonly columns?: readonly string[];
}

/** What `pydhcp leases` and GET /api/leases ask for; every field optional. */
export interface LeaseFilter {
  /** 12 lower-case hex digits */
  mac?: string;
  ip?: string;
  /** giaddr */
  relayIp?: string;
  /** hex the stored option 82 contains (a switch MAC in the remote-id): narrows the rows before the views check it */
  option82Contains?: string;
  /** true: ended (expired, released, declined); false: current only; absent: all */
  expired?: boolean;
}

export interface Backend {
  readonly kind: "sqlite" | "mysql" | "postgresql";
  /** Prepares once at load; rejects with DbError naming the query. */
  prepare(name: string, sql: string): Promise<PreparedQuery>;
  /**
   * Runs several statements with their values in one transaction (history
   * batches); `marks` (journal run -> last sequence number written) are
   * stored in pydhcp_history_mark in the same transaction.
   */
  runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks?: readonly HistoryMark[]): Promise<void>;
  /**
   * runBatch with each row's values as the JSON array text the history
   * journal holds: for a backend that hands them on as text (SQLite's
   * writer thread; MySQL's JSON_TABLE, db/mysql/json-rows.ts), so the
   * serving thread never parses them. Absent where the driver needs the
   * values on the serving thread anyway.
   */
  runBatchJson?(items: readonly { query: PreparedQuery; values: string }[], marks?: readonly HistoryMark[]): Promise<void>;
  /** The last journal sequence number of `run` written to the database, 0 when none. */
  historyMark(run: string): Promise<number>;
  /** Lease persistence in pydhcp's own table `pydhcp_lease` (created if missing). */
  leases: LeaseStore;
  /**
   * Deletes up to `limit` rows of pydhcpdb's `history` table whose `dt` is
   * older than `days` days; returns how many (housekeeping, small batches).
   */
  pruneHistory(days: number, limit: number): Promise<number>;
  /**
   * Runs one of pydhcp's own statements (the pool lease table, db/pool-store.ts):
   * rows for a SELECT, changed-row count for a write. Rejects with DbError
   * carrying the driver's error code (unique-key and certification conflicts
   * are told apart by it).
   */
  internal(name: string, sql: string, params: readonly (string | number | null)[]): Promise<{ rows: Row[]; changes: number }>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How far one run's journal is written: events up to `seq` are in the database. */
export interface HistoryMark {
  run: string;
  seq: number;
}

export interface LeaseStore {
  /** Leases not yet expired, for warming the lease memory at start. */
  loadActive(now: number): Promise<Lease[]>;
  /** One client's lease (servers sharing one MySQL see each other's). */
  get(clientKey: string): Promise<Lease | null>;
  /** The lease holding an address, if any. */
  byIp(ip: string): Promise<Lease | null>;
  /** Insert or replace by clientKey, in one transaction. */
  upsert(leases: readonly Lease[]): Promise<void>;
  /** Deletes up to `limit` leases expired before `now`; returns how many. */
  deleteExpired(now: number, limit: number): Promise<number>;
  /**
   * Rows changed at or after `since` (epoch seconds) by anyone but this
   * store's writer (the server process, db/lease-row.ts LEASE_WRITER):
   * how the lease memory follows releases and other servers' grants.
   */
  changedSince(since: number): Promise<Lease[]>;
  /** Leases matching the filter, newest change first, at most `limit`. */
  list(filter: LeaseFilter, now: number, limit: number): Promise<Lease[]>;
  /**
   * Ends the current leases of a client (by MAC) or of an address, at once:
   * state released, expiry now. Returns the leases as they were.
   */
  release(by: { mac: string } | { ip: string }, now: number): Promise<Lease[]>;
}

export type DbErrorKind = "connect" | "prepare" | "query" | "timeout";

/**
 * Why a database could not be used (kind "connect"). Only "unreachable" is
 * an outage: a start serves from the lease snapshot for that alone, since
 * a refused login or an unusable database is a configuration problem that
 * waiting out would hide.
 *   unreachable  no answer: refused or reset connection, timeout, no route
 *                or name, no such socket, server shutting down, too many connections
 *   refused      the server answered and refused the login or the database name
 *   unusable     the server answered and the open failed otherwise (e.g. no
 *                privilege to create pydhcp_lease)
 */
export type ConnectFailure = "unreachable" | "refused" | "unusable";

export class DbError extends Error {
  constructor(
    readonly kind: DbErrorKind,
    /** the query's config name, or "" for connection-level errors */
    readonly query: string,
    message: string,
    /** the driver's error code when there is one (ER_LOCK_DEADLOCK, SQLITE_BUSY ...) */
    readonly code: string = "",
    /** kind "connect" only: why; a connection lost while serving is "unreachable" */
    readonly failure: ConnectFailure | null = kind === "connect" ? "unreachable" : null,
  ) {
    super(message);
    this.name = "DbError";
  }
}
