/**
 * Compile and prepare every statement of a config on a backend, once at
 * start (and on reload). Problems come back as lines naming the XML path.
 */

import type { HistoryEvent } from "../core/exchange.ts";
import type { NamedSql, StatementSet } from "./settings.ts";
import type { Backend } from "./backend.ts";
import { DbError } from "./backend.ts";
import { compileTemplate } from "./template.ts";
import type { BoundQuery } from "./chain.ts";

export interface PreparedConfig {
  offers: BoundQuery[];
  history: BoundQuery | null;
  historyEvents: Partial<Record<HistoryEvent, BoundQuery>>;
}

export type PrepareResult = { ok: true; queries: PreparedConfig } | { ok: false; problems: string[] };

/** Every SQL statement of the config, in config order. */
export function allStatements(config: StatementSet): NamedSql[] {
  const list = [...config.offers];
  if (config.history) list.push(config.history);
  for (const n of Object.values(config.historyEvents)) if (n) list.push(n);
  return list;
}

export async function prepareQueries(backend: Backend, config: StatementSet): Promise<PrepareResult> {
  const problems: string[] = [];
  const bound = new Map<string, BoundQuery>();
  for (const n of allStatements(config)) {
    const t = compileTemplate(n.name, n.sql, backend.kind);
    if (t.kind === "template-error") {
      problems.push(`config/query/${n.name}: ${t.message} (at character ${t.offset + 1})`);
      continue;
    }
    try {
      bound.set(n.name, { template: t, query: await backend.prepare(n.name, t.sql) });
    } catch (e) {
      // a lost connection is not the query's fault: say so once
      if (e instanceof DbError && e.kind === "connect") return { ok: false, problems: [`database: ${e.message}`] };
      const msg = e instanceof Error ? e.message : String(e);
      problems.push(`config/query/${n.name}: the database cannot prepare it: ${msg}`);
    }
  }
  // the first row with an ip decides: an offer query without that column can never answer
  for (const n of config.offers) {
    const cols = bound.get(n.name)?.query.columns;
    if (cols && cols.length > 0 && !cols.some((c) => c.toLowerCase() === "ip")) {
      problems.push(`config/query/${n.name}: its result has no ip column (it has ${cols.join(", ")}), so it can never answer; name the address column ip`);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const historyEvents: PreparedConfig["historyEvents"] = {};
  for (const [ev, n] of Object.entries(config.historyEvents)) {
    if (n) historyEvents[ev as HistoryEvent] = bound.get(n.name)!;
  }
  return {
    ok: true,
    queries: {
      offers: config.offers.map((n) => bound.get(n.name)!),
      history: config.history ? bound.get(config.history.name)! : null,
      historyEvents,
    },
  };
}
