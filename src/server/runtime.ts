/**
 * Everything a config produces for serving, built and checked whole before
 * it is used: the backend, the compiled and prepared queries, the variable
 * pipeline, the lookup. A reload builds a new Runtime and swaps it in; a
 * failure leaves the old one serving.
 */
import type { DhcpMessage } from "../codec/message.ts";
import type { Config, HistoryEvent } from "../config/types.ts";
import type { Backend, Param } from "../db/backend.ts";
import { DbError } from "../db/backend.ts";
import type { AnswerDefaults } from "../db/answer.ts";
import { runOfferChain, type BoundQuery, type Tried } from "../db/chain.ts";
import { prepareQueries } from "../db/queries.ts";
import type { ServiceLogger } from "../log/logger.ts";
import { extractVariables } from "../variables/extract.ts";
import { applySlices } from "../variables/slices.ts";
import type { Vars } from "../variables/types.ts";
import type { HandleDeps, Lookup } from "./handle.ts";
import type { HistoryWriter } from "./history.ts";
import type { LeaseMemory } from "./leases.ts";
import type { ServerMetrics } from "./stats.ts";
import { profileVariables } from "./profile.ts";
import { liveTrace } from "./explain-live.ts";
import type { ProfileRule } from "../option82/profiles.ts";
import { cachedLookup, type AnswerCache } from "./answer-cache.ts";

export type Statement = BoundQuery;

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

export interface RuntimeParts {
  config: Config;
  backend: Backend;
  leases: LeaseMemory;
  history: HistoryWriter;
  log: ServiceLogger;
  metrics: ServerMetrics;
  /** sees every query run: --explain prints these */
  trace?: (t: Tried) => void;
  /** the answer cache; absent = every lookup runs the chain (--explain) */
  cache?: AnswerCache;
}

export type QueryTrace = Tried;

/** Compiles and prepares every statement; throws RuntimeError (config problems) or DbError (connection). */
export async function buildRuntime(p: RuntimeParts): Promise<Runtime> {
  const { config, backend, log, metrics } = p;
  const prepared = await prepareQueries(backend, config);
  if (!prepared.ok) {
    // prepareQueries says "database: ..." when the connection, not a query, failed
    if (prepared.problems.length === 1 && prepared.problems[0]!.startsWith("database: ")) {
      throw new DbError("connect", "", prepared.problems[0]!.slice("database: ".length));
    }
    throw new RuntimeError(prepared.problems);
  }
  const offers = prepared.queries.offers;
  const history = Object.fromEntries(EVENTS.map((e) => [e, [] as Statement[]])) as Record<HistoryEvent, Statement[]>;
  // pydhcpdb's history_sql runs when it OFFERs and when it ACKs
  const h = prepared.queries.history;
  if (h) history.offer.push(h), history.ack.push(h);
  for (const [e, q] of Object.entries(prepared.queries.historyEvents)) if (q) history[e as HistoryEvent].push(q);

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
  const trace = p.trace ?? (debug ? liveTrace : undefined);

  const timeoutMs = config.queryTimeoutMs;
  const chain = async (vars: Vars): Promise<Lookup> => {
    const r = await runOfferChain(offers, vars, timeoutMs, defaults);
    for (const t of r.tried) {
      metrics.query(t.name, t.ms / 1000);
      trace?.(t);
    }
    if (r.answer) return { kind: "match", answer: r.answer, query: r.query };
    const f = r.failure;
    if (!f) return { kind: "none" };
    if (f.kind === "bad-answer") {
      log.error(`query ${f.query} returned an unusable row; no answer`, { query: f.query, row: r.tried.at(-1)?.result?.[f.row], problem: f.message });
      return { kind: "refused", query: f.query, message: f.message };
    }
    metrics.dbError(f.kind);
    // while the database is away the backend logs the outage once; the exchange line names the query
    if (f.kind !== "connect") log.error(`query ${f.query} failed`, { query: f.query, params: r.tried.at(-1)?.params, error: f.message });
    return { kind: "error", query: f.query, message: f.message };
  };

  const lookup = p.cache ? cachedLookup(p.cache, offers, chain) : chain;
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
