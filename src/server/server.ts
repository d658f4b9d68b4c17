/**
 * The serving loop: socket -> decode -> flood control -> bounded queue ->
 * respond -> outbox -> send. respond (core/respond.ts) decides, routes and
 * encodes; this file only reads the Exchange it returns: the bytes and
 * destination to send, the history to journal (before the reply; the
 * outbox, outbox.ts, does both once per event-loop turn), the metrics and
 * log lines, and with -d the explanation. Holds the only mutable serving state (the runtime,
 * swapped whole on reload; the queue; the in-flight set).
 */
import { toHex } from "../codec/hex.ts";
import { decode } from "../codec/decode.ts";
import { MESSAGE_TYPE_NAME, MessageType } from "../codec/message.ts";
import { OPTION } from "../options/table.ts";
import { SUBOPTION } from "../option82/suboptions.ts";
import type { Exchange, Request } from "../core/exchange.ts";
import { LEASE_MEMORY } from "../core/exchange.ts";
import { macHex } from "../core/lease.ts";
import { respond } from "../core/respond.ts";
import { peekMessageType } from "../codec/peek.ts";
import type { ServiceLogger } from "../log/logger.ts";
import type { HistoryWriter } from "./history.ts";
import { eventEntries } from "./history-event.ts";
import { Outbox, type Parcel } from "./outbox.ts";
import type { LeaseMemory } from "./leases.ts";
import { RateLimiter } from "./ratelimit.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../option82/parse.ts";
import type { Runtime } from "./runtime.ts";
import { explanationOf, renderExplanation } from "./explain-render.ts";
import { ringEntry, type ExchangeRing } from "./exchange-ring.ts";
import { openDhcpSocket, type DhcpSocket } from "./socket.ts";
import type { ServerMetrics } from "./stats.ts";
import { AdmissionQueue, KernelShed, type AdmissionOptions } from "./admission.ts";
import { DiscoverShed, WINDOW_MS } from "./discover-shed.ts";
import { ExchangeLog, NotSentLog } from "./exchange-log.ts";

function admissionOptions(rt: Runtime): AdmissionOptions {
  const s = rt.config.server;
  return { maxWaitMs: s.maxWaitMs, hardLimit: s.queueLimit, concurrency: rt.maxInFlight };
}

const TYPE_NAMES = MESSAGE_TYPE_NAME;

/** How loud each kind of silence is: what an operator must see at the default level. */
const SILENT_LEVEL: Partial<Record<string, "info" | "warn" | "error">> = {
  "db-error": "warn",
  "bad-answer": "warn",
  "address-in-use": "warn",
  "no-match": "info",
  // RELEASE and DECLINE: recorded, nothing to answer (RFC 2131 4.3.3/4.3.4)
  recorded: "info",
  "history-unrecorded": "error",
};

/** Silences that are the protocol, not a request dropped. */
const NOT_DROPPED: ReadonlySet<string> = new Set(["recorded"]);

const OPT_MESSAGE_TYPE = OPTION.MESSAGE_TYPE;
const OPT_RAI = OPTION.RELAY_AGENT_INFO;
const SUB_CIRCUIT_ID = SUBOPTION.CIRCUIT_ID;

interface Pending {
  req: Request;
  /** option 53 and arrival (performance.now()): what admission orders and ages requests by */
  type: number;
  at: number;
  /** the datagram as received (the exchange ring keeps it) */
  buf: Uint8Array;
  key: string;
  /** the socket it came in on: per-interface sockets reply out of their own link */
  sock: DhcpSocket | undefined;
}

/** A finished exchange waiting in the outbox for its turn's journal write and sendMany. */
interface Finished extends Parcel {
  p: Pending;
  ex: Exchange;
  rt: Runtime;
}

const hex = (b: Uint8Array | undefined): string => (b ? toHex(b) : "");

const NO_SUBS = new Map<number, Uint8Array>();

