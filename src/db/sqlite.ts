/**
 * Backend on an embedded SQLite file (bun:sqlite). WAL journal so readers
 * (the offer chain) are not blocked by history writes; statements are
 * prepared once and reused. Calls on this connection are synchronous
 * inside; the Promise API keeps the Backend contract the same as MySQL's.
 * The server's history batches, lease writes and lease sync go to a writer
 * thread instead (sqlite-writer.ts), and come back here if it stops. A
 * statement cannot be interrupted mid-run, so the query timeout only bounds
 * waiting for a locked database (busy_timeout).
 */

import {
  LEASE_ADDED_COLUMNS, LEASE_COLUMNS, LEASE_WRITE_COLUMNS, LEASE_WRITE_PLACEHOLDERS, LEASE_WRITER, RELEASE_WRITER,
  leaseFrom, leaseValues, listWhere,
} from "./lease-row.ts";
import { Database, type Statement } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { DbError, type Backend, type HistoryMark, type Lease, type LeaseFilter, type LeaseStore, type Param, type PreparedQuery, type Row } from "./backend.ts";
import { SQLITE_SCHEMA, leaseStatements } from "./schema.ts";
import type { Logger } from "../log/types.ts";
import { BACKSTOP_PAGES, BackgroundCheckpoint } from "./sqlite-checkpoint.ts";
import { SqliteWriter, WriterGone, type WriterFailure } from "./sqlite-writer.ts";

export interface SqliteOptions {
  path: string;
  /** busy_timeout, ms */
  timeoutMs: number;
  /** checkpoint the WAL from a worker thread this often, ms (the server); none: SQLite's own, on the committing connection */
  checkpointMs?: number;
  /** the `writer` id of this process's lease upserts (db/lease-row.ts LEASE_WRITER unless given) */
  leaseWriter?: string;
  /** history batches, lease writes and the lease sync on a worker thread (sqlite-writer.ts): the server */
  writerThread?: boolean;
}

type Stmt = Statement<Row, Param[]>;

/** Marks as the writer thread binds them: run, sequence number, time written. */
function markRows(marks: readonly HistoryMark[]): (string | number)[][] {
  const now = Math.floor(Date.now() / 1000);
  return marks.map((m) => [m.run, m.seq, now]);
}

/** lease rows per read or write transaction; the serving thread gets a turn between pages */
const PAGE_ROWS = 250;
/**
 * Leases written per transaction: about 16 µs a row (the table's indexes),
 * so 50 hold the event loop under a millisecond; 250 held it 3-5 ms, long
 * enough to show in the replies' p99.
 */
const UPSERT_ROWS = 50;
/** leases per transaction on the writer thread, where a longer one holds no packet */
const THREAD_UPSERT_ROWS = 250;

const CHANGED_SQL = `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= ? AND writer <> ?`;
const PUT_SQL = `INSERT INTO pydhcp_lease (${LEASE_WRITE_COLUMNS}) VALUES ${LEASE_WRITE_PLACEHOLDERS}
       ON CONFLICT (client_key) DO UPDATE SET mac = excluded.mac, ip = excluded.ip, option82 = excluded.option82,
         expires = excluded.expires, state = excluded.state, answer = excluded.answer, updated = excluded.updated,
         relay = excluded.relay, hostname = excluded.hostname, writer = excluded.writer`;
const MARK_SQL =
  "INSERT INTO pydhcp_history_mark (run, seq, updated) VALUES (?, ?, ?) ON CONFLICT (run) DO UPDATE SET seq = max(seq, excluded.seq), updated = excluded.updated";

/** A failure on the writer thread as the serving connection would have thrown it; WriterGone passes through. */
function fromWriter(e: unknown, name: string, message: (m: string) => string): unknown {
  if (e instanceof WriterGone) return e;
  const f = e as WriterFailure;
  return new DbError("query", name, message(f.message), f.code);
}

