/**
 * Flood control: a token bucket per key (client MAC, relay + circuit-id), so
 * one looping CPE cannot starve the others. Buckets idle for a while are
 * swept so the map stays bounded under random-MAC floods.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  /**
   * @param rate tokens per second (0 = unlimited)
   * @param burst bucket size
   * @param maxKeys past this many tracked keys, new keys are refused until a sweep
   */
  constructor(
    private readonly rate: number,
    private readonly burst: number = Math.max(1, rate * 2),
    private readonly maxKeys = 200_000,
  ) {}

  /** true when the packet may pass; `now` in milliseconds */
  allow(key: string, now: number): boolean {
    if (this.rate <= 0) return true;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        this.sweep(now);
        if (this.buckets.size >= this.maxKeys) return false;
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
