/**
 * respond() at the pure core, no socket: one row per RFC 2131 4.1 / 4.3
 * case, with fake dependencies (an in-memory lease book, a lookup that
 * answers from a table) and the real codec and variables. Each row checks
 * the whole Exchange a case produces: the outcome, the reply header and
 * options, where it goes, the BROADCAST bit, and the history it queues.
 */
import { describe, expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { MessageType, type DhcpMessage } from "../../../src/codec/message.ts";
import type { Answer } from "../../../src/core/answer.ts";
import type { Exchange, HistoryEvent, Lookup, Statement } from "../../../src/core/exchange.ts";
import { answerToJson, clientKey, type Lease, type LeaseBook } from "../../../src/core/lease.ts";
import { respond, type RespondDeps } from "../../../src/core/respond.ts";
import { extractVariables } from "../../../src/variables/extract.ts";
import { buildRequest, ip } from "../../support/client.ts";

const SERVER_ID = "198.18.0.1";
const MAC = "02:00:00:00:00:01";
const KEY = "020000000001";
const RELAY = "198.18.20.1";
// D-Link circuit-id (port 6) and remote-id, as the seed packet
const RAI = Uint8Array.from(Buffer.from("010600040001000602080006001e589eb2ad", "hex"));
const RAI_SOURCE_PORT = Uint8Array.from([...RAI, 19, 0]);
const ANSWER: Answer = { ip: "198.18.5.10", mask: "255.255.255.0", router: "198.18.5.1", dns: ["198.18.0.53"], options: new Map([[15, new TextEncoder().encode("example.net")]]) };

/** A lease book with no store: what respond reads and writes, visible to the test. */
class Book implements LeaseBook {
  readonly leases = new Map<string, Lease>();
  readonly offers = new Map<string, { xid: number; answer: Answer; at: number; query: string }>();
  get(k: string) {
    return this.leases.get(k);
  }
  async fetch(k: string) {
    return this.leases.get(k) ?? null;
  }
  holder(ipText: string, now: number) {
    for (const l of this.leases.values()) if (l.ip === ipText && (l.state === "bound" ? l.expires > now : l.state === "offered")) return l;
    return undefined;
  }
  holderChecked(ipText: string, now: number, _asking: string) {
    return this.holder(ipText, now);
  }
  hold(l: Lease) {
    this.leases.set(l.clientKey, l);
  }
  set(l: Lease) {
    this.leases.set(l.clientKey, l);
  }
  rememberOffer(k: string, xid: number, answer: Answer, now: number, query = "") {
    this.offers.set(k, { xid, answer, at: now, query });
  }
  takeOffer(k: string, xid: number, now: number, maxAge: number) {
    const o = this.offers.get(k);
    this.offers.delete(k);
    return o && o.xid === xid && now - o.at <= maxAge ? { answer: o.answer, query: o.query } : null;
  }
}

const NOW = 1_800_000_000;

const historyStatement: Statement = { name: "history_sql", sql: "insert into history values (?, ?)", names: ["ClientMacAddress", "port"], bind: (v) => [v.get("ClientMacAddress") ?? null, v.get("port") ?? null] };
const HISTORY = Object.fromEntries((["offer", "ack", "nak", "release", "decline", "unknown"] as HistoryEvent[]).map((e) => [e, [historyStatement]])) as unknown as RespondDeps["history"];

type LookupMode = "match" | "none" | "error" | "refused" | { answer: Answer };

function deps(book: Book, mode: LookupMode, seen: string[][]): RespondDeps {
  const tried = (vars: Map<string, string>) => [{ name: "offer_1", sql: "select ...", names: ["ClientMacAddress"], params: [vars.get("ClientMacAddress") ?? null], rows: 0, ms: 0.1 }];
  return {
    serverId: SERVER_ID,
    leaseTime: 3600,
    outageGraceSeconds: 600,
    offerReuseSeconds: 5,
    leases: book,
    variables: (msg, relay) => {
      const v = extractVariables(msg, relay?.parsed);
      // stands in for the vendor profile: the port the circuit-id carries
      const port = v.get("option_82_AgentCircuitId_port_hex");
      if (port) v.set("port", String(parseInt(port, 16)));
      return v;
    },
    lookup: async (vars): Promise<Lookup> => {
      seen.push([vars.get("ClientMacAddress") ?? "", vars.get("port") ?? "(none)"]);
      if (mode === "none") return { kind: "none", tried: tried(vars) };
      if (mode === "error") return { kind: "error", query: "offer_1", message: "offer_1: timed out after 2000 ms", failure: "timeout", tried: tried(vars) };
      if (mode === "refused") return { kind: "refused", query: "offer_1", message: "ip 198.18.5.0 is the network address", row: 0, tried: tried(vars) };
      return { kind: "match", answer: mode === "match" ? ANSWER : mode.answer, query: "offer_1", tried: tried(vars) };
    },
    timeoutMs: 2000,
    history: HISTORY,
    route: { broadcast: "255.255.255.255", relayPort: 67, clientPort: 68 },
    now: () => NOW,
  };
}

function bound(over: Partial<Lease> = {}): Lease {
  return { clientKey: KEY, mac: KEY, ip: ANSWER.ip, option82: "", expires: NOW + 1000, state: "bound", answer: JSON.stringify(answerToJson(ANSWER)), updated: NOW - 10, relay: "", hostname: "", ...over };
}

interface Row {
  name: string;
  type: number;
  giaddr?: string;
  ciaddr?: string;
  flags?: number;
  options?: [number, Uint8Array][];
  /** UDP source port of the request */
  port?: number;
  /** source address of the request; default giaddr when relayed, else 0.0.0.0 */
  source?: string;
  op?: number;
  lookup?: LookupMode;
  lease?: Lease;
  expect: {
    outcome: string;
    yiaddr?: string;
    dest?: [address: string, port: number, why: string];
    broadcastBit?: boolean;
    history?: HistoryEvent[];
    /** option codes that must be present / absent in the reply */
    has?: number[];
    lacks?: number[];
    lease?: Lease["state"];
    option82From?: "packet" | "lease memory" | null;
    /** [ClientMacAddress, port] each lookup bound */
    lookups?: string[][];
  };
}

const REQ = MessageType.REQUEST;
const ROWS: Row[] = [
  // 4.3.1 DISCOVER
  { name: "4.3.1 DISCOVER, BROADCAST bit set: OFFER broadcast", type: 1, flags: 0x8000, expect: { outcome: "reply OFFER", yiaddr: ANSWER.ip, dest: ["255.255.255.255", 68, "broadcast-flag"], broadcastBit: true, history: ["offer"], has: [1, 3, 6, 51, 54, 58, 59], lease: "offered", option82From: null } },
  { name: "4.1 DISCOVER, no BROADCAST bit, no ciaddr: broadcast (no ARP entry possible)", type: 1, expect: { outcome: "reply OFFER", dest: ["255.255.255.255", 68, "broadcast-fallback"], broadcastBit: false } },
  { name: "4.1 DISCOVER through a relay: OFFER to giaddr:67, Option 82 echoed (RFC 3046 2.2)", type: 1, giaddr: RELAY, options: [[82, RAI]], port: 67, expect: { outcome: "reply OFFER", dest: [RELAY, 67, "relay"], has: [82], option82From: "packet", lookups: [[KEY, "6"]] } },
  { name: "RFC 8357 relay-source-port: OFFER to the port the relay sent from", type: 1, giaddr: RELAY, options: [[82, RAI_SOURCE_PORT]], port: 3067, expect: { outcome: "reply OFFER", dest: [RELAY, 3067, "relay-source-port"] } },
  { name: "4.3.1 DISCOVER from an unknown client: no reply, history 'unknown'", type: 1, lookup: "none", expect: { outcome: "silent no-match", history: ["unknown"] } },
  { name: "DISCOVER while the database fails: no reply", type: 1, lookup: "error", expect: { outcome: "silent db-error", history: [] } },
  { name: "DISCOVER whose row is unusable: no reply", type: 1, lookup: "refused", expect: { outcome: "silent bad-answer" } },
  { name: "4.3.1 DISCOVER for an address bound to another client: no reply", type: 1, lease: bound({ clientKey: "0a0000000009", mac: "0a0000000009" }), expect: { outcome: "silent address-in-use" } },
  { name: "4.3.1 DISCOVER from a bound client keeps its lease bound", type: 1, lease: bound(), expect: { outcome: "reply OFFER", lease: "bound" } },
  // 4.3.2 REQUEST
  { name: "4.3.2 SELECTING (our server id): ACK", type: REQ, options: [[54, ip(SERVER_ID)], [50, ip(ANSWER.ip)]], expect: { outcome: "reply ACK", yiaddr: ANSWER.ip, history: ["ack"], has: [51, 58, 59], lease: "bound" } },
  { name: "4.3.2 SELECTING another server: not ours, silent", type: REQ, options: [[54, ip("198.18.0.2")], [50, ip(ANSWER.ip)]], expect: { outcome: "silent not-for-us", history: [], lookups: [] } },
  { name: "4.3.2 INIT-REBOOT, right address: ACK", type: REQ, options: [[50, ip(ANSWER.ip)]], expect: { outcome: "reply ACK", dest: ["255.255.255.255", 68, "broadcast-fallback"] } },
  { name: "4.3.2 INIT-REBOOT, wrong address: NAK, broadcast (4.1)", type: REQ, options: [[50, ip("198.18.9.9")]], expect: { outcome: "reply NAK", yiaddr: "0.0.0.0", dest: ["255.255.255.255", 68, "nak-broadcast"], history: ["nak"], has: [56], lacks: [1, 3, 51] } },
  { name: "4.3.2 NAK through a relay: to giaddr, BROADCAST bit set", type: REQ, giaddr: RELAY, options: [[50, ip("198.18.9.9")], [82, RAI]], port: 67, expect: { outcome: "reply NAK", dest: [RELAY, 67, "relay"], broadcastBit: true, has: [82] } },
  { name: "4.3.2 RENEWING (ciaddr): ACK unicast to ciaddr", type: REQ, ciaddr: ANSWER.ip, lease: bound(), expect: { outcome: "reply ACK", yiaddr: ANSWER.ip, dest: [ANSWER.ip, 68, "ciaddr"], broadcastBit: false, lease: "bound" } },
  {
    name: "4.4.5 RENEWING without Option 82: bound with the Option 82 the lease remembers",
    type: REQ, ciaddr: ANSWER.ip, lease: bound({ option82: Buffer.from(RAI).toString("hex") }),
    expect: { outcome: "reply ACK", option82From: "lease memory", lookups: [[KEY, "6"]], lacks: [82] },
  },
  { name: "4.3.2 REQUEST with neither ciaddr nor requested address: silent", type: REQ, expect: { outcome: "silent not-a-request", lookups: [] } },
  { name: "RENEWING while the database is away: ACK from lease memory", type: REQ, ciaddr: ANSWER.ip, lookup: "error", lease: bound(), expect: { outcome: "reply ACK", yiaddr: ANSWER.ip, history: ["ack"] } },
  { name: "RENEWING a client the database no longer knows: NAK", type: REQ, ciaddr: ANSWER.ip, lookup: "none", lease: bound(), expect: { outcome: "reply NAK", dest: ["255.255.255.255", 68, "nak-broadcast"], history: ["nak"] } },
  { name: "RENEWING when the database moved the client: NAK", type: REQ, ciaddr: ANSWER.ip, lookup: { answer: { ...ANSWER, ip: "198.18.5.11" } }, lease: bound(), expect: { outcome: "reply NAK", history: ["nak"] } },
  // 4.3.3 DECLINE, 4.3.4 RELEASE
  { name: "4.3.3 DECLINE: recorded, lease declined, no reply", type: 4, options: [[50, ip(ANSWER.ip)]], lease: bound(), expect: { outcome: "silent recorded", history: ["decline"], lease: "declined", lookups: [] } },
  { name: "4.3.4 RELEASE: recorded, lease released, no reply", type: 7, ciaddr: ANSWER.ip, lease: bound(), expect: { outcome: "silent recorded", history: ["release"], lease: "released" } },
  // 4.3.5 INFORM
  { name: "4.3.5 INFORM: ACK without yiaddr or lease times, unicast to ciaddr", type: 8, ciaddr: ANSWER.ip, expect: { outcome: "reply ACK", yiaddr: "0.0.0.0", dest: [ANSWER.ip, 68, "ciaddr"], lacks: [51, 58, 59], has: [1, 3, 6, 15], history: ["ack"] } },
  // giaddr no relay can have (RFC 2131 4.1 would send the reply there): dropped before any lookup
  ...(["255.255.255.255", "0.1.2.3", "224.0.0.1", "240.0.0.1", "169.254.1.1"] as const).map((g): Row => ({
    name: `giaddr ${g}: not a relay's address, no reply`, type: 1, giaddr: g, options: [[82, RAI]], source: "198.18.20.1", port: 67,
    expect: { outcome: "silent bad-giaddr", lookups: [], history: [] },
  })),
  { name: "giaddr 127.0.0.1 from another host: the reply would go to this server, no reply", type: 1, giaddr: "127.0.0.1", options: [[82, RAI]], source: "198.18.20.1", port: 67, expect: { outcome: "silent bad-giaddr", lookups: [] } },
  { name: "giaddr 127.0.0.1 from this host (a local relay): OFFER back to it", type: 1, giaddr: "127.0.0.1", options: [[82, RAI_SOURCE_PORT]], source: "127.0.0.1", port: 3067, expect: { outcome: "reply OFFER", dest: ["127.0.0.1", 3067, "relay-source-port"] } },
  // RFC 3046 2.0: sub-option 2 claims 9 bytes, 8 follow: no key can be read from it, nor may it be echoed
  { name: "Option 82 whose sub-option overruns it: no reply", type: 1, giaddr: RELAY, options: [[82, Uint8Array.from([...RAI.subarray(0, 9), 9, ...RAI.subarray(10)])]], port: 67, expect: { outcome: "silent bad-option82", lookups: [], history: [] } },
  { name: "Option 82 with a sub-option twice: no reply", type: 1, giaddr: RELAY, options: [[82, Uint8Array.from([...RAI, 1, 1, 7])]], port: 67, expect: { outcome: "silent bad-option82", lookups: [] } },
  // not requests
  { name: "a BOOTREPLY is not answered", type: 1, op: 2, expect: { outcome: "silent not-a-request", lookups: [] } },
  { name: "an unknown message type is not answered", type: 13, expect: { outcome: "silent unknown-type", lookups: [] } },
];

function request(r: Row): DhcpMessage {
  const bytes = buildRequest({ type: r.type, mac: MAC, xid: 0x1234, flags: r.flags ?? 0, ciaddr: r.ciaddr ?? "0.0.0.0", ...(r.giaddr ? { giaddr: r.giaddr } : {}), options: r.options ?? [] });
  const d = decode(bytes);
  if (!d.ok) throw new Error(d.error.message);
  return r.op ? { ...d.msg, op: r.op } : d.msg;
}

const TYPE_NAME: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([n, c]) => [c, n]));

