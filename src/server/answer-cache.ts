/**
 * The offer chain's answers, remembered for a few seconds per tuple of bound
 * values (as Kea's host_cache remembers reservations). A retransmitted
 * DISCOVER, the REQUEST after an OFFER and a client no query knows then cost
 * one lookup per TTL instead of one each. "No row" is remembered too
 * (negative entries); errors and unusable rows never are.
 *
 * Staleness: a subscriber row changed in the database is seen at most `ttl`
 * seconds later (a new subscriber may stay unknown, a removed one answered,
 * that long). A reload empties the cache; `invalidate(value)` drops the
 * entries whose bound values hold `value` (a MAC, say) at once. A lookup
 * that fails empties it too: while the database is away, renewals are
 * lease memory's to answer, within its grace, not the cache's.
 *
 * Bounded: at most `maxEntries`; the oldest entry makes room (insertion
 * order, which with one TTL for all is also expiry order).
 *
 * A hit hands respond() the runs that produced the entry, each marked
 * `cached` (QueryRun.cached, ms 0): the Exchange, -d and the metrics see
 * that no query ran for this request. The decision's query name is unchanged
 * (history's answer_query names the offer query, not the cache).
 */
import type { Param } from "../db/backend.ts";
import type { BoundQuery } from "../db/chain.ts";
import type { Lookup } from "../core/exchange.ts";
import type { Vars } from "../variables/types.ts";

export type CacheableLookup = Extract<Lookup, { kind: "match" | "none" }>;
export type CacheResult = "hit" | "negative_hit" | "miss";

export interface AnswerCacheOptions {
  /** seconds an answer is reused; 0 = off */
  ttlSeconds: number;
  maxEntries: number;
}


interface Entry {
  value: CacheableLookup;
  expires: number;
  params: readonly Param[];
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  /** bumped by every invalidation: a lookup that started before one does not store its answer */
  generation = 0;
  private ttlMs: number;
  private maxEntries: number;

  constructor(
    opts: AnswerCacheOptions,
    /** counts each lookup's result (metrics) */
    private readonly count: (r: CacheResult) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.ttlMs = opts.ttlSeconds * 1000;
    this.maxEntries = Math.max(1, opts.maxEntries);
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** A reload: new settings, and nothing learned under the old queries survives. */
  configure(opts: AnswerCacheOptions): void {
    this.ttlMs = opts.ttlSeconds * 1000;
    this.maxEntries = Math.max(1, opts.maxEntries);
    this.invalidate();
  }

  /** The bound values of every offer query, in chain order: what the answer depends on. */
  params(offers: readonly BoundQuery[], vars: Vars): Param[] {
    const out: Param[] = [];
    for (const q of offers) {
      const p = q.template.bind(vars);
      out.push(String(p.length));
      for (const v of p) out.push(v);
    }
    return out;
  }

  key(params: readonly Param[]): string {
    return JSON.stringify(params);
  }

  get(key: string): CacheableLookup | undefined {
    const e = this.entries.get(key);
    if (e && e.expires > this.now()) {
      this.count(e.value.kind === "match" ? "hit" : "negative_hit");
      return e.value;
    }
    if (e) this.entries.delete(key);
    this.count("miss");
    return undefined;
  }

  set(key: string, params: readonly Param[], value: CacheableLookup): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    // what a hit returns: the runs that found it, marked as not run again
    const tried = value.tried.map((q) => ({ ...q, ms: 0, cached: true as const }));
    this.entries.set(key, { value: { ...value, tried }, expires: this.now() + this.ttlMs, params });
  }

  /**
   * Drops every entry, or those whose bound values include `value` exactly
   * (e.g. a client's MAC as ClientMacAddress gives it). Returns how many.
   * What `pydhcp lease release` and a reload call.
   */
  invalidate(value?: string): number {
    this.generation++;
    if (value === undefined) {
      const n = this.entries.size;
      this.entries.clear();
      return n;
    }
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.params.includes(value)) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }
}

type LookupFn = (vars: Vars, deadline: number) => Promise<Lookup>;

/**
 * Wraps respond()'s lookup with the cache: the narrow hook runtime.ts uses.
 * Only `match` and `none` are remembered.
 */
export function cachedLookup(cache: AnswerCache, offers: readonly BoundQuery[], lookup: LookupFn): LookupFn {
  return async (vars, deadline) => {
    if (!cache.enabled) return lookup(vars, deadline);
    const params = cache.params(offers, vars);
    const key = cache.key(params);
    const hit = cache.get(key);
    if (hit) return hit;
    const gen = cache.generation;
    const r = await lookup(vars, deadline);
    if ((r.kind === "match" || r.kind === "none") && cache.generation === gen) cache.set(key, params, r);
    // a failing database cannot confirm what the cache holds: from here on, lease memory and its grace decide
    else if (r.kind === "error") cache.invalidate();
    return r;
  };
}
