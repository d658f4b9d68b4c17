/**
 * One request in, one Exchange out (RFC 2131 4.3): the variables as bound,
 * the queries as they ran, the decision, the reply, where it goes and its
 * bytes. No socket and no logging here: the caller supplies the lookup (the
 * offer chain), lease memory and settings, and reads the Exchange.
 */
import { formatIPv4Bytes, parseIPv4, unusableRelayAddress } from "../codec/ip.ts";
import { toHex } from "../codec/hex.ts";
import { encode } from "../codec/encode.ts";
import { BROADCAST_FLAG, MessageType, type DhcpMessage } from "../codec/message.ts";
import { parseRelayAgentInfo } from "../option82/parse.ts";
import { SUBOPTION } from "../option82/suboptions.ts";
import { OPTION } from "../options/table.ts";
import type { Vars } from "../variables/types.ts";
import type { Answer } from "./answer.ts";
import type { Exchange, HistoryEvent, Lookup, Option82Seen, Outcome, PoolAsk, PoolClient, PoolLeases, QueryRun, Request, Statement } from "./exchange.ts";
import { LEASE_MEMORY } from "./exchange.ts";
import { answerFromJson, answerToJson, clientKey, macHex, OFFER_HOLD_SECONDS, type Lease, type LeaseBook } from "./lease.ts";
import { buildReply, type ReplyInput } from "./reply.ts";
import { route, type RouteConfig } from "./route.ts";

export interface RespondDeps {
  serverId: string;
  leaseTime: number;
  /** renewals answered from lease memory while the database is away, seconds */
  outageGraceSeconds: number;
  /** an OFFER's answer is reused by the REQUEST that follows within this many seconds */
  offerReuseSeconds: number;
  /**
   * <leases><cacheThreshold>: a REQUEST whose lease would be written unchanged
   * but for its times, while it has used less than this percent of its lease
   * time, is ACKed with the time it has left and nothing is written (Kea's
   * cache-threshold); 0 or absent = every ACK writes
   */
  leaseCacheThreshold?: number;
  leases: LeaseBook;
  /** variables for a message whose Option 82 (if any) is already parsed */
  variables(msg: DhcpMessage, relay: Option82Seen | null): Vars;
  /** runs the offer chain; every query must finish by `deadline` (performance.now() ms); a row naming a pool draws from it for `ask` */
  lookup(vars: Vars, deadline: number, ask?: PoolAsk): Lookup | Promise<Lookup>;
  /** the pool lease table; absent or null when the config has no pools */
  pools?: PoolLeases | null;
  /** <unrelayedOption82>ignore: Option 82 without a relay (giaddr 0) is removed before anything reads it */
  ignoreUnrelayedOption82?: boolean;
  /** <timeout>: each lookup is bounded by this from the moment its packet arrived */
  timeoutMs: number;
  /** the statements each history event runs */
  history: Readonly<Record<HistoryEvent, readonly Statement[]>>;
  route: RouteConfig;
  /** the client's host name as hostname_text, null without option 12 */
  hostnameText?(msg: DhcpMessage): string | null;
  /** epoch seconds */
  now(): number;
}

const { REQUESTED_IP: OPT_REQUESTED_IP, SERVER_ID: OPT_SERVER_ID, MAX_MESSAGE_SIZE: OPT_MAX_SIZE, RELAY_AGENT_INFO: OPT_RAI } = OPTION;
const ZERO = "0.0.0.0";
/** RFC 2131 2: every client accepts 576-byte messages */
const MIN_MAX_SIZE = 576;

const NO_HISTORY: Exchange["history"] = [];

/**
 * A value now, or later. The answer cache and lease memory answer most
 * requests without waiting; passing their values on as they are, not through
 * async functions, spares each DISCOVER about six generator-promise-scope
 * triples and microtask turns (bench/alloc.ts). A step that must wait
 * (a query, a pool commit) returns a promise and the rest runs after it.
 */
type Maybe<T> = T | Promise<T>;

function ipText(b: Uint8Array | undefined): string | null {
  return b && b.length === 4 ? formatIPv4Bytes(b, 0) : null;
}

