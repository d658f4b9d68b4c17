/**
 * Everything a config produces for serving, built and checked whole before
 * it is used: the backend, the compiled and prepared queries, the variable
 * pipeline, and the dependencies respond() runs with. A reload builds a new
 * Runtime and swaps it in; a failure leaves the old one serving.
 */
import type { DhcpMessage } from "../codec/message.ts";
import type { Config } from "../config/types.ts";
import type { Backend } from "../db/backend.ts";
import { DbError, type Row } from "../db/backend.ts";
import { isBadAnswer, toAnswer, type AnswerDefaults } from "../core/answer.ts";
import type { HistoryEvent, Lookup, Option82Seen, PoolAsk, QueryRun } from "../core/exchange.ts";
import type { LeaseBook } from "../core/lease.ts";
import type { RespondDeps } from "../core/respond.ts";
import { runOfferChain, toLookup, type BoundQuery } from "../db/chain.ts";
import { prepareQueries } from "../db/queries.ts";
import type { CompiledTemplate } from "../db/template.ts";
import { PacketVars } from "../variables/lazy.ts";
import { hostnameText } from "../variables/text.ts";
import { applySlices } from "../variables/slices.ts";
import type { Vars } from "../variables/types.ts";
import type { HistoryStatement } from "./history.ts";
import { profileVariables } from "./profile.ts";
import { cachedChain, type AnswerCache } from "./answer-cache.ts";
import { PoolStore } from "../db/pool-store.ts";
import type { Logger } from "../log/types.ts";
import { PoolAllocator, poolProblems, poolRow, type PoolGauges } from "./pools.ts";

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
  /** the config's pools; null when it has none */
  pools: PoolAllocator | null;
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
  /** where pools say they are exhausted or an address was declined */
  log?: Logger;
  /** pool size/free gauges and conflict counts */
  poolGauges?: PoolGauges;
  /** --explain: pools pick addresses but reserve nothing */
  readOnlyPools?: boolean;
  /**
   * the backend is db/offline.ts (the database was unreachable at start and
   * a lease snapshot serves): pools, whose tables live in the database, are
   * left out until the real backend is swapped in
   */
  offline?: boolean;
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
    // computed as they are read: a config names a few of a packet's variables (variables/lazy.ts)
    const v = new PacketVars(msg, relay?.parsed, codepage);
    if (slices.length) applySlices(v, slices);
    if (profiles.length) profileVariables(v, msg, profiles, relay?.parsed);
    return v;
  };

  // with the answer cache, single queries are remembered too (QueryMemo: no row deciding, or a query binding no variable)
  const run = (vars: Vars, deadline: number) => runOfferChain(offers, vars, deadline - performance.now(), defaults, p.cache?.memo());
  const chain = p.cache ? cachedChain(p.cache, offers, run) : run;
  const pools = await buildPools(p);
  /** A row naming a pool: the address the ask gets from it, as an Answer built like a row's own. */
  const fromPool = async (name: string, row: Row, rowIndex: number, query: string, tried: QueryRun[], ask: PoolAsk | undefined): Promise<Lookup> => {
    const pool = pools?.pool(name);
    if (!pools || !pool) return { kind: "refused", query, row: rowIndex, message: `row names pool "${name}", which the config does not define`, tried };
    let ip: string;
    let note: string | undefined;
    let heldUntil: number | undefined;
    try {
      if (!ask || ask.type === "inform") {
        // INFORM: the client has its address (ciaddr) and wants the options only
        if (!ask?.wanted) return { kind: "refused", query, row: rowIndex, message: `pool ${name}: INFORM without ciaddr`, tried };
        ip = ask.wanted;
      } else if (ask.type === "request") {
        if (!ask.wanted || !pools.contains(name, ask.wanted)) {
          return { kind: "pool-nak", query, message: `${ask.wanted ?? "no address"} is not an address of pool ${name}`, tried };
        }
        ip = ask.wanted;
      } else {
        const o = await pools.offer(name, ask.client, Math.floor(Date.now() / 1000));
        if (!o.ok) {
          if (o.why === "exhausted") return { kind: "exhausted", query, pool: name, tried };
          return { kind: "error", query, message: `pool ${name}: conflicting writes, gave up on this request`, failure: "query", tried };
        }
        ip = o.ip;
        if (o.how === "bound") heldUntil = o.expires;
        note = `pool ${name}: ${HOW[o.how]}${p.readOnlyPools ? " (not reserved: --explain)" : ""}`;
      }
    } catch (e) {
      const message = `pool ${name}: ${e instanceof Error ? e.message : String(e)}`;
      return { kind: "error", query, message, failure: e instanceof DbError ? e.kind : "query", tried };
    }
    const a = toAnswer(poolRow(pool, row, ip), rowIndex, query, { mask: pool.mask, router: pool.router, dns: pool.dns });
    if (isBadAnswer(a)) return { kind: "refused", query, row: rowIndex, message: `pool ${name}: ${a.message}`, tried };
    a.pool = name;
    if (heldUntil !== undefined) a.heldUntil = heldUntil;
    return note ? { kind: "match", answer: a, query, note, tried } : { kind: "match", answer: a, query, tried };
  };

  const deps: RespondDeps = {
    serverId: config.server.serverId,
    leaseTime: config.server.leaseTime,
    outageGraceSeconds: config.leases.outageGraceSeconds,
    ignoreUnrelayedOption82: config.server.unrelayedOption82 === "ignore",
    offerReuseSeconds: 5,
    leaseCacheThreshold: config.leases.cacheThresholdPercent,
    leases: p.leases,
    variables,
    hostnameText: (msg) => {
      const h = msg.options.get(12);
      return h ? hostnameText(h, codepage) : null;
    },
    // with pools the cache holds the chain's choice of pool; the allocation runs for every request
    lookup: pools
      ? async (vars, deadline, ask) => {
          const r = await chain(vars, deadline);
          return r.answer === null && r.pool ? fromPool(r.pool.pool, r.pool.row, r.pool.rowIndex, r.query, r.tried, ask) : toLookup(r);
        }
      : (vars, deadline) => {
          const r = chain(vars, deadline);
          return r instanceof Promise ? r.then(toLookup) : toLookup(r);
        },
    pools,
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
    pools,
    variables,
  };
}

/** How the allocator found the address, as --explain and -d say it. */
const HOW = {
  free: "free address",
  reclaimed: "reclaimed expired address",
  requested: "requested address",
  bound: "client's bound address",
  affinity: "client's previous address",
} as const;

const QUIET: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The pool allocator, with its table created when missing (not by
 * --explain). Each pool's lease time and options are checked first, so a
 * bad <option> fails the load naming the pool.
 */
async function buildPools(p: RuntimeParts): Promise<PoolAllocator | null> {
  const { config, backend } = p;
  if (config.pools.pools.length === 0 || p.offline) return null;
  const problems = poolProblems(config.pools.pools);
  if (problems.length) throw new RuntimeError(problems);
  const log = p.log ?? QUIET;
  // with one exchange in flight there is nothing to group with: grouping would only cost a loop turn
  const store = await PoolStore.open(backend, { readOnly: p.readOnlyPools === true, group: config.server.threadLimit > 1 });
  const allocator = new PoolAllocator(config.pools, store, { serverId: config.server.serverId, readOnly: p.readOnlyPools === true }, log, p.poolGauges ?? null);
  await allocator.recount(Math.floor(Date.now() / 1000)).catch((e: unknown) => log.warn("pool lease count failed", { error: String(e) }));
  return allocator;
}
