/**
 * History: every event is appended to the local journal (journal.ts) before
 * its reply leaves, then written to the database in order, in batches of
 * one transaction each, off the reply path. Each batch also stores how far
 * the journal is written (pydhcp_history_mark), in the same transaction, so
 * a batch read again after a crash or a lost COMMIT is recognised and
 * skipped: an event is written once.
 *
 * When the database or the history table is away, events wait in the
 * journal and DHCP goes on; one WARN says so, /health and /metrics show it,
 * and the writer retries every second.
 */
import type { Backend, HistoryMark, Param, PreparedQuery } from "../db/backend.ts";
import { DbError } from "../db/backend.ts";
import type { Logger } from "../log/types.ts";
import { isRowFault } from "../db/row-fault.ts";
import { Journal, rawText, rawValues, type FsyncPolicy, type JournalEntry, type JournalLimits, type Position, type ReadItem, type Recorded } from "./journal.ts";

export interface HistoryStats {
  /** statements appended to the journal */
  journaled: number;
  /** rows written to the database */
  written: number;
  /** lines read again after a crash whose rows were already written (skipped) */
  duplicates: number;
  /** damaged or refused lines moved to the quarantine file */
  quarantined: number;
}

/** A history statement of the current configuration: its name, SQL (placeholders as ?) and parameter count. */
export interface HistoryStatement {
  name: string;
  sql: string;
  params: number;
}

export interface HistoryOptions {
  journalPath: string;
  fsync: FsyncPolicy;
  /** tests only: small files to exercise compaction and sealing */
  limits?: JournalLimits;
  /** the database the rows go to (db/settings.ts databaseOwner): events the journal holds for another are set aside */
  database?: string;
  /** the same database as an older pydhcp named it (db/settings.ts formerDatabaseOwner): a journal claimed so is this one's */
  formerDatabase?: string | null;
}

const BATCH = 500;
/**
 * A short wait lets rows of concurrent exchanges share a transaction. On
 * MySQL and PostgreSQL a commit is a round trip and a log flush: 20 ms.
 * SQLite commits on its writer thread without a sync (WAL, synchronous
 * NORMAL), so 5 ms: lines then wait a quarter as long in memory, and fewer
 * of them are still there when an eden collection promotes what it finds
 * (1-28% less promoted per collection in nine of nine pairs at 7,000 DORA/s,
 * no more CPU: bench/results/2026-12-06-amd-promotion.md).
 */
const FLUSH_MS: Record<Backend["kind"], number> = { sqlite: 5, mysql: 20, postgresql: 20 };
const RETRY_MS = 1000;

export class HistoryWriter {
  readonly journal: Journal;
  readonly stats: HistoryStats = { journaled: 0, written: 0, duplicates: 0, quarantined: 0 };
  private statements = new Map<string, HistoryStatement>();
  private prepared = new Map<string, PreparedQuery>();
  private configured = false;
  private marks = new Map<string, number>();
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** why rows are not being written, null while they are */
  private problemText: string | null = null;
  private problemSince = 0;
  private idleWaiters: (() => void)[] = [];
  /** rows still to write one at a time after a refused batch */
  private isolate = 0;
  /** the single row that was refused once */
  private suspect: string | null = null;
  /** sees how long each batch took, seconds, written or failed (latency metrics) */
  onBatch: ((seconds: number) => void) | null = null;

  constructor(
    private backend: Backend,
    opts: HistoryOptions,
    private readonly log: Logger,
  ) {
    this.journal = new Journal(opts.journalPath, opts.fsync, log, opts.limits);
    this.owner = opts.database ?? null;
    this.formerOwner = opts.formerDatabase ?? null;
  }

  private readonly owner: string | null;
  private readonly formerOwner: string | null;

  /** Opens the journal; lines left by an earlier run are written first. */
  start(): void {
    this.journal.open(this.owner, this.formerOwner);
    if (this.journal.backlog > 0) {
      this.log.warn("history journal holds events from an earlier run; they are written first", {
        journal: this.journal.path,
        rows: this.journal.backlog,
      });
    }
    this.kick(0);
  }

