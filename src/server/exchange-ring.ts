/**
 * The last exchanges the server had, in memory, for GET /api/exchanges, the
 * event stream and the help-desk page: a fixed-size ring (oldest dropped),
 * plus listeners told of each new one. It renders nothing: an entry becomes
 * JSON only when someone asks (exchange-view.ts).
 *
 * An entry keeps little of the Exchange respond() returned. At thousands of
 * exchanges a second an entry lives a fraction of a second, long enough for
 * the collector to move it to the old generation, where only a full
 * collection (whose cost grows with the live heap) frees it. So an entry
 * keeps the two datagrams (the request as received, the reply as encoded)
 * and the few values that cannot be had again; the decoded messages, the
 * variables and the parsed Option 82 are rebuilt from those when someone
 * reads it (views are rare, packets are many). Measured with bench/retained.ts:
 * 8.1 KB per entry when the whole Exchange was kept, 1.4 KB now.
 */
import { decode } from "../codec/decode.ts";
import type { DhcpMessage } from "../codec/message.ts";
import { OPTION_OVERLOAD } from "../codec/options.ts";
import type { Exchange, HistoryRecord, Option82Seen, Outcome, QueryRun, Request } from "../core/exchange.ts";
import { macHex } from "../core/lease.ts";
import type { Destination } from "../core/route.ts";
import { parseRelayAgentInfo } from "../option82/parse.ts";
import { lengthProblem, OPTION } from "../options/table.ts";
import type { Vars } from "../variables/types.ts";
import { answerLines } from "./history-event.ts";
import type { Runtime } from "./runtime.ts";

/** What the views read of an Exchange (explain-render.ts explanationOf, exchange-view.ts). */
export type ShownExchange = Pick<Exchange, "request" | "vars" | "historyVars" | "option82" | "queries" | "outcome" | "history" | "dest" | "encoded">;

type ReplyOutcome = Extract<Outcome, { kind: "reply" }>;

export interface ExchangeEntry {
  /** increasing per server run */
  id: number;
  /** epoch ms when the exchange ended */
  at: number;
  /** the datagram as received (what --dump reading the stream decodes) */
  raw: Uint8Array;
  /** the offer queries configured when it ran (explanations list the ones not run) */
  configured: readonly string[];
  /** the runtime that answered: the variables are bound again from it when asked for */
  rt: Runtime;
  /** handling time, ms */
  ms: number;
  /** chaddr as 12 hex digits, for lookups */
  mac: string;
  /** the reply was decided (and its history written) but the socket refused it: why */
  sendError?: string;
  /** the whole exchange, when it is at hand anyway (/api/explain); ring entries keep `kept` instead */
  ex?: ShownExchange;
  kept?: Kept;
}

/** A ring entry's part of an Exchange: what cannot be had again from the datagrams and the runtime. */
interface Kept {
  type: number;
  size: number | undefined;
  from: Request["from"];
  /** the request as respond read it; null: decode `raw` again */
  msg: DhcpMessage | null;
  /** whether the message had option 82 after respond: it drops an unrelayed one (<ignoreUnrelayedOption82>) that `raw` still has */
  has82: boolean;
  /** "packet": parsed again from the request; an Option 82 from lease memory is kept as it was */
  option82: Option82Seen | "packet" | null;
  queries: QueryRun[];
  /** a reply's outcome without the reply (decoded again from `encoded`) unless `reply` keeps it */
  outcome: Omit<ReplyOutcome, "reply"> | Exclude<Outcome, ReplyOutcome>;
  /** the reply, when its encoded bytes would not decode to the same message; null otherwise */
  reply: DhcpMessage | null;
  history: HistoryRecord[];
  /** the values of the event and answer variables (EVENT_VARS) recording bound, when it did */
  events: (string | undefined)[] | null;
  dest: Destination | null;
  encoded: Exchange["encoded"];
}

export const RING_SIZE = 1000;

/**
 * Past 1,000 exchanges a second the ring keeps only the newest 200. Every
 * entry alive when the collector runs is promoted to the old generation,
 * and the collector runs more often the faster packets come, so a full
 * ring sends about 60% of all exchanges there, each freed only by a full
 * collection: with <metrics> on, SQLite at 3,000 DORA/s had 17-18 full
 * collections per 40 s instead of 9, about 1.0 s of pause increments
 * instead of 0.66, and a higher p99 (bench/results/2026-12-04-amd-ring.md).
 * At that rate 1,000 entries span a third of a second, too little for the
 * help-desk page either way; below it they span seconds and cost little,
 * since collections are rare.
 */