export async function respond(req: Request, d: RespondDeps): Promise<Exchange> {
  const ex: Exchange = {
    request: req,
    vars: null,
    option82: null,
    queries: [],
    failure: null,
    refusedRow: null,
    answer: null,
    outcome: { kind: "silent", reason: "not-a-request", note: "" },
    event: null,
    history: NO_HISTORY,
    historyVars: null,
    reply: null,
    dest: null,
    encoded: null,
  };
  const o = decide(ex, d);
  ex.outcome = o instanceof Promise ? await o : o;
  if (ex.outcome.kind === "reply") deliver(ex, ex.outcome, d);
  return ex;
}

/** Destination, BROADCAST bit and bytes: the one place a reply is routed and encoded. */
function deliver(ex: Exchange, o: Extract<Outcome, { kind: "reply" }>, d: RespondDeps): void {
  const msg = ex.request.msg;
  const relay = ex.option82?.source === "packet" ? ex.option82.parsed : null;
  const dest = route(
    {
      giaddr: msg.giaddr,
      ciaddr: msg.ciaddr,
      flags: msg.flags,
      replyType: o.type,
      requestType: ex.request.type,
      sourcePort: ex.request.from.port,
      relaySourcePort: !!relay && relay.ok && relay.subs.has(SUBOPTION.RELAY_SOURCE_PORT),
    },
    d.route,
  );
  if (dest.setBroadcastFlag) o.reply.flags |= BROADCAST_FLAG;
  const max = msg.options.get(OPT_MAX_SIZE);
  const maxSize = max && max.length === 2 ? Math.max(MIN_MAX_SIZE, (max[0]! << 8) | max[1]!) : MIN_MAX_SIZE;
  const enc = encode(o.reply, { maxMessageSize: maxSize });
  ex.reply = o.reply;
  ex.dest = dest;
  ex.encoded = enc.ok ? { ok: true, bytes: enc.bytes } : { ok: false, message: enc.error.message };
}

function decide(ex: Exchange, d: RespondDeps): Maybe<Outcome> {
  const { msg, type } = ex.request;
  if (msg.op !== 1) return { kind: "silent", reason: "not-a-request", note: `op ${msg.op}` };
  // no relay vouches for it: neither keyed on nor echoed
  if (d.ignoreUnrelayedOption82 && msg.giaddr === ZERO && msg.options.has(OPT_RAI)) {
    msg.options.delete(OPT_RAI);
    delete ex.request.relay;
  }
  const giaddrWhy = relayAddressProblem(msg.giaddr, ex.request.from.address);
  if (giaddrWhy !== null) return { kind: "silent", reason: "bad-giaddr", note: `giaddr ${msg.giaddr} is ${giaddrWhy}` };
  // RFC 3046 2.0: a sub-option that overruns the option (or a mis-sized or repeated one) leaves no
  // trustworthy circuit or remote id to key on, nor an option to echo; dropped like any malformed option
  const rai = msg.options.get(OPT_RAI);
  if (rai) {
    const parsed = ex.request.relay ?? parseRelayAgentInfo(rai);
    if (!parsed.ok) return { kind: "silent", reason: "bad-option82", note: parsed.error.message };
  }
  const sid = ipText(msg.options.get(OPT_SERVER_ID));
  // RFC 2131 4.3.2: a REQUEST (or RELEASE/DECLINE) naming another server is not ours
  if (sid !== null && sid !== d.serverId && type !== MessageType.INFORM) {
    return { kind: "silent", reason: "not-for-us", note: `server id ${sid}` };
  }
  const step = STEPS[type];
  if (!step) return { kind: "silent", reason: "unknown-type", note: `message type ${type}` };
  return step(ex, d, sid);
}

/**
 * Why giaddr cannot be a relay's address (RFC 2131 4.1: replies go there),
 * or null. 127/8 is let through from a sender on this host, where the reply
 * goes back to it; from elsewhere it would send the reply to this server.
 * Link-local 169.254/16 is refused: a reply to it cannot be routed.
 */
