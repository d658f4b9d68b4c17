/**
 * The statements one history batch runs on MySQL, in order, inside one
 * transaction: consecutive rows of one single-row INSERT as multi-row
 * INSERTs of fixed sizes, any other statement row by row, then the
 * journal's marks. Pure: the pool (writes.ts) and the writer thread
 * (writer-thread.ts) both execute what it returns.
 */
import { chunkSizes, multiRowSql, splitSingleRowInsert } from "../multirow.ts";

export type Value = string | number | null;

/** One statement to execute: the config name it answers to (in errors), its SQL and values. */
export interface Step {
  name: string;
  sql: string;
  values: Value[];
}

export const MARK_NAME = "pydhcp_history_mark";
/** the journal's position: run, sequence number, time written (epoch seconds) */
export const MARK_SQL =
  "INSERT INTO pydhcp_history_mark (run, seq, updated) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq)), updated = VALUES(updated)";

/** Remembers how each statement splits (splitSingleRowInsert), one parse per text. */
export class InsertParts {
  private readonly parts = new Map<string, ReturnType<typeof splitSingleRowInsert>>();

  of(sql: string): ReturnType<typeof splitSingleRowInsert> {
    let p = this.parts.get(sql);
    if (p === undefined) this.parts.set(sql, (p = splitSingleRowInsert(sql)));
    return p;
  }
}

/** The steps of a batch: `rows` in journal order, then one mark statement per `marks` entry (MARK_SQL's values). */
export function batchSteps(rows: readonly { name: string; sql: string; params: readonly Value[] }[], marks: readonly (readonly Value[])[], parts: InsertParts): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < rows.length; ) {
    const { name, sql } = rows[i]!;
    let j = i + 1;
    while (j < rows.length && rows[j]!.sql === sql) j++;
    const p = j - i > 1 ? parts.of(sql) : null;
    if (!p) {
      for (; i < j; i++) steps.push({ name, sql, values: [...rows[i]!.params] });
      continue;
    }
    for (const n of chunkSizes(j - i)) {
      const values: Value[] = [];
      for (let k = i; k < i + n; k++) for (const v of rows[k]!.params) values.push(v);
      steps.push({ name, sql: n === 1 ? sql : multiRowSql(p, n), values });
      i += n;
    }
  }
  for (const m of marks) steps.push({ name: MARK_NAME, sql: MARK_SQL, values: [...m] });
  return steps;
}

/** A mark as MARK_SQL binds it. */
export function markValues(m: { run: string; seq: number }, now = Math.floor(Date.now() / 1000)): Value[] {
  return [m.run, m.seq, now];
}
