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
 * Forgetting is by period, so no packet pays for a walk over the map: time
 * is cut into periods of `refill` milliseconds (the time an empty bucket
 * takes to fill), and each bucket notes the last period it was used in. One
 * untouched for a whole period is full, like a new one. Each packet looks
 * at a few buckets (SWEEP_STEP) and drops those; after two quiet periods
 * every bucket is full and the map is emptied at once.
 *
 * One map, buckets updated in place: a client sending steadily allocates
 * nothing that lives. (Moving buckets between two maps each period made
 * every client's key and the maps' tables old-generation garbage, which
 * only a full collection frees; bench/promoted.ts.)
 */
interface Bucket {
  /** the map's key, so the sweep can delete it */
  key: string;
  tokens: number;
  at: number;
  /** the period it was last used in */
  period: number;
}

/** buckets looked at per packet for forgetting: the map is walked in about size / SWEEP_STEP packets */
const SWEEP_STEP = 4;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweep: MapIterator<Bucket> | null = null;
  private period = 0;
  private periodFrom = -Infinity;
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
    // a clock stepped back starts a period too, so forgetting never stalls behind it
    if (now - this.periodFrom >= this.refill || now < this.periodFrom) this.nextPeriod(now);
    this.forgetSome();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        this.untracked++;
        return true;
      }
      b = { key, tokens: this.burst, at: now, period: this.period };
      this.buckets.set(key, b);
    } else if (b.period < this.period - 1) {
      // untouched for a whole period: full, as a new bucket would be
      b.tokens = this.burst;
      b.at = now;
    }
    b.period = this.period;
    if (now > b.at) b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private nextPeriod(now: number): void {
    // two quiet periods: every bucket is full
    if (now - this.periodFrom >= 2 * this.refill) {
      this.buckets.clear();
      this.sweep = null;
    }
    this.period++;
    this.periodFrom = now;
  }

  /** Drops the full buckets among the next few (a Map's iterator survives deletes and inserts). */
  private forgetSome(): void {
    if (this.buckets.size === 0) return;
    for (let i = 0; i < SWEEP_STEP; i++) {
      this.sweep ??= this.buckets.values();
      const n = this.sweep.next();
      if (n.done) {
        this.sweep = null;
        return;
      }
      const b = n.value;
      if (b.period < this.period - 1) this.buckets.delete(b.key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