function relayAddressProblem(giaddr: string, source: string): string | null {
  if (giaddr === ZERO) return null;
  const n = parseIPv4(giaddr);
  if (n === null) return "not an IPv4 address";
  if (n >>> 24 === 127 && (parseIPv4(source) ?? 0) >>> 24 === 127) return null;
  return unusableRelayAddress(n);
}

type Step = (ex: Exchange, d: RespondDeps, sid: string | null) => Maybe<Outcome>;

/** RFC 2131 4.3: one handler per client message type. */
const STEPS: Partial<Record<number, Step>> = {
  [MessageType.DISCOVER]: discover,
  [MessageType.REQUEST]: request,
  [MessageType.INFORM]: inform,
  [MessageType.RELEASE]: release,
  [MessageType.DECLINE]: decline,
};

/**
 * Binds the variables once. A renewal unicast by the client carries no
 * Option 82; the lease remembers the one it was granted with, so the same
 * query keyed by switch port still finds the subscriber. Either way the
 * Option 82 is parsed once and the Exchange says where it came from.
 */
function bind(ex: Exchange, d: RespondDeps, lease: Lease | null): Vars {
  const { msg, relay } = ex.request;
  const rai = msg.options.get(OPT_RAI);
  let seen: Option82Seen | null = null;
  let bound = msg;
  if (rai) {
    seen = { source: "packet", bytes: rai, parsed: relay ?? parseRelayAgentInfo(rai) };
  } else if (lease && lease.option82) {
    const bytes = Uint8Array.from(Buffer.from(lease.option82, "hex"));
    seen = { source: "lease memory", bytes, parsed: parseRelayAgentInfo(bytes) };
    const options = new Map(msg.options);
    options.set(OPT_RAI, bytes);
    bound = { ...msg, options };
  }
  ex.option82 = seen;
  const vars = d.variables(bound, seen);
  ex.vars = vars;
  return vars;
}

/**
 * Names the decision's history event and its statements. Their values are
 * bound when the caller records the event (event time, event id, answer_*),
 * before the reply leaves.
 */
function history(ex: Exchange, d: RespondDeps, event: HistoryEvent, answer: Answer | null = null, query: string | null = null): void {
  const list = d.history[event];
  if (list.length === 0 || ex.vars === null) return;
  ex.event = { event, answer, query };
  if (ex.history === NO_HISTORY) ex.history = [];
  for (const s of list) ex.history.push({ event, statement: s, params: [] });
}

function lookup(ex: Exchange, d: RespondDeps, vars: Vars, ask?: PoolAsk): Maybe<Lookup> {
  const r = d.lookup(vars, ex.request.arrived + d.timeoutMs, ask);
  return r instanceof Promise ? r.then((x) => looked(ex, x)) : looked(ex, r);
}

/** What a lookup ran and found, noted on the Exchange. */
function looked(ex: Exchange, r: Lookup): Lookup {
  for (const q of r.tried) ex.queries.push(q);
  if (r.kind === "error") ex.failure = r.failure;
  if (r.kind === "refused") ex.refusedRow = r.tried.at(-1)?.result?.[r.row] ?? null;
  return r;
}

function reply(ex: Exchange, d: RespondDeps, type: 2 | 5 | 6, answer: Answer | null, extra: { inform?: boolean; query?: string | null; note: string; message?: string }): Outcome {
  const input: ReplyInput = { request: ex.request.msg, type, answer, inform: extra.inform ?? false };
  if (extra.message) input.message = extra.message;
  ex.answer = answer;
  return {
    kind: "reply",
    reply: buildReply(input, d),
    type,
    query: extra.query ?? null,
    ip: type === MessageType.NAK || extra.inform ? null : (answer?.ip ?? null),
    note: extra.note,
  };
}

/** Marks an ACK that reused a lease without a write: counted, and its note logged. */
function leaseReused(o: Outcome): Outcome {
  if (o.kind === "reply") o.leaseReused = true;
  return o;
}