export const RING_BUSY_SIZE = 200;
/** Exchanges a second above which the ring is busy: the newest RING_BUSY_SIZE came within RING_BUSY_SIZE ms. */
export const RING_BUSY_RATE = 1000;

const configuredNames = new WeakMap<Runtime, readonly string[]>();

/** The variables answerLines reads (history-event.ts), asked of it once so the two lists cannot differ. */
const EVENT_VARS: readonly string[] = (() => {
  const names: string[] = [];
  answerLines({ get: (name: string) => void names.push(name) } as unknown as Vars);
  return names;
})();

/**
 * Whether decoding `encoded` gives back `reply` as the views show it (the
 * header addresses, flags and the options in order): the encoder writes
 * the options in the map's order but 82 last, leaves out 52, and the
 * decoder refuses a length the option table does not allow.
 */
function decodesBack(reply: DhcpMessage, encoded: Exchange["encoded"]): boolean {
  if (!encoded?.ok) return false;
  let last = -1;
  for (const [code, v] of reply.options) {
    if (code === OPTION_OVERLOAD || lengthProblem(code, v.length) !== null) return false;
    last = code;
  }
  return !reply.options.has(OPTION.RELAY_AGENT_INFO) || last === OPTION.RELAY_AGENT_INFO;
}

/**
 * The ring's entry for an exchange. Bun gives each datagram its own small
 * buffer (measured: a 300-byte datagram has a 300-byte ArrayBuffer), so the
 * datagram is kept as it is.
 */
export function ringEntry(ex: Exchange, buf: Uint8Array, rt: Runtime, ms: number, sendError?: Error | null): ExchangeEntry {
  let configured = configuredNames.get(rt);
  if (!configured) configuredNames.set(rt, (configured = rt.offers.map((o) => o.template.name)));
  const { request, outcome: o } = ex;
  const msg = request.msg;
  let reply: DhcpMessage | null = null;
  let outcome: Kept["outcome"] = o;
  if (o.kind === "reply") {
    if (!decodesBack(o.reply, ex.encoded)) reply = o.reply;
    outcome = { kind: o.kind, type: o.type, query: o.query, ip: o.ip, note: o.note };
  }
  let events: (string | undefined)[] | null = null;
  if (ex.history.length && ex.historyVars) {
    const hv = ex.historyVars;
    events = EVENT_VARS.map((n) => hv.get(n));
  }
  const kept: Kept = {
    type: request.type,
    size: request.size,
    from: request.from,
    // an entry without the datagram (tests, benchmarks) keeps the message
    msg: buf.length > 0 ? null : msg,
    has82: msg.options.has(OPTION.RELAY_AGENT_INFO),
    option82: ex.option82?.source === "packet" ? "packet" : ex.option82,
    queries: ex.queries,
    outcome,
    reply,
    history: ex.history,
    events,
    dest: ex.dest,
    encoded: ex.encoded,
  };
  // id 0 until the ring numbers it: the object the ring keeps, not a copy
  return { id: 0, at: Date.now(), raw: buf, configured, rt, ms, mac: macHex(msg), sendError: sendError ? sendError.message : undefined, ex: undefined, kept };
}

/**
 * The exchange as the views read it: given whole, or rebuilt from what the
 * entry kept. Decoding the same datagram and binding the same runtime's
 * variables give what respond saw; nothing rebuilt is kept.
 */
