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
 * Forgetting is by period, so no packet pays for a walk over the table: time
 * is cut into periods of `refill` milliseconds (the time an empty bucket
 * takes to fill), and each bucket notes the last period it was used in. One
 * untouched for a whole period is full, like a new one. Each packet looks
 * at a few slots (SWEEP_STEP) and drops those; after two quiet periods
 * every bucket is full and the table is emptied at once.
 *
 * No JavaScript objects per key: the buckets are rows of typed arrays, an
 * open-addressing table keyed by a 64-bit hash of the key. A Map of bucket
 * objects took a young key at every new client (one a period, per client,
 * once buckets are forgotten), and JSC's next eden collection then visits
 * the whole map again: with 30,000 subscribers that made each collection
 * 2.9 ms instead of 1.2 (bench/eden.ts). Typed arrays hold no references, so
 * a collection never visits them. Two keys whose 64-bit hashes are equal
 * would share a bucket: the hash is seeded per limiter, so a sender cannot
 * aim at another client's, and by chance it is about 1 in 4 billion with
 * 100,000 keys tracked.
 */

/** slots looked at per packet for forgetting: the table is walked in slots / SWEEP_STEP packets */
const SWEEP_STEP = 8;
/** slots a new limiter starts with; the table doubles at half full, up to twice maxKeys */
const INITIAL_SLOTS = 1024;

function slotsFor(n: number): number {
  let c = INITIAL_SLOTS;
  while (c < n) c *= 2;
  return c;
}

const seed32 = (): number => (Math.random() * 0x1_0000_0000) >>> 0;

