/**
 * The SQLite file's steady writes (history batches, lease upserts) and the
 * lease sync's read, on a worker thread with its own connection.
 *
 * bun:sqlite runs a statement on the calling thread, so on the serving
 * thread every history batch and lease write held the event loop while
 * packets queued in the kernel. Captured on the server's interface at
 * 6,400 DORA/s (bench/perf/probe.ts with PROBE_WIRE=1, 2 cores): the reply
 * p99 was 18-20 ms with those writes on the serving thread and 6.6-8.4 ms
 * with none at all. WAL lets this connection write while the serving one
 * reads (the offer chain). What stays on the serving connection (releases,
 * expiry, retention) is rare; it waits up to busy_timeout for a write here
 * to commit, a few milliseconds.
 *
 * The worker takes messages in order, so a lease sync sent after a write
 * sees it. When the worker cannot start or stops, `alive` turns false and
 * the caller runs the same statements on its own connection instead
 * (WriterGone): slower, never lost.
 */
import type { Logger } from "../log/types.ts";
import type { Row } from "./backend.ts";

/** a bound value: history parameters are text or NULL, lease columns text or finite numbers (sent as JSON) */
export type Value = string | number | null;

/** What failed in the worker: the statement's name and SQLite's message and code. */
export interface WriterFailure {
  name: string;
  message: string;
  code: string;
}

/** The worker is gone: run it on the calling connection. */
export class WriterGone extends Error {
  constructor(why: string) {
    super(`SQLite writer thread stopped: ${why}`);
    this.name = "WriterGone";
  }
}

