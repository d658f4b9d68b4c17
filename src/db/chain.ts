/**
 * pydhcpdb's offer chain: run offer_1..offer_N in order with the packet's
 * variables; the first row with a non-empty ip decides. A query error or
 * timeout ends the chain with no answer (the caller logs it): answering
 * from a later, less specific query while an earlier one is failing could
 * hand a subscriber the wrong address.
 */

import type { Param, PreparedQuery, Row } from "./backend.ts";
import { DbError } from "./backend.ts";
import type { CompiledTemplate } from "./template.ts";
import { isBadAnswer, rowIp, toAnswer, type Answer, type AnswerDefaults } from "../domain/answer.ts";
import type { Vars } from "../variables/types.ts";

/** A compiled template and its prepared statement. */
export interface BoundQuery {
  template: CompiledTemplate;
  query: PreparedQuery;
}

/** One query's run, for --explain and debug logs. */
export interface Tried {
  name: string;
  /** the bound values, in `?` order */
  params: Param[];
  rows: number;
  /** the rows themselves (a reference, no copy), for --explain and -d */
  result?: Row[];
  ms: number;
  error?: string;
}

export type ChainFailure =
  | { kind: "query" | "timeout" | "connect" | "prepare"; query: string; message: string }
  | { kind: "bad-answer"; query: string; row: number; message: string };

export type ChainResult =
  | { answer: Answer; query: string; rows: number; tried: Tried[] }
  | { answer: null; tried: Tried[]; failure?: ChainFailure };

export async function runOfferChain(
  queries: readonly BoundQuery[],
  vars: Vars,
  timeoutMs: number,
  defaults: AnswerDefaults,
): Promise<ChainResult> {
  const tried: Tried[] = [];
  for (const q of queries) {
    const name = q.template.name;
    const params = q.template.bind(vars);
    const t0 = performance.now();
    let rows;
    try {
      rows = await q.query.run(params, timeoutMs);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      tried.push({ name, params, rows: 0, ms: performance.now() - t0, error: message });
      const kind = e instanceof DbError ? e.kind : "query";
      return { answer: null, tried, failure: { kind, query: name, message } };
    }
    tried.push({ name, params, rows: rows.length, result: rows, ms: performance.now() - t0 });
    let i = 0;
    while (i < rows.length && rowIp(rows[i]!) === "") i++;
    if (i === rows.length) continue;
    const a = toAnswer(rows[i]!, i, name, defaults);
    if (isBadAnswer(a)) {
      tried[tried.length - 1]!.error = a.message;
      return { answer: null, tried, failure: a };
    }
    return { answer: a, query: name, rows: rows.length, tried };
  }
  return { answer: null, tried };
}
