/**
 * bench/hotpath.ts for the pool path: the same decode -> respond -> encode
 * loop, with 10,000 clients nobody knows (the subscriber lookup misses)
 * drawing from a /16 pool through `select 'guest' as pool`, SQLite file in
 * WAL mode. Each exchange is a DISCOVER and the REQUEST for the offered
 * address; later runs are returning clients (affinity, renewals), as in
 * perfdhcp's -R 10000. Prints exchanges per second (median of 5 runs) and
 * the same for the reserved path's config without pools, for comparison.
 *
 *   bun bench/hotpath-pool.ts [exchanges-per-run=50000]
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
import { buildRuntime } from "../src/server/runtime.ts";
import { buildRequest, ip } from "../test/support/client.ts";

const N = Number(process.argv[2] ?? 50_000);
const CLIENTS = 10_000;
const dir = mkdtempSync(join(tmpdir(), "pydhcp-hotpath-pool-"));
const xml = `<?xml version="1.0"?>
<config>
  <dhcpserver><host>127.0.0.1</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>16</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.19.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database><sqlite><path>${dir}/h.db</path></sqlite></database>
  <log><level>warn</level></log>
  <query><offer_count>2</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac='{ClientMacAddress}'</offer_1>
    <offer_2>select 'guest' as pool</offer_2>
    <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>
  </query>
  <pools><pool name="guest"><range>198.19.0.10-198.19.255.250</range><mask>255.255.0.0</mask><router>198.19.0.1</router></pool></pools>
</config>`;
const parsed = parseConfig(xml, join(dir, "config.xml"));
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const config = parsed.config;
const log = createLogger({ level: "warn", format: "text" });
const backend = await openBackend(config.database, log, 2000);
const leases = new LeaseMemory(backend.leases, log);
const history = new HistoryWriter(backend, { journalPath: join(dir, "journal"), fsync: config.historyFsync }, log);
const rt = await buildRuntime({ config, backend, leases, log });
history.start();
history.setStatements(rt.historyStatements);
const mac = (i: number) => "0c02" + i.toString(16).padStart(8, "0");
const PRL: [number, Uint8Array] = [55, Uint8Array.of(1, 3, 6, 15)];
let xid = 1;

async function one(buf: Uint8Array) {
  const d = decode(buf);
  if (!d.ok) throw new Error(d.error.message);
  const ex = await respond({ msg: d.msg, type: d.msg.options.get(53)![0]!, size: buf.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() }, rt.deps);
  const o = ex.outcome;
  if (o.kind !== "reply") throw new Error(`no reply: ${o.reason} ${o.note}`);
  if (!ex.encoded?.ok) throw new Error("not encoded");
  // as the server does: the Exchange's history event journaled before the reply
  recordExchange(history, ex, config.server.leaseTime);
  return o;
}

async function exchange(i: number): Promise<void> {
  const x = xid++;
  const offer = await one(buildRequest({ type: 1, mac: mac(i), xid: x, giaddr: "198.18.0.2", options: [PRL] }));
  const yi = offer.ip!;
  await one(buildRequest({ type: 3, mac: mac(i), xid: x, giaddr: "198.18.0.2", options: [[50, ip(yi)], [54, ip("198.18.0.1")], PRL] }));
}

async function run(): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < N; k++) await exchange(k % CLIENTS);
  const s = (performance.now() - t0) / 1000;
  await leases.flush();
  await history.flush();
  return N / s;
}

const cpu0 = process.cpuUsage();
await run(); // warm-up: the first 10,000 are new clients
const rates: number[] = [];
for (let r = 0; r < 5; r++) rates.push(await run());
const cpu = process.cpuUsage(cpu0);
rates.sort((a, b) => a - b);
const rows = (await backend.internal("count", "SELECT COUNT(*) AS n, COUNT(DISTINCT ip) AS d FROM pydhcp_pool_lease", [])).rows[0]!;
console.log(`pool hot path, no network: ${N} DORA exchanges per run, ${CLIENTS} unknown clients, /16 pool, SQLite, history and leases on`);
console.log(`  median ${Math.round(rates[2]!).toLocaleString("en-US")} exchanges/s; runs ${rates.map((r) => Math.round(r)).join(", ")}`);
console.log(`  CPU ${(((cpu.user + cpu.system) / 1000) / (6 * N)).toFixed(3)} ms per exchange (user+system over all runs)`);
console.log(`  pool rows ${rows.n}, distinct addresses ${rows.d}`);
await history.close();
await backend.close();
rmSync(dir, { recursive: true, force: true });
