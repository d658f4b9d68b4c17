/**
 * Batched writes on MySQL from the pool: history statements in one
 * transaction with the journal's mark (history-batch.ts: runs of one
 * single-row INSERT as multi-row INSERTs), and history retention. A
 * server's history batches go to the writer thread instead (writer.ts) and
 * come here when it is gone.
 */
import type { PoolConnection } from "mysql2/promise";
import { DbError, type HistoryMark, type Param, type PreparedQuery } from "../backend.ts";
import { InsertParts, MARK_NAME, batchSteps, markValues, type Step } from "./history-batch.ts";
import type { MysqlPool } from "./pool.ts";

export class MysqlWrites {
  private readonly parts = new InsertParts();

  constructor(private readonly db: MysqlPool) {}

  /** The last journal sequence number of `run` written to the database, 0 when none. */
  async historyMark(run: string): Promise<number> {
    const rows = await this.db.execute(MARK_NAME, "SELECT seq FROM pydhcp_history_mark WHERE run = ?", [run], this.db.opts.timeoutMs);
    return rows[0] ? Number(rows[0].seq) : 0;
  }

  async runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[] = []): Promise<void> {
    if (items.length === 0 && marks.length === 0) return;
    if (this.db.isDown) throw new DbError("connect", "", "database unavailable (reconnecting)");
    // the connection it holds is counted, so lookups group behind it instead of queueing in the pool one by one
    const release = this.db.hold();
    try {
      const now = Math.floor(Date.now() / 1000);
      const rows = items.map((it) => ({ name: it.query.name, sql: it.query.sql, params: it.params }));
      await this.writeBatch(batchSteps(rows, marks.map((m) => markValues(m, now)), this.parts));
    } finally {
      release();
    }
  }

  private async writeBatch(steps: readonly Step[]): Promise<void> {
    let conn: PoolConnection;
    try {
      conn = await this.db.pool.getConnection();
    } catch (e) {
      throw this.db.fail("", e);
    }
    let current = "";
    try {
      await conn.beginTransaction();
      for (const s of steps) {
        current = s.name;
        await conn.execute(s.sql, s.values);
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
