/**
 * Start-up warm-up of the packet path. JavaScriptCore compiles a function to
 * fast machine code only after it has run many times, so a server started
 * into a storm (the morning after a power cut, when the server restarted
 * too) would answer its first thousands of requests with cold code, and
 * that is when the queue builds. Before the socket opens, synthetic
 * DISCOVER/REQUEST exchanges go through decode, variables, the offer chain
 * (template binding and the answer checks, against a stand-in row), RFC 2131
 * handling, reply building, routing and encoding. Nothing is sent, written
 * to the database or to history, or counted in metrics; the lease memory
 * used is a scratch one.
 */
import { decode } from "../codec/decode.ts";
import { encode } from "../codec/encode.ts";
import { emptyMessage } from "../codec/header.ts";
import { formatIPv4, ipv4ToBytes, parseIPv4 } from "../codec/ip.ts";
import { MessageType, type DhcpMessage } from "../codec/message.ts";
import type { LeaseStore, PreparedQuery } from "../db/backend.ts";
import { runOfferChain, type BoundQuery } from "../db/chain.ts";
import type { Logger } from "../log/types.ts";
import { handle, type HandleDeps, type Lookup } from "./handle.ts";
import { LeaseMemory } from "./leases.ts";
import { route } from "./route.ts";
import { answerDefaults, type Runtime } from "./runtime.ts";

export interface WarmUpResult {
  exchanges: number;
  ms: number;
}

const NO_STORE: LeaseStore = {
  loadActive: () => Promise.resolve([]),
  get: () => Promise.resolve(null),
  byIp: () => Promise.resolve(null),
  upsert: () => Promise.resolve(),
  deleteExpired: () => Promise.resolve(0),
};

/** Synthetic clients live in 198.18.0.0/15, the benchmarking range (RFC 2544): never a real subscriber. */
const NET = (198 << 24) | (18 << 16);
const MASK = "255.254.0.0";
const RELAY = "198.18.0.1";

/** Address text to option bytes; the addresses here are the server's own and answers it checked. */
const bytesOf = (text: string): Uint8Array => ipv4ToBytes(parseIPv4(text) ?? 0);

/** The stand-in database row for client i: a usable answer in the synthetic network. */
function row(i: number): { ip: string; mask: string; router: string; dns: string } {
  return { ip: formatIPv4((NET + 256 + (i % 65_000)) >>> 0), mask: MASK, router: RELAY, dns: RELAY };
}

/** A request from synthetic client i; every other one relayed with Option 82 (circuit-id, remote-id). */
function request(i: number, type: number, xid: number, extra: (m: DhcpMessage) => void): Uint8Array {
  const m = emptyMessage();
  m.op = 1;
  m.htype = 1;
  m.hlen = 6;
  m.xid = xid >>> 0;
  const mac = Uint8Array.of(0x02, 0, 0, (i >>> 16) & 255, (i >>> 8) & 255, i & 255);
  m.chaddr.set(mac);
  m.options.set(53, Uint8Array.of(type));
  m.options.set(61, Uint8Array.of(1, ...mac));
  m.options.set(55, Uint8Array.of(1, 3, 6, 15, 51, 54));
  m.options.set(57, Uint8Array.of(0x05, 0xdc));
  if (i % 2) {
    m.hops = 1;
    m.giaddr = RELAY;
    // circuit-id: VLAN 10, module 0, port (i % 48) + 1; remote-id: a switch MAC
    m.options.set(82, Uint8Array.of(1, 6, 0, 4, 0, 10, 0, (i % 48) + 1, 2, 8, 0, 6, 0x02, 0, 0, 0, 0, i & 255));
  }
  extra(m);
  const enc = encode(m);
  if (!enc.ok) throw new Error(`warm-up request did not encode: ${enc.error.message}`);
  return enc.bytes;
}

/**
 * Runs synthetic exchanges for about `budgetMs` (at most `maxExchanges`, and
 * no longer once `stop()` says so); returns how many ran. Never throws: a warm-up that fails is logged and
 * start-up goes on with cold code.
 */
export async function warmUp(
  rt: Runtime,
  log: Logger,
  budgetMs = 1000,
  stop: () => boolean = () => false,
  maxExchanges = 50_000,
): Promise<WarmUpResult> {
  const t0 = performance.now();
  const cfg = rt.config;
  const defaults = answerDefaults(cfg);
  // the synthetic client being exchanged: the stand-in row answers for it
  let current = 0;
  const offers: BoundQuery[] = rt.offers.map((o) => {
    const query: PreparedQuery = { name: o.query.name, sql: o.query.sql, run: () => Promise.resolve([row(current)]) };
    return { template: o.template, query };
  });
  const lookup = async (vars: Parameters<HandleDeps["lookup"]>[0]): Promise<Lookup> => {
    const r = await runOfferChain(offers, vars, cfg.queryTimeoutMs, defaults);
    return r.answer ? { kind: "match", answer: r.answer, query: r.query } : { kind: "none" };
  };
  const deps: HandleDeps = {
    ...rt.handleDeps,
    leases: new LeaseMemory(NO_STORE, log),
    lookup,
    // bind every history statement as the real path does, write nothing
    history: (event, vars) => {
      for (const s of rt.history[event]) s.template.bind(vars);
    },
  };
  const routeConfig = { broadcast: cfg.server.broadcast, relayPort: rt.relayPort, clientPort: cfg.server.clientPort };
  const serverId = bytesOf(cfg.server.serverId);

  const exchange = async (bytes: Uint8Array): Promise<Uint8Array | null> => {
    const d = decode(bytes);
    if (!d.ok) throw new Error(`warm-up request did not decode: ${d.error.message}`);
    const t = d.msg.options.get(53)![0]!;
    const o = await handle(d.msg, t, deps);
    if (o.kind !== "reply") return null;
    const dest = route(
      { giaddr: d.msg.giaddr, ciaddr: d.msg.ciaddr, flags: d.msg.flags, replyType: o.type, requestType: t, sourcePort: 68, relaySourcePort: false },
      routeConfig,
    );
    if (dest.setBroadcastFlag) o.reply.flags |= 0x8000;
    const enc = encode(o.reply, { maxMessageSize: 1500 });
    return enc.ok ? enc.bytes : null;
  };

  let n = 0;
  try {
    let yielded = t0;
    while (n < maxExchanges && performance.now() - t0 < budgetMs && !stop()) {
      // the loop runs on microtasks alone: give signals a turn now and then
      if (performance.now() - yielded > 50) {
        await new Promise<void>((r) => setImmediate(r));
        yielded = performance.now();
      }
      current = n;
      const xid = (n * 2654435761) >>> 0;
      const offer = await exchange(request(n, MessageType.DISCOVER, xid, () => {}));
      const yiaddr = offer ? decode(offer) : null;
      const ip = yiaddr?.ok ? yiaddr.msg.yiaddr : row(n).ip;
      await exchange(
        request(n, MessageType.REQUEST, xid, (m) => {
          m.options.set(50, bytesOf(ip));
          m.options.set(54, serverId);
        }),
      );
      // every fourth client also renews (ciaddr set, new xid): the lookup path of REQUEST
      if (n % 4 === 0) await exchange(request(n, MessageType.REQUEST, xid + 1, (m) => (m.ciaddr = ip)));
      n++;
    }
  } catch (e) {
    log.warn("packet path warm-up stopped early; serving starts with cold code", { error: e instanceof Error ? e.message : String(e) });
  }
  return { exchanges: n, ms: Math.round(performance.now() - t0) };
}