/** Option 82 sub-options of a parse; a malformed option gives none. */
function subOptions(p: RelayAgentInfoResult | undefined): Map<number, Uint8Array> {
  return p && p.ok ? p.subs : NO_SUBS;
}

/** at most one history-unrecorded line per this many ms (pydhcp_dropped_total counts every one) */
const UNRECORDED_WINDOW_MS = 10_000;
/** at most one "the kernel drops DISCOVERs" line per this many ms (the gauge shows every change) */
const KERNEL_DROP_LOG_MS = 60_000;
/**
 * Under a storm (the DISCOVER filter on), a stretch of packets handled
 * without the event loop turning may last this share of maxWait; then the
 * kernel drops every new DISCOVER until the loop turns. Bun's UDP read loop reads until the socket is empty
 * (oven-sh/bun#37103, open in Bun 1.4.5): with lookups slower than a storm
 * brings DISCOVERs (SQLite runs them inline) it never is, and every timer
 * and the HTTP API waited for the storm to end (a 250 ms timer fired once
 * in 16.5 s, /metrics did not answer in 2 s). With no new DISCOVERs the
 * backlog is read, the loop turns, and the filter goes back to its share.
 * Only under a storm: a server just short of its maximum also reads without
 * pause, and dropping DISCOVERs there lost 2-3.5% of exchanges at 8,000/s
 * where none were lost without.
 */
const STRETCH_SHARE = 1 / 4;

export class DhcpServer {
  private sockets: DhcpSocket[] = [];
  private readonly queue: AdmissionQueue<Pending>;
  private inFlight = 0;
  private readonly active = new Set<string>();
  private perMac: RateLimiter;
  private perCircuit: RateLimiter;
  private accepting = true;
  /** -d: per-packet variables and replies; fixed at start so the packet path pays one branch */
  private readonly debug: boolean;
  /** the per-exchange lines (exchange-log.ts) */
  private readonly lines: ExchangeLog;
  /** history-unrecorded lines: the last one written and how many were left out since */
  private unrecorded = { from: -Infinity, suppressed: 0 };
  /** the WARN lines of replies the socket refused, rate-limited */
  private readonly notSent: NotSentLog;
  private idleWaiters: (() => void)[] = [];
  /** the kernel's queue: when last looked at, packets handled since and when the first of them came, the handling rate, packets to drop unread */
  private checkedAt = performance.now();
  private handledSince = 0;
  private handledFrom = -1;
  private handledRate = 0;
  private readonly shed = new KernelShed();
  /** the share of DISCOVERs the kernel drops unread (discover-shed.ts), decided every WINDOW_MS */
  private readonly discoverShed = new DiscoverShed();
  private discoverShedTimer: ReturnType<typeof setInterval> | null = null;
  private discoverShedAt = performance.now();
  /** when the current stretch of packet handling began (-1: the loop has turned since); whether the kernel drops every DISCOVER until it turns */
  private stretchFrom = -1;
  private breathing = false;
  /** the share the sockets' filters have now; null once a socket refused the filter (it stays off) */
  private kernelDrop: number | null = 0;
  /** the storm the log last spoke of: when it began, the highest share since, starts not logged since */
  private kernelDropLog = { at: -Infinity, logged: false, peak: 0, since: 0, unlogged: 0 };
  /** the last exchanges, for the HTTP API and the help-desk page; null when nobody reads them */
  private ring: ExchangeRing | null = null;
  /** told of every datagram (the event-loop lag monitor samples while packets flow) */
  onPacket: (() => void) | null = null;
  /** finished exchanges: journaled, sent and logged together once per event-loop turn */
  private readonly outbox: Outbox<Finished>;