function leaseFrom(msg: DhcpMessage, key: string, answer: Answer, state: Lease["state"], d: RespondDeps, prev: Lease | null): Lease {
  const now = d.now();
  const rai = msg.options.get(OPT_RAI);
  return {
    clientKey: key,
    mac: macHex(msg),
    ip: answer.ip,
    option82: rai ? toHex(rai) : (prev?.option82 ?? ""),
    expires: now + (state === "offered" ? OFFER_HOLD_SECONDS : (answer.leaseTime ?? d.leaseTime)),
    state,
    answer: JSON.stringify(answerToJson(answer)),
    updated: now,
    // a renewal comes straight from the client: the relay and name it was granted through stay
    relay: msg.giaddr !== ZERO ? msg.giaddr : (prev?.relay ?? ""),
    hostname: d.hostnameText?.(msg) ?? prev?.hostname ?? "",
  };
}

/**
 * Bound by switch port, the subscriber is the line, not the device: a CPE
 * swapped on the same relay port (same Option 82) takes the line's address
 * over instead of waiting for the old device's lease to expire.
 */
function sameLine(holder: Lease, msg: DhcpMessage): boolean {
  const rai = msg.options.get(OPT_RAI);
  return !!rai && holder.option82 !== "" && holder.option82 === toHex(rai);
}

function poolClient(msg: DhcpMessage, key: string): PoolClient {
  return { clientKey: key, mac: macHex(msg), requested: ipText(msg.options.get(OPT_REQUESTED_IP)) };
}

/** What a pool row is asked for; nothing to build when the config has no pools. */
function poolAsk(d: RespondDeps, msg: DhcpMessage, key: string, type: PoolAsk["type"], wanted: string | null): PoolAsk | undefined {
  return d.pools ? { type, client: poolClient(msg, key), wanted } : undefined;
}

type Match = { kind: "match"; answer: Answer; query: string; note?: string };

/** The offer chain's answer, or the silence anything else means (unknown clients get no reply). */
function matchOrSilence(ex: Exchange, d: RespondDeps, vars: Vars, what: string, ask: PoolAsk | undefined): Maybe<Match | Outcome> {
  const r = lookup(ex, d, vars, ask);
  return r instanceof Promise ? r.then((x) => matchOf(ex, d, x, what)) : matchOf(ex, d, r, what);
}

function matchOf(ex: Exchange, d: RespondDeps, r: Lookup, what: string): Match | Outcome {
  if (r.kind === "match") return r;
  if (r.kind === "exhausted") return { kind: "silent", reason: "pool-exhausted", note: `pool ${r.pool} has no free address`, query: r.query };
  if (r.kind === "pool-nak") return { kind: "silent", reason: "bad-answer", note: r.message, query: r.query };
  if (r.kind === "error") return { kind: "silent", reason: "db-error", note: r.message, query: r.query };
  if (r.kind === "refused") return { kind: "silent", reason: "bad-answer", note: r.message, query: r.query };
  history(ex, d, "unknown");
  return { kind: "silent", reason: "no-match", note: noMatchNote(r.tried, what) };
}

/** "no query matched", naming queries whose rows were passed over for an empty ip (a NULL in the table, not an unknown client). */
function noMatchNote(tried: readonly QueryRun[], what: string): string {
  const empty = tried.filter((q) => q.rows > 0 && !q.error).map((q) => q.name);
  return empty.length ? `no query matched (${what}); ${empty.join(", ")} returned rows with no ip` : `no query matched (${what})`;
}

function discover(ex: Exchange, d: RespondDeps): Maybe<Outcome> {
  const msg = ex.request.msg;
  const key = clientKey(msg);
  const vars = bind(ex, d, null);
  const r = matchOrSilence(ex, d, vars, "discover", poolAsk(d, msg, key, "discover", null));
  return r instanceof Promise ? r.then((x) => offerFor(ex, d, key, x)) : offerFor(ex, d, key, r);
}

function offerFor(ex: Exchange, d: RespondDeps, key: string, r: Match | Outcome): Maybe<Outcome> {
  if (r.kind !== "match") return r;
  const now = d.now();
  // a pool's address was arbitrated by the database, which knows more than this server's memory
  const holder = r.answer.pool === undefined ? d.leases.holderChecked(r.answer.ip, now, key) : undefined;
  return holder instanceof Promise ? holder.then((h) => offer(ex, d, key, r, now, h)) : offer(ex, d, key, r, now, holder);
}