/** Lets pending I/O (packets) run before the next page. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));


class SqliteLeases implements LeaseStore {
  private readonly activePage: Statement<Row, [number, string, number]>;
  private readonly one: Statement<Row, [string]>;
  private readonly byIpStmt: Statement<Row, [number, string]>;
  private readonly put: Statement<Row, (string | number)[]>;
  private readonly prune: Statement<Row, [number, number]>;
  private readonly changed: Statement<Row, [number, string]>;
  private readonly version: Statement<Row, []>;
  /** PRAGMA data_version at the last sync: it moves only when another connection commits */
  private seenVersion = -1;
  /** a release through this connection since the last sync (data_version does not see it) */
  private releasedHere = false;

  constructor(
    private readonly db: Database,
    private readonly writer: string,
    private readonly thread: SqliteWriter | null,
  ) {
    // without this server's own rows: why that loses nothing, db/mysql/leases.ts changedSince
    this.changed = db.prepare(CHANGED_SQL);
    this.version = db.prepare("PRAGMA data_version");
    this.activePage = db.prepare(`SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE expires >= ? AND client_key > ? ORDER BY client_key LIMIT ?`);
    this.one = db.prepare(`SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE client_key = ?`);
    this.byIpStmt = db.prepare(
      `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE ip = ?2 ORDER BY (expires >= ?1) DESC, updated DESC LIMIT 1`,
    );
    this.put = db.prepare(PUT_SQL);
    this.prune = db.prepare(
      "DELETE FROM pydhcp_lease WHERE client_key IN (SELECT client_key FROM pydhcp_lease WHERE expires < ? LIMIT ?)",
    );
  }

  private wrap<T>(what: string, f: () => T): Promise<T> {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(new DbError("query", "", `pydhcp_lease ${what}: ${(e as Error).message}`));
    }
  }

  /** Every current lease, read a page at a time (a busy server holds tens of thousands). */
  async loadActive(now: number): Promise<Lease[]> {
    const out: Lease[] = [];
    for (let after = ""; ; ) {
      const page = await this.wrap("load", () => this.activePage.all(now, after, PAGE_ROWS).map(leaseFrom));
      for (const l of page) out.push(l);
      if (page.length < PAGE_ROWS) return out;
      after = page.at(-1)!.clientKey;
      await yieldToLoop();
    }
  }
  get(clientKey: string): Promise<Lease | null> {
    return this.wrap("get", () => {
      const r = this.one.get(clientKey);
      return r ? leaseFrom(r) : null;
    });
  }
  byIp(ip: string): Promise<Lease | null> {
    // a current lease wins over an expired one for the same address
    return this.wrap("byIp", () => {
      const r = this.byIpStmt.get(Math.floor(Date.now() / 1000), ip);
      return r ? leaseFrom(r) : null;
    });
  }
  /**
   * One transaction per UPSERT_ROWS leases, with packets let through between
   * them: a second of grants at thousands a second is one write of several
   * milliseconds otherwise. A failure leaves the rest unwritten; the caller
   * writes the whole set again (an upsert repeated is harmless).
   */
  async upsert(leases: readonly Lease[]): Promise<void> {
    let i = 0;
    for (; this.thread?.alive && i < leases.length; i += THREAD_UPSERT_ROWS) {
      const rows = leases.slice(i, i + THREAD_UPSERT_ROWS).map((l) => leaseValues(l, this.writer));
      try {
        await this.thread.rows("upsert", PUT_SQL, rows);
      } catch (e) {
        const err = fromWriter(e, "", (m) => `pydhcp_lease upsert: ${m}`);
        // the thread is gone: this page and the rest are written here
        if (err instanceof WriterGone) break;
        throw err;
      }
    }
    for (let first = i; i < leases.length; i += UPSERT_ROWS) {
      if (i > first) await yieldToLoop();
      const page = leases.slice(i, i + UPSERT_ROWS);
      await this.wrap("upsert", () => {
        this.db.transaction(() => {
          for (const l of page) this.put.run(...leaseValues(l, this.writer));
        })();
      });
    }
  }
  deleteExpired(now: number, limit: number): Promise<number> {
    return this.wrap("cleanup", () => this.prune.run(now, Math.max(1, Math.floor(limit))).changes);
  }
  /**
   * Rows changed since `since`, read only when someone else can have changed
   * any: another connection committed (data_version moved: the CLI, a
   * checkpoint does not count) or a release ran here. Otherwise every such
   * row is one lease memory wrote itself, and reading them back (all of a
   * busy server's leases, every second) only stalled the serving thread.
   */
  changedSince(since: number): Promise<Lease[]> {
    if (this.thread?.alive) {
      // the thread's connection sees every commit but its own, this connection's releases included
      return this.thread.changed("sync", CHANGED_SQL, [since, this.writer]).then(
        (rows) => rows.map(leaseFrom),
        (e: unknown) => {
          const err = fromWriter(e, "", (m) => `pydhcp_lease sync: ${m}`);
          if (!(err instanceof WriterGone)) throw err;
          this.seenVersion = -1;
          return this.changedSince(since);
        },
      );
    }
    return this.wrap("sync", () => {
      const v = Number(this.version.get()?.data_version ?? -2);
      if (v === this.seenVersion && !this.releasedHere) return [];
      this.seenVersion = v;
      this.releasedHere = false;
      return this.changed.all(since, this.writer).map(leaseFrom);
    });
  }
  list(filter: LeaseFilter, now: number, limit: number): Promise<Lease[]> {
    const { where, params } = listWhere(filter, now);
    return this.wrap("list", () =>
      this.db
        .query<Row, (string | number)[]>(`SELECT ${LEASE_COLUMNS} FROM pydhcp_lease ${where} ORDER BY updated DESC LIMIT ?`)
        .all(...params, Math.max(1, Math.floor(limit)))
        .map(leaseFrom),
    );
  }
  release(by: { mac: string } | { ip: string }, now: number): Promise<Lease[]> {
    const [col, v] = "mac" in by ? ["mac", by.mac] : ["ip", by.ip];
    const current = `${col} = ? AND expires >= ? AND state IN ('bound', 'offered')`;
    this.releasedHere = true;
    return this.wrap("release", () =>
      this.db.transaction(() => {
        const rows = this.db.query<Row, (string | number)[]>(`SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE ${current}`).all(v, now).map(leaseFrom);
        this.db.query(`UPDATE pydhcp_lease SET state = 'released', expires = ?, updated = ?, writer = ? WHERE ${current}`).run(now, now, RELEASE_WRITER, v, now);
        return rows;
      })(),
    );
  }
}

