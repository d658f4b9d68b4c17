/**
 * The serving thread's side of a writer thread: a Worker with its own
 * database connection that takes history batches (and on SQLite lease
 * writes) as JSON text, one answer per message, in order. SQLite's
 * (sqlite-writer.ts) and MySQL's (mysql/writer.ts) share it.
 *
 * When the worker cannot start or stops, `alive` turns false, every call
 * waiting ends in WriterGone, and the backend runs the same statements on
 * its own connection instead: slower, never lost.
 */
import type { Logger } from "../log/types.ts";
import type { Row } from "./backend.ts";

/** a bound value: history parameters are text or NULL, lease columns and marks text or finite numbers (sent as JSON) */
export type Value = string | number | null;

/** What failed in the worker: the statement's name and the driver's message and code. */
export interface WriterFailure {
  name: string;
  message: string;
  code: string;
  /** MySQL: the connection is unusable after it (mysql2's `fatal`) */
  fatal?: boolean;
}

/** The worker is gone: run it on the calling connection. */
export class WriterGone extends Error {
  constructor(what: string, why: string) {
    super(`${what} stopped: ${why}`);
    this.name = "WriterGone";
  }
}

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

interface Waiting {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class WriteThread {
  private seq = 0;
  private readonly waiting = new Map<number, Waiting>();
  private gone: string | null = null;

  /**
   * `what` names the thread in errors ("SQLite writer thread"); `fallback`
   * ends the WARN logged when it stops (where its writes go instead).
   */
  protected constructor(
    private readonly worker: Worker,
    protected readonly log: Logger,
    private readonly what: string,
    private readonly fallback: string,
    private readonly where: Record<string, unknown>,
  ) {
    worker.onmessage = (e: MessageEvent) => this.reply(e.data as { id: number; error?: WriterFailure; rows?: Row[] });
    worker.onerror = (e: ErrorEvent) => this.stopped(e.message || "worker error");
    // what keeps the process alive is the server, never this thread
    worker.unref();
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

  /** Closes the worker's connection once what was sent before has run; bounded by `ms`. */
  async stop(ms = 5000): Promise<void> {
    if (this.gone === null) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.call({ kind: "stop" }).catch(() => undefined), new Promise<void>((resolve) => (t = setTimeout(resolve, ms)))]);
      clearTimeout(t);
    }
    this.gone ??= "stopped";
    this.worker.terminate();
    this.failAll(new WriterGone(this.what, this.gone));
  }

  /** For tests: what a crash of the thread does. */
  kill(): void {
    this.worker.terminate();
    this.stopped("terminated");
  }

  protected call(msg: Record<string, unknown>): Promise<unknown> {
    // as JSON text: a structured clone of a batch cost the serving thread 3-5 times as much (bench/writer-post.ts)
    return this.send((id) => JSON.stringify({ ...msg, id }));
  }

  /** Posts the message `text(id)` makes; resolves with the worker's answer to it. */
  private send(text: (id: number) => string): Promise<unknown> {
    if (this.gone !== null) return Promise.reject(new WriterGone(this.what, this.gone));
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

  protected stopped(why: string): void {
    if (this.gone !== null) return;
    this.gone = why;
    this.log.warn(`${this.what} stopped; ${this.fallback}`, { ...this.where, error: why });
    this.failAll(new WriterGone(this.what, why));
  }

  private failAll(e: WriterGone): void {
    const w = [...this.waiting.values()];
    this.waiting.clear();
    for (const x of w) x.reject(e);
  }
}
