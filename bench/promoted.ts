/**
 * Old-generation garbage per exchange: what the packet path keeps alive long
 * enough to be promoted by an eden collection and then drops, so that only a
 * full collection frees it. Same exchanges as bench/alloc.ts, run with
 * event-loop turns and lease memory flushed every 100 ms as the server does.
 * Measured as the growth of heapStats() between two forced eden collections
 * with N exchanges between them (no full collection may run in between: the
 * run is refused if the object count drops).
 *
 *   bun bench/promoted.ts [exchanges=6000] [runs=5] [--ttl S] [--no-history]
 */
import { edenGC, fullGC, heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../src/codec/decode.ts";
import { parseConfig } from "../src/config/load.ts";
import { openBackend } from "../src/db/open.ts";
import { createLogger } from "../src/log/logger.ts";
import { respond } from "../src/core/respond.ts";
import type { Request } from "../src/core/exchange.ts";
import { macHex } from "../src/core/lease.ts";
import { parseRelayAgentInfo } from "../src/option82/parse.ts";
import { HistoryWriter } from "../src/server/history.ts";
import { recordExchange } from "../src/server/history-event.ts";
import { ExchangeLog } from "../src/server/exchange-log.ts";
import { LeaseMemory } from "../src/server/leases.ts";
import { AnswerCache } from "../src/server/answer-cache.ts";
import { RateLimiter } from "../src/server/ratelimit.ts";
import { toHex } from "../src/codec/hex.ts";
import { buildRuntime } from "../src/server/runtime.ts";
import { buildRequest, ip } from "../test/support/client.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const positional = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && (args[i - 1] === "--ttl" || args[i - 1] === "--rate")));
const N = Number(positional[0] ?? 6000);
const RUNS = Number(positional[1] ?? 5);
const TTL = opt("--ttl", 5);
const RATE = opt("--rate", 6400);
/** simulated milliseconds: exchange k happens at k / RATE seconds */
let simMs = 1_000_000;
const HISTORY = !flag("--no-history");
const USERS = 10_000;
const PORTS = 48;
const dir = mkdtempSync(join(tmpdir(), "pydhcp-promoted-"));
const xml = `<?xml version="1.0"?>
<config>
  <dhcpserver><host>127.0.0.1</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>16</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database><sqlite><path>${dir}/h.db</path></sqlite></database>
  <log><level>info</level></log>
  <options>
    <option>option_82_hex:sw_port1:20:22</option>
    <option>option_82_hex:sw_port2:16:18</option>
    <option>option_82_hex:sw_mac:26:40</option>
  </options>
  <query><offer_count>3</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac='{option_82_AgentRemoteId_hex}' and port='{option_82_AgentCircuitId_port_hex}'</offer_1>
    <offer_2>select ip,mask,router,dns from users where mac='{sw_mac}' and port='{sw_port2}'</offer_2>
    <offer_3>select ip,mask,router,dns from users where mac='{ClientMacAddress}'</offer_3>
    ${HISTORY ? "<history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>" : ""}
  </query>
  <answerCache><ttl>${TTL}</ttl></answerCache>
</config>`;
const parsed = parseConfig(xml, join(dir, "config.xml"));
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const config = parsed.config;
const quiet = createLogger({ level: "warn", format: "text" });
const dropped = { write() {}, flush() {} };
const lines = new ExchangeLog(createLogger({ level: "info", format: "text", out: dropped, err: dropped }));
const backend = await openBackend(config.database, quiet, 2000);
const leases = new LeaseMemory(backend.leases, quiet);
const history = new HistoryWriter(backend, { journalPath: join(dir, "journal"), fsync: config.historyFsync }, quiet);
const rt = await buildRuntime({ config, backend, leases, cache: new AnswerCache(config.answerCache, () => {}, () => simMs) });
const perMac = new RateLimiter(config.rateLimit.perMac);
const perCircuit = new RateLimiter(config.rateLimit.perCircuit);
history.start();
history.setStatements(rt.historyStatements);

const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const mac = (i: number) => "0c01" + i.toString(16).padStart(8, "0");
const switchMac = (i: number) => "001e58" + Math.floor(i / PORTS).toString(16).padStart(6, "0");
const port = (i: number) => (i % PORTS) + 1;
const addr = (i: number) => `198.18.${128 + (i >> 8)}.${i & 255}`;
{
  const { Database } = await import("bun:sqlite");
  const db = new Database(join(dir, "h.db"));
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '', '', '', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < USERS; i++) ins.run(addr(i), "0006" + switchMac(i), hex2(port(i)));
  })();
  db.close();
}
/** RFC 3046 option 82: circuit id 00 04 vlan(2) module port, remote id 00 06 switch MAC. */
const option82 = (i: number) =>
  Uint8Array.from(Buffer.from("0106" + "0004" + "0001" + "00" + hex2(port(i)) + "0208" + "0006" + switchMac(i), "hex"));