  constructor(
    private rt: Runtime,
    private readonly leases: LeaseMemory,
    private readonly history: HistoryWriter,
    private readonly log: ServiceLogger,
    private readonly metrics: ServerMetrics,
  ) {
    this.perMac = new RateLimiter(rt.config.rateLimit.perMac);
    this.perCircuit = new RateLimiter(rt.config.rateLimit.perCircuit);
    this.debug = log.enabled("debug");
    this.lines = new ExchangeLog(log);
    this.notSent = new NotSentLog(log);
    this.queue = new AdmissionQueue(admissionOptions(rt));
    this.outbox = new Outbox<Finished>(history, (f) => this.deliver(f));
  }

  /** Keeps every exchange from now on in `ring` (with the queries it ran). */
  record(ring: ExchangeRing): void {
    this.ring = ring;
  }

  get runtime(): Runtime {
    return this.rt;
  }

  async listen(): Promise<void> {
    const c = this.rt.config.server;
    const targets = c.interfaces.length ? c.interfaces : [undefined];
    for (const iface of targets) {
      const s = await openDhcpSocket({
        host: c.host,
        port: c.port,
        ...(iface ? { iface } : {}),
        onPacket: (buf, port, address) => this.receive(buf, port, address, s),
        // errors not tied to a reply (a failed reply is counted and logged with its exchange, account())
        onError: (e) => this.log.warn("socket error", { iface: iface ?? "any", error: e.message }),
      });
      this.sockets.push(s);
      this.log.info("listening", { address: `${c.host}:${c.port}`, iface: iface ?? "any" });
    }
    // the packet path ends windows while packets flow (a storm starves timers: one fired after 16 s);
    // the timer ends them when packets stop, so the filter comes off after a storm.
    // unref: the timer alone never keeps a stopped server's process alive
    this.discoverShedTimer ??= setInterval(() => this.kernelDropWindow(performance.now()), WINDOW_MS).unref();
  }

  /**
   * Every WINDOW_MS: the share of DISCOVERs the kernel is to drop before
   * they are read (discover-shed.ts), put on every socket. A socket that
   * refuses the filter (an old kernel, a seccomp policy) leaves it off for
   * good: the server then reads and drops them itself, as it always can.
   */
  private kernelDropWindow(now: number): void {
    if (this.breathing || now - this.discoverShedAt < WINDOW_MS) return;
    this.discoverShedAt = now;
    const share = this.discoverShed.window(now);
    const was = this.kernelDrop;
    if (was === null) return;
    // a new program only when the share moved enough to matter, or turns on or off
    if ((share === 0) === (was === 0) && Math.abs(share - was) < 0.01) return;
    for (const s of this.sockets) {
      const err = s.dropDiscovers(share);
      if (err === null) continue;
      for (const t of this.sockets) t.dropDiscovers(0);
      this.kernelDrop = null;
      this.discoverShed.reset();
      this.metrics.kernelDiscoverDrop(0);
      this.log.warn("cannot drop DISCOVERs in the kernel under overload; the server reads and drops them itself", { iface: s.iface ?? "any", error: err });
      return;
    }
    this.kernelDrop = share;
    this.metrics.kernelDiscoverDrop(share);
    this.logKernelDrop(was, share);
  }

  /** The loop has turned: a new stretch begins with the next packet, and a breather ends. */
  private readonly loopTurned = (): void => {
    this.stretchFrom = -1;
    if (!this.breathing) return;
    this.breathing = false;
    const share = this.kernelDrop;
    if (share !== null) for (const s of this.sockets) s.dropDiscovers(share);
  };

  /** The kernel drops every new DISCOVER until the loop turns (STRETCH_SHARE); only under a storm, and where the filter is allowed. */
  private breathe(): void {
    if (!this.kernelDrop) return;
    this.breathing = true;
    this.metrics.loopBreather();
    for (const s of this.sockets) s.dropDiscovers(1);
  }