describe("respond: RFC 2131 4.1 / 4.3, one row per case", () => {
  for (const row of ROWS) {
    test(row.name, async () => {
      const book = new Book();
      if (row.lease) book.leases.set(row.lease.clientKey, row.lease);
      const seen: string[][] = [];
      const msg = request(row);
      const relayed = msg.giaddr !== "0.0.0.0";
      const ex: Exchange = await respond({ msg, type: row.type, from: { address: row.source ?? (relayed ? msg.giaddr : "0.0.0.0"), port: row.port ?? (relayed ? 67 : 68) }, arrived: performance.now() }, deps(book, row.lookup ?? "match", seen));
      const e = row.expect;
      const o = ex.outcome;
      expect(o.kind === "reply" ? `reply ${TYPE_NAME[o.type]}` : `silent ${o.reason}`).toBe(e.outcome);
      if (o.kind === "reply") {
        // what goes out is what was encoded: decode the bytes and compare
        expect(ex.encoded?.ok).toBe(true);
        const wire = ex.encoded?.ok ? decode(ex.encoded.bytes) : null;
        if (!wire?.ok) throw new Error("reply bytes do not decode");
        expect(wire.msg.xid).toBe(0x1234);
        expect(wire.msg.op).toBe(2);
        expect(wire.msg.options.get(54)).toEqual(ip(SERVER_ID));
        if (e.yiaddr) expect(wire.msg.yiaddr).toBe(e.yiaddr);
        if (e.dest) expect([ex.dest?.address, ex.dest?.port, ex.dest?.why]).toEqual(e.dest);
        if (e.broadcastBit !== undefined) expect((wire.msg.flags & 0x8000) !== 0).toBe(e.broadcastBit);
        for (const c of e.has ?? []) expect([c, wire.msg.options.has(c)]).toEqual([c, true]);
        for (const c of e.lacks ?? []) expect([c, wire.msg.options.has(c)]).toEqual([c, false]);
      } else {
        expect(ex.reply).toBeNull();
        expect(ex.encoded).toBeNull();
        expect(ex.dest).toBeNull();
      }
      if (e.history) {
        expect(ex.history.map((h) => h.event)).toEqual(e.history);
        expect(ex.event?.event ?? null).toBe(e.history[0] ?? null);
      }
      // values are bound when the event is journaled (server/history-event.ts), not by respond
      for (const h of ex.history) expect(h.params).toEqual([]);
      if (e.lease) expect(book.leases.get(clientKey(msg))?.state).toBe(e.lease);
      if (e.option82From !== undefined) expect(ex.option82?.source ?? null).toBe(e.option82From);
      if (e.lookups) expect(seen).toEqual(e.lookups);
      // what the lookup saw is what the Exchange says was bound
      if (seen.length && ex.vars) expect(seen.at(-1)).toEqual([ex.vars.get("ClientMacAddress")!, ex.vars.get("port") ?? "(none)"]);
      expect(ex.queries.length).toBe(seen.length);
    });
  }
});

