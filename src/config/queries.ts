/**
 * `<query>`: pydhcpdb's offer_count, offer_1..offer_N and history_sql, plus
 * pydhcp's per-event history statements and the query timeout. Every
 * statement is compiled here once so a bad placeholder or an unknown
 * `{variable}` fails at load, naming the query.
 */

import type { HistoryEvent, NamedSql } from "./types.ts";
import { Section } from "./reader.ts";
import { compileTemplate, type Dialect } from "../db/template.ts";
import { DEFAULT_QUERY_TIMEOUT_MS } from "../db/settings.ts";
import { isKnownVariable } from "../variables/catalogue.ts";
import { isHistoryStatement } from "../db/event-time.ts";

export const HISTORY_EVENTS: readonly HistoryEvent[] = ["offer", "ack", "nak", "release", "decline", "unknown"];

export { DEFAULT_QUERY_TIMEOUT_MS };
/** a lookup's p99 above this is worth a line: a client waits seconds, the queue behind it grows */
export const DEFAULT_SLOW_P99_MS = 50;
const MAX_OFFERS = 64;

export interface QueryConfig {
  offers: NamedSql[];
  history: NamedSql | null;
  historyEvents: Partial<Record<HistoryEvent, NamedSql>>;
  queryTimeoutMs: number;
  /** p99 of a minute over which a statement gets a WARN, ms; 0 = off */
  slowP99Ms: number;
}

/** Compiles one statement and checks its variables; returns it or null (error recorded). */
function checked(s: Section, name: string, dialect: Dialect, extra: ReadonlySet<string>): NamedSql | null {
  const sql = s.text(name, false);
  if (sql === undefined) return null;
  const path = s.pathOf(name);
  if (sql === "") {
    s.error(path, "is empty");
    return null;
  }
  const t = compileTemplate(name, sql, dialect);
  if (t.kind === "template-error") {
    s.error(path, `${t.message} (at character ${t.offset + 1})`);
    return null;
  }
  let ok = true;
  const history = isHistoryStatement(name);
  for (const v of t.names) {
    if (!isKnownVariable(v, extra, history)) {
      const only = isKnownVariable(v, extra, true);
      s.error(path, only ? `{${v}} describes the answer; only history statements can use it` : `unknown variable {${v}}`);
      ok = false;
    }
  }
  return ok ? { name, sql } : null;
}

export function readQueries(s: Section, dialect: Dialect, extra: ReadonlySet<string>): QueryConfig {
  const count = s.int("offer_count", true, 0, 1, MAX_OFFERS);
  const offers: NamedSql[] = [];
  for (let k = 1; k <= count; k++) {
    const name = `offer_${k}`;
    if (!s.child(name)) {
      s.error(s.pathOf(name), `missing (offer_count is ${count})`);
      continue;
    }
    const q = checked(s, name, dialect, extra);
    if (q) offers.push(q);
  }
  // offer_N beyond offer_count: pydhcpdb ignored them silently; say so instead
  for (const child of s.node.children) {
    const m = /^offer_([0-9]+)$/.exec(child.name);
    if (m && Number(m[1]) > count && count > 0) {
      s.child(child.name);
      s.error(child.path, `beyond offer_count (${count})`);
    }
  }
  const history = checked(s, "history_sql", dialect, extra);
  const historyEvents: Partial<Record<HistoryEvent, NamedSql>> = {};
  for (const ev of HISTORY_EVENTS) {
    const q = checked(s, `history_${ev}`, dialect, extra);
    if (q) historyEvents[ev] = q;
  }
  const queryTimeoutMs = s.int("timeout", false, DEFAULT_QUERY_TIMEOUT_MS, 10, 600_000, "milliseconds");
  const slowP99Ms = s.int("slowP99", false, DEFAULT_SLOW_P99_MS, 0, 600_000, "milliseconds");
  s.finish();
  return { offers, history, historyEvents, queryTimeoutMs, slowP99Ms };
}
