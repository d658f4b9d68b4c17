/**
 * Batched writes on MySQL: history statements in one transaction (with
 * the journal's mark), runs of one single-row INSERT sent as one
 * JSON_TABLE statement (json-rows.ts) or as multi-row INSERTs, and history
 * retention.
 */
import type { PoolConnection } from "mysql2/promise";
import { DbError, type HistoryMark, type Param, type PreparedQuery } from "../backend.ts";
import { chunkSizes, multiRowSql, splitSingleRowInsert } from "../multirow.ts";
import { jsonRowsParam, jsonRowsSql } from "./json-rows.ts";
import { CONNECTION_CODES, errCode, type MysqlPool, type SqlValue } from "./pool.ts";

/** A history row: its values, or (runBatchJson) the journal's JSON array text of them. */
type BatchRow = { query: PreparedQuery; params: readonly Param[]; values?: undefined } | { query: PreparedQuery; values: string; params?: undefined };

/** Rows per JSON_TABLE statement: the history writer's batch (500) in one. */
const JSON_ROWS = 500;

export class MysqlWrites {
  private readonly inserts = new Map<string, ReturnType<typeof splitSingleRowInsert>>();
  /** per history statement: its JSON_TABLE form, or null where the statement or the server has none */
  private readonly jsonForms = new Map<string, string | null>();

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

  runBatch(items: readonly { query: PreparedQuery; params: readonly Param[] }[], marks: readonly HistoryMark[] = []): Promise<void> {
    return this.run(items, marks);
  }

  /** runBatch with each row's values as the journal's JSON text: a run of one INSERT goes as one JSON_TABLE statement. */
  runBatchJson(items: readonly { query: PreparedQuery; values: string }[], marks: readonly HistoryMark[] = []): Promise<void> {
    return this.run(items, marks);
  }

  private async run(items: readonly BatchRow[], marks: readonly HistoryMark[]): Promise<void> {
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

  /**
   * The JSON_TABLE form of `sql`, prepared once on `conn` to learn whether
   * the server takes it (JSON_TABLE is MySQL 8.0.4+, MariaDB 10.6+); null
   * when not (the statement itself prepares, its form does not) or when the
   * server counts the statement's placeholders otherwise than the scan, and
   * the rows go as multi-row INSERTs. A lost connection or a statement that
   * fails on its own is not an answer: it fails the batch, which is tried
   * again.
   */
  private async jsonForm(conn: PoolConnection, sql: string): Promise<string | null> {
    const known = this.jsonForms.get(sql);
    if (known !== undefined) return known;
    const made = jsonRowsSql(sql);
    let form: string | null = null;
    if (made !== null) {
      try {
        await conn.prepare(made.sql);
        form = made.sql;
      } catch (e) {
        if (CONNECTION_CODES.has(errCode(e)) || (e as { fatal?: boolean }).fatal) throw e;
        // the statement failing too (its table away, say) is the batch's error, not the form's: tried again
        // later. Asked of the server: mysql2 answers a statement it has prepared before from its cache
        conn.unprepare(sql);
      }
      // the server's count of the statement's placeholders must be the scan's, or values would go to the wrong columns
      const plain = (await conn.prepare(sql)) as unknown as { statement?: { parameters?: unknown[] } };
      if (plain.statement?.parameters?.length !== made.params) form = null;
    }
    this.jsonForms.set(sql, form);
    return form;
  }

  private async writeBatch(items: readonly BatchRow[], marks: readonly HistoryMark[]): Promise<void> {
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
        const form = items[i]!.values !== undefined && j - i > 1 ? await this.jsonForm(conn, q.sql) : null;
        if (form !== null) {
          for (; i < j; ) {
            const n = Math.min(JSON_ROWS, j - i);
            await conn.execute(form, [jsonRowsParam(items.slice(i, i + n).map((it) => it.values!))]);
            i += n;
          }
          continue;
        }
        const parts = j - i > 1 ? this.insertParts(q.sql) : null;
        if (!parts) {
          for (; i < j; i++) await conn.execute(items[i]!.query.sql, paramsOf(items[i]!));
          continue;
        }
        for (const n of chunkSizes(j - i)) {
          const values = items.slice(i, i + n).flatMap(paramsOf);
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
      // asked again at the next batch: a failover to a server without JSON_TABLE must not fail every batch
      this.jsonForms.clear();
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

function paramsOf(it: BatchRow): SqlValue[] {
  return (it.params ?? (JSON.parse(it.values!) as Param[])) as SqlValue[];
}
