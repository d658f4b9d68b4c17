/**
 * Flood control: a token bucket per key (client MAC, relay + circuit-id), so
 * one looping CPE cannot starve the others.
 *
 * Memory is bounded: a bucket that has refilled completely carries no state
 * and is forgotten; past `maxKeys` live buckets (a random-MAC flood, each
 * MAC new) a new key is let through untracked rather than refused. A
 * per-key limit cannot slow a flood whose every packet has a fresh key
 * anyway, and refusing new keys would lock out real new clients; the
 * bounded lookup queue is what absorbs that kind of flood.
 *
 * Forgetting is generational, so no packet pays for a walk over the map:
 * buckets live in `current` and `previous`; every `refill` milliseconds (the
 * time an empty bucket takes to fill) `previous` is dropped whole and
 * `current` becomes it. A bucket used again moves back to `current`, so a
 * dropped one was untouched for at least `refill` ms: full, like a new one.
 */
interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private current = new Map<string, Bucket>();
  private previous = new Map<string, Bucket>();
  private rotatedAt = -Infinity;
  /** ms an empty bucket takes to fill: how long a bucket must be untouched before it can go */
  private readonly refill: number;
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
  ) {
    this.refill = rate > 0 ? (burst * 1000) / rate : Infinity;
  }

  /** true when the packet may pass; `now` in milliseconds */
  allow(key: string, now: number): boolean {
    if (this.rate <= 0) return true;
    // a clock stepped back rotates too, so forgetting never stalls behind it
    if (now - this.rotatedAt >= this.refill || now < this.rotatedAt) this.rotate(now);
    let b = this.current.get(key);
    if (b === undefined) {
      b = this.previous.get(key);
      if (b !== undefined) {
        this.previous.delete(key);
        this.current.set(key, b);
      } else {
        if (this.current.size + this.previous.size >= this.maxKeys) {
          this.untracked++;
          return true;
        }
        b = { tokens: this.burst, at: now };
        this.current.set(key, b);
      }
    }
    if (now > b.at) b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Drops the buckets untouched since the last rotation: each has refilled completely. */
  private rotate(now: number): void {
    // after two quiet periods even `current` is all full buckets
    this.previous = now - this.rotatedAt >= 2 * this.refill ? new Map() : this.current;
    this.current = new Map();
    this.rotatedAt = now;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
