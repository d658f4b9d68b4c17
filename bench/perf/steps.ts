/**
 * The pinned rate ladder and the search for the highest rate a server
 * sustains. The same ladder for every server keeps the rows comparable.
 */

/** DORA/s offered at each step. */
export const RATE_STEPS = [
  50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12500, 15000, 20000,
] as const;

/** A step passes with under 1% of exchanges lost... */
export const MAX_LOSS = 0.01;
/** ...and when perfdhcp actually offered close to the asked rate. */
export const MIN_OFFERED = 0.9;

export interface StepOutcome {
  rate: number;
  /** completed DORA/s that perfdhcp measured */
  achieved: number | null;
  loss: number;
  /** DISCOVERs sent per second over the asked rate */
  offered: number;
  /** server process gone */
  died?: boolean;
}

export function stepPasses(o: StepOutcome): boolean {
  return !o.died && o.loss < MAX_LOSS && o.offered >= MIN_OFFERED;
}

/**
 * Walks the ladder from the bottom and stops at the first step that fails
 * `1 + retries` times in a row (a retry absorbs a transient stall of a
 * shared machine; every attempt is kept in `all`). Returns the highest
 * passing step (null when even the first fails).
 */
export async function climb<T extends StepOutcome>(
  steps: readonly number[],
  measure: (rate: number) => Promise<T>,
  retries = 1,
): Promise<{ best: T | null; all: T[] }> {
  const all: T[] = [];
  let best: T | null = null;
  for (const rate of steps) {
    let passed: T | null = null;
    for (let attempt = 0; attempt <= retries && !passed; attempt++) {
      const o = await measure(rate);
      all.push(o);
      if (stepPasses(o)) passed = o;
      else if (o.died) return { best, all };
    }
    if (!passed) break;
    best = passed;
  }
  return { best, all };
}
