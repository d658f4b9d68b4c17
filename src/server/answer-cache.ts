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
 * Bounded: at most `maxEntries`; the entry stored first makes room (a
 * refresh keeps an entry's place: see refreshOrMakeRoom).
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
import type { Param, Row } from "../db/backend.ts";
import type { Answer } from "../core/answer.ts";
import type { BoundQuery, ChainResult, QueryMemo, Tried } from "../db/chain.ts";
import type { Vars } from "../variables/types.ts";
import { packChain, packRun, unpackChain, unpackRun } from "./packed-chain.ts";

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
 * Its value is JSON where JSON gives it back (packed-chain.ts): one string
 * for a full collection to visit, not about fourteen cells; `value` holds
 * the rest.
 */
interface Entry {
  packed: string | null;
  value: CacheableChain | null;
  expires: number;
}

/** Keyed by the JSON of [name, sql, ...bound values]; packed as Entry is. */
interface RunEntry {
  packed: string | null;
  run: Tried | null;
  expires: number;
}

function chainOf(e: Entry): CacheableChain {
  return e.packed !== null ? unpackChain(e.packed) : e.value!;
}

function runOf(e: RunEntry): Tried {
  return e.packed !== null ? unpackRun(e.packed) : { ...e.run! };
}

/*
 * Refreshing in place. An entry lives the TTL, long enough to be promoted
 * to the old generation, and only a full collection frees it. Most entries
 * that expire are asked again and found unchanged (10,000 subscribers and a
 * 5 s TTL: 2,000 such lookups a second). An expired entry is therefore kept
 * until its key is looked up again; when the new result equals it, the
 * entry's expiry moves and the new result, which is still young, is what
 * is dropped. bench/promoted.ts measures what this saves.
 */

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameList<T>(a: readonly T[] | undefined, b: readonly T[] | undefined, same: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i]!, b[i]!)) return false;
  return true;
}

function sameRow(a: Row, b: Row): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!(k in b) || !sameValue(a[k], b[k])) return false;
  return true;
}

function sameAnswer(a: Answer | null, b: Answer | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.ip !== b.ip || a.mask !== b.mask || a.router !== b.router || a.leaseTime !== b.leaseTime) return false;
  if (a.nextServer !== b.nextServer || a.pool !== b.pool || a.heldUntil !== b.heldUntil) return false;
  if (!sameList(a.dns, b.dns, (x, y) => x === y) || a.options.size !== b.options.size) return false;
  for (const [code, v] of a.options) if (!sameValue(v, b.options.get(code))) return false;
  return true;
}

/** The same run as far as anything reads it (its time aside). */
function sameRun(a: Tried, b: Tried): boolean {
  return a.name === b.name && a.sql === b.sql && a.rows === b.rows && a.error === b.error &&
    sameList(a.names, b.names, (x, y) => x === y) && sameList(a.params, b.params, (x, y) => x === y) && sameList(a.result, b.result, sameRow);
}

/**
 * Before storing under `key`: an entry there equal to the new value (`same`)
 * stays, with `expires`, and true is returned; otherwise it goes, and the
 * entries stored first make room for the new one below `max`.
 *
 * A refresh writes only the entry's expiry, not the map: an entry moved to
 * the end (delete and set) writes a young key into the map, and JSC's next
 * eden collection then visits the whole map again, every entry of it, at
 * each collection while refreshes go on (bench/eden.ts). So the order is
 * the order of first storing, and a full cache drops the entry stored
 * first even when it was refreshed since: one lookup again, not a wrong
 * answer.
 */
function refreshOrMakeRoom<E extends { expires: number }>(map: Map<string, E>, key: string, expires: number, max: number, same: (old: E) => boolean): boolean {
  const old = map.get(key);
  if (old) {
    if (same(old)) {
      old.expires = expires;
      return true;
    }
    map.delete(key);
  }
  while (map.size >= max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
  return false;
}

function sameChain(a: CacheableChain, b: CacheableChain): boolean {
  if (!sameAnswer(a.answer, b.answer) || !sameList(a.tried, b.tried, sameRun)) return false;
  if ("query" in a !== "query" in b || ("query" in a && "query" in b && (a.query !== b.query || a.rows !== b.rows))) return false;
  const pa = a.pool;
  const pb = b.pool;
  if (pa === undefined || pb === undefined) return pa === pb;
  return pa.pool === pb.pool && pa.rowIndex === pb.rowIndex && sameRow(pa.row, pb.row);
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

  /** The unexpired entry for `key`; an expired one stays until set() refreshes or replaces it. */
  get(key: string): CacheableChain | undefined {
    const e = this.entries.get(key);
    if (e && e.expires > this.now()) {
      const v = chainOf(e);
      this.count(v.answer !== null || v.pool !== undefined ? "hit" : "negative_hit");
      return v;
    }
    this.count("miss");
    return undefined;
  }

  /** The entry object the map holds for `key` (tests: a refresh keeps it, a change replaces it). */
  stored(key: string): object | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: CacheableChain): void {
    if (!this.enabled) return;
    const expires = this.now() + this.ttlMs;
    // what a hit returns: the runs that found it, marked as not run again
    const tried = value.tried.map((q) => ({ ...q, ms: 0, cached: true as const }));
    const kept = { ...value, tried };
    const packed = packChain(kept);
    const same = (old: Entry) => (packed !== null && old.packed !== null ? old.packed === packed : sameChain(chainOf(old), kept));
    if (refreshOrMakeRoom(this.entries, key, expires, this.maxEntries, same)) return;
    this.entries.set(key, packed !== null ? { packed, value: null, expires } : { packed: null, value: kept, expires });
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
        const e = this.runs.get(key(name, sql, params));
        // an expired run stays until remember() refreshes or replaces it
        return e && e.expires > this.now() ? runOf(e) : undefined;
      },
      remember: (name, sql, params, run) => {
        if (this.generation !== gen || !this.enabled) return;
        const k = key(name, sql, params);
        const expires = this.now() + this.ttlMs;
        const kept: Tried = { ...run, ms: 0, cached: true };
        const packed = packRun(kept);
        const same = (old: RunEntry) => (packed !== null && old.packed !== null ? old.packed === packed : sameRun(runOf(old), kept));
        if (refreshOrMakeRoom(this.runs, k, expires, this.maxEntries, same)) return;
        this.runs.set(k, packed !== null ? { packed, run: null, expires } : { packed: null, run: kept, expires });
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

/** The offer chain: a result now (a cache hit), or a promise of one (the queries run). */
type ChainFn = (vars: Vars, deadline: number) => ChainResult | Promise<ChainResult>;

/**
 * Wraps the offer chain with the cache: the narrow hook runtime.ts uses.
 * Answers, pool choices and "no row" are remembered; a failed chain is not.
 */
export function cachedChain(cache: AnswerCache, offers: readonly BoundQuery[], chain: ChainFn): ChainFn {
  // a hit is returned as it is, not wrapped in a promise: most DISCOVERs then never wait (core/respond.ts)
  return (vars, deadline) => {
    if (!cache.enabled) return chain(vars, deadline);
    const params = cache.params(offers, vars);
    const key = cache.key(params);
    const hit = cache.get(key);
    if (hit) return hit;
    const gen = cache.generation;
    return Promise.resolve(chain(vars, deadline)).then((r) => {
      if (!r.failure) {
        if (cache.generation === gen) cache.set(key, r);
      }
      // a failing database cannot confirm what the cache holds: from here on, lease memory and its grace decide
      else if (r.failure.kind !== "bad-answer") cache.invalidate();
      return r;
    });
  };
}