export function exchangeOf(e: ExchangeEntry): ShownExchange & { vars: Vars } {
  if (e.ex) return { ...e.ex, vars: e.ex.vars ?? entryVars(e.ex.request.msg, e.ex.option82, e.rt) };
  const k = e.kept!;
  let msg = k.msg;
  if (msg === null) {
    const d = decode(e.raw);
    if (!d.ok) throw new Error(`the kept datagram does not decode: ${d.error.message}`);
    msg = d.msg;
    // deleting option 82 is the one change respond makes to the message it reads
    if (!k.has82) msg.options.delete(OPTION.RELAY_AGENT_INFO);
  }
  let option82: Option82Seen | null = null;
  if (k.option82 === "packet") {
    const bytes = msg.options.get(OPTION.RELAY_AGENT_INFO)!;
    option82 = { source: "packet", bytes, parsed: parseRelayAgentInfo(bytes) };
  } else option82 = k.option82;
  const request: Request = { msg, type: k.type, from: k.from, arrived: 0 };
  if (k.size !== undefined) request.size = k.size;
  const o = k.outcome;
  let outcome: Outcome;
  if (o.kind === "reply") {
    let reply = k.reply;
    if (reply === null) {
      const d = decode((k.encoded as { bytes: Uint8Array }).bytes);
      if (!d.ok) throw new Error(`the kept reply does not decode: ${d.error.message}`);
      reply = d.msg;
    }
    outcome = { ...o, reply };
  } else outcome = o;
  let historyVars: Vars | null = null;
  if (k.events) {
    const ev = k.events;
    historyVars = new Map();
    EVENT_VARS.forEach((n, i) => ev[i] !== undefined && historyVars!.set(n, ev[i]!));
  }
  return {
    request,
    vars: entryVars(msg, option82, e.rt),
    historyVars,
    option82,
    queries: k.queries,
    outcome,
    history: k.history,
    dest: k.dest,
    encoded: k.encoded,
  };
}

/** The variables as respond bound them: from the message, with the Option 82 a lease lent a renewal. */
function entryVars(msg: DhcpMessage, option82: Option82Seen | null, rt: Runtime): Vars {
  if (option82?.source === "lease memory") msg = { ...msg, options: new Map(msg.options).set(OPTION.RELAY_AGENT_INFO, option82.bytes) };
  return rt.variables(msg, option82);
}

export class ExchangeRing {
  private readonly buf: (ExchangeEntry | undefined)[];
  private next = 0;
  private seq = 0;
  private count = 0;
  private readonly listeners = new Set<(e: ExchangeEntry) => void>();
  /** entries kept past `busySize` only while fewer than `busyRate` exchanges a second come (see RING_BUSY_SIZE) */
  private readonly busySize: number;
  private readonly busyWindowMs: number;

  constructor(readonly capacity = RING_SIZE, busySize = RING_BUSY_SIZE, private readonly busyRate = RING_BUSY_RATE) {
    this.buf = new Array(capacity);
    this.busySize = Math.min(busySize, capacity);
    this.busyWindowMs = (this.busySize * 1000) / busyRate;
  }

  /** How many it keeps: `capacity`, or `busySize` while more than `busyRate` exchanges a second come (the help-desk page says so). */
  get keeps(): { capacity: number; busySize: number; busyRate: number } {
    return { capacity: this.capacity, busySize: this.busySize, busyRate: this.busyRate };
  }

  /** Keeps `e` itself, numbered (its id is set). */
  push(e: Omit<ExchangeEntry, "id"> & { id?: number }): void {
    const entry = e as ExchangeEntry;
    entry.id = ++this.seq;
    if (this.buf[this.next] === undefined) this.count++;
    this.buf[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.busySize < this.capacity) {
      // the entry that just left the newest busySize goes when they all came within the window
      const out = (this.next - this.busySize - 1 + this.capacity) % this.capacity;
      const oldest = this.buf[(this.next - this.busySize + this.capacity) % this.capacity];
      if (this.buf[out] !== undefined && oldest !== undefined && entry.at - oldest.at < this.busyWindowMs) {
        this.buf[out] = undefined;
        this.count--;
      }
    }
    for (const f of this.listeners) {
      try {
        f(entry);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  /** Newest first; `mac` as 12 hex digits filters by client. */
  recent(limit: number, mac?: string): ExchangeEntry[] {
    const out: ExchangeEntry[] = [];
    for (let k = 1; k <= this.capacity && out.length < limit; k++) {
      const e = this.buf[(this.next - k + this.capacity) % this.capacity];
      if (!e) continue; // not filled yet, or dropped while busy
      if (mac === undefined || e.mac === mac) out.push(e);
    }
    return out;
  }

  /** entries kept now: up to `capacity`, fewer while busy */
  get size(): number {
    return this.count;
  }

  get listening(): number {
    return this.listeners.size;
  }

  /** Calls f for every exchange from now on; returns the unsubscribe. */
  subscribe(f: (e: ExchangeEntry) => void): () => void {
    this.listeners.add(f);
    return () => void this.listeners.delete(f);
  }
}