export class RateLimiter {
  /** the key's hash, two halves; a slot is empty when `used` is 0 */
  private hashA = new Uint32Array(INITIAL_SLOTS);
  private hashB = new Uint32Array(INITIAL_SLOTS);
  private used = new Uint8Array(INITIAL_SLOTS);
  private tokens = new Float64Array(INITIAL_SLOTS);
  private at = new Float64Array(INITIAL_SLOTS);
  /** the period each bucket was last used in */
  private usedIn = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;
  private readonly maxSlots: number;
  /** the next slot the sweep looks at */
  private sweepAt = 0;
  private period = 0;
  private periodFrom = -Infinity;
  /** ms an empty bucket takes to fill: how long a bucket must be untouched before it can go */
  private readonly refill: number;
  private readonly seedA = seed32();
  private readonly seedB = seed32();
  /** the last key's hash (hashKey's result) */
  private a = 0;
  private b = 0;
  /** packets let through untracked because the table was full */
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
    this.maxSlots = slotsFor(maxKeys * 2);
  }

  /** true when the packet may pass; `now` in milliseconds */
  allow(key: string, now: number): boolean {
    if (this.rate <= 0) return true;
    // a clock stepped back starts a period too, so forgetting never stalls behind it
    if (now - this.periodFrom >= this.refill || now < this.periodFrom) this.nextPeriod(now);
    this.forgetSome();
    this.hashKey(key);
    let i = this.find();
    if (!this.used[i]) {
      if (this.count >= this.maxKeys) {
        this.untracked++;
        return true;
      }
      if ((this.count + 1) * 2 > this.mask + 1 && this.mask + 1 < this.maxSlots) {
        this.resize(2 * (this.mask + 1));
        i = this.find();
      }
      this.used[i] = 1;
      this.hashA[i] = this.a;
      this.hashB[i] = this.b;
      this.tokens[i] = this.burst;
      this.at[i] = now;
      this.count++;
    } else if (this.usedIn[i]! < this.period - 1) {
      // untouched for a whole period: full, as a new bucket would be
      this.tokens[i] = this.burst;
      this.at[i] = now;
    }
    this.usedIn[i] = this.period;
    let tokens = this.tokens[i]!;
    const at = this.at[i]!;
    if (now > at) tokens = Math.min(this.burst, tokens + ((now - at) * this.rate) / 1000);
    this.at[i] = now;
    if (tokens < 1) {
      this.tokens[i] = tokens;
      return false;
    }
    this.tokens[i] = tokens - 1;
    return true;
  }

  /** Two seeded 32-bit hashes of the key's UTF-16 code units (FNV-1a, and a multiply-xorshift), into a and b. */
  private hashKey(key: string): void {
    let a = this.seedA ^ 0x811c9dc5;
    let b = this.seedB ^ 0x9747b28c;
    for (let k = 0; k < key.length; k++) {
      const c = key.charCodeAt(k);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    // finalisers: every bit of the key reaches the low bits that pick the slot
    a ^= a >>> 16;
    a = Math.imul(a, 0x85ebca6b);
    a ^= a >>> 13;
    b ^= b >>> 16;
    b = Math.imul(b, 0xc2b2ae35);
    b ^= b >>> 16;
    this.a = a >>> 0;
    this.b = b >>> 0;
  }

  /** The slot holding the last hashed key, or the empty slot where it would go (linear probing). */
  private find(): number {
    const { a, b, mask } = this;
    let i = a & mask;
    while (this.used[i] && (this.hashA[i] !== a || this.hashB[i] !== b)) i = (i + 1) & mask;
    return i;
  }

  /** Empty arrays of `slots` slots. */
  private allocate(slots: number): void {
    this.hashA = new Uint32Array(slots);
    this.hashB = new Uint32Array(slots);
    this.used = new Uint8Array(slots);
    this.tokens = new Float64Array(slots);
    this.at = new Float64Array(slots);
    this.usedIn = new Int32Array(slots);
    this.mask = slots - 1;
    this.sweepAt = 0;
  }

  private resize(slots: number): void {
    const { hashA, hashB, used, tokens, at, usedIn } = this;
    this.allocate(slots);
    for (let j = 0; j < used.length; j++) {
      if (!used[j]) continue;
      let i = hashA[j]! & this.mask;
      while (this.used[i]) i = (i + 1) & this.mask;
      this.used[i] = 1;
      this.hashA[i] = hashA[j]!;
      this.hashB[i] = hashB[j]!;
      this.tokens[i] = tokens[j]!;
      this.at[i] = at[j]!;
      this.usedIn[i] = usedIn[j]!;
    }
  }

  private nextPeriod(now: number): void {
    // two quiet periods: every bucket is full, and the table goes back to its first size
    if (now - this.periodFrom >= 2 * this.refill && this.count > 0) this.clear();
    this.period++;
    this.periodFrom = now;
  }

  private clear(): void {
    this.count = 0;
    if (this.mask + 1 === INITIAL_SLOTS) this.used.fill(0);
    else this.allocate(INITIAL_SLOTS);
  }

  /** Drops the refilled buckets among the next few slots. */
  private forgetSome(): void {
    if (this.count === 0) return;
    for (let n = 0; n < SWEEP_STEP; n++) {
      const i = this.sweepAt;
      // a slot emptied here may be refilled by the shift: it is looked at again next
      if (this.used[i] && this.usedIn[i]! < this.period - 1) this.remove(i);
      else this.sweepAt = (i + 1) & this.mask;
    }
  }

  /** Empties slot i, moving back the entries after it that probing would no longer find (backward shift). */
  private remove(i: number): void {
    const mask = this.mask;
    this.count--;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (!this.used[j]) break;
      const home = this.hashA[j]! & mask;
      // the entry at j stays when its home slot is cyclically in (hole, j]
      if (hole <= j ? hole < home && home <= j : hole < home || home <= j) continue;
      this.used[hole] = 1;
      this.hashA[hole] = this.hashA[j]!;
      this.hashB[hole] = this.hashB[j]!;
      this.tokens[hole] = this.tokens[j]!;
      this.at[hole] = this.at[j]!;
      this.usedIn[hole] = this.usedIn[j]!;
      hole = j;
    }
    this.used[hole] = 0;
  }

  get size(): number {
    return this.count;
  }
}