// Plain JavaScript from a Blob, as the checkpoint worker: the compiled binary needs no second entry point.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
let db = null;
const stmts = new Map();
let seen = -1;
function stmt(sql) {
  let s = stmts.get(sql);
  if (!s) { s = db.prepare(sql); stmts.set(sql, s); }
  return s;
}
function fail(id, name, e) {
  postMessage({ id, error: { name, message: String((e && e.message) || e), code: e && e.code ? String(e.code) : "" } });
}
self.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.kind === "start") {
    try {
      db = new Database(m.path);
      db.exec("PRAGMA busy_timeout = " + m.timeoutMs);
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA wal_autocheckpoint = " + m.autocheckpoint);
      postMessage({ id: m.id });
    } catch (err) { fail(m.id, "", err); }
    return;
  }
  if (m.kind === "stop") {
    for (const s of stmts.values()) { try { s.finalize(); } catch {} }
    try { if (db) db.close(false); } catch {}
    db = null;
    postMessage({ id: m.id });
    return;
  }
  if (!db) { fail(m.id, m.name || "", new Error("not open")); return; }
  let current = m.name || "";
  try {
    if (m.kind === "batch") {
      db.transaction(() => {
        for (const [k, params] of m.items) { const [name, sql] = m.stmts[k]; current = name; stmt(sql).run(...params); }
        current = m.markName;
        for (const r of m.marks) stmt(m.markSql).run(...r);
      })();
      postMessage({ id: m.id });
    } else if (m.kind === "rows") {
      const s = stmt(m.sql);
      db.transaction(() => { for (const r of m.rows) s.run(...r); })();
      postMessage({ id: m.id });
    } else if (m.kind === "changed") {
      // data_version moves only when another connection commits: none did, nothing to read
      const v = Number(stmt("PRAGMA data_version").get().data_version);
      if (v === seen) { postMessage({ id: m.id, rows: [] }); return; }
      seen = v;
      postMessage({ id: m.id, rows: stmt(m.sql).all(...m.params) });
    }
  } catch (err) { fail(m.id, current, err); }
};
`;

/** Each statement's text once, and each item's index into them: a batch is mostly one statement repeated. */
function statementsOf(items: readonly { name: string; sql: string }[]): { stmts: [string, string][]; index: number[] } {
  const stmts: [string, string][] = [];
  const seen = new Map<string, number>();
  const index: number[] = [];
  for (const it of items) {
    let k = seen.get(it.sql);
    if (k === undefined) seen.set(it.sql, (k = stmts.push([it.name, it.sql]) - 1));
    index.push(k);
  }
  return { stmts, index };
}

let workerUrl: string | null = null;

interface Waiting {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class SqliteWriter {
  private seq = 0;
  private readonly waiting = new Map<number, Waiting>();
  private gone: string | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly log: Logger,
    private readonly path: string,
  ) {
    worker.onmessage = (e: MessageEvent) => this.reply(e.data as { id: number; error?: WriterFailure; rows?: Row[] });
    worker.onerror = (e: ErrorEvent) => this.stopped(e.message || "worker error");
  }

  /**
   * Starts the worker on `path`. Calls made before it has opened the file
   * queue behind the opening; if opening fails they end in WriterGone.
   */
  static start(path: string, timeoutMs: number, autocheckpoint: number, log: Logger): SqliteWriter {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    const w = new Worker(workerUrl);
    // what keeps the process alive is the server, never this thread
    w.unref();
    const s = new SqliteWriter(w, log, path);
    s.call({ kind: "start", path, timeoutMs, autocheckpoint }).catch((e: unknown) => {
      s.stopped(e instanceof WriterGone ? e.message : `cannot open ${path}: ${(e as WriterFailure).message}`);
    });
    return s;
  }

  get alive(): boolean {
    return this.gone === null;
  }

  /** History rows and their marks (`markSql` values per mark), one transaction. */
  batch(items: readonly { name: string; sql: string; params: readonly Value[] }[], markName: string, markSql: string, marks: readonly (readonly Value[])[]): Promise<void> {
    const { stmts, index } = statementsOf(items);
    const rows = items.map((it, i): [number, readonly Value[]] => [index[i]!, it.params]);
    return this.call({ kind: "batch", stmts, items: rows, markName, markSql, marks }).then(() => undefined);
  }

  /**
   * batch() with each row's values as JSON array text (the history
   * journal's): they go into the message as they are, and this thread
   * neither parses nor writes them again.
   */
  batchJson(items: readonly { name: string; sql: string; values: string }[], markName: string, markSql: string, marks: readonly (readonly Value[])[]): Promise<void> {
    const { stmts, index } = statementsOf(items);
    let list = "";
    for (let i = 0; i < items.length; i++) list += `${i ? "," : ""}[${index[i]},${items[i]!.values}]`;
    const head = `{"kind":"batch","stmts":${JSON.stringify(stmts)},"markName":${JSON.stringify(markName)},"markSql":${JSON.stringify(markSql)},"marks":${JSON.stringify(marks)},"items":[${list}],"id":`;
    return this.send((id) => head + id + "}").then(() => undefined);
  }

  /** Rows of one statement, one transaction. */
  rows(name: string, sql: string, rows: readonly (readonly Value[])[]): Promise<void> {
    return this.call({ kind: "rows", name, sql, rows }).then(() => undefined);
  }

  /** `sql` with `params`, read only when another connection has committed since the last such read. */
  changed(name: string, sql: string, params: readonly Value[]): Promise<Row[]> {
    return this.call({ kind: "changed", name, sql, params }).then((r) => (r as Row[] | undefined) ?? []);
  }

  /** Closes the worker's connection once what was sent before has run; bounded by `ms`. */
  async stop(ms = 5000): Promise<void> {
    if (this.gone === null) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.call({ kind: "stop" }).catch(() => undefined), new Promise<void>((resolve) => (t = setTimeout(resolve, ms)))]);
      clearTimeout(t);
    }
    this.gone ??= "stopped";
    this.worker.terminate();
    this.failAll(new WriterGone(this.gone));
  }

  /** For tests: what a crash of the thread does. */
  kill(): void {
    this.worker.terminate();
    this.stopped("terminated");
  }

  private call(msg: Record<string, unknown>): Promise<unknown> {
    // as JSON text: a structured clone of a batch cost the serving thread 3-5 times as much (bench/writer-post.ts)
    return this.send((id) => JSON.stringify({ ...msg, id }));
  }

  /** Posts the message `text(id)` makes; resolves with the worker's answer to it. */
  private send(text: (id: number) => string): Promise<unknown> {
    if (this.gone !== null) return Promise.reject(new WriterGone(this.gone));
    const id = ++this.seq;
    let message: string;
    try {
      message = text(id);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }

  private reply(m: { id: number; error?: WriterFailure; rows?: Row[] }): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.error) w.reject(m.error);
    else w.resolve(m.rows);
  }

  private stopped(why: string): void {
    if (this.gone !== null) return;
    this.gone = why;
    this.log.warn("SQLite writer thread stopped; history and lease writes run on the serving thread", { path: this.path, error: why });
    this.failAll(new WriterGone(why));
  }

  private failAll(e: WriterGone): void {
    const w = [...this.waiting.values()];
    this.waiting.clear();
    for (const x of w) x.reject(e);
  }
}
