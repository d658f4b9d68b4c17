/**
 * Slow-query warnings: per statement name (offer_1.., history, lease_write),
 * the p99 of each minute's runs; one WARN naming the statement when it
 * exceeds the threshold. The quantile is read from bucket counts, linearly
 * inside the bucket, as Prometheus's histogram_quantile() does, so the WARN
 * and a dashboard on pydhcp_query_duration_seconds agree.
 */
import type { Logger } from "../log/types.ts";
import { QUERY_BUCKETS } from "../service/metrics.ts";

export const WINDOW_MS = 60_000;
/** fewer runs than this in a minute say nothing about a p99 */
const MIN_RUNS = 20;

interface Window {
  start: number;
  counts: Float64Array;
  n: number;
}

/** q-quantile (0..1) of per-bucket counts (last slot +Inf), in the buckets' unit. */
export function bucketQuantile(bounds: readonly number[], counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= rank && c > 0) {
      // beyond the last bound: the last bound is all that can be said
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      return lo + (bounds[i]! - lo) * ((rank - seen) / c);
    }
    seen += c;
  }
  return bounds[bounds.length - 1]!;
}

export class LatencyWatch {
  private readonly windows = new Map<string, Window>();
  private thresholdS: number;

  constructor(
    private readonly log: Logger,
    /** p99 threshold in ms; 0 = never warn */
    thresholdMs: number,
    private readonly now: () => number = Date.now,
    private readonly bounds: readonly number[] = QUERY_BUCKETS,
  ) {
    this.thresholdS = thresholdMs / 1000;
  }

  /** A reload may change the threshold. */
  setThreshold(ms: number): void {
    this.thresholdS = ms / 1000;
  }

  observe(name: string, seconds: number): void {
    if (this.thresholdS <= 0) return;
    const now = this.now();
    let w = this.windows.get(name);
    if (!w) this.windows.set(name, (w = { start: now, counts: new Float64Array(this.bounds.length + 1), n: 0 }));
    else if (now - w.start >= WINDOW_MS) {
      this.close(name, w);
      w.start = now;
      w.counts.fill(0);
      w.n = 0;
    }
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    w.counts[i]!++;
    w.n++;
  }

  /** Ends a minute: one line when its p99 is over the threshold. */
  private close(name: string, w: Window): void {
    if (w.n < MIN_RUNS) return;
    const p99 = bucketQuantile(this.bounds, w.counts, 0.99);
    if (!(p99 > this.thresholdS)) return;
    this.log.warn(`query ${name} is slow: p99 ${(p99 * 1000).toFixed(1)} ms over the last minute, above ${(this.thresholdS * 1000).toFixed(0)} ms`, {
      query: name,
      p99Ms: +(p99 * 1000).toFixed(2),
      runs: w.n,
      seconds: Math.round((this.now() - w.start) / 1000),
    });
  }
}
