/**
 * One request in, one decision out (RFC 2131 4.3). No sockets here: the
 * caller decodes, supplies the lookup (the offer chain) and the lease
 * memory, and sends whatever reply this returns.
 */
import { toHex } from "../codec/hex.ts";
import { formatIPv4Bytes } from "../codec/ip.ts";
import { MessageType, type DhcpMessage } from "../codec/message.ts";
import type { Answer } from "../domain/answer.ts";
import type { Lease } from "../db/backend.ts";
import type { HistoryEvent } from "../config/types.ts";
import type { Vars } from "../variables/types.ts";
import type { LeaseMemory } from "./leases.ts";
import { buildReply, type ReplyInput } from "./reply.ts";

export type Lookup =
  | { kind: "match"; answer: Answer; query: string }
  | { kind: "none" }
  | { kind: "error"; query: string; message: string }
  /** a row came back but is not a usable answer (db/answer.ts refused it) */
  | { kind: "refused"; query: string; message: string };

export interface HandleDeps {
  serverId: string;
  leaseTime: number;
  /** renewals answered from lease memory while the database is away, seconds */
  outageGraceSeconds: number;
  /** an OFFER's answer is reused by the REQUEST that follows within this many seconds */
  offerReuseSeconds: number;
  leases: LeaseMemory;
  /** variables for a message (extract + slices + vendor profiles) */
  variables(msg: DhcpMessage): Vars;
  /** runs the offer chain */
  lookup(vars: Vars): Promise<Lookup>;
  /** queues the history statements for an event (never awaited) */
  history(event: HistoryEvent, vars: Vars): void;
  now(): number;
}

export type Outcome =
  | {
      kind: "reply";
      reply: DhcpMessage;
      type: number;
      query: string | null;
      ip: string | null;
      note: string;
    }
  | { kind: "silent"; reason: SilentReason; note: string; query?: string };

export type SilentReason =
  | "no-match"
  | "not-for-us"
  | "db-error"
  | "bad-answer"
  | "address-in-use"
  | "recorded"
  | "not-a-request"
  | "unknown-type";

/** the `query` of replies answered from lease memory while the database is away */
export const LEASE_MEMORY = "lease memory";

const OPT_REQUESTED_IP = 50;
const OPT_SERVER_ID = 54;
const OPT_CLIENT_ID = 61;
const OPT_RAI = 82;
const ZERO = "0.0.0.0";

const hex = toHex;

function ipText(b: Uint8Array | undefined): string | null {
  return b && b.length === 4 ? formatIPv4Bytes(b, 0) : null;
}

/** Client identity for leases: option 61 when sent (RFC 2131 4.2), else chaddr. */
export function clientKey(msg: DhcpMessage): string {
  const cid = msg.options.get(OPT_CLIENT_ID);
  // type 1 + 6 bytes is an Ethernet MAC (RFC 2132 9.14): key it like chaddr so both forms meet
  if (cid && cid.length) return cid[0] === 1 && cid.length === 7 ? hex(cid, 1) : "id:" + hex(cid);
  return macHex(msg);
}

export function macHex(msg: DhcpMessage): string {
  return hex(msg.chaddr, 0, Math.min(msg.hlen || 6, 16));
}

function reply(req: DhcpMessage, type: 2 | 5 | 6, answer: Answer | null, d: HandleDeps, extra: { inform?: boolean; query?: string | null; note: string; message?: string }): Outcome {
  const input: ReplyInput = { request: req, type, answer, inform: extra.inform ?? false };
  if (extra.message) input.message = extra.message;
  return {
    kind: "reply",
    // HandleDeps carries the ReplySettings fields (serverId, leaseTime)
    reply: buildReply(input, d),
    type,
    query: extra.query ?? null,
    ip: type === MessageType.NAK || extra.inform ? null : (answer?.ip ?? null),
    note: extra.note,
  };
}

/**
 * A renewal unicast by the client carries no Option 82; the lease remembers
 * the one it was granted with, so the same query keyed by switch port still
 * finds the subscriber.
 */
function withLeaseOption82(msg: DhcpMessage, lease: Lease | null): DhcpMessage {
  if (!lease || !lease.option82 || msg.options.has(OPT_RAI)) return msg;
  const options = new Map(msg.options);
  options.set(OPT_RAI, Uint8Array.from(Buffer.from(lease.option82, "hex")));
  return { ...msg, options };
}