function offer(ex: Exchange, d: RespondDeps, key: string, r: Match, now: number, holder: Lease | undefined): Outcome {
  const msg = ex.request.msg;
  if (holder && holder.clientKey !== key && !sameLine(holder, msg)) {
    return { kind: "silent", reason: "address-in-use", note: `${r.answer.ip} is leased to ${holder.mac}`, query: r.query };
  }
  const prev = d.leases.get(key) ?? null;
  // keep a bound lease bound: a DISCOVER from a bound client must not shorten its lease
  if (!prev || prev.state !== "bound" || prev.ip !== r.answer.ip) {
    d.leases.hold(leaseFrom(msg, key, r.answer, "offered", d, prev));
  }
  d.leases.rememberOffer(key, msg.xid, r.answer, now, r.query);
  history(ex, d, "offer", r.answer, r.query);
  return reply(ex, d, MessageType.OFFER, r.answer, { query: r.query, note: r.note ? `offer, ${r.note}` : "offer" });
}

/** A REQUEST's facts, read once (RFC 2131 4.3.2), carried through its steps. */
interface Asked {
  msg: DhcpMessage;
  key: string;
  state: "selecting" | "renewing" | "init-reboot";
  wanted: string;
  now: number;
  lease: Lease | null;
  /** the OFFER's answer and query, when this REQUEST follows it */
  reused: { answer: Answer; query: string } | null;
}

function request(ex: Exchange, d: RespondDeps, sid: string | null): Maybe<Outcome> {
  const msg = ex.request.msg;
  const key = clientKey(msg);
  const requested = ipText(msg.options.get(OPT_REQUESTED_IP));
  const ciaddr = msg.ciaddr !== ZERO ? msg.ciaddr : null;
  // RFC 2131 4.3.2: SELECTING has server id; INIT-REBOOT has requested ip, no ciaddr; RENEWING/REBINDING has ciaddr
  const state = sid !== null ? "selecting" : ciaddr ? "renewing" : requested ? "init-reboot" : null;
  const wanted = state === "renewing" ? ciaddr : requested;
  if (!state || !wanted) return { kind: "silent", reason: "not-a-request", note: "REQUEST without requested address or ciaddr" };
  const q: Asked = { msg, key, state, wanted, now: d.now(), lease: null, reused: null };
  const lease = d.leases.fetch(key);
  return lease instanceof Promise ? lease.then((l) => requestWith(ex, d, q, l)) : requestWith(ex, d, q, lease);
}

function requestWith(ex: Exchange, d: RespondDeps, q: Asked, lease: Lease | null): Maybe<Outcome> {
  q.lease = lease;
  const vars = bind(ex, d, lease);
  // the REQUEST that follows our OFFER within seconds reuses its lookup
  q.reused = q.state === "selecting" ? d.leases.takeOffer(q.key, q.msg.xid, q.now, d.offerReuseSeconds) : null;
  if (q.reused) return requestAnswered(ex, d, q, { kind: "match", answer: q.reused.answer, query: "offer (reused)", tried: [] });
  const r = lookup(ex, d, vars, poolAsk(d, q.msg, q.key, "request", q.wanted));
  return r instanceof Promise ? r.then((x) => requestAnswered(ex, d, q, x)) : requestAnswered(ex, d, q, r);
}

