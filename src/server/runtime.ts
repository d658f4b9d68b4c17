/**
 * Everything a config produces for serving, built and checked whole before
 * it is used: the backend, the compiled and prepared queries, the variable
 * pipeline, the lookup. A reload builds a new Runtime and swaps it in; a
 * failure leaves the old one serving.
 */
import type { DhcpMessage } from "../codec/message.ts";
import type { Config, HistoryEvent, NamedSql } from "../config/types.ts";
import type { Backend, Param, PreparedQuery, Row } from "../db/backend.ts";
import { DbError } from "../db/backend.ts";
import { compileTemplate, isTemplateError, type CompiledTemplate } from "../db/template.ts";
import { isBadAnswer, rowIp, toAnswer, type AnswerDefaults } from "../db/answer.ts";
import type { ServiceLogger } from "../log/logger.ts";
import { extractVariables } from "../variables/extract.ts";
import { applySlices } from "../variables/slices.ts";
import type { Vars } from "../variables/types.ts";
import type { HandleDeps, Lookup } from "./handle.ts";
import type { HistoryWriter } from "./history.ts";
import type { LeaseMemory } from "./leases.ts";
import type { ServerMetrics } from "./stats.ts";
import { profileVariables } from "./profile.ts";
import type { ProfileRule } from "../option82/profiles.ts";

export interface Statement {
  template: CompiledTemplate;
  query: PreparedQuery;
}

export interface Runtime {
  config: Config;
  backend: Backend;
  offers: Statement[];
  history: Record<HistoryEvent, Statement[]>;
  maxInFlight: number;
  relayPort: number;
  handleDeps: HandleDeps;
  variables(msg: DhcpMessage): Vars;
}

const EVENTS: readonly HistoryEvent[] = ["offer", "ack", "nak", "release", "decline", "unknown"];

export class RuntimeError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

async function prepareAll(backend: Backend, dialect: "mysql" | "sqlite", list: NamedSql[]): Promise<Statement[]> {
  const out: Statement[] = [];
  const problems: string[] = [];
  for (const n of list) {
    const t = compileTemplate(n.name, n.sql, dialect);
    if (isTemplateError(t)) {
      problems.push(`config/query/${n.name}: ${t.message}`);
      continue;
    }
    try {
      out.push({ template: t, query: await backend.prepare(n.name, t.sql) });
    } catch (e) {
      if (e instanceof DbError && e.kind === "connect") throw e;
      problems.push(`config/query/${n.name}: the database cannot prepare it: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (problems.length) throw new RuntimeError(problems);
  return out;
}

export interface RuntimeParts {
  config: Config;
  backend: Backend;
  leases: LeaseMemory;
  history: HistoryWriter;
  log: ServiceLogger;
  metrics: ServerMetrics;
  /** sees every query run: --explain prints these */
  trace?: (t: QueryTrace) => void;
}

export interface QueryTrace {
  name: string;
  sql: string;
  params: Param[];
  rows: Row[] | null;
  error: string | null;
  ms: number;
  decided: boolean;
}

/** Compiles and prepares every statement; throws RuntimeError (config problems) or DbError (connection). */
export async function buildRuntime(p: RuntimeParts): Promise<Runtime> {
  const { config, backend, log, metrics } = p;
  const dialect = backend.kind;
  const offers = await prepareAll(backend, dialect, config.offers);
  const history = Object.fromEntries(EVENTS.map((e) => [e, [] as Statement[]])) as Record<HistoryEvent, Statement[]>;
  // pydhcpdb's history_sql runs when it OFFERs and when it ACKs
  if (config.history) {
    const [h] = await prepareAll(backend, dialect, [config.history]);
    history.offer.push(h!);
    history.ack.push(h!);
  }
  for (const e of EVENTS) {
    const n = config.historyEvents[e];
    if (n) history[e].push(...(await prepareAll(backend, dialect, [n])));
  }

  const defaults: AnswerDefaults = {
    mask: config.server.defaultMask,
    router: config.server.defaultRouter,
    dns: config.server.defaultDns,
  };
  const slices = config.slices;
  const profiles = config.relayProfiles as readonly ProfileRule[] | null;
  const variables = (msg: DhcpMessage): Vars => {
    const v = extractVariables(msg);
    if (slices.length) applySlices(v, slices);
    if (profiles) profileVariables(v, msg, profiles);
    return v;
  };
  const debug = log.enabled("debug");
  const trace = p.trace;

  const lookup = async (vars: Vars): Promise<Lookup> => {
    for (const s of offers) {
      const params = s.template.bind(vars);
      const t0 = performance.now();
      let rows;
      try {
        rows = await s.query.run(params);
      } catch (e) {
        const ms = performance.now() - t0;
        metrics.query(s.template.name, ms / 1000);
        const kind = e instanceof DbError ? e.kind : "query";
        metrics.dbError(kind);
        trace?.({ name: s.template.name, sql: s.template.sql, params, rows: null, error: e instanceof Error ? e.message : String(e), ms, decided: false });
        // while the database is away the backend logs the outage once; the exchange line names the query
        if (kind !== "connect") {
          log.error(`query ${s.template.name} failed`, { query: s.template.name, params: params, error: e instanceof Error ? e.message : String(e), ms: +ms.toFixed(2) });
        }
        return { kind: "error", query: s.template.name, message: e instanceof Error ? e.message : String(e) };
      }
      const ms = performance.now() - t0;
      metrics.query(s.template.name, ms / 1000);
      if (debug) log.debug(`query ${s.template.name}`, { sql: s.template.sql, params, rows });
      const i = rows.findIndex((r) => rowIp(r) !== "");
      trace?.({ name: s.template.name, sql: s.template.sql, params, rows, error: null, ms, decided: i >= 0 });
      if (i < 0) continue;
      const a = toAnswer(rows[i]!, i, s.template.name, defaults);
      if (isBadAnswer(a)) {
        log.error(`query ${s.template.name} returned an unusable row; no answer`, { query: a.query, row: rows[i], problem: a.message });
        return { kind: "refused", query: s.template.name, message: a.message };
      }
      return { kind: "match", answer: a, query: s.template.name };
    }
    return { kind: "none" };
  };

  const historyStatements = history;
  const handleDeps: HandleDeps = {
    serverId: config.server.serverId,
    leaseTime: config.server.leaseTime,
    outageGraceSeconds: config.leases.outageGraceSeconds,
    offerReuseSeconds: 5,
    leases: p.leases,
    variables,
    lookup,
    history: (event, vars) => {
      for (const s of historyStatements[event]) p.history.add(s.query, s.template.bind(vars) as Param[]);
    },
    now: () => Math.floor(Date.now() / 1000),
  };
  return {
    config,
    backend,
    offers,
    history,
    maxInFlight: Math.max(1, config.server.threadLimit),
    relayPort: 67,
    handleDeps,
    variables,
  };
}