  /** One WARN when a storm makes the kernel drop DISCOVERs, one INFO when it ends; at most one storm a minute in the log. */
  private logKernelDrop(was: number, share: number): void {
    const l = this.kernelDropLog;
    const now = performance.now();
    if (was === 0) {
      l.peak = share;
      l.since = now;
      l.logged = now - l.at >= KERNEL_DROP_LOG_MS;
      if (!l.logged) {
        l.unlogged++;
        return;
      }
      const more = l.unlogged > 0 ? { earlierStormsNotLogged: l.unlogged } : {};
      l.at = now;
      l.unlogged = 0;
      this.log.warn("overload: the kernel drops a share of DISCOVERs before they are read", { share: `${Math.round(share * 100)}%`, ...more });
      return;
    }
    l.peak = Math.max(l.peak, share);
    if (share === 0 && l.logged) {
      this.log.info("overload over: every DISCOVER is read again", { seconds: Math.round((now - l.since) / 100) / 10, highestShare: `${Math.round(l.peak * 100)}%` });
    }
  }

  /** Swaps in a new runtime between packets; in-flight packets finish with the one they started with. */
  swap(rt: Runtime): void {
    // replies decided under the old configuration leave before the new one serves
    this.outbox.flush();
    this.rt = rt;
    this.perMac = new RateLimiter(rt.config.rateLimit.perMac);
    this.perCircuit = new RateLimiter(rt.config.rateLimit.perCircuit);
    this.queue.configure(admissionOptions(rt));
  }

  get queued(): number {
    return this.queue.length;
  }

  get lookupsInFlight(): number {
    return this.inFlight;
  }

  private receive(buf: Uint8Array, port: number, address: string, sock: DhcpSocket | undefined): void {
    this.onPacket?.();
    if (!this.accepting) {
      this.metrics.dropped("shutdown");
      return;
    }
    // looked at before dropping anything: a count left from a backlog that has since drained must not outlive it
    const now0 = performance.now();
    // every 100 ms, every 10 ms while dropping: a count from one look must not run far past the backlog
    if (sock && now0 - this.checkedAt >= (this.shed.active ? 10 : 100)) this.checkKernelQueue(now0, sock);
    if (this.stretchFrom < 0) {
      this.stretchFrom = now0;
      setImmediate(this.loopTurned);
    } else if (!this.breathing && now0 - this.stretchFrom > this.rt.config.server.maxWaitMs * STRETCH_SHARE) this.breathe();
    // windows end when the loop turns while a breather lasts: its reads are not the share's
    if (!this.breathing && now0 - this.discoverShedAt >= WINDOW_MS) this.kernelDropWindow(now0);
    // the backlog's oldest packets: its DISCOVERs go unread, anything else (a REQUEST completing an
    // exchange) is handled. Counted over every packet, so one that arrived after the look is never dropped by it.
    if (this.shed.active && this.shed.drop(peekMessageType(buf))) {
      this.metrics.received("DISCOVER");
      this.metrics.dropped("stale");
      this.discoverShed.discoverDropped();
      return;
    }
    // a full queue takes no new DISCOVER: dropped before decoding, the cheapest way to say no under a storm
    if (this.inFlight >= this.rt.maxInFlight && this.queue.length >= this.queue.limit && peekMessageType(buf) === MessageType.DISCOVER) {
      this.metrics.received("DISCOVER");
      this.metrics.dropped("queue-full");
      this.discoverShed.discoverDropped();
      return;
    }
    this.handledSince++;
    if (this.handledFrom < 0) this.handledFrom = now0;
    const res = decode(buf);
    if (!res.ok) {
      this.metrics.received("malformed");
      this.metrics.dropped("decode-error");
      this.log.debug("malformed packet dropped", { from: `${address}:${port}`, error: res.error.message, offset: res.error.offset });
      return;
    }
    const msg = res.msg;
    const t = msg.options.get(OPT_MESSAGE_TYPE);
    const type = t && t.length === 1 ? t[0]! : 0;
    const typeName = TYPE_NAMES[type] ?? "UNKNOWN";
    this.metrics.received(typeName);
    if (msg.op !== 1 || type === 0) {
      this.metrics.dropped(type === 0 ? "not-dhcp" : "not-a-request");
      return;
    }
    const arrived = performance.now();
    const now = Date.now();
    const mac = macHex(msg);
    if (!this.perMac.allow(mac, now)) {
      this.metrics.dropped("rate-limit-mac");
      return;
    }
    // Option 82 is parsed here once; respond, the variables and the logs reuse it
    const rai = msg.options.get(OPT_RAI);
    const relay = rai ? parseRelayAgentInfo(rai) : undefined;
    if (msg.giaddr !== "0.0.0.0") {
      const circuit = subOptions(relay).get(SUB_CIRCUIT_ID);
      if (circuit && !this.perCircuit.allow(msg.giaddr + "/" + hex(circuit), now)) {
        this.metrics.dropped("rate-limit-circuit");
        return;
      }
    }
    // a retransmission of a request still being looked up is answered once
    const key = `${mac}/${msg.xid}/${type}`;
    if (this.active.has(key)) {
      this.metrics.dropped("duplicate-in-flight");
      return;
    }
    this.active.add(key);
    const req: Request = { msg, type, size: buf.length, from: { address, port }, arrived };
    if (relay) req.relay = relay;
    const p: Pending = { req, type, at: arrived, key, sock, buf };
    if (this.inFlight < this.rt.maxInFlight) {
      void this.run(p);
      return;
    }
    const out = this.queue.push(p);
    if (out) {
      this.active.delete(out.key);
      this.metrics.dropped("queue-full");
      if (out.type === MessageType.DISCOVER) this.discoverShed.discoverDropped();
    }
    this.metrics.queueDepth(this.queued);
  }