function leaseFrom(msg: DhcpMessage, key: string, answer: Answer, state: Lease["state"], d: HandleDeps, prev: Lease | null): Lease {
  const now = d.now();
  const rai = msg.options.get(OPT_RAI);
  return {
    clientKey: key,
    mac: macHex(msg),
    ip: answer.ip,
    option82: rai ? hex(rai) : (prev?.option82 ?? ""),
    expires: now + (state === "offered" ? 60 : (answer.leaseTime ?? d.leaseTime)),
    state,
    answer: JSON.stringify(answerToJson(answer)),
    updated: now,
  };
}

/** An Answer as the lease table stores it: option values as hex. */
type AnswerJson = Omit<Answer, "options"> & { options: [number, string][] };

export function answerToJson(a: Answer): AnswerJson {
  const options: [number, string][] = [];
  for (const [c, v] of a.options) options.push([c, hex(v)]);
  return { ...a, options };
}

export function answerFromJson(text: string): Answer | null {
  try {
    const j = JSON.parse(text) as AnswerJson;
    return { ...j, options: new Map(j.options.map(([c, h]) => [c, Uint8Array.from(Buffer.from(h, "hex"))])) };
  } catch {
    return null;
  }
}

/**
 * Bound by switch port, the subscriber is the line, not the device: a CPE
 * swapped on the same relay port (same Option 82) takes the line's address
 * over instead of waiting for the old device's lease to expire.
 */
function sameLine(holder: Lease, msg: DhcpMessage): boolean {
  const rai = msg.options.get(OPT_RAI);
  return !!rai && holder.option82 !== "" && holder.option82 === hex(rai);
}

export async function handle(msg: DhcpMessage, type: number, d: HandleDeps): Promise<Outcome> {
  if (msg.op !== 1) return { kind: "silent", reason: "not-a-request", note: `op ${msg.op}` };
  const sid = ipText(msg.options.get(OPT_SERVER_ID));
  // RFC 2131 4.3.2: a REQUEST (or RELEASE/DECLINE) naming another server is not ours
  if (sid !== null && sid !== d.serverId && type !== MessageType.INFORM) {
    return { kind: "silent", reason: "not-for-us", note: `server id ${sid}` };
  }
  switch (type) {
    case MessageType.DISCOVER:
      return discover(msg, d);
    case MessageType.REQUEST:
      return request(msg, sid, d);
    case MessageType.INFORM:
      return inform(msg, d);
    case MessageType.RELEASE:
      return release(msg, d);
    case MessageType.DECLINE:
      return decline(msg, d);
    default:
      return { kind: "silent", reason: "unknown-type", note: `message type ${type}` };
  }
}

/** The offer chain's answer, or the silence anything else means (unknown clients get no reply). */
async function matchOrSilence(d: HandleDeps, vars: Vars, what: string): Promise<Extract<Lookup, { kind: "match" }> | Outcome> {
  const r = await d.lookup(vars);
  if (r.kind === "match") return r;
  if (r.kind === "error") return { kind: "silent", reason: "db-error", note: r.message, query: r.query };
  if (r.kind === "refused") return { kind: "silent", reason: "bad-answer", note: r.message, query: r.query };
  d.history("unknown", vars);
  return { kind: "silent", reason: "no-match", note: `no query matched (${what})` };
}

async function discover(msg: DhcpMessage, d: HandleDeps): Promise<Outcome> {
  const key = clientKey(msg);
  const vars = d.variables(msg);
  const r = await matchOrSilence(d, vars, "discover");
  if (r.kind !== "match") return r;
  const now = d.now();
  const holder = d.leases.holder(r.answer.ip, now);
  if (holder && holder.clientKey !== key && !sameLine(holder, msg)) {
    return { kind: "silent", reason: "address-in-use", note: `${r.answer.ip} is leased to ${holder.mac}`, query: r.query };
  }
  const prev = d.leases.get(key) ?? null;
  // keep a bound lease bound: a DISCOVER from a bound client must not shorten its lease
  if (!prev || prev.state !== "bound" || prev.ip !== r.answer.ip) {
    d.leases.hold(leaseFrom(msg, key, r.answer, "offered", d, prev));
  }
  d.leases.rememberOffer(key, msg.xid, r.answer, now);
  d.history("offer", vars);
  return reply(msg, MessageType.OFFER, r.answer, d, { query: r.query, note: "offer" });
}