test("SELECTING right after our OFFER reuses the offer's answer: one lookup for the exchange", async () => {
  const book = new Book();
  const seen: string[][] = [];
  const d = deps(book, "match", seen);
  const discover = decode(buildRequest({ type: 1, mac: MAC, xid: 7 }));
  const req = decode(buildRequest({ type: REQ, mac: MAC, xid: 7, options: [[54, ip(SERVER_ID)], [50, ip(ANSWER.ip)]] }));
  if (!discover.ok || !req.ok) throw new Error("decode");
  await respond({ msg: discover.msg, type: 1, from: { address: "0.0.0.0", port: 68 }, arrived: performance.now() }, d);
  const ex = await respond({ msg: req.msg, type: REQ, from: { address: "0.0.0.0", port: 68 }, arrived: performance.now() }, d);
  expect(ex.outcome).toMatchObject({ kind: "reply", type: MessageType.ACK, query: "offer (reused)" });
  expect(seen.length).toBe(1);
  expect(ex.queries).toEqual([]);
});

test("the lookup is bounded from the packet's arrival: the deadline respond passes is arrived + <timeout>", async () => {
  const book = new Book();
  let deadline = 0;
  const d: RespondDeps = { ...deps(book, "match", []), lookup: async (_v, dl) => ((deadline = dl), { kind: "none", tried: [] }) };
  const m = decode(buildRequest({ type: 1, mac: MAC, xid: 8 }));
  if (!m.ok) throw new Error("decode");
  await respond({ msg: m.msg, type: 1, from: { address: "0.0.0.0", port: 68 }, arrived: 1000 }, d);
  expect(deadline).toBe(3000);
});