const common = (i: number): [number, Uint8Array][] => [
  [61, Uint8Array.from(Buffer.from("01" + mac(i), "hex"))],
  [12, new TextEncoder().encode(`host-${i}`)],
  [60, new TextEncoder().encode("udhcp 1.36.1")],
  [55, Uint8Array.of(1, 3, 6, 12, 15, 28, 42)],
];
const discovers = Array.from({ length: USERS }, (_, i) =>
  buildRequest({ type: 1, mac: mac(i), xid: i + 1, giaddr: "198.18.0.2", options: [...common(i), [82, option82(i)]] }),
);
const requests = Array.from({ length: USERS }, (_, i) =>
  buildRequest({ type: 3, mac: mac(i), xid: i + 1, giaddr: "198.18.0.2", options: [...common(i), [50, ip(addr(i))], [54, ip("198.18.0.1")], [82, option82(i)]] }),
);
const NO_SUBS = new Map<number, Uint8Array>();
async function packet(buf: Uint8Array): Promise<void> {
  const d = decode(buf);
  if (!d.ok) throw new Error(d.error.message);
  const msg = d.msg;
  const type = msg.options.get(53)![0]!;
  // the flood control server.ts runs before anything else
  if (!perMac.allow(macHex(msg), simMs)) throw new Error("rate-limited");
  // keyed as server.ts keys it (relay / circuit id), with the remote id in too: this setup's circuit ids repeat per switch
  const rai = msg.options.get(82);
  if (rai && !perCircuit.allow(msg.giaddr + "/" + toHex(rai), simMs)) throw new Error("rate-limited");
  const relay = rai ? parseRelayAgentInfo(rai) : undefined;
  const req: Request = { msg, type, size: buf.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() };
  if (relay) req.relay = relay;
  const ex = await respond(req, rt.deps);
  const o = ex.outcome;
  if (o.kind !== "reply") throw new Error(`no reply: ${o.reason} ${o.note}`);
  if (!ex.encoded?.ok || !ex.dest) throw new Error("not encoded");
  recordExchange(history, ex, config.server.leaseTime);
  const subs = relay && relay.ok ? relay.subs : NO_SUBS;
  lines.write("info", `${type === 1 ? "DISCOVER" : "REQUEST"} -> ${o.type === 2 ? "OFFER" : "ACK"} ${o.ip}`, msg, subs, o.query, `${ex.dest.address}:${ex.dest.port}`, undefined, performance.now() - req.arrived);
}

const flusher = setInterval(() => void leases.flush(), 100);
let next = 0;
async function run(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const i = next++ % USERS;
    simMs += 1000 / RATE;
    await packet(discovers[i]!);
    await packet(requests[i]!);
    // the server handles a burst of packets per event-loop turn
    if ((k & 31) === 31) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

await run(2 * USERS); // warm-up: JIT tiers, every subscriber's lease row exists
fullGC();
const bytes: number[] = [];
const perType = new Map<string, number[]>();
for (let r = 0; r < RUNS; r++) {
  await run(2000);
  edenGC();
  const a = heapStats();
  await run(N);
  edenGC();
  const b = heapStats();
  if (b.objectCount < a.objectCount) { r--; fullGC(); continue; }
  bytes.push((b.heapSize - a.heapSize) / N);
  for (const k of new Set([...Object.keys(a.objectTypeCounts), ...Object.keys(b.objectTypeCounts)])) {
    const v = ((b.objectTypeCounts[k] ?? 0) - (a.objectTypeCounts[k] ?? 0)) / N;
    (perType.get(k) ?? perType.set(k, []).get(k)!).push(v);
  }
  fullGC();
}
clearInterval(flusher);
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
console.log(`bun ${Bun.version}: ${N} relayed DORA exchanges per run, ${RUNS} runs, ${RATE}/s simulated, answer cache ttl ${TTL} s, history ${HISTORY ? "on" : "off"}`);
console.log(`  promoted garbage: median ${Math.round(med(bytes))} bytes per exchange (runs ${bytes.map((x) => Math.round(x)).join(", ")})`);
console.log(`  cells per exchange, median: ${[...perType].map(([k, v]) => [k, med(v)] as const).filter(([, v]) => Math.abs(v) >= 0.05).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`);
await leases.flush();
await history.flush();
await history.close();
await backend.close();
rmSync(dir, { recursive: true, force: true });
