/**
 * The pinned rate ladder and the search for the highest rate a server
 * sustains. The same ladder for every server keeps the rows comparable.
 */

/** DORA/s offered at each step. */
export const RATE_STEPS = [
  50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000,
  12000, 13000, 15000, 17500, 20000, 25000, 30000, 35000, 40000, 50000,
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

/**
 * Short steps up the ladder first (no retries) to find roughly where the
 * server stops keeping up, then full steps from two rungs below that: the
 * same answer as a full climb from the bottom, in a fraction of the time.
 * If the first full step fails, the search moves down until one passes.
 */
export async function search<T extends StepOutcome>(
  steps: readonly number[],
  measure: (rate: number) => Promise<T>,
  scout: ((rate: number) => Promise<T>) | null,
): Promise<{ best: T | null; all: T[]; scouted: T[] }> {
  if (!scout) return { ...(await climb(steps, measure)), scouted: [] };
  const coarse = await climb(steps, scout, 0);
  let start = Math.max(0, steps.indexOf(coarse.best?.rate ?? steps[0]!) - 2);
  const all: T[] = [];
  for (;;) {
    const r = await climb(steps.slice(start), measure);
    all.push(...r.all);
    if (r.best || start === 0 || r.all.some((o) => o.died)) return { best: r.best, all, scouted: coarse.all };
    start = Math.max(0, start - 2);
  }
}