test("<unrelayedOption82>: Option 82 in a packet no relay forwarded keys the lookup and the lookup with use (the default); ignored with ignore", async () => {
  const msgOf = () => {
    const m = decode(buildRequest({ type: 1, mac: MAC, xid: 9, options: [[82, RAI]] }));
    if (!m.ok) throw new Error("decode");
    return m.msg;
  };
  const run = async (ignore: boolean) => {
    const seen: string[][] = [];
    const d = { ...deps(new Book(), "match", seen), ignoreUnrelayedOption82: ignore };
    const ex = await respond({ msg: msgOf(), type: 1, from: { address: "198.18.0.50", port: 68 }, arrived: performance.now() }, d);
    const wire = ex.encoded?.ok ? decode(ex.encoded.bytes) : null;
    if (!wire?.ok) throw new Error("no reply");
    return { seen, option82From: ex.option82?.source ?? null, echoed: wire.msg.options.has(82) };
  };
  // a reply to a client, not a relay, never carries Option 82 (RFC 3046 2.2)
  expect(await run(false)).toEqual({ seen: [[KEY, "6"]], option82From: "packet", echoed: false });
  expect(await run(true)).toEqual({ seen: [[KEY, "(none)"]], option82From: null, echoed: false });
});

test("no-match names the queries whose rows had no ip (a NULL in the table), not just 'no query matched'", async () => {
  const m = decode(buildRequest({ type: 1, mac: MAC, xid: 10 }));
  if (!m.ok) throw new Error("decode");
  const run = async (rows: number) => {
    const d: RespondDeps = {
      ...deps(new Book(), "none", []),
      lookup: async () => ({ kind: "none", tried: [{ name: "offer_1", sql: "select ...", names: [], params: [], rows: 0, ms: 0.1 }, { name: "offer_2", sql: "select ...", names: [], params: [], rows, ms: 0.1 }] }),
    };
    const ex = await respond({ msg: m.msg, type: 1, from: { address: "0.0.0.0", port: 68 }, arrived: performance.now() }, d);
    return ex.outcome.kind === "silent" ? `${ex.outcome.reason}: ${ex.outcome.note}` : "reply";
  };
  expect(await run(1)).toBe("no-match: no query matched (discover); offer_2 returned rows with no ip");
  expect(await run(0)).toBe("no-match: no query matched (discover)");
});

