/**
 * Flood control: a token bucket per key (client MAC, relay + circuit-id), so
 * one looping CPE cannot starve the others.
 *
 * Memory is bounded: a bucket that has refilled completely carries no state
 * and is swept; past `maxKeys` live buckets (a random-MAC flood, each MAC
 * new) a new key is let through untracked rather than refused. A per-key
 * limit cannot slow a flood whose every packet has a fresh key anyway, and
 * refusing new keys would lock out real new clients; the bounded lookup
 * queue is what absorbs that kind of flood. A full sweep walks the whole
 * map, so it runs at most once a second however hard the map is pushed.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;
  /** packets let through untracked because the map was full */
  untracked = 0;

  /**
   * @param rate tokens per second (0 = unlimited)
   * @param burst bucket size
   * @param maxKeys most keys tracked at once
   */
  constructor(
    private readonly rate: number,
    private readonly burst: number = Math.max(1, rate * 2),
    private readonly maxKeys = 100_000,
  ) {}

  /** true when the packet may pass; `now` in milliseconds */
  allow(key: string, now: number): boolean {
    if (this.rate <= 0) return true;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        if (now - this.lastSweep >= 1000) this.sweep(now);
        if (this.buckets.size >= this.maxKeys) {
          this.untracked++;
          return true;
        }
      }
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    }
    if (now - this.lastSweep > 10_000) this.sweep(now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Drops buckets that have refilled completely: they carry no state. */
  private sweep(now: number): void {
    this.lastSweep = now;
    const full = (this.burst * 1000) / this.rate;
    for (const [k, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
