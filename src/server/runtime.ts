/**
 * Everything a config produces for serving, built and checked whole before
 * it is used: the backend, the compiled and prepared queries, the variable
 * pipeline, and the dependencies respond() runs with. A reload builds a new
 * Runtime and swaps it in; a failure leaves the old one serving.
 */
import type { DhcpMessage } from "../codec/message.ts";
import type { Config } from "../config/types.ts";
import type { Backend } from "../db/backend.ts";
import { DbError } from "../db/backend.ts";
import type { AnswerDefaults } from "../core/answer.ts";
import type { HistoryEvent, Option82Seen } from "../core/exchange.ts";
import type { LeaseBook } from "../core/lease.ts";
import type { RespondDeps } from "../core/respond.ts";
import { runOfferChain, toLookup, type BoundQuery } from "../db/chain.ts";
import { prepareQueries } from "../db/queries.ts";
import type { CompiledTemplate } from "../db/template.ts";
import { extractVariables } from "../variables/extract.ts";
import { DEFAULT_HOSTNAME_CODEPAGE, hostnameText } from "../variables/text.ts";
import { applySlices } from "../variables/slices.ts";
import type { Vars } from "../variables/types.ts";
import type { HistoryStatement } from "./history.ts";
import { profileVariables } from "./profile.ts";
import { cachedLookup, type AnswerCache } from "./answer-cache.ts";

export interface Runtime {
  config: Config;
  backend: Backend;
  offers: BoundQuery[];
  /** the history statements of each event, compiled (the journal holds their bound values) */
  history: Readonly<Record<HistoryEvent, readonly CompiledTemplate[]>>;
  /** what the history writer may run: set on it when this runtime starts serving */
  historyStatements: HistoryStatement[];
  /** history statements the database could not prepare at build time (table missing?) */
  historyDeferred: { name: string; message: string }[];
  maxInFlight: number;
  deps: RespondDeps;
  /** the variables of a message as respond binds them (catalogue, slices, vendor profiles) */
  variables(msg: DhcpMessage, relay?: Option82Seen | null): Vars;
}

const EVENTS: readonly HistoryEvent[] = ["offer", "ack", "nak", "release", "decline", "unknown"];

/** Where relays listen (RFC 2131 4.1): replies to a relay go to its server port. */
export const RELAY_PORT = 67;

export class RuntimeError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

export interface RuntimeParts {
  config: Config;
  backend: Backend;
  leases: LeaseBook;
  /** the answer cache; absent = every lookup runs the chain (--explain) */
  cache?: AnswerCache;
}

/** Compiles and prepares every statement; throws RuntimeError (config problems) or DbError (connection). */
export async function buildRuntime(p: RuntimeParts): Promise<Runtime> {
  const { config, backend } = p;
  const prepared = await prepareQueries(backend, config);
  if (!prepared.ok) {
    // prepareQueries says "database: ..." when the connection, not a query, failed
    if (prepared.problems.length === 1 && prepared.problems[0]!.startsWith("database: ")) {
      throw new DbError("connect", "", prepared.problems[0]!.slice("database: ".length));
    }
    throw new RuntimeError(prepared.problems);
  }
  const offers = prepared.queries.offers;
  const history = Object.fromEntries(EVENTS.map((e) => [e, [] as CompiledTemplate[]])) as Record<HistoryEvent, CompiledTemplate[]>;
  // compiled even when the database could not prepare them now: their events wait in the journal
  const templates = prepared.queries.historyTemplates;
  // pydhcpdb's history_sql runs when it OFFERs and when it ACKs
  const h = config.history ? templates.get(config.history.name) : undefined;
  if (h) history.offer.push(h), history.ack.push(h);
  for (const [e, n] of Object.entries(config.historyEvents)) {
    const t = n ? templates.get(n.name) : undefined;
    if (t) history[e as HistoryEvent].push(t);
  }
  const historyStatements: HistoryStatement[] = [...templates.values()].map((t) => ({ name: t.name, sql: t.sql, params: t.bind(new Map(), 0).length }));

  const defaults: AnswerDefaults = {
    mask: config.server.defaultMask,
    router: config.server.defaultRouter,
    dns: config.server.defaultDns,
  };
  const slices = config.slices;
  const profiles = config.relayProfiles;
  const codepage = config.server.hostnameCodepage;
  const variables = (msg: DhcpMessage, relay?: Option82Seen | null): Vars => {
    const v = extractVariables(msg, relay?.parsed);
    // extract decodes with the default code page; another one is applied here
    if (codepage !== DEFAULT_HOSTNAME_CODEPAGE) {
      const h = msg.options.get(12);
      if (h) v.set("hostname_text", hostnameText(h, codepage));
    }
    if (slices.length) applySlices(v, slices);
    if (profiles.length) profileVariables(v, msg, profiles, relay?.parsed);
    return v;
  };

  const chain = async (vars: Vars, deadline: number) => toLookup(await runOfferChain(offers, vars, deadline - performance.now(), defaults));
  const deps: RespondDeps = {
    serverId: config.server.serverId,
    leaseTime: config.server.leaseTime,
    outageGraceSeconds: config.leases.outageGraceSeconds,
    offerReuseSeconds: 5,
    leases: p.leases,
    variables,
    hostnameText: (msg) => {
      const h = msg.options.get(12);
      return h ? hostnameText(h, codepage) : null;
    },
    lookup: p.cache ? cachedLookup(p.cache, offers, chain) : chain,
    timeoutMs: config.queryTimeoutMs,
    history,
    route: { broadcast: config.server.broadcast, relayPort: RELAY_PORT, clientPort: config.server.clientPort },
    now: () => Math.floor(Date.now() / 1000),
  };
  return {
    config,
    backend,
    offers,
    history,
    historyStatements,
    historyDeferred: prepared.queries.historyDeferred,
    maxInFlight: Math.max(1, config.server.threadLimit),
    deps,
    variables,
  };
}