describe("<leases><cacheThreshold>: an unchanged fresh lease is ACKed with its time left and not written", () => {
  const LEASE_TIME = 3600;
  /** a REQUEST of `state` from a client whose bound lease has `left` seconds to go; what was written and what the ACK says */
  const run = async (o: { left: number; percent?: number; state?: "init-reboot" | "selecting" | "renewing"; held?: Partial<Lease>; answer?: Answer; rai?: boolean; hostname?: string }) => {
    const book = new Book();
    const writes: Lease[] = [];
    book.set = (l: Lease) => {
      writes.push(l);
      book.leases.set(l.clientKey, l);
    };
    const answer = o.answer ?? ANSWER;
    const held = bound({ expires: NOW + o.left, updated: NOW - (LEASE_TIME - o.left), ...(o.rai ? { option82: Buffer.from(RAI).toString("hex"), relay: RELAY } : {}), ...o.held });
    book.leases.set(KEY, held);
    const d: RespondDeps = { ...deps(book, { answer }, []), leaseCacheThreshold: o.percent ?? 25 };
    // the name a REQUEST carries (option 12); without one the lease keeps the name it has
    if (o.hostname !== undefined) d.hostnameText = () => o.hostname!;
    const state = o.state ?? "init-reboot";
    const options: [number, Uint8Array][] = state === "renewing" ? [] : [[50, ip(ANSWER.ip)]];
    if (state === "selecting") options.push([54, ip(SERVER_ID)]);
    if (o.rai) options.push([82, RAI]);
    const giaddr = o.rai ? RELAY : "0.0.0.0";
    const make = (type: number) => {
      const m = decode(buildRequest({ type, mac: MAC, xid: 21, ciaddr: state === "renewing" ? ANSWER.ip : "0.0.0.0", giaddr, options: type === 1 ? (o.rai ? [[82, RAI]] : []) : options }));
      if (!m.ok) throw new Error("decode");
      return m.msg;
    };
    const from = { address: o.rai ? RELAY : "0.0.0.0", port: o.rai ? 67 : 68 };
    if (state === "selecting") await respond({ msg: make(1), type: 1, from, arrived: performance.now() }, d);
    const ex = await respond({ msg: make(REQ), type: REQ, from, arrived: performance.now() }, d);
    if (ex.outcome.kind !== "reply" || !ex.encoded?.ok) throw new Error(`no reply: ${JSON.stringify(ex.outcome)}`);
    const wire = decode(ex.encoded.bytes);
    if (!wire.ok) throw new Error("reply bytes do not decode");
    const u32 = (c: number) => Buffer.from(wire.msg.options.get(c)!).readUInt32BE(0);
    return {
      type: ex.outcome.type,
      reused: ex.outcome.leaseReused === true,
      note: ex.outcome.note,
      times: [u32(51), u32(58), u32(59)],
      written: writes.length,
      history: ex.history.map((h) => h.event),
      historyLeaseTime: ex.event?.answer?.leaseTime,
      kept: book.leases.get(KEY) === held,
    };
  };

  test("INIT-REBOOT (a CPE restarting) 600 s into a 3600 s lease: ACK for the 3000 s left, T1/T2 from them, nothing written, history recorded", async () => {
    expect(await run({ left: 3000 })).toEqual({
      type: MessageType.ACK, reused: true, note: "init-reboot: lease reused, 3000 s left, not written",
      times: [3000, 1500, 2625], written: 0, history: ["ack"], historyLeaseTime: 3000, kept: true,
    });
  });

  test("SELECTING after our OFFER, relayed with the same Option 82: reused", async () => {
    expect(await run({ left: 3000, state: "selecting", rai: true })).toMatchObject({ reused: true, times: [3000, 1500, 2625], written: 0, kept: true });
  });

  test("at the threshold and past it: written with the full lease time", async () => {
    // 25% used: 2700 left still reused; 2699 left is past it
    expect(await run({ left: 2700 })).toMatchObject({ reused: true, times: [2700, 1350, 2362], written: 0 });
    expect(await run({ left: 2699 })).toMatchObject({ reused: false, times: [LEASE_TIME, 1800, 3150], written: 1, history: ["ack"] });
    // a renewal at T1 has used half its lease; any renewal (ciaddr) writes, which keeps the outage grace from its time
    expect(await run({ left: 1800, state: "renewing" })).toMatchObject({ reused: false, times: [LEASE_TIME, 1800, 3150], written: 1 });
    expect(await run({ left: 3500, state: "renewing" })).toMatchObject({ reused: false, times: [LEASE_TIME, 1800, 3150], written: 1 });
  });

  test("0 turns it off: every ACK writes", async () => {
    expect(await run({ left: 3500, percent: 0 })).toMatchObject({ reused: false, times: [LEASE_TIME, 1800, 3150], written: 1, kept: false });
  });

  test("anything the lease would change is written: the answer, the Option 82, the relay, the host name, a lease longer than the lease time now", async () => {
    expect(await run({ left: 3000, answer: { ...ANSWER, router: "198.18.5.2" } })).toMatchObject({ reused: false, written: 1 });
    expect(await run({ left: 3000, answer: { ...ANSWER, dns: ["198.18.0.54"] } })).toMatchObject({ reused: false, written: 1 });
    expect(await run({ left: 3000, rai: true, held: { option82: "0102" } })).toMatchObject({ reused: false, written: 1 });
    expect(await run({ left: 3000, rai: true, held: { relay: "198.18.20.2" } })).toMatchObject({ reused: false, written: 1 });
    expect(await run({ left: 3000, held: { hostname: "cpe-1" }, hostname: "cpe-2" })).toMatchObject({ reused: false, written: 1 });
    expect(await run({ left: 3000, held: { hostname: "cpe-1" }, hostname: "cpe-1" })).toMatchObject({ reused: true, written: 0 });
    expect(await run({ left: 3000, held: { hostname: "cpe-1" } })).toMatchObject({ reused: true, written: 0 });
    expect(await run({ left: 3000, answer: { ...ANSWER, leaseTime: 1800 } })).toMatchObject({ reused: false, times: [1800, 900, 1575], written: 1 });
    expect(await run({ left: 3000, held: { state: "offered" } })).toMatchObject({ reused: false, written: 1 });
    expect(await run({ left: 3000, held: { ip: "198.18.5.11" } })).toMatchObject({ type: MessageType.ACK, reused: false, written: 1 });
  });

  test("the same answer parsed back (another key order) is the same lease", async () => {
    const reordered = { options: ANSWER.options, dns: ANSWER.dns, router: ANSWER.router, mask: ANSWER.mask, ip: ANSWER.ip } as Answer;
    expect(await run({ left: 3000, answer: reordered })).toMatchObject({ reused: true, written: 0 });
  });
});
