/**
 * Batched writes on MySQL: history statements in one transaction (with
 * the journal's mark), runs of
 * one single-row INSERT sent as multi-row INSERTs, and history retention.
 */
import type { PoolConnection } from "mysql2/promise";
import { DbError, type HistoryMark, type Param, type PreparedQuery } from "../backend.ts";
import { chunkSizes, multiRowSql, splitSingleRowInsert } from "../multirow.ts";
import type { MysqlPool, SqlValue } from "./pool.ts";

export class MysqlWrites {
  private readonly inserts = new Map<string, ReturnType<typeof splitSingleRowInsert>>();

  constructor(private readonly db: MysqlPool) {}

  private insertParts(sql: string): ReturnType<typeof splitSingleRowInsert> {
    let p = this.inserts.get(sql);
    if (p === undefined) this.inserts.set(sql, (p = splitSingleRowInsert(sql)));
    return p;
  }

  /** The last journal sequence number of `run` written to the database, 0 when none. */
  async historyMark(run: string): Promise<number> {
    const rows = await this.db.execute("pydhcp_history_mark", "SELECT seq FROM pydhcp_history_mark WHERE run = ?", [run], this.db.opts.timeoutMs);
    return rows[0] ? Number(rows[0].seq) : 0;
  }

  async runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[] = []): Promise<void> {
    if (items.length === 0 && marks.length === 0) return;
    if (this.db.isDown) throw new DbError("connect", "", "database unavailable (reconnecting)");
    // the connection it holds is counted, so lookups group behind it instead of queueing in the pool one by one
    const release = this.db.hold();
    try {
      await this.writeBatch(items, marks);
    } finally {
      release();
    }
  }

  private async writeBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[]): Promise<void> {
    let conn: PoolConnection;
    try {
      conn = await this.db.pool.getConnection();
    } catch (e) {
      throw this.db.fail("", e);
    }
    let current = "";
    try {
      await conn.beginTransaction();
      for (let i = 0; i < items.length; ) {
        // consecutive rows of one single-row INSERT go as multi-row INSERTs
        const q = items[i]!.query;
        current = q.name;
        let j = i + 1;
        while (j < items.length && items[j]!.query.sql === q.sql) j++;
        const parts = j - i > 1 ? this.insertParts(q.sql) : null;
        if (!parts) {
          for (; i < j; i++) await conn.execute(items[i]!.query.sql, items[i]!.params as SqlValue[]);
          continue;
        }
        for (const n of chunkSizes(j - i)) {
          const values = items.slice(i, i + n).flatMap((it) => it.params as SqlValue[]);
          await conn.execute(n === 1 ? q.sql : multiRowSql(parts, n), values);
          i += n;
        }
      }
      // the journal's position, in the same transaction as the rows it covers
      current = "pydhcp_history_mark";
      for (const m of marks) {
        await conn.execute(
          "INSERT INTO pydhcp_history_mark (run, seq, updated) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq)), updated = VALUES(updated)",
          [m.run, m.seq, Math.floor(Date.now() / 1000)],
        );
      }
      await conn.commit();
      conn.release();
    } catch (e) {
      await conn.rollback().catch(() => {});
      if ((e as { fatal?: boolean }).fatal) conn.destroy();
      else conn.release();
      throw this.db.fail(current, e);
    }
  }

  async pruneHistory(days: number, limit: number): Promise<number> {
    // MySQL allows LIMIT on a single-table DELETE
    const res = (await this.db.executeRaw(
      "history retention",
      "DELETE FROM history WHERE dt < NOW() - INTERVAL ? DAY ORDER BY id LIMIT ?",
      [days, Math.max(1, Math.floor(limit))],
      this.db.opts.timeoutMs,
    )) as { affectedRows?: number };
    return Number(res.affectedRows ?? 0);
  }
}
