/**
 * WAL checkpoints of the SQLite file, off the serving thread.
 *
 * SQLite checkpoints on the connection that commits: the commit that takes
 * the WAL past `wal_autocheckpoint` pages copies them into the database
 * and fsyncs it, 5-10 ms on the serving thread every few thousand rows
 * (lease writes and history batches), which every packet waiting behind
 * it pays. Here a worker thread with its own connection runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`: PASSIVE never waits
 * for, nor blocks, the serving connection's readers and writers. The
 * serving connection keeps a high `wal_autocheckpoint` as a backstop, so
 * the WAL stays bounded if the worker stops.
 *
 * Durability is unchanged or better: with synchronous = NORMAL a commit
 * becomes durable when a checkpoint syncs the WAL, and this checkpoints on a
 * clock instead of every 1000 pages.
 */
import type { Logger } from "../log/types.ts";

/** what the serving connection still checkpoints itself at (pages of 4 KiB: ~40 MB) */
export const BACKSTOP_PAGES = 10_000;

export interface CheckpointResult {
  /** frames in the WAL, and how many of them are now in the database file */
  log: number;
  checkpointed: number;
  busy: boolean;
}

// The worker's source: plain JavaScript from a Blob, so the compiled binary needs no second entry point.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
let db = null;
let timer = null;
function run() {
  try {
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
    postMessage({ kind: "done", busy: r.busy !== 0, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    postMessage({ kind: "error", message: String(e && e.message || e) });
  }
}
self.onmessage = (e) => {
  const m = e.data;
  if (m.kind === "start") {
    try {
      db = new Database(m.path);
      db.exec("PRAGMA busy_timeout = " + m.timeoutMs);
    } catch (err) {
      postMessage({ kind: "error", message: String(err && err.message || err) });
      return;
    }
    timer = setInterval(run, m.intervalMs);
  } else if (m.kind === "now") {
    if (db) run();
  } else if (m.kind === "stop") {
    if (timer) clearInterval(timer);
    try { if (db) db.close(false); } catch {}
    postMessage({ kind: "stopped" });
  }
};
`;

let workerUrl: string | null = null;

export class BackgroundCheckpoint {
  private stopped: (() => void) | null = null;
  private failing = false;
  /** sees every checkpoint the worker ran (tests, metrics) */
  onCheckpoint: ((r: CheckpointResult) => void) | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly log: Logger,
    private readonly path: string,
  ) {
    worker.onmessage = (e: MessageEvent) => this.message(e.data as { kind: string } & Partial<CheckpointResult> & { message?: string });
    worker.onerror = (e: ErrorEvent) => this.problem(e.message);
  }

  /** Starts checkpointing `path` every `intervalMs`. */
  static start(path: string, intervalMs: number, timeoutMs: number, log: Logger): BackgroundCheckpoint {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    const w = new Worker(workerUrl);
    // housekeeping only: never what keeps the process alive
    w.unref();
    const c = new BackgroundCheckpoint(w, log, path);
    w.postMessage({ kind: "start", path, intervalMs, timeoutMs });
    return c;
  }

  private message(m: { kind: string } & Partial<CheckpointResult> & { message?: string }): void {
    if (m.kind === "stopped") {
      this.stopped?.();
      return;
    }
    if (m.kind === "error") {
      this.problem(m.message ?? "unknown error");
      return;
    }
    if (m.kind !== "done") return;
    if (this.failing) {
      this.failing = false;
      this.log.info("SQLite checkpoints work again", { path: this.path });
    }
    this.onCheckpoint?.({ log: m.log ?? 0, checkpointed: m.checkpointed ?? 0, busy: m.busy ?? false });
  }

  private problem(message: string): void {
    // one line per outage: the backstop keeps the WAL bounded meanwhile
    if (this.failing) return;
    this.failing = true;
    this.log.warn("SQLite checkpoint failed; the serving connection checkpoints past the backstop meanwhile", { path: this.path, error: message, backstopPages: BACKSTOP_PAGES });
  }

  /** One checkpoint now, besides the clock (tests). */
  now(): void {
    this.worker.postMessage({ kind: "now" });
  }

  /** Closes the worker's connection and ends the thread; bounded by `ms`. */
  async stop(ms = 1000): Promise<void> {
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.stopped = resolve;
        this.worker.postMessage({ kind: "stop" });
      }),
      new Promise<void>((resolve) => (t = setTimeout(resolve, ms))),
    ]);
    clearTimeout(t);
    this.worker.terminate();
  }
}
