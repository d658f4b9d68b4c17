/**
 * The pool scenario on loopback, for quick A/B checks between full
 * benchmark runs: pydhcp as a process on 127.0.0.1 (a free port, replies to
 * this driver's port), 10,000 clients nobody knows drawing from a /16 pool
 * through `select 'guest' as pool`, closed loop: `--window` clients in an
 * exchange at a time, each DISCOVER -> OFFER -> REQUEST -> ACK, the next
 * client as soon as one finishes. The first 10,000 exchanges (new clients)
 * are a warm-up; then it measures `--seconds` of returning clients and
 * prints DORA/s and the server's CPU (and with --mysql the database
 * server's, read from its pid file) per DORA. The driver shares the cores.
 *
 *   bun bench/loopback-pool.ts [--mysql SOCKET] [--threads N] [--window N] [--seconds S]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scratchMysql } from "./support/scratch-mysql.ts";
import { openUdp } from "../test/support/udp.ts";
import { decode } from "../src/codec/decode.ts";
import { buildRequest, ip } from "../test/support/client.ts";
import { freeTcpPort, freeUdpPort } from "../test/support/ports.ts";
import { startServer } from "../test/support/server.ts";

const args = process.argv.slice(2);
function flag(name: string, dflt: string | null): string | null {
  const i = args.indexOf(name);
  return i < 0 ? dflt : (args[i + 1] ?? "");
}
const socket = flag("--mysql", null);
const THREADS = Number(flag("--threads", socket ? "64" : "1"));
const WINDOW = Number(flag("--window", "64"));
const SECONDS = Number(flag("--seconds", "10"));
const CLIENTS = 10_000;
const dir = mkdtempSync(join(tmpdir(), "pydhcp-loopback-pool-"));
const dbName = `loopback_pool_${process.pid}`;

const scratch = socket ? await scratchMysql(socket, dbName) : null;

const sock = await openUdp({ onData: (buf) => onReply(buf) });
const port = await freeUdpPort();
const database = socket
  ? scratch!.configXml(4)
  : `<sqlite><path>${dir}/pool.sqlite</path></sqlite>`;
const metricsPort = freeTcpPort();
const server = await startServer({
  dir,
  // at level warn nothing says "listening": /metrics answering says it
  ready: null,
  config: `<?xml version="1.0" ?>
<config>
  <dhcpserver><host>127.0.0.1</host><port>${port}</port><clientPort>${sock.port}</clientPort><broadcast>127.0.0.1</broadcast>
    <DHCPServer>198.18.0.1</DHCPServer><LeaseTime>86400</LeaseTime><ThreadLimit>${THREADS}</ThreadLimit>
    <defaultMask>255.255.0.0</defaultMask><defaultRouter>198.19.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database>${database}</database>
  <query><offer_count>2</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac=&apos;{ClientMacAddress}&apos;</offer_1>
    <offer_2>select &apos;guest&apos; as pool</offer_2>
    <history_sql>insert into history (dt,mac,ip,comment) values (now(),&apos;{ClientMacAddress}&apos;,&apos;{RequestedIpAddress}&apos;,&apos;DHCPACK/INFORM&apos;)</history_sql>
  </query>
  <history><spool>${dir}/history.spool</spool></history>
  <metrics><host>127.0.0.1</host><port>${metricsPort}</port></metrics>
  <rateLimit><perMac>0</perMac><perCircuit>0</perCircuit></rateLimit>
  <log><level>warn</level></log>
  <pools><pool name="guest"><range>198.19.0.10-198.19.255.250</range><mask>255.255.0.0</mask><router>198.19.0.1</router></pool></pools>
</config>`,
});

for (let i = 0; ; i++) {
  if (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.ok, () => false)) break;
  if (i > 200) throw new Error(`pydhcp did not start:\n${server.output()}`);
  await Bun.sleep(100);
}

const PRL: [number, Uint8Array] = [55, Uint8Array.of(1, 3, 6, 15)];
const mac = (i: number) => "0c02" + i.toString(16).padStart(8, "0");
/** xid -> the exchange waiting for its reply */
const waiting = new Map<number, { client: number; sent: number; phase: 1 | 3 }>();
let nextClient = 0;
let nextXid = 1;
let done = 0;
let lost = 0;

function start(): void {
  const client = nextClient++ % CLIENTS;
  const xid = nextXid++;
  waiting.set(xid, { client, sent: performance.now(), phase: 1 });
  sock.send(buildRequest({ type: 1, mac: mac(client), xid, options: [PRL] }), port, "127.0.0.1");
}

function onReply(buf: Uint8Array): void {
  const d = decode(buf);
  if (!d.ok) return;
  const w = waiting.get(d.msg.xid);
  if (!w) return;
  const t = d.msg.options.get(53)?.[0];
  if (w.phase === 1 && t === 2) {
    w.phase = 3;
    w.sent = performance.now();
    sock.send(buildRequest({ type: 3, mac: mac(w.client), xid: d.msg.xid, options: [[50, ip(d.msg.yiaddr)], [54, ip("198.18.0.1")], PRL] }), port, "127.0.0.1");
    return;
  }
  waiting.delete(d.msg.xid);
  if (w.phase === 3 && t === 5) done++;
  else lost++;
  start();
}

// an exchange with no reply for a second is lost; its slot starts another
const sweeper = setInterval(() => {
  const now = performance.now();
  for (const [x, w] of waiting) {
    if (now - w.sent < 1000) continue;
    waiting.delete(x);
    lost++;
    start();
  }
}, 100);

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const dbPid = socket ? Number(readFileSync(join(socket, "..", "mysqld.pid"), "utf8").trim()) : 0;

for (let i = 0; i < WINDOW; i++) start();
while (done < CLIENTS) await Bun.sleep(50);
const d0 = done;
const l0 = lost;
const s0 = cpuMs(server.proc.pid);
const m0 = dbPid ? cpuMs(dbPid) : 0;
const t0 = performance.now();
await Bun.sleep(SECONDS * 1000);
const n = done - d0;
const secs = (performance.now() - t0) / 1000;
const sMs = cpuMs(server.proc.pid) - s0;
const mMs = dbPid ? cpuMs(dbPid) - m0 : 0;
console.log(
  `loopback pool, ${socket ? "MariaDB" : "SQLite"}, ThreadLimit ${THREADS}, window ${WINDOW}: ${Math.round(n / secs).toLocaleString("en-US")} DORA/s, lost ${lost - l0}; ` +
    `server CPU ${(sMs / n).toFixed(3)} ms/DORA (${Math.round((sMs / 10 / secs))}%)${dbPid ? `, database CPU ${(mMs / n).toFixed(3)} ms/DORA (${Math.round(mMs / 10 / secs)}%)` : ""}`,
);
clearInterval(sweeper);
sock.close();
await server.close();
await scratch?.drop();
rmSync(dir, { recursive: true, force: true });