  /**
   * Every 100 ms: how long the kernel's queue makes packets wait at the rate
   * they are handled, measured (admission.ts, kernelBacklog). Until a rate
   * is measured nothing is dropped. With a synchronous
   * database a storm waits there, not in our queue, and first come first
   * served would answer only clients that gave up; the oldest DISCOVERs are
   * dropped undecoded instead, counted as stale. Other packets (REQUESTs
   * completing exchanges) are still handled.
   */
  private checkKernelQueue(now: number, sock: DhcpSocket): void {
    // the rate over the time packets were coming, not over an idle stretch before them
    const seconds = this.handledFrom < 0 ? 0 : (now - this.handledFrom) / 1000;
    if (this.handledSince >= 10 && seconds >= 0.05) {
      const rate = this.handledSince / seconds;
      this.handledRate = this.handledRate === 0 ? rate : this.handledRate * 0.7 + rate * 0.3;
    }
    this.checkedAt = now;
    this.handledSince = 0;
    this.handledFrom = -1;
    const bytes = sock.queuedBytes();
    if (bytes === null) return;
    this.shed.look(bytes, this.handledRate, this.rt.config.server.maxWaitMs, sock.receiveBuffer ?? Infinity);
  }

  private readonly dropStale = (p: Pending): void => {
    this.active.delete(p.key);
    this.metrics.dropped("stale");
    if (p.type === MessageType.DISCOVER) this.discoverShed.discoverDropped();
  };