  /** Swapped on reload: later batches use the new backend. */
  setBackend(b: Backend, database: string | null = null): void {
    this.backend = b;
    // what waits in the journal now goes to this database
    if (database !== null) this.journal.claim(database);
    this.prepared.clear();
    this.marks.clear();
  }

  /** The history statements of the current configuration: the only ones replay runs. */
  setStatements(list: readonly HistoryStatement[]): void {
    const next = new Map(list.map((s) => [s.name, s]));
    for (const [name, q] of this.prepared) if (next.get(name)?.sql !== q.sql) this.prepared.delete(name);
    this.statements = next;
    this.configured = true;
    this.kick(0);
  }

  /** Rows in the journal not yet in the database. */
  get pending(): number {
    // kept after close: the stop line reports what stays in the journal
    return this.journal.backlog;
  }

  /** Why history is not being written (database or table away), or null. */
  get problem(): string | null {
    return this.problemText;
  }

  /** Why the journal cannot take events (a full disk), until a write succeeds: replies are held meanwhile. */
  get journalProblem(): string | null {
    return this.journal.writeProblem;
  }

  /**
   * Appends one event (its statements, bound) to the journal; throws when the
   * journal cannot be written, and then the reply must not be sent.
   */
  record(build: (eventId: string) => JournalEntry[]): string {
    const r = this.recordMany([build]);
    if (r.error) throw r.error;
    return r.ids[0]!;
  }

  /** Appends several events with one write (Journal.recordMany); the replies of the first `written` may leave. */
  recordMany(builds: readonly ((eventId: string) => JournalEntry[])[]): Recorded {
    const r = this.journal.recordMany(builds);
    this.stats.journaled += r.lines;
    if (r.lines > 0) this.kick(FLUSH_MS[this.backend.kind]);
    return r;
  }

