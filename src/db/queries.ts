/**
 * Compile and prepare every statement of a config on a backend, once at
 * start (and on reload). Problems come back as lines naming the XML path.
 *
 * History statements are compiled, and tried on the database, but a history
 * table that is missing or broken does not stop the start: DHCP serves and
 * the events wait in the journal (server/history.ts). Only a statement the
 * database cannot parse at all is a config problem.
 */

import type { HistoryEvent } from "../core/exchange.ts";
import type { NamedSql, StatementSet } from "./settings.ts";
import type { Backend } from "./backend.ts";
import { DbError } from "./backend.ts";
import { compileTemplate, type CompiledTemplate } from "./template.ts";
import type { BoundQuery } from "./chain.ts";
import { isHistoryStatement } from "./event-time.ts";

export interface PreparedConfig {
  offers: BoundQuery[];
  /** history_sql when it could be prepared now */
  history: BoundQuery | null;
  historyEvents: Partial<Record<HistoryEvent, BoundQuery>>;
  /** every history statement, compiled, by name (what the journal binds) */
  historyTemplates: Map<string, CompiledTemplate>;
  /** history statements the database could not prepare now (table missing?), by name */
  historyDeferred: { name: string; message: string }[];
}

export type PrepareResult = { ok: true; queries: PreparedConfig } | { ok: false; problems: string[] };

/** Every SQL statement of the config, in config order. */
export function allStatements(config: StatementSet): NamedSql[] {
  const list = [...config.offers];
  if (config.history) list.push(config.history);
  for (const n of Object.values(config.historyEvents)) if (n) list.push(n);
  return list;
}

/** Errors that mean the statement itself is wrong, whatever tables exist (MySQL 1064 ER_PARSE_ERROR, SQLite's parser). */
const NOT_SQL = /SQL syntax|syntax error|incomplete input|unrecognized token|no such function|FUNCTION [^ ]+ does not exist/i;

export async function prepareQueries(backend: Backend, config: StatementSet): Promise<PrepareResult> {
  const problems: string[] = [];
  const bound = new Map<string, BoundQuery>();
  const templates = new Map<string, CompiledTemplate>();
  const historyDeferred: PreparedConfig["historyDeferred"] = [];
  for (const n of allStatements(config)) {
    const t = compileTemplate(n.name, n.sql, backend.kind);
    if (t.kind === "template-error") {
      problems.push(`config/query/${n.name}: ${t.message} (at character ${t.offset + 1})`);
      continue;
    }
    templates.set(n.name, t);
    try {
      bound.set(n.name, { template: t, query: await backend.prepare(n.name, t.sql) });
    } catch (e) {
      // a lost connection is not the query's fault: say so once
      if (e instanceof DbError && e.kind === "connect") return { ok: false, problems: [`database: ${e.message}`] };
      const msg = e instanceof Error ? e.message : String(e);
      if (isHistoryStatement(n.name) && !NOT_SQL.test(msg)) {
        historyDeferred.push({ name: n.name, message: msg });
        continue;
      }
      problems.push(`config/query/${n.name}: the database cannot prepare it: ${msg}`);
    }
  }
  // the first row with an ip (or a pool) decides: an offer query without either column can never answer
  for (const n of config.offers) {
    const cols = bound.get(n.name)?.query.columns;
    // a row names its address (ip) or the pool to draw one from (pool, docs/pools.md)
    if (cols && cols.length > 0 && !cols.some((c) => c.toLowerCase() === "ip" || c.toLowerCase() === "pool")) {
      problems.push(`config/query/${n.name}: its result has no ip column (it has ${cols.join(", ")}), so it can never answer; name the address column ip (or return a pool column to draw from <pools>)`);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const historyEvents: PreparedConfig["historyEvents"] = {};
  for (const [ev, n] of Object.entries(config.historyEvents)) {
    const b = n ? bound.get(n.name) : undefined;
    if (b) historyEvents[ev as HistoryEvent] = b;
  }
  const historyTemplates = new Map([...templates].filter(([name]) => isHistoryStatement(name)));
  return {
    ok: true,
    queries: {
      offers: config.offers.map((n) => bound.get(n.name)!),
      history: config.history ? (bound.get(config.history.name) ?? null) : null,
      historyEvents,
      historyTemplates,
      historyDeferred,
    },
  };
}
