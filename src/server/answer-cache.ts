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
 * With pools, a row naming a pool is remembered the same way: the choice
 * of pool, not an address. Each request still goes to the allocator (an
 * OFFER reserves, a REQUEST commits), so only the operator's queries are
 * saved, as for any other answer.
 *
 * Bounded: at most `maxEntries`; the oldest entry makes room (insertion
 * order, which with one TTL for all is also expiry order).
 *
 * Single queries are remembered too (QueryMemo, db/chain.ts): a query that
 * found no row deciding, and whatever a query binding no variable found, by
 * its name, text and bound values, under the same TTL, bound and
 * invalidation. A chain asked for a client the cache does not hold then
 * skips the queries known to find nothing for these values, e.g. Option 82
 * queries whose variables are empty for every client of a relay that sends
 * none, and a catch-all such as `select 'guest' as pool` answers from
 * memory: one run per TTL for all of them instead of one per DISCOVER.
 *
 * A hit hands respond() the runs that produced the entry, each marked
 * `cached` (QueryRun.cached, ms 0): the Exchange, -d and the metrics see
 * that no query ran for this request. The decision's query name is unchanged
 * (history's answer_query names the offer query, not the cache).
 */
import type { Param } from "../db/backend.ts";
import type { BoundQuery, ChainResult, QueryMemo, Tried } from "../db/chain.ts";
import type { Vars } from "../variables/types.ts";

/** A chain that found an answer, a pool, or nothing: what is remembered (cachedChain never stores a failure). */
export type CacheableChain = ChainResult;
export type CacheResult = "hit" | "negative_hit" | "miss";

export interface AnswerCacheOptions {
  /** seconds an answer is reused; 0 = off */
  ttlSeconds: number;
  maxEntries: number;
}


/**
 * An entry keeps no array of its bound values: its key is their JSON, and
 * invalidation by value reads them from there (keyHolds). Measured with
 * bench/retained.ts: 849 bytes per whole answer with the array, 607 without.
 */
interface Entry {
  value: CacheableChain;
  expires: number;
}

/** Keyed by the JSON of [name, sql, ...bound values]. */
interface RunEntry {
  run: Tried;
  expires: number;
}

/**
 * Whether `key`, the JSON of an array of strings and nulls, holds `value`
 * as one of its elements from index `from` on. `quoted` is
 * JSON.stringify(value): an element equal to value is written exactly so,
 * so a key without that text is answered without parsing (nearly all of
 * them). Finding the text is not enough: it can span two elements (in
 * ["a,",",b"] the text "," between a `,` before and a `,` after is the end
 * of one element and the start of the next), so a key that has it is
 * parsed.
 */
export function keyHolds(key: string, value: string, quoted: string, from = 0): boolean {
  if (!key.includes(quoted)) return false;
  const elements = JSON.parse(key) as Param[];
  for (let i = from; i < elements.length; i++) if (elements[i] === value) return true;
  return false;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  /** single queries' runs (QueryMemo), by name, text and bound values */
  private readonly runs = new Map<string, RunEntry>();
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

  /** whole answers held */
  get size(): number {
    return this.entries.size;
  }

  /** single queries' runs held (QueryMemo) */
  get queriesRemembered(): number {
    return this.runs.size;
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

  get(key: string): CacheableChain | undefined {
    const e = this.entries.get(key);
    if (e && e.expires > this.now()) {
      this.count(e.value.answer !== null || e.value.pool !== undefined ? "hit" : "negative_hit");
      return e.value;
    }
    if (e) this.entries.delete(key);
    this.count("miss");
    return undefined;
  }

  set(key: string, value: CacheableChain): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    // what a hit returns: the runs that found it, marked as not run again
    const tried = value.tried.map((q) => ({ ...q, ms: 0, cached: true as const }));
    this.entries.set(key, { value: { ...value, tried }, expires: this.now() + this.ttlMs });
  }

  /**
   * The single-query memory for one chain run; undefined when the cache is
   * off. What it learns after an invalidation that happened since it was
   * taken is not kept (as for whole answers).
   */
  memo(): QueryMemo | undefined {
    if (!this.enabled) return undefined;
    const gen = this.generation;
    const key = (name: string, sql: string, params: readonly Param[]) => JSON.stringify([name, sql, ...params]);
    return {
      seen: (name, sql, params) => {
        const k = key(name, sql, params);
        const e = this.runs.get(k);
        if (!e) return undefined;
        if (e.expires > this.now()) return { ...e.run };
        this.runs.delete(k);
        return undefined;
      },
      remember: (name, sql, params, run) => {
        if (this.generation !== gen || !this.enabled) return;
        const k = key(name, sql, params);
        this.runs.delete(k);
        while (this.runs.size >= this.maxEntries) {
          const oldest = this.runs.keys().next();
          if (oldest.done) break;
          this.runs.delete(oldest.value);
        }
        this.runs.set(k, { run: { ...run, ms: 0, cached: true }, expires: this.now() + this.ttlMs });
      },
    };
  }

  /**
   * Drops every entry, or those whose bound values include `value` exactly
   * (e.g. a client's MAC as ClientMacAddress gives it), single queries'
   * runs alike. Returns how many whole answers.
   * What `pydhcp lease release` and a reload call.
   */
  invalidate(value?: string): number {
    this.generation++;
    if (value === undefined) {
      const n = this.entries.size;
      this.entries.clear();
      this.runs.clear();
      return n;
    }
    const quoted = JSON.stringify(value);
    // a run's key starts with its query's name and text: only the bound values after them count
    for (const k of this.runs.keys()) if (keyHolds(k, value, quoted, 2)) this.runs.delete(k);
    let n = 0;
    for (const k of this.entries.keys()) {
      if (keyHolds(k, value, quoted)) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }
}

type ChainFn = (vars: Vars, deadline: number) => Promise<ChainResult>;

/**
 * Wraps the offer chain with the cache: the narrow hook runtime.ts uses.
 * Answers, pool choices and "no row" are remembered; a failed chain is not.
 */
export function cachedChain(cache: AnswerCache, offers: readonly BoundQuery[], chain: ChainFn): ChainFn {
  return async (vars, deadline) => {
    if (!cache.enabled) return chain(vars, deadline);
    const params = cache.params(offers, vars);
    const key = cache.key(params);
    const hit = cache.get(key);
    if (hit) return hit;
    const gen = cache.generation;
    const r = await chain(vars, deadline);
    if (!r.failure) {
      if (cache.generation === gen) cache.set(key, r);
    }
    // a failing database cannot confirm what the cache holds: from here on, lease memory and its grace decide
    else if (r.failure.kind !== "bad-answer") cache.invalidate();
    return r;
  };
}