  private kick(ms: number): void {
    if (this.closed || this.running || !this.journal.isOpen) return;
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pump().finally(() => {
        this.running = null;
        this.wakeIdle();
      });
    }, ms);
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Writes batches until the journal is caught up or a write fails (then retries later). */
  private async pump(): Promise<void> {
    if (!this.configured) return;
    while (!this.closed) {
      // rows from the tail stay text on a backend that takes them so (SQLite's writer thread parses them)
      const { items, next } = this.isolate > 0 ? this.journal.read(1) : this.journal.read(BATCH, this.backend.runBatchJson !== undefined);
      if (items.length === 0) {
        // only lines already quarantined were passed over
        if (!this.journal.caughtUp) this.journal.commit(next, 0);
        if (this.problemText !== null) await this.probe();
        return;
      }
      try {
        await this.writeBatch(items);
      } catch (e) {
        this.journal.rewind();
        // a COMMIT whose answer was lost may have happened: ask the database again
        this.marks.clear();
        if (await this.refusedRow(items, next, e)) continue;
        this.failed(e);
        this.wakeIdle();
        this.retrySoon();
        return;
      }
      this.journal.commit(next, items.length);
      if (this.isolate > 0) this.isolate--;
      this.recovered();
      // a backlog is many batches; with SQLite each is synchronous: packets get the loop between them
      if (items.length === BATCH) await new Promise<void>((resolve) => setImmediate(resolve));
      // rows that came while this batch was written wait FLUSH_MS for more, as the first row of a
      // batch does: under load one transaction per FLUSH_MS, not one per round trip (unless
      // someone waits for the journal to be written: flush(), close())
      else if (this.isolate === 0 && !this.journal.caughtUp && this.idleWaiters.length === 0) await new Promise<void>((resolve) => setTimeout(resolve, FLUSH_MS[this.backend.kind]));
    }
  }

  /**
   * A batch the database refused while the connection works: its rows are
   * tried one at a time. A single row refused twice (a second apart, so a
   * lock timeout passes) with an error that blames its values (db/row-fault.ts:
   * a NULL into NOT NULL, a value too long), while its statement still
   * prepares, goes to quarantine and the rest is written. Any other error
   * keeps it waiting. True when one was set aside.
   */
  private async refusedRow(items: readonly ReadItem[], next: Position, e: unknown): Promise<boolean> {
    // only an error that blames the values: a table renamed away fails on MySQL with a statement that still "prepares"
    if (!(e instanceof DbError) || e.kind !== "query" || !isRowFault(e.code)) return false;
    if (this.isolate === 0 || items.length > 1) {
      this.isolate = Math.max(items.length, 1);
      return false;
    }
    const it = items[0]!;
    if (it.kind !== "line") return false;
    const l = it.line;
    try {
      // a table that went away fails here: that is an outage, not a bad row
      this.prepared.delete(l.s);
      await this.statementFor(l.s);
      const id = `${l.run}-${l.seq}`;
      if (this.suspect !== id) {
        this.suspect = id;
        return false;
      }
      await this.backend.runBatch([], [{ run: l.run, seq: l.seq }]);
    } catch {
      return false;
    }
    this.marks.set(l.run, l.seq);
    this.journal.quarantine(it, JSON.stringify({ i: `${l.run}-${l.seq}`, s: l.s, v: l.v }), `the database refused the row: ${e.message}`);
    this.journal.commit(next, 1);
    this.stats.quarantined++;
    this.suspect = null;
    this.isolate--;
    this.log.warn("history row refused by the database moved to quarantine; the rest is written", {
      journal: it.file,
      line: it.lineNo,
      error: e.message,
      quarantine: this.journal.quarantinePath,
    });
    return true;
  }

  /** With nothing to write, tries every statement, so a table that came back clears the problem. */
  private async probe(): Promise<void> {
    try {
      for (const name of this.statements.keys()) await this.statementFor(name);
      await this.markOf(this.journal.run);
      this.recovered();
    } catch (e) {
      this.failed(e);
      this.retrySoon();
    }
  }

  private async markOf(run: string): Promise<number> {
    let m = this.marks.get(run);
    if (m === undefined) {
      m = await this.backend.historyMark(run);
      this.marks.set(run, m);
    }
    return m;
  }

  private async statementFor(name: string): Promise<PreparedQuery | null> {
    const s = this.statements.get(name);
    if (!s) return null;
    let q = this.prepared.get(name);
    if (!q) {
      q = await this.backend.prepare(name, s.sql);
      this.prepared.set(name, q);
    }
    return q;
  }

  private async writeBatch(items: readonly ReadItem[]): Promise<void> {
    const rows: { query: PreparedQuery; params: readonly Param[] | null; values: string | null }[] = [];
    const marks = new Map<string, number>();
    /** damaged and refused lines, in file order */
    const aside: { it: ReadItem; text: string; reason: string; refused: boolean }[] = [];
    let skipped = 0;
    let raw = 0;
    for (const it of items) {
      if (it.kind === "damaged") {
        aside.push({ it, text: it.text, reason: it.reason, refused: false });
        continue;
      }
      const l = it.line;
      // known after the first line of a run: no promise per row
      const mark = this.marks.get(l.run) ?? (await this.markOf(l.run));
      if (l.seq <= mark) {
        skipped++;
        continue;
      }
      const count = it.kind === "raw" ? it.line.n : it.line.v.length;
      const def = this.statements.get(l.s);
      const reason = !def
        ? `statement ${l.s} is not in the current configuration`
        : def.params !== count
          ? `statement ${l.s} now takes ${def.params} values, the journal has ${count}`
          : null;
      if (reason) aside.push({ it, text: it.kind === "raw" ? rawText(it.line) : JSON.stringify({ i: `${l.run}-${l.seq}`, s: l.s, v: it.line.v }), reason, refused: true });
      else {
        const query = this.prepared.get(l.s) ?? (await this.statementFor(l.s))!;
        if (it.kind === "raw") {
          rows.push({ query, params: null, values: it.line.values });
          raw++;
        } else rows.push({ query, params: it.line.v, values: null });
      }
      marks.set(l.run, Math.max(marks.get(l.run) ?? 0, l.seq));
    }
    // quarantined before the batch goes (once: a failed batch reads these lines again)
    for (const a of aside) {
      if (!this.journal.quarantine(a.it, a.text, a.reason)) continue;
      this.stats.quarantined++;
      this.log.warn(
        a.refused
          ? "history journal line refused: only statements of the current configuration run; moved to quarantine"
          : "damaged history journal line moved to quarantine; the rest is written",
        { journal: a.it.file, line: a.it.lineNo, reason: a.reason, quarantine: this.journal.quarantinePath },
      );
    }
    const markList: HistoryMark[] = [...marks].map(([run, seq]) => ({ run, seq }));
    if (rows.length || markList.length) {
      const t0 = performance.now();
      try {
        const b = this.backend;
        if (raw === rows.length && raw > 0 && b.runBatchJson) await b.runBatchJson(rows.map((r) => ({ query: r.query, values: r.values! })), markList);
        else await b.runBatch(rows.map((r) => ({ query: r.query, params: r.params ?? rawValues(r.values!) })), markList);
      } finally {
        this.onBatch?.((performance.now() - t0) / 1000);
      }
    }
    for (const [run, seq] of marks) this.marks.set(run, seq);
    this.stats.written += rows.length;
    this.stats.duplicates += skipped;
  }

  /** History statements the database could not prepare when the configuration was loaded (table missing?). */
  deferred(list: readonly { name: string; message: string }[]): void {
    if (list.length === 0) return;
    this.failed(new DbError("prepare", list[0]!.name, list.map((d) => d.message).join("; ")));
    // nothing may be waiting: try again as for a failed batch, so the state clears when the table is back
    this.retrySoon();
  }

  private retrySoon(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick(0);
    }, RETRY_MS);
  }

  private failed(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    const connect = e instanceof DbError && e.kind === "connect";
    const text = connect ? `database unavailable: ${msg}` : `history statement failed: ${msg}`;
    if (this.problemText !== null && connect === this.problemText.startsWith("database")) {
      this.problemText = text;
      return;
    }
    const first = this.problemText === null;
    this.problemText = text;
    if (first) this.problemSince = Date.now();
    // one line per kind of trouble, not one per retry
    this.log.warn(
      connect
        ? "history waits for the database; events are kept in the journal and DHCP goes on"
        : "history rows cannot be written (history table missing or broken?); events are kept in the journal and DHCP goes on",
      { error: msg, journal: this.journal.path, waiting: this.journal.backlog },
    );
    this.prepared.clear();
  }

  private recovered(): void {
    if (this.problemText === null) return;
    this.problemText = null;
    this.log.info("history rows are written again", {
      downMs: Date.now() - this.problemSince,
      waiting: this.journal.backlog,
    });
  }

  /** Resolves when the journal is written up to now, or the current attempt failed. */
  async flush(): Promise<void> {
    if (!this.journal.isOpen || this.journal.caughtUp) return;
    if (this.timer && !this.running) {
      clearTimeout(this.timer);
      this.timer = null;
      this.kick(0);
    }
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      // the retry timer may own the next attempt: do not wait for it
      if (!this.running && !this.timer) resolve();
    });
  }

  /** Writes what it can within `ms`, then syncs and closes the journal; the rest waits there. */
  async close(ms = 2000): Promise<void> {
    if (!this.journal.isOpen) return;
    const end = Date.now() + ms;
    while (this.configured && !this.journal.caughtUp && Date.now() < end && this.problemText === null) {
      await this.flush();
      if (this.running) await this.running;
      if (!this.journal.caughtUp) await new Promise((r) => setTimeout(r, 10));
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
    this.journal.close();
  }
}
