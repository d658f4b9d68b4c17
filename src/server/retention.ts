/**
 * History retention: rows of pydhcpdb's `history` table (its `dt` column)
 * older than the configured days are deleted a small batch at a time, with a
 * pause between batches, so the lookups never wait behind a long delete.
 */
import type { Backend } from "../db/backend.ts";

const BATCH = 1000;
const MAX_BATCHES_PER_RUN = 100;

export async function pruneHistory(backend: Backend, days: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const n = await backend.pruneHistory(days, BATCH);
    total += n;
    if (n < BATCH) break;
    await Bun.sleep(10);
  }
  return total;
}
