/**
 * The server's hot path without the network: decode -> variables -> offer
 * chain (SQLite in memory, 10,000 subscribers, pydhcpdb's query by MAC) ->
 * lease memory -> reply build -> encode, for DISCOVER and the REQUEST that
 * follows, with history journaled as in service. Prints exchanges per second
 * (median of 5 runs) and the per-stage cost measured in the same run.
 *
 *   bun bench/hotpath.ts [exchanges-per-run=50000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../src/codec/decode.ts";
import { parseConfig } from "../src/config/load.ts";
import { openBackend } from "../src/db/open.ts";
import { createLogger } from "../src/log/logger.ts";
import { respond } from "../src/core/respond.ts";
import { HistoryWriter } from "../src/server/history.ts";
import { recordExchange } from "../src/server/history-event.ts";
import { LeaseMemory } from "../src/server/leases.ts";
import { ExchangeRing, ringEntry } from "../src/server/exchange-ring.ts";
import { buildRuntime } from "../src/server/runtime.ts";
import { extractVariables } from "../src/variables/extract.ts";
import { buildRequest, ip } from "../test/support/client.ts";

const N = Number(process.argv[2] ?? 50_000);
const USERS = 10_000;
const dir = mkdtempSync(join(tmpdir(), "pydhcp-hotpath-"));
const xml = `<?xml version="1.0"?>
<config>
  <dhcpserver><host>127.0.0.1</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>16</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database><sqlite><path>${dir}/h.db</path></sqlite></database>
  <log><level>warn</level></log>
  <query><offer_count>1</offer_count>
    <offer_1>select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')</offer_1>
    <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>
  </query>
</config>`;
const parsed = parseConfig(xml, join(dir, "config.xml"));
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const config = parsed.config;
const log = createLogger({ level: "warn", format: "text" });
const backend = await openBackend(config.database, log, 2000);
const leases = new LeaseMemory(backend.leases, log);
const history = new HistoryWriter(backend, { journalPath: join(dir, "journal"), fsync: config.historyFsync }, log);
const rt = await buildRuntime({ config, backend, leases });
history.start();
history.setStatements(rt.historyStatements);
const mac = (i: number) => "0c01" + i.toString(16).padStart(8, "0");
const addr = (i: number) => `198.18.${128 + (i >> 8)}.${i & 255}`;
{
  const { Database } = await import("bun:sqlite");
  const db = new Database(join(dir, "h.db"));
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '', '', '', ?, '')");
  db.transaction(() => {
    for (let i = 0; i < USERS; i++) ins.run(addr(i), mac(i));
  })();
  db.close();
}
const discovers = Array.from({ length: USERS }, (_, i) => buildRequest({ type: 1, mac: mac(i), xid: i + 1, giaddr: "198.18.0.2", options: [[55, Uint8Array.of(1, 3, 6, 15)]] }));
const requests = Array.from({ length: USERS }, (_, i) =>
  buildRequest({ type: 3, mac: mac(i), xid: i + 1, giaddr: "198.18.0.2", options: [[50, ip(addr(i))], [54, ip("198.18.0.1")], [55, Uint8Array.of(1, 3, 6, 15)]] }),
);

async function exchange(i: number): Promise<void> {
  for (const buf of [discovers[i]!, requests[i]!]) {
    const d = decode(buf);
    if (!d.ok) throw new Error(d.error.message);
    const ex = await respond({ msg: d.msg, type: d.msg.options.get(53)![0]!, size: buf.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() }, rt.deps);
    const o = ex.outcome;
    if (o.kind !== "reply") throw new Error(`no reply: ${o.reason} ${o.note}`);
    if (!ex.encoded?.ok) throw new Error("not encoded");
    // as the server does: the Exchange's history event journaled before the reply
    recordExchange(history, ex, config.server.leaseTime);
  }
}

async function run(): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < N; k++) await exchange(k % USERS);
  const s = (performance.now() - t0) / 1000;
  await leases.flush();
  await history.flush();
  return N / s;
}

function stage(name: string, f: () => void, n = 200_000): [string, number] {
  const t0 = performance.now();
  for (let k = 0; k < n; k++) f();
  return [name, ((performance.now() - t0) * 1000) / n];
}

await run(); // warm-up
const rates: number[] = [];
for (let r = 0; r < 5; r++) rates.push(await run());
rates.sort((a, b) => a - b);
const sample = decode(discovers[7]!);
if (!sample.ok) throw new Error("decode");
const vars = rt.variables(sample.msg);
const offer = rt.offers[0]!;
// with <metrics> every exchange is also kept in the ring the HTTP API reads (a copy, detached from the receive buffer)
const ring = new ExchangeRing();
const sampleEx = await respond({ msg: sample.msg, type: 1, size: discovers[7]!.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() }, rt.deps);
const stages = [
  stage("decode", () => decode(discovers[7]!)),
  // PacketVars: what a query reads is computed when it reads it; this is the map and the slices
  stage("variables (lazy) + slices", () => rt.variables(sample.msg)),
  stage("variables + offer_1's names", () => offer.template.bind(rt.variables(sample.msg))),
  stage("extract only", () => extractVariables(sample.msg)),
  stage("template bind", () => offer.template.bind(vars)),
  stage("SQLite offer query", () => void offer.query.run(offer.template.bind(vars)), 50_000),
  stage("exchange ring (with <metrics>)", () => ring.push(ringEntry(sampleEx, discovers[7]!, rt, 0)), 50_000),
];
console.log(`hot path, no network: ${N} DORA exchanges per run, ${USERS} subscribers, SQLite, history and leases on`);
console.log(`  median ${Math.round(rates[2]!).toLocaleString("en-US")} exchanges/s (${Math.round(rates[2]! * 2).toLocaleString("en-US")} packets/s); runs ${rates.map((r) => Math.round(r)).join(", ")}`);
for (const [name, us] of stages) console.log(`  ${name.padEnd(30)} ${us.toFixed(2)} µs`);
await history.close();
await backend.close();
rmSync(dir, { recursive: true, force: true });