function requestAnswered(ex: Exchange, d: RespondDeps, q: Asked, r: Lookup): Maybe<Outcome> {
  const { key, state, wanted, now, lease, reused } = q;
  /** the query that decided, for history: the OFFER's when its answer is reused */
  const decided = reused ? reused.query : r.kind === "match" ? r.query : null;

  if (r.kind === "error") {
    // database away: a client renewing the address it holds keeps it for the grace period
    if (lease && lease.ip === wanted && lease.state === "bound" && now - lease.updated <= d.outageGraceSeconds) {
      const a = answerFromJson(lease.answer);
      if (a) {
        d.leases.set({ ...lease, expires: now + (a.leaseTime ?? d.leaseTime) });
        history(ex, d, "ack", a, LEASE_MEMORY);
        return reply(ex, d, MessageType.ACK, a, { query: LEASE_MEMORY, note: `database unavailable: ${r.message}` });
      }
    }
    return { kind: "silent", reason: "db-error", note: r.message, query: r.query };
  }
  if (r.kind === "refused") return { kind: "silent", reason: "bad-answer", note: r.message, query: r.query };
  if (r.kind === "exhausted") return { kind: "silent", reason: "pool-exhausted", note: `pool ${r.pool} has no free address`, query: r.query };
  if (r.kind === "pool-nak") {
    history(ex, d, "nak", null, r.query);
    return reply(ex, d, MessageType.NAK, null, { query: r.query, note: `${state}: ${r.message}`, message: "requested address not available" });
  }
  if (r.kind === "none") {
    // a client we leased to but the database no longer knows: take the address back
    if (lease && lease.ip === wanted && lease.state === "bound") {
      history(ex, d, "nak");
      return reply(ex, d, MessageType.NAK, null, { note: "subscriber no longer matches", message: "address no longer assigned" });
    }
    history(ex, d, "unknown");
    return { kind: "silent", reason: "no-match", note: noMatchNote(r.tried, state) };
  }
  if (r.answer.ip !== wanted) {
    history(ex, d, "nak", null, decided);
    return reply(ex, d, MessageType.NAK, null, {
      query: r.query,
      note: `${state}: requested ${wanted}, database gives ${r.answer.ip}`,
      message: "requested address not assigned to this client",
    });
  }
  const holder = r.answer.pool === undefined ? d.leases.holderChecked(r.answer.ip, now, key) : undefined;
  return holder instanceof Promise ? holder.then((h) => ack(ex, d, q, r, decided, h)) : ack(ex, d, q, r, decided, holder);
}

function ack(ex: Exchange, d: RespondDeps, q: Asked, r: Match, decided: string | null, holder: Lease | undefined): Maybe<Outcome> {
  const { msg, key, state, now, lease, reused } = q;
  const pool = r.answer.pool;
  if (holder && holder.clientKey !== key && !sameLine(holder, msg)) {
    return { kind: "silent", reason: "address-in-use", note: `${r.answer.ip} is leased to ${holder.mac}`, query: r.query };
  }
  // a bound pool lease the DISCOVER just read, still fresh: ACKed with its time left, nothing written
  const left = reused && pool !== undefined && r.answer.heldUntil !== undefined && d.pools
    ? d.pools.reusable(pool, r.answer.heldUntil, r.answer.leaseTime ?? d.leaseTime, now)
    : null;
  if (left !== null) {
    const a: Answer = { ...r.answer, leaseTime: left };
    // lease memory already holds this lease with this expiry (the commit that wrote it): left alone
    const held = lease !== null && lease.state === "bound" && lease.ip === a.ip && lease.expires === r.answer.heldUntil;
    if (!held) d.leases.set(leaseFrom(msg, key, a, "bound", d, lease));
    history(ex, d, "ack", a, decided);
    return leaseReused(reply(ex, d, MessageType.ACK, a, { query: r.query, note: `${state}, pool ${pool}: lease reused, ${left} s left, not written` }));
  }
  if (pool !== undefined && d.pools) return commitPool(ex, d, q, r, decided, pool, d.pools);
  return bound(ex, d, q, r, decided);
}

/** The database decides who holds a pool address; the REQUEST commits it. */
async function commitPool(ex: Exchange, d: RespondDeps, q: Asked, r: Match, decided: string | null, pool: string, pools: PoolLeases): Promise<Outcome> {
  let c;
  try {
    c = await pools.commit(pool, r.answer.ip, poolClient(q.msg, q.key), r.answer.leaseTime ?? d.leaseTime, q.now);
  } catch (e) {
    return { kind: "silent", reason: "db-error", note: `pool ${pool}: ${e instanceof Error ? e.message : String(e)}`, query: r.query };
  }
  if (!c.ok) {
    history(ex, d, "nak", null, decided);
    return reply(ex, d, MessageType.NAK, null, { query: r.query, note: `${q.state}: pool ${pool}: ${c.why}`, message: "requested address not available" });
  }
  return bound(ex, d, q, r, decided);
}

