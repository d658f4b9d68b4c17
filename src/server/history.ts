/**
 * History writes off the reply path. Rows are queued and written in batches,
 * one transaction each. When the database cannot take them, they go to a
 * local spool file (JSON lines) in order; while the spool holds rows, new
 * rows are appended behind them so order is kept. The spool is replayed when
 * the database answers again, and after a restart of pydhcp itself.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Backend, Param, PreparedQuery } from "../db/backend.ts";
import type { Logger } from "../log/types.ts";

interface Row {
  query: PreparedQuery;
  params: readonly Param[];
}

interface SpoolLine {
  name: string;
  sql: string;
  params: Param[];
}

export interface HistoryStats {
  written: number;
  spooled: number;
  failed: number;
}

const BATCH = 500;
const FLUSH_MS = 20;
const RETRY_MS = 1000;
/**
 * Rows queued in memory past this go to the spool file instead: when the
 * database takes rows slower than a storm makes them, memory stays flat and
 * nothing is lost (the spool is written behind, in order).
 */
const HIGH_WATER = 20_000;

export class HistoryWriter {
  private queue: Row[] = [];
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setInterval> | null = null;
  /** rows in the spool file not yet written */
  private spoolCount = 0;
  private readonly prepared = new Map<string, PreparedQuery>();
  readonly stats: HistoryStats = { written: 0, spooled: 0, failed: 0 };
  onOutage: ((down: boolean) => void) | null = null;
  /** sees how long each batch took, seconds (latency metrics) */
  onBatch: ((seconds: number) => void) | null = null;

  constructor(
    private backend: Backend,
    private readonly spoolPath: string,
    private readonly log: Logger,
  ) {
    if (existsSync(spoolPath)) {
      const text = readFileSync(spoolPath, "utf8");
      this.spoolCount = text.split("\n").filter((l) => l.trim()).length;
      if (this.spoolCount) {
        log.warn("history spool holds rows from an earlier run; they will be written first", {
          spool: spoolPath,
          rows: this.spoolCount,
        });
        this.startRetry();
      }
    }
  }

  /** Swapped on reload: later rows use the new backend. */
  setBackend(b: Backend): void {
    this.backend = b;
    this.prepared.clear();
  }

  get pending(): number {
    return this.queue.length + this.spoolCount;
  }

  add(query: PreparedQuery, params: readonly Param[]): void {
    if (this.spoolCount > 0 && !this.running) {
      // keep order: behind the spooled rows
      this.spool([{ query, params }]);
      return;
    }
    this.queue.push({ query, params });
    if (this.queue.length > HIGH_WATER) {
      this.log.warn("history rows arrive faster than the database takes them; queued rows moved to the spool", {
        rows: this.queue.length,
        spool: this.spoolPath,
      });
      this.spool(this.queue.splice(0));
      return;
    }
    if (this.queue.length >= BATCH) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), FLUSH_MS);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) this.running = this.drain().finally(() => this.done());
  }

  private done(): void {
    this.running = null;
    if (this.queue.length) this.kick();
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      if (this.spoolCount > 0) {
        // database went away while queued: rows go behind the spool
        this.spool(this.queue.splice(0));
        return;
      }
      const batch = this.queue.splice(0, BATCH);
      const t0 = performance.now();
      try {
        await this.backend.runBatch(batch);
        this.onBatch?.((performance.now() - t0) / 1000);
        this.stats.written += batch.length;
      } catch (e) {
        this.onBatch?.((performance.now() - t0) / 1000);
        this.log.error("history write failed; rows kept in the spool", {
          rows: batch.length,
          spool: this.spoolPath,
          error: String(e instanceof Error ? e.message : e),
        });
        this.spool(batch.concat(this.queue.splice(0)));
        this.onOutage?.(true);
        return;
      }
    }
  }

  private spool(rows: readonly Row[]): void {
    const text = rows
      .map((r) => JSON.stringify({ name: r.query.name, sql: r.query.sql, params: [...r.params] } satisfies SpoolLine))
      .join("\n");
    try {
      appendFileSync(this.spoolPath, text + "\n");
      this.spoolCount += rows.length;
      this.stats.spooled += rows.length;
    } catch (e) {
      this.stats.failed += rows.length;
      this.log.error("cannot write the history spool; rows lost", {
        rows: rows.length,
        spool: this.spoolPath,
        error: String(e),
      });
    }
    this.startRetry();
  }

  private startRetry(): void {
    this.retryTimer ??= setInterval(() => {
      if (!this.running) this.running = this.replay().finally(() => this.done());
    }, RETRY_MS);
  }

  /** Writes the spool in order, batch by batch; what is written is removed from the file. */
  private async replay(): Promise<void> {
    if (!existsSync(this.spoolPath)) {
      this.spoolCount = 0;
    } else {
      const lines = readFileSync(this.spoolPath, "utf8").split("\n").filter((l) => l.trim());
      let done = 0;
      try {
        while (done < lines.length) {
          const chunk = lines.slice(done, done + BATCH).map((l) => JSON.parse(l) as SpoolLine);
          const rows: Row[] = [];
          for (const c of chunk) rows.push({ query: await this.prepare(c), params: c.params });
          await this.backend.runBatch(rows);
          done += chunk.length;
          this.stats.written += chunk.length;
        }
      } catch (e) {
        this.rewrite(lines.slice(done));
        this.spoolCount = lines.length - done;
        this.log.debug("history spool replay waits for the database", { left: this.spoolCount, error: String(e) });
        return;
      }
      this.rewrite([]);
      this.spoolCount = 0;
      this.log.info("history spool written to the database", { rows: done });
    }
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
    this.onOutage?.(false);
  }

  private rewrite(lines: string[]): void {
    const tmp = this.spoolPath + ".tmp";
    writeFileSync(tmp, lines.length ? lines.join("\n") + "\n" : "");
    renameSync(tmp, this.spoolPath);
  }

  private async prepare(c: SpoolLine): Promise<PreparedQuery> {
    let q = this.prepared.get(c.sql);
    if (!q) {
      q = await this.backend.prepare(c.name, c.sql);
      this.prepared.set(c.sql, q);
    }
    return q;
  }

  /**
   * Writes what is queued now to the current database (or the spool). A
   * reload that switches databases calls this first, so rows of exchanges
   * answered under the old configuration land in the old database.
   */
  async flush(): Promise<void> {
    if (this.queue.length && !this.running) this.kick();
    while (this.running) await this.running;
  }

  /** Writes everything queued (to the database, or to the spool). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.running) await this.running;
    if (this.spoolCount > 0) {
      await this.replay();
      if (this.spoolCount > 0 && this.queue.length) this.spool(this.queue.splice(0));
    }
    if (this.queue.length) await this.drain();
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
  }
}