async function request(msg: DhcpMessage, sid: string | null, d: HandleDeps): Promise<Outcome> {
  const key = clientKey(msg);
  const requested = ipText(msg.options.get(OPT_REQUESTED_IP));
  const ciaddr = msg.ciaddr !== ZERO ? msg.ciaddr : null;
  // RFC 2131 4.3.2: SELECTING has server id; INIT-REBOOT has requested ip, no ciaddr; RENEWING/REBINDING has ciaddr
  const state = sid !== null ? "selecting" : ciaddr ? "renewing" : requested ? "init-reboot" : null;
  const wanted = state === "renewing" ? ciaddr : requested;
  if (!state || !wanted) return { kind: "silent", reason: "not-a-request", note: "REQUEST without requested address or ciaddr" };

  const now = d.now();
  const lease = await d.leases.fetch(key);
  const vars = d.variables(withLeaseOption82(msg, lease));

  // the REQUEST that follows our OFFER within seconds reuses its lookup
  const reused = state === "selecting" ? d.leases.takeOffer(key, msg.xid, now, d.offerReuseSeconds) : null;
  const r: Lookup = reused ? { kind: "match", answer: reused, query: "offer (reused)" } : await d.lookup(vars);

  if (r.kind === "error") {
    // database away: a client renewing the address it holds keeps it for the grace period
    if (lease && lease.ip === wanted && lease.state === "bound" && now - lease.updated <= d.outageGraceSeconds) {
      const a = answerFromJson(lease.answer);
      if (a) {
        d.leases.set({ ...lease, expires: now + (a.leaseTime ?? d.leaseTime) });
        d.history("ack", vars);
        return reply(msg, MessageType.ACK, a, d, { query: LEASE_MEMORY, note: `database unavailable: ${r.message}` });
      }
    }
    return { kind: "silent", reason: "db-error", note: r.message, query: r.query };
  }
  if (r.kind === "refused") return { kind: "silent", reason: "bad-answer", note: r.message, query: r.query };
  if (r.kind === "none") {
    // a client we leased to but the database no longer knows: take the address back
    if (lease && lease.ip === wanted && lease.state === "bound") {
      d.history("nak", vars);
      return reply(msg, MessageType.NAK, null, d, { note: "subscriber no longer matches", message: "address no longer assigned" });
    }
    d.history("unknown", vars);
    return { kind: "silent", reason: "no-match", note: `no query matched (${state})` };
  }
  if (r.answer.ip !== wanted) {
    d.history("nak", vars);
    return reply(msg, MessageType.NAK, null, d, {
      query: r.query,
      note: `${state}: requested ${wanted}, database gives ${r.answer.ip}`,
      message: "requested address not assigned to this client",
    });
  }
  const holder = d.leases.holder(r.answer.ip, now);
  if (holder && holder.clientKey !== key && !sameLine(holder, msg)) {
    return { kind: "silent", reason: "address-in-use", note: `${r.answer.ip} is leased to ${holder.mac}`, query: r.query };
  }
  d.leases.set(leaseFrom(msg, key, r.answer, "bound", d, lease));
  d.history("ack", vars);
  return reply(msg, MessageType.ACK, r.answer, d, { query: r.query, note: state });
}

async function inform(msg: DhcpMessage, d: HandleDeps): Promise<Outcome> {
  const vars = d.variables(msg);
  const r = await matchOrSilence(d, vars, "inform");
  if (r.kind !== "match") return r;
  d.history("ack", vars);
  return reply(msg, MessageType.ACK, r.answer, d, { inform: true, query: r.query, note: "inform" });
}

async function release(msg: DhcpMessage, d: HandleDeps): Promise<Outcome> {
  const key = clientKey(msg);
  const lease = await d.leases.fetch(key);
  const vars = d.variables(withLeaseOption82(msg, lease));
  if (lease && lease.ip === msg.ciaddr && lease.state !== "released") {
    d.leases.set({ ...lease, state: "released", expires: d.now(), updated: d.now() });
  }
  d.history("release", vars);
  return { kind: "silent", reason: "recorded", note: `release of ${msg.ciaddr}` };
}

async function decline(msg: DhcpMessage, d: HandleDeps): Promise<Outcome> {
  const key = clientKey(msg);
  const lease = await d.leases.fetch(key);
  const vars = d.variables(withLeaseOption82(msg, lease));
  const ip = ipText(msg.options.get(OPT_REQUESTED_IP));
  if (lease && ip && lease.ip === ip) {
    d.leases.set({ ...lease, state: "declined", updated: d.now() });
  }
  d.history("decline", vars);
  return { kind: "silent", reason: "recorded", note: `decline of ${ip ?? "?"}: address conflict reported by the client` };
}
