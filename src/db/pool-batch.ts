/**
 * Pool-table work gathered per event-loop turn (db/pool-store.ts): the
 * calls made while one turn runs go to the database together when it
 * ends, one statement per group instead of one per call. Under load many
 * DISCOVERs and REQUESTs finish their lookups in the same turn (grouped
 * lookups answer together), so their `mine` reads become one
 * `client_key IN (...)` read and their renewals one UPDATE: one round trip
 * and one commit (one log flush) for the lot. An idle server loses one
 * turn, no timer.
 *
 * Statements come in fixed sizes (a group is padded by repeating its last
 * member), so a server holds few prepared statements.
 */
import { BATCH_SIZES, batchSize } from "./lookup-batch.ts";

/** Statement sizes are the grouped lookups' (lookup-batch.ts); a group larger than the largest is cut into several. */
export const GROUP_MAX = BATCH_SIZES[BATCH_SIZES.length - 1]!;

/** The smallest statement size that holds `n` (n <= GROUP_MAX). */
export function groupSize(n: number): number {
  return batchSize(n, GROUP_MAX);
}

/** `items` padded to `size` by repeating its last one. */
export function padded<T>(items: readonly T[], size: number): T[] {
  const out = items.slice();
  while (out.length < size) out.push(items[items.length - 1]!);
  return out;
}

interface Waiting<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

/**
 * Gathers calls until the turn ends, then hands each group (same key, at
 * most GROUP_MAX) to `run`, which returns one answer per member, in order
 * (each may fail on its own).
 */
export class TurnBatch<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private scheduled = false;

  constructor(
    private readonly key: (item: T) => string,
    private readonly run: (items: T[]) => Promise<R>[],
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.waiting;
    this.waiting = [];
    const groups = new Map<string, Waiting<T, R>[]>();
    for (const w of all) {
      const k = this.key(w.item);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(w);
    }
    for (const g of groups.values()) {
      for (let i = 0; i < g.length; i += GROUP_MAX) {
        const part = g.slice(i, i + GROUP_MAX);
        let ps: Promise<R>[];
        try {
          ps = this.run(part.map((w) => w.item));
        } catch (e) {
          for (const w of part) w.reject(e);
          continue;
        }
        part.forEach((w, j) => ps[j]!.then(w.resolve, w.reject));
      }
    }
  }
}