function bound(ex: Exchange, d: RespondDeps, q: Asked, r: Match, decided: string | null): Outcome {
  const next = leaseFrom(q.msg, q.key, r.answer, "bound", d, q.lease);
  // a pool's lease has its own reuse (ack above): its table, not lease memory, holds the expiry. A renewal
  // (ciaddr) writes: it has used half its lease at T1, and its write is what keeps the outage grace
  // (now - updated) running from the last time the database confirmed the lease
  const left = r.answer.pool === undefined && q.lease !== null && q.state !== "renewing" ? unchangedLeft(q.lease, next, r.answer.leaseTime ?? d.leaseTime, d.leaseCacheThreshold ?? 0, q.now) : null;
  if (left !== null) {
    const a: Answer = { ...r.answer, leaseTime: left };
    history(ex, d, "ack", a, decided);
    return leaseReused(reply(ex, d, MessageType.ACK, a, { query: r.query, note: `${q.state}: lease reused, ${left} s left, not written` }));
  }
  d.leases.set(next);
  history(ex, d, "ack", r.answer, decided);
  return reply(ex, d, MessageType.ACK, r.answer, { query: r.query, note: q.state });
}

/**
 * Lease reuse (<leases><cacheThreshold>): the seconds `held` has left when
 * the lease a REQUEST would write (`next`) repeats it but for its times and
 * it has used less than `percent` of `leaseTime`; null when it must be
 * written. The client is told the expiry lease memory and the table already
 * hold, so every server reading the table agrees with it. A client back for
 * a full DORA or an INIT-REBOOT soon after its last one (a CPE rebooting, a
 * flapping link, a load generator) then costs no write.
 */
function unchangedLeft(held: Lease, next: Lease, leaseTime: number, percent: number, now: number): number | null {
  if (percent <= 0 || held.state !== "bound") return null;
  const left = held.expires - now;
  if (left <= 0 || left > leaseTime || left * 100 < leaseTime * (100 - percent)) return null;
  const same = held.ip === next.ip && held.mac === next.mac && held.option82 === next.option82 && held.answer === next.answer && held.relay === next.relay && held.hostname === next.hostname;
  return same ? left : null;
}

async function inform(ex: Exchange, d: RespondDeps): Promise<Outcome> {
  const msg = ex.request.msg;
  const vars = bind(ex, d, null);
  const r = await matchOrSilence(ex, d, vars, "inform", poolAsk(d, msg, clientKey(msg), "inform", msg.ciaddr !== ZERO ? msg.ciaddr : null));
  if (r.kind !== "match") return r;
  history(ex, d, "ack", r.answer, r.query);
  return reply(ex, d, MessageType.ACK, r.answer, { inform: true, query: r.query, note: "inform" });
}

async function release(ex: Exchange, d: RespondDeps): Promise<Outcome> {
  const msg = ex.request.msg;
  const key = clientKey(msg);
  const lease = await d.leases.fetch(key);
  bind(ex, d, lease);
  if (lease && lease.ip === msg.ciaddr && lease.state !== "released") {
    d.leases.set({ ...lease, state: "released", expires: d.now(), updated: d.now() });
  }
  // pool addresses are freed in the shared table, whichever server granted them
  if (d.pools && msg.ciaddr !== ZERO) await d.pools.release(poolClient(msg, key), msg.ciaddr, d.now()).catch(() => false);
  history(ex, d, "release");
  return { kind: "silent", reason: "recorded", note: `release of ${msg.ciaddr}` };
}

async function decline(ex: Exchange, d: RespondDeps): Promise<Outcome> {
  const msg = ex.request.msg;
  const key = clientKey(msg);
  const lease = await d.leases.fetch(key);
  bind(ex, d, lease);
  const ip = ipText(msg.options.get(OPT_REQUESTED_IP));
  if (lease && ip && lease.ip === ip) {
    d.leases.set({ ...lease, state: "declined", updated: d.now() });
  }
  if (d.pools && ip) await d.pools.decline(poolClient(msg, key), ip, d.now()).catch(() => false);
  history(ex, d, "decline");
  return { kind: "silent", reason: "recorded", note: `decline of ${ip ?? "?"}: address conflict reported by the client` };
}