/** Adds the lease columns a table made by an older pydhcp lacks. */
function migrateLeases(db: Database): void {
  const have = new Set(db.query<{ name: string }, []>("PRAGMA table_info(pydhcp_lease)").all().map((r) => r.name));
  for (const [name, , type] of LEASE_ADDED_COLUMNS) if (!have.has(name)) db.exec(`ALTER TABLE pydhcp_lease ADD COLUMN ${name} ${type}`);
}

/** bun:sqlite's extended result code (SQLITE_CONSTRAINT_NOTNULL ...), "" when none */
function errorCode(e: unknown): string {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
}

export class SqliteBackend implements Backend {
  readonly kind = "sqlite" as const;
  readonly leases: LeaseStore;
  private readonly statements = new Map<string, Stmt>();
  /** the worker checkpointing the WAL, when the server asked for one */
  readonly checkpoint: BackgroundCheckpoint | null;
  /** the worker writing history and leases, when the server asked for one */
  readonly writer: SqliteWriter | null;

  private constructor(
    private readonly db: Database,
    checkpoint: BackgroundCheckpoint | null,
    leaseWriter: string,
    writer: SqliteWriter | null,
  ) {
    this.leases = new SqliteLeases(db, leaseWriter, writer);
    this.checkpoint = checkpoint;
    this.writer = writer;
  }

