/**
 * The answer cache's entries as one string each. An entry lives the cache's
 * TTL, so it is in the old generation, and every full collection visits it:
 * as objects, a whole answer was about fourteen cells (the result, its
 * answer, the run, its lists, the row and its strings), and 10,000 of them
 * more than half of what a full collection walked in pydhcp with 10,000
 * subscribers (bench/gc-cost.ts). As JSON it is one string, and a hit parses
 * it again (under a microsecond); what the parse makes is young and goes
 * with its exchange.
 *
 * Packed only when JSON gives back the same values: text, finite numbers,
 * booleans and null in plain objects and arrays, and an answer without
 * extra options. Anything else (a Date or a Buffer from mysql2, a BLOB from
 * SQLite, option bytes) stays as it is.
 */
import { NO_OPTIONS } from "../core/answer.ts";
import type { ChainResult, Tried } from "../db/chain.ts";

function plain(v: unknown): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v);
    case "object":
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (Array.isArray(v)) {
    // undefined in a list comes back as null
    for (const x of v) if (x === undefined || !plain(x)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  // undefined fields are left out and read back as absent: the same to every reader
  for (const x of Object.values(v)) if (x !== undefined && !plain(x)) return false;
  return true;
}

/** The JSON of `v`, or null when JSON would not give it back. */
export function packChain(v: ChainResult): string | null {
  const a = v.answer;
  if (a !== null && a.options.size > 0) return null;
  // the options map is written as absent and comes back as NO_OPTIONS
  const flat = a === null ? v : { ...v, answer: { ...a, options: undefined } };
  return plain(flat) ? JSON.stringify(flat) : null;
}

export function unpackChain(s: string): ChainResult {
  const v = JSON.parse(s) as ChainResult;
  if (v.answer !== null) (v.answer as { options: typeof NO_OPTIONS }).options = NO_OPTIONS;
  return v;
}

/** The JSON of a single query's run, or null when JSON would not give it back. */
export function packRun(r: Tried): string | null {
  return plain(r) ? JSON.stringify(r) : null;
}

export function unpackRun(s: string): Tried {
  return JSON.parse(s) as Tried;
}
