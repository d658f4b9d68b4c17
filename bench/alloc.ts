/**
 * Heap allocated per DHCP exchange on the server's packet path, and the CPU
 * time that goes with it, without the network: relayed DISCOVER + REQUEST
 * with Option 82 (D-Link-style circuit and remote id), the reference
 * config's three <options> slices and offer queries (by remote id and port,
 * by slices, by MAC), SQLite with 10,000 subscribers, history_sql journaled
 * and written, lease memory, reply encode, the per-exchange INFO line
 * rendered (to a sink that drops it). Per packet it does what
 * server.ts does: decode, Option 82 parsed once, respond, history event
 * built and journaled, log line.
 *
 * Bytes are what JSC counts towards its next collection (what makes eden
 * collections happen): the run is repeated in a child with JSC's GC log on,
 * and every "bytes allocated this cycle" after a forced collection is
 * summed. The exchanges run without an event-loop turn (so no timer-driven
 * collection resets the count unlogged); the last, partial cycle is then
 * filled with arrays of a size measured the same way until it is collected,
 * and the filler taken off. The history writer's database batches run
 * after that, outside the count: they are off the packet path.
 *
 *   bun bench/alloc.ts [exchanges=20000] [runs=3]
 */
import { heapSize } from "bun:jsc";
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
import { buildRuntime } from "../src/server/runtime.ts";
import { buildRequest, ip } from "../test/support/client.ts";

const N = Number(process.argv[2] ?? 20_000);
const RUNS = Number(process.argv[3] ?? 3);
const CHILD = process.env.PYDHCP_ALLOC_CHILD === "1";

if (!CHILD) {
  // parent: bytes from a child with the GC log, time in a child without it
  const bytes: number[] = [];
  const gcs: number[] = [];
  const us: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const logged = Bun.spawnSync([process.execPath, import.meta.path, String(N), "1"], {
      env: { ...process.env, PYDHCP_ALLOC_CHILD: "1", BUN_JSC_logGC: "1" },
      stderr: "pipe",
      stdout: "pipe",
    });
    const text = logged.stderr.toString();
    const cyclesIn = (from: string, to: string) => {
      const a = text.indexOf(from);
      const b = text.indexOf(to, a);
      if (a < 0 || b < 0) throw new Error(`child failed: ${text.slice(-2000)} ${logged.stdout.toString()}`);
      return [...text.slice(a, b).matchAll(/bytes allocated this cycle: (\d+)/g)].map((m) => Number(m[1]));
    };
    const number = (tag: string) => Number(new RegExp(`@@${tag} (\\d+)`).exec(text)![1]);
    const fill = cyclesIn("@@fill", "@@filled");
    if (fill.length !== 1) throw new Error(`filler: ${fill.length} collections`);
    const perFill = fill[0]! / number("filled");
    const loop = cyclesIn("@@begin", "@@tail");
    const sum = loop.reduce((x, y) => x + y, 0) - number("tail") * perFill;
    bytes.push(sum / N);
    gcs.push(loop.length - 1);
    const timed = Bun.spawnSync([process.execPath, import.meta.path, String(N), "1"], {
      env: { ...process.env, PYDHCP_ALLOC_CHILD: "1" },
      stderr: "pipe",
      stdout: "pipe",
    });
    const t = /@@us ([\d.]+) ([\d.]+)/.exec(timed.stderr.toString());
    if (!t) throw new Error(`timed child failed: ${timed.stderr.toString().slice(-2000)}`);
    us.push(Number(t[1]));
    cpu.push(Number(t[2]));
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  console.log(`bun ${Bun.version}: ${N} relayed DORA exchanges (2 packets each) per run, ${RUNS} runs`);
  console.log(`  bytes/exchange  median ${Math.round(med(bytes))}  runs ${bytes.map((x) => Math.round(x)).join(", ")}  (eden collections per run ${gcs.join(", ")})`);
  console.log(`  µs/exchange     median ${med(us).toFixed(2)}  runs ${us.map((x) => x.toFixed(2)).join(", ")}  (wall clock)`);
  console.log(`  CPU µs/exchange median ${med(cpu).toFixed(2)}  runs ${cpu.map((x) => x.toFixed(2)).join(", ")}  (user + system, all threads)`);
  process.exit(0);
}

const USERS = 10_000;
const PORTS = 48;
const dir = mkdtempSync(join(tmpdir(), "pydhcp-alloc-"));
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
    <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>
  </query>
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
const rt = await buildRuntime({ config, backend, leases });
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
  macHex(msg); // the per-MAC rate limit's key
  const rai = msg.options.get(82);
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

async function run(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const i = k % USERS;
    await packet(discovers[i]!);
    await packet(requests[i]!);
  }
}

/** A collection ran when heapSize() changes; in a loop of plain arrays nothing else changes it. */
let filler: unknown = null;
function fillUntilCollected(): number {
  const h0 = heapSize();
  let k = 0;
  while (heapSize() === h0) {
    for (let j = 0; j < 64; j++) filler = [k, j, k, j];
    k += 64;
  }
  return k;
}

await run(Math.min(N, USERS)); // warm-up: JIT tiers, every subscriber's lease row exists
await leases.flush();
await history.flush();
// the filler's size: from a fresh cycle to the collection it asks for
fillUntilCollected();
Bun.gc(true);
console.error("@@fill");
console.error(`@@filled ${fillUntilCollected()}`);
Bun.gc(true);
console.error("@@begin");
const t0 = performance.now();
const c0 = process.cpuUsage();
// no event-loop turn in here: every collection is one the allocations asked for, and logged
for (let k = 0; k < N; k++) {
  const i = k % USERS;
  await packet(discovers[i]!);
  await packet(requests[i]!);
}
const c1 = process.cpuUsage(c0);
const us = ((performance.now() - t0) * 1000) / N;
// the partial last cycle: filled up until it is collected, the filler then taken off
console.error(`@@tail ${fillUntilCollected()}`);
await leases.flush();
await history.flush();
console.error("@@end");
console.error(`@@us ${us.toFixed(3)} ${((c1.user + c1.system) / N).toFixed(3)}`);
await history.close();
await backend.close();
rmSync(dir, { recursive: true, force: true });