  private next(): void {
    while (this.inFlight < this.rt.maxInFlight) {
      const p = this.queue.take(performance.now(), this.dropStale);
      if (!p) break;
      void this.run(p);
    }
    this.metrics.queueDepth(this.queued);
    if (this.inFlight === 0 && this.queued === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private async run(p: Pending): Promise<void> {
    const started = performance.now();
    if (p.type === MessageType.DISCOVER) this.discoverShed.discoverServed();
    this.inFlight++;
    this.metrics.inFlight(this.inFlight);
    const rt = this.rt;
    // once in the outbox the exchange stays in flight until its reply has left (deliver)
    let handed = false;
    try {
      const ex = await respond(p.req, rt.deps);
      this.finish(p, ex, rt);
      handed = true;
    } catch (e) {
      this.metrics.dropped("internal-error");
      this.log.error("request handling failed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    } finally {
      if (!handed) this.active.delete(p.key);
      this.queue.done(performance.now() - started);
      this.inFlight--;
      this.metrics.inFlight(this.inFlight);
      this.next();
    }
  }

  /**
   * Reads the Exchange and hands it to the outbox: its history event, and
   * its bytes when it has a reply. The outbox journals the events of the
   * turn, then sends the replies, then calls deliver().
   */
  private finish(p: Pending, ex: Exchange, rt: Runtime): void {
    // a query answered from the answer cache did not run: it has no time to count
    for (const q of ex.queries) if (!q.cached) this.metrics.query(q.name, q.ms / 1000);
    if (ex.failure) this.metrics.dbError(ex.failure);
    const enc = ex.encoded;
    const dest = ex.dest;
    const reply = ex.outcome.kind !== "silent" && enc && enc.ok && dest ? enc.bytes : null;
    this.outbox.add({
      p,
      ex,
      rt,
      event: eventEntries(ex, rt.config.server.leaseTime),
      bytes: reply,
      port: dest?.port ?? 0,
      address: dest?.address ?? "",
      sock: p.sock ?? this.sockets[0],
      unrecorded: null,
      sent: false,
      sendError: null,
      failed: null,
    });
  }

  /** After the turn's journal write and sends: counts and logs one exchange, -d, the exchange ring. */
  private deliver(f: Finished): void {
    const { p, ex, rt } = f;
    // a retransmission read before this reply left was dropped as a duplicate; one read from now on is answered
    this.active.delete(p.key);
    try {
      if (f.failed) throw f.failed;
      if (f.unrecorded) {
        // the reply's history event has nowhere to go: no reply (docs/reliability.md)
        ex.outcome = { kind: "silent", reason: "history-unrecorded", note: f.unrecorded.message };
        ex.reply = null;
        ex.dest = null;
        ex.encoded = null;
      }
      if (this.debug) this.explain(ex, rt);
      this.account(f);
      if (this.ring) this.ring.push(ringEntry(ex, p.buf, rt, performance.now() - p.req.arrived, f.sent ? null : f.sendError));
    } catch (e) {
      this.metrics.dropped("internal-error");
      this.log.error("request handling failed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }

  /** Metrics and the exchange's log line, after the send. */
  private account(f: Finished): void {
    const { p, ex, sent } = f;
    const { req } = p;
    const ms = performance.now() - req.arrived;
    const o = ex.outcome;
    const subs = subOptions(req.relay);
    if (o.kind === "silent") {
      const last = ex.queries.at(-1);
      if (o.reason === "bad-answer" && last) {
        this.log.error(`query ${last.name} returned an unusable row; no answer`, { query: last.name, row: ex.refusedRow, problem: o.note });
      } else if (o.reason === "db-error" && last && ex.failure !== "connect") {
        // while the database is away the backend logs the outage once; the exchange line names the query
        this.log.error(`query ${last.name} failed`, { query: last.name, params: last.params, error: last.error });
      }
      const level = SILENT_LEVEL[o.reason] ?? "debug";
      if (!NOT_DROPPED.has(o.reason)) this.metrics.dropped(o.reason);
      if (o.reason === "no-match") this.metrics.noMatch();
      if (this.lines.enabled(level)) {
        const typeName = TYPE_NAMES[req.type] ?? String(req.type);
        let note = o.note;
        if (o.reason === "history-unrecorded") {
          // a full disk fails every request alike: one line per UNRECORDED_WINDOW_MS, the rest counted in it
          const t = performance.now();
          if (t - this.unrecorded.from < UNRECORDED_WINDOW_MS) {
            this.unrecorded.suppressed++;
            return;
          }
          if (this.unrecorded.suppressed > 0) note = `${note}; ${this.unrecorded.suppressed} more left unanswered since the last line`;
          this.unrecorded = { from: t, suppressed: 0 };
        }
        this.lines.write(level, o.reason === "recorded" ? `${typeName} recorded` : `${typeName} no reply: ${o.reason}`, req.msg, subs, o.query, undefined, note, ms);
      }
      return;
    }
    const enc = ex.encoded;
    const dest = ex.dest;
    if (!enc || !enc.ok || !dest) {
      this.metrics.dropped("encode-error");
      const typeName = TYPE_NAMES[req.type] ?? String(req.type);
      this.lines.write("error", `${typeName} reply not sent: ${enc && !enc.ok ? enc.message : "not encoded"}`, req.msg, subs, undefined, undefined, undefined, undefined);
      return;
    }
    const replyName = TYPE_NAMES[o.type] ?? String(o.type);
    if (!sent) {
      // the history event is already written (it goes first so no reply leaves unrecorded): the
      // decision stands in history, and this line and the metric say the reply never left
      this.metrics.dropped("send-error");
      const typeName = TYPE_NAMES[req.type] ?? String(req.type);
      const text = `${typeName} -> ${replyName}${o.ip ? " " + o.ip : ""} not sent`;
      const query = o.query && ex.queries.at(-1)?.cached ? `${o.query} (cached)` : o.query;
      const iface = f.sock?.iface ?? "any";
      this.notSent.write(text, req.msg, subs, query, `${dest.address}:${dest.port}`, iface, f.sendError?.message ?? "no socket", ms);
      return;
    }
    this.metrics.sent(replyName);
    this.metrics.replied(replyName, ms / 1000);
    if (o.query === LEASE_MEMORY) this.metrics.outageAnswer();
    if (o.leaseReused) this.metrics.leaseReused();
    if (!this.lines.enabled("info")) return;
    const typeName = TYPE_NAMES[req.type] ?? String(req.type);
    const text = o.ip ? `${typeName} -> ${replyName} ${o.ip}` : `${typeName} -> ${replyName}`;
    // an answer the cache held names its query so: the decisive run is the last one, marked cached
    const query = o.query && ex.queries.at(-1)?.cached ? `${o.query} (cached)` : o.query;
    this.lines.write("info", text, req.msg, subs, query, `${dest.address}:${dest.port}`, o.type === MessageType.NAK || o.leaseReused ? o.note : undefined, ms);
  }

  /**
   * -d: the exchange explained as `--explain` explains a packet, from the
   * same Exchange (one log line per text line, tagged with the xid so
   * concurrent exchanges can be told apart). Never throws.
   */
  private explain(ex: Exchange, rt: Runtime): void {
    try {
      const { request } = ex;
      const text = renderExplanation(
        explanationOf(ex, {
          configured: rt.offers.map((o) => o.template.name),
          sender: `${request.from.address}:${request.from.port}`,
          historyHeading: "history statements queued:",
        }),
      );
      const xid = request.msg.xid.toString(16).padStart(8, "0");
      for (const line of text.trimEnd().split("\n")) this.log.debug(`explain ${xid} | ${line}`);
    } catch (e) {
      this.log.warn("cannot explain an exchange", { error: e instanceof Error ? e.message : String(e) });
    }
  }

  /**
   * Stops taking packets and resolves when every packet in flight is answered.
   * The sockets close only then: a request whose history row is queued must
   * also get its reply out.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.accepting = false;
    if (this.discoverShedTimer) clearInterval(this.discoverShedTimer);
    this.discoverShedTimer = null;
    const idle =
      this.inFlight === 0 && this.queued === 0
        ? true
        : await new Promise<boolean>((resolve) => {
            const t = setTimeout(() => resolve(false), timeoutMs);
            this.idleWaiters.push(() => {
              clearTimeout(t);
              resolve(true);
            });
          });
    // what finished in this turn is journaled and sent before the sockets close
    this.outbox.flush();
    for (const s of this.sockets) s.close();
    this.sockets = [];
    return idle;
  }
}