  /** Opens (creating when missing) the database file. */
  static open(opts: SqliteOptions, log: Logger): SqliteBackend {
    const fresh = opts.path === ":memory:" || !existsSync(opts.path);
    let db: Database;
    try {
      db = new Database(opts.path, { create: true });
      // subscribers' MACs and addresses: owner only, as the journal (SQLite gives -wal and -shm the same mode)
      if (fresh && opts.path !== ":memory:") chmodSync(opts.path, 0o600);
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.timeoutMs))}`);
      if (opts.path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
      // WAL + NORMAL: a crash may lose the last commits, never corrupts
      db.exec("PRAGMA synchronous = NORMAL");
      if (fresh) for (const stmt of SQLITE_SCHEMA) db.exec(stmt);
      else {
        // the table first, then its columns, then indexes that may name new columns
        const lease = leaseStatements(SQLITE_SCHEMA);
        for (const stmt of lease.filter((x) => /^CREATE TABLE/i.test(x))) db.exec(stmt);
        migrateLeases(db);
        for (const stmt of lease.filter((x) => !/^CREATE TABLE/i.test(x))) db.exec(stmt);
      }
    } catch (e) {
      throw new DbError("connect", "", `cannot open SQLite database ${opts.path}: ${(e as Error).message}`);
    }
    if (fresh && opts.path !== ":memory:") {
      log.info("created a new SQLite database with tables users, history, pydhcp_lease", {
        path: opts.path,
        hint: `add a subscriber: sqlite3 ${opts.path} "insert into users (ip, mask, router, dns, mac, port) values ('192.0.2.10', '255.255.255.0', '192.0.2.1', '192.0.2.53', '080027059ed0', '')"`,
      });
    }
    let checkpoint: BackgroundCheckpoint | null = null;
    if (opts.checkpointMs !== undefined && opts.path !== ":memory:") {
      // commits here no longer copy the WAL into the file (and fsync it) unless the worker falls far behind
      db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
      checkpoint = BackgroundCheckpoint.start(opts.path, opts.checkpointMs, Math.max(0, Math.floor(opts.timeoutMs)), log);
    }
    const writer = opts.writerThread && opts.path !== ":memory:"
      ? SqliteWriter.start(opts.path, Math.max(0, Math.floor(opts.timeoutMs)), opts.checkpointMs !== undefined ? BACKSTOP_PAGES : 1000, log)
      : null;
    return new SqliteBackend(db, checkpoint, opts.leaseWriter ?? LEASE_WRITER, writer);
  }

  prepare(name: string, sql: string): Promise<PreparedQuery> {
    let stmt = this.statements.get(sql);
    try {
      // compiled each time, so a table dropped since the last prepare is found missing now
      const fresh = this.db.prepare<Row, Param[]>(sql);
      if (stmt) fresh.finalize();
      else this.statements.set(sql, (stmt = fresh));
    } catch (e) {
      return Promise.reject(new DbError("prepare", name, `${name}: ${(e as Error).message}`));
    }
    const s = stmt;
    return Promise.resolve({
      name,
      sql,
      columns: s.columnNames,
      run(params: readonly Param[]): Promise<Row[]> {
        try {
          return Promise.resolve(s.all(...(params as Param[])));
        } catch (e) {
          return Promise.reject(new DbError("query", name, `${name}: ${(e as Error).message}`));
        }
      },
    });
  }

  pruneHistory(days: number, limit: number): Promise<number> {
    try {
      // DELETE ... LIMIT is a compile-time option in SQLite: go through rowid
      const q = this.db.prepare(
        "DELETE FROM history WHERE rowid IN (SELECT rowid FROM history WHERE dt < datetime('now', '-' || ? || ' days') LIMIT ?)",
      );
      return Promise.resolve(q.run(days, Math.max(1, Math.floor(limit))).changes);
    } catch (e) {
      return Promise.reject(new DbError("query", "history retention", `history retention: ${(e as Error).message}`));
    }
  }

  private markStmt: Statement<Row, (string | number)[]> | null = null;
  private markGet: Statement<Row, [string]> | null = null;

  historyMark(run: string): Promise<number> {
    try {
      this.markGet ??= this.db.prepare("SELECT seq FROM pydhcp_history_mark WHERE run = ?");
      const r = this.markGet.get(run);
      return Promise.resolve(r ? Number(r.seq) : 0);
    } catch (e) {
      return Promise.reject(new DbError("query", "pydhcp_history_mark", `pydhcp_history_mark: ${(e as Error).message}`));
    }
  }

  runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[] = []): Promise<void> {
    return this.historyBatch(
      items,
      () => this.runBatchHere(items, marks),
      (w) => w.batch(items.map((it) => ({ name: it.query.name, sql: it.query.sql, params: it.params })), "pydhcp_history_mark", MARK_SQL, markRows(marks)),
    );
  }

  runBatchJson(items: readonly { query: PreparedQuery; values: string }[], marks: readonly HistoryMark[] = []): Promise<void> {
    return this.historyBatch(
      items,
      // on this connection the values are bound here: parsed here
      () => this.runBatchHere(items.map((it) => ({ query: it.query, params: JSON.parse(it.values) as Param[] })), marks),
      (w) => w.batchJson(items.map((it) => ({ name: it.query.name, sql: it.query.sql, values: it.values })), "pydhcp_history_mark", MARK_SQL, markRows(marks)),
    );
  }

  /** A history batch on the writer thread (`send`), or on this connection (`here`) when the thread is gone. */
  private historyBatch(items: readonly { query: PreparedQuery }[], here: () => Promise<void>, send: (w: SqliteWriter) => Promise<void>): Promise<void> {
    for (const it of items) {
      if (!this.statements.has(it.query.sql)) return Promise.reject(new DbError("query", it.query.name, `${it.query.name}: not prepared on this database`));
    }
    if (!this.writer?.alive) return here();
    return send(this.writer).catch((e: unknown) => {
      const err = fromWriter(e, (e as WriterFailure).name ?? "", (m) => `${(e as WriterFailure).name}: ${m}`);
      // the thread is gone: the same transaction on this connection
      if (err instanceof WriterGone) return here();
      throw err;
    });
  }

  private runBatchHere(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[]): Promise<void> {
    const resolved: { stmt: Stmt; it: (typeof items)[number] }[] = [];
    for (const it of items) {
      const stmt = this.statements.get(it.query.sql);
      if (!stmt) return Promise.reject(new DbError("query", it.query.name, `${it.query.name}: not prepared on this database`));
      resolved.push({ stmt, it });
    }
    let current = "";
    try {
      if (marks.length) {
        this.markStmt ??= this.db.prepare(MARK_SQL);
      }
      const mark = this.markStmt;
      this.db.transaction(() => {
        for (const { stmt, it } of resolved) {
          current = it.query.name;
          stmt.run(...(it.params as Param[]));
        }
        current = "pydhcp_history_mark";
        for (const m of marks) mark!.run(m.run, m.seq, Math.floor(Date.now() / 1000));
      })();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(new DbError("query", current, `${current}: ${(e as Error).message}`, errorCode(e)));
    }
  }

  /** pydhcp's own statements, and whether each returns rows (asked once: bun:sqlite asks SQLite on every read of columnNames) */
  private readonly own = new Map<string, { st: Statement<Row, (string | number | null)[]>; reads: boolean }>();

  internal(name: string, sql: string, params: readonly (string | number | null)[]): Promise<{ rows: Row[]; changes: number }> {
    try {
      let o = this.own.get(sql);
      if (!o) {
        const prepared = this.db.prepare<Row, (string | number | null)[]>(sql);
        this.own.set(sql, (o = { st: prepared, reads: prepared.columnNames.length > 0 }));
      }
      const st = o.st;
      if (o.reads) return Promise.resolve({ rows: st.all(...(params as (string | number | null)[])), changes: 0 });
      return Promise.resolve({ rows: [], changes: st.run(...(params as (string | number | null)[])).changes });
    } catch (e) {
      return Promise.reject(new DbError("query", name, `${name}: ${(e as Error).message}`, errorCode(e)));
    }
  }

  ping(): Promise<void> {
    try {
      this.db.query("SELECT 1").get();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(new DbError("connect", "", (e as Error).message));
    }
  }

  async close(): Promise<void> {
    // what was sent to the writer thread commits before its connection closes
    await this.writer?.stop();
    await this.checkpoint?.stop();
    for (const s of this.statements.values()) s.finalize();
    for (const o of this.own.values()) o.st.finalize();
    this.statements.clear();
    this.own.clear();
    this.db.close(false);
  }

  /** For tests and tools: run SQL with bound values directly. */
  exec(sql: string, params: Param[] = []): Row[] {
    return this.db.prepare<Row, Param[]>(sql).all(...params);
  }
}
