/**
 * The flood limiter's table (src/server/ratelimit.ts) against a plain model:
 * a Map of token buckets with the same periods. Forgetting a bucket only
 * frees memory (one untouched for a whole period counts as full either
 * way), so whatever order the table forgets in, every allow() must answer
 * as the model does. Keys come and go by the thousand so the table grows,
 * sweeps, shifts entries back over holes and empties after quiet periods.
 */
import { expect, test } from "bun:test";
import { RateLimiter } from "../../src/server/ratelimit.ts";
import { prng } from "./codec-gen.ts";

class ModelLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; period: number }>();
  private period = 0;
  private periodFrom = -Infinity;
  private readonly refill: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.refill = (burst * 1000) / rate;
  }
  allow(key: string, now: number): boolean {
    if (now - this.periodFrom >= this.refill || now < this.periodFrom) {
      if (now - this.periodFrom >= 2 * this.refill) this.buckets.clear();
      this.period++;
      this.periodFrom = now;
    }
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: this.burst, at: now, period: this.period }));
    else if (b.period < this.period - 1) {
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
  /** buckets that are not yet full-by-age: what the table must still hold */
  live(): number {
    let n = 0;
    for (const b of this.buckets.values()) if (b.period >= this.period - 1) n++;
    return n;
  }
}

for (const seed of [1, 2, 3, 4]) {
  test(`seed ${seed}: every answer as the model's, through growth, sweeps and quiet periods`, () => {
    const r = prng(seed);
    const rate = 2 + r.int(10);
    // refills of 2 to 4 s: thousands of keys are live at once
    const burst = rate * (2 + r.int(3));
    const table = new RateLimiter(rate, burst, 1_000_000);
    const model = new ModelLimiter(rate, burst);
    let now = 1_000_000 + r.int(1000);
    // a pool that drifts: old keys fall out of use, new ones come
    let base = 0;
    let differ = 0;
    let refused = 0;
    let most = 0;
    for (let step = 0; step < 40_000; step++) {
      const roll = r.next();
      if (roll < 0.0005) now += r.int(6000) + 1; // a quiet spell, sometimes past two periods
      else if (roll < 0.0006) now -= r.int(3000); // a clock stepped back
      else now += r.int(4);
      if (r.next() < 0.002) base += r.int(3000);
      // each key sends a run of packets: most buckets are part drained, so one lost shows as a wrong answer
      const key = `k${base + r.int(5000)}`;
      const run = 1 + r.int(burst + 4);
      for (let k = 0; k < run; k++) {
        const a = table.allow(key, now);
        if (a !== model.allow(key, now)) differ++;
        if (!a) refused++;
      }
      most = Math.max(most, table.size);
      // the table never drops a bucket still counting
      expect(table.size).toBeGreaterThanOrEqual(model.live());
    }
    expect(differ).toBe(0);
    expect(refused).toBeGreaterThan(1000);
    // past 1,024 live keys: the table grew from 1,024 slots twice
    expect(most).toBeGreaterThan(1100);
    expect(table.untracked).toBe(0);
  });
}

test("full at maxKeys: new keys pass untracked; tracked ones keep their buckets; a quiet spell empties it", () => {
  const table = new RateLimiter(10, 10, 1000);
  for (let i = 0; i < 10; i++) table.allow("tracked", 0);
  expect(table.allow("tracked", 0)).toBe(false);
  for (let i = 0; i < 5000; i++) expect(table.allow(`new${i}`, 1)).toBe(true);
  expect(table.size).toBe(1000);
  // 999 more were tracked, up to 1,000
  expect(table.untracked).toBe(5000 - 999);
  expect(table.allow("tracked", 2)).toBe(false);
  // two periods (1 s each) untouched: every bucket is full, the table empties
  expect(table.allow("tracked", 2500)).toBe(true);
  expect(table.size).toBe(1);
});
