/**
 * A server's history batches on MySQL/MariaDB go to a thread of their own
 * (writer-thread.ts) with its own connection, as SQLite's do
 * (../sqlite-writer.ts). On the serving thread each batch cost the JSON
 * parse of its journal lines, mysql2's encoding of every value and the
 * socket writes: at 9,000 DORA/s with pydhcpdb's history_sql, 93-95% of a
 * core with history against 81-83% without, and three times the DO p99
 * (bench/results/README.md). The journal's lines now go to the thread as
 * the text they are.
 *
 * The thread holds one connection beyond <poolSize>. When it cannot start
 * or stops, batches run on the pool as before (writes.ts).
 */
import type { Logger } from "../../log/types.ts";
import { WriteThread } from "../write-thread.ts";
import type { MysqlOptions } from "./pool.ts";

/**
 * Where the thread's code is: next to this file when run from source, and
 * at the binary's second entry point when compiled (build.ts: entry points
 * under src/, so src/db/mysql/writer-thread.ts is db/mysql/writer-thread.js).
 */
function threadUrl(): string {
  if (import.meta.url.includes("$bunfs")) return "/$bunfs/root/db/mysql/writer-thread.js";
  return new URL("./writer-thread.ts", import.meta.url).href;
}

export class MysqlWriter extends WriteThread {
  private constructor(worker: Worker, log: Logger, where: string) {
    super(worker, log, "MySQL history writer thread", "history batches run on the serving thread", { database: where });
  }

  /** Starts the thread; it connects at its first batch. */
  static start(opts: MysqlOptions, log: Logger, url = threadUrl()): MysqlWriter {
    const where = `${opts.database} on ${opts.socket ?? `${opts.host}:${opts.port}`}`;
    // a thread whose code cannot be found reports it through onerror: stopped, batches on the pool
    const w = new MysqlWriter(new Worker(url), log, where);
    const { socket, host, port, user, password, database, timeoutMs } = opts;
    w.call({ kind: "start", opts: { socket, host, port, user, password, database, timeoutMs } }).catch((e: unknown) => {
      w.stopped(e instanceof Error ? e.message : String((e as { message?: unknown }).message));
    });
    return w;
  }
}
