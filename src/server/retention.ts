/**
 * History retention: deletes rows of pydhcpdb's `history` table (its `dt`
 * column) older than the configured days, one small batch per call so it
 * never holds locks long enough to stall the lookups.
 */
import type { Backend } from "../db/backend.ts";

const SQL = {
  // MySQL allows LIMIT on a single-table DELETE
  mysql: "DELETE FROM history WHERE dt < DATE_SUB(NOW(), INTERVAL ? DAY) ORDER BY id LIMIT 1000",
  // SQLite: through the rowid, DELETE ... LIMIT is a compile-time option
  sqlite: "DELETE FROM history WHERE rowid IN (SELECT rowid FROM history WHERE dt < datetime('now', '-' || ? || ' days') LIMIT 1000)",
} as const;

const BATCH = 1000;

export async function pruneHistory(backend: Backend, days: number): Promise<number> {
  const q = await backend.prepare("history_retention", SQL[backend.kind]);
  let total = 0;
  for (let i = 0; i < 100; i++) {
    const r = await q.run([String(days)]);
    const n = affected(r);
    total += n;
    if (n < BATCH) break;
    await Bun.sleep(10);
  }
  return total;
}

function affected(rows: unknown): number {
  const r = rows as { affectedRows?: number; changes?: number } | unknown[];
  if (Array.isArray(r)) {
    const first = r[0] as { affectedRows?: number; changes?: number } | undefined;
    return first?.affectedRows ?? first?.changes ?? 0;
  }
  return r.affectedRows ?? r.changes ?? 0;
}
