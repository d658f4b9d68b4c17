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
import { WriteThread, type Value } from "./write-thread.ts";

export { WriterGone, type Value, type WriterFailure } from "./write-thread.ts";

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

let workerUrl: string | null = null;

export class SqliteWriter extends WriteThread {
  private constructor(worker: Worker, log: Logger, path: string) {
    super(worker, log, "SQLite writer thread", "history and lease writes run on the serving thread", { path });
  }

  /**
   * Starts the worker on `path`. Calls made before it has opened the file
   * queue behind the opening; if opening fails they end in WriterGone.
   */
  static start(path: string, timeoutMs: number, autocheckpoint: number, log: Logger): SqliteWriter {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    const s = new SqliteWriter(new Worker(workerUrl), log, path);
    s.call({ kind: "start", path, timeoutMs, autocheckpoint }).catch((e: unknown) => {
      s.stopped(e instanceof Error ? e.message : `cannot open ${path}: ${(e as { message: string }).message}`);
    });
    return s;
  }

  /** Rows of one statement, one transaction. */
  rows(name: string, sql: string, rows: readonly (readonly Value[])[]): Promise<void> {
    return this.call({ kind: "rows", name, sql, rows }).then(() => undefined);
  }

  /** `sql` with `params`, read only when another connection has committed since the last such read. */
  changed(name: string, sql: string, params: readonly Value[]): Promise<Row[]> {
    return this.call({ kind: "changed", name, sql, params }).then((r) => (r as Row[] | undefined) ?? []);
  }
}
