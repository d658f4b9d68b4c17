/** Small numeric helpers for the benchmark. Pure. */

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Index of the element a median points at (the lower one for an even count). */
export function medianIndex(xs: number[]): number {
  if (xs.length === 0) return -1;
  const order = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  return order[(xs.length - 1) >> 1]![1];
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1]!;
}

export function round(x: number | null, digits = 2): number | null {
  if (x === null || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
