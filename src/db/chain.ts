/**
 * pydhcpdb's offer chain: run offer_1..offer_N in order with the packet's
 * variables; the first row with a non-empty ip (or pool) decides. A query
 * error or timeout ends the chain with no answer (the caller logs it): answering
 * from a later, less specific query while an earlier one is failing could
 * hand a subscriber the wrong address. The whole chain shares one time
 * budget: respond gives it what is left of <timeout> since the packet
 * arrived.
 */

import type { Param, PreparedQuery } from "./backend.ts";
import { DbError } from "./backend.ts";
import { shareable } from "./lookup-batch.ts";
import type { CompiledTemplate } from "./template.ts";
import { isBadAnswer, rowIp, rowPool, toAnswer, type Answer, type AnswerDefaults, type Row } from "../core/answer.ts";
import type { FailureKind, Lookup, QueryRun } from "../core/exchange.ts";
import type { Vars } from "../variables/types.ts";

/** A compiled template and its prepared statement. */
export interface BoundQuery {
  template: CompiledTemplate;
  query: PreparedQuery;
}

/** One query's run, for --explain and debug logs (core/exchange.ts). */
export type Tried = QueryRun;

/**
 * Single queries' runs, remembered for a while (server/answer-cache.ts keeps
 * them under its TTL): a query asked again with the same bound values is not
 * run again. Remembered are runs that found no row deciding, and runs of a
 * query that binds no variable at all (`select 'guest' as pool`) whatever
 * they found, since every client gets the same rows. A query whose values do
 * not depend on the client (an Option 82 variable empty for every client a
 * relay sends without it, say, or a catch-all) then runs once per TTL for
 * all of them, where the whole chain's answer is remembered per client.
 */
export interface QueryMemo {
  /** the earlier run of this query with these values, marked cached */
  seen(name: string, sql: string, params: readonly Param[]): Tried | undefined;
  remember(name: string, sql: string, params: readonly Param[], run: Tried): void;
}

export type ChainFailure =
  | { kind: FailureKind; query: string; message: string }
  | { kind: "bad-answer"; query: string; row: number; message: string };

/** A row that names a pool instead of an address (server/pools.ts allocates). */
export interface PoolChoice {
  pool: string;
  row: Row;
  rowIndex: number;
}

export type ChainResult =
  | { answer: Answer; query: string; rows: number; tried: Tried[]; pool?: undefined; failure?: undefined }
  | { answer: null; pool: PoolChoice; query: string; rows: number; tried: Tried[]; failure?: undefined }
  | { answer: null; pool?: undefined; tried: Tried[]; failure?: ChainFailure };

/**
 * Runs the chain within `timeoutMs` in all: each query gets what is left. A
 * chain with no time left runs nothing more and fails as a timeout.
 */
export async function runOfferChain(
  queries: readonly BoundQuery[],
  vars: Vars,
  timeoutMs: number,
  defaults: AnswerDefaults,
  memo?: QueryMemo,
): Promise<ChainResult> {
  const deadline = performance.now() + timeoutMs;
  const tried: Tried[] = [];
  for (const q of queries) {
    const { name, sql, names } = q.template;
    const params = q.template.bind(vars);
    const seen = memo?.seen(name, sql, params);
    let rows: readonly Row[];
    if (seen) {
      tried.push(seen);
      rows = seen.result ?? [];
    } else {
      const t0 = performance.now();
      const left = Math.floor(deadline - t0);
      try {
        if (left <= 0) throw new DbError("timeout", name, `${name}: not run, the lookup's <timeout> was used up`);
        rows = await q.query.run(params, left);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        tried.push({ name, sql, names, params, rows: 0, ms: performance.now() - t0, error: message });
        const kind = e instanceof DbError ? e.kind : "query";
        return { answer: null, tried, failure: { kind, query: name, message } };
      }
      tried.push({ name, sql, names, params, rows: rows.length, result: rows as Row[], ms: performance.now() - t0 });
    }
    const run = tried[tried.length - 1]!;
    // what a query binding no variable finds is every client's: remembered unless refused below
    const same = !seen && names.length === 0 && shareable(sql);
    let i = 0;
    while (i < rows.length && rowIp(rows[i]!) === "" && rowPool(rows[i]!) === "") i++;
    if (i === rows.length) {
      if (!seen) memo?.remember(name, sql, params, run);
      continue;
    }
    // an ip wins over a pool in the same row: the address is the row's own
    const pool = rowIp(rows[i]!) === "" ? rowPool(rows[i]!) : "";
    if (pool !== "") {
      if (same) memo?.remember(name, sql, params, run);
      return { answer: null, pool: { pool, row: rows[i]!, rowIndex: i }, query: name, rows: rows.length, tried };
    }
    const a = toAnswer(rows[i]!, i, name, defaults);
    if (isBadAnswer(a)) {
      run.error = a.message;
      return { answer: null, tried, failure: a };
    }
    if (same) memo?.remember(name, sql, params, run);
    return { answer: a, query: name, rows: rows.length, tried };
  }
  return { answer: null, tried };
}

/** The chain's result as respond reads it (a row naming a pool is resolved before this, by server/runtime.ts). */
export function toLookup(r: ChainResult): Lookup {
  if (r.answer) return { kind: "match", answer: r.answer, query: r.query, tried: r.tried };
  const f = r.failure;
  if (!f) return { kind: "none", tried: r.tried };
  if (f.kind === "bad-answer") return { kind: "refused", query: f.query, message: f.message, row: f.row, tried: r.tried };
  return { kind: "error", query: f.query, message: f.message, failure: f.kind, tried: r.tried };
}
