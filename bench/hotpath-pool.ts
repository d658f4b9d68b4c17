/**
 * bench/hotpath.ts for the pool path: the same decode -> respond -> encode
 * loop, with 10,000 clients nobody knows (the subscriber lookup misses)
 * drawing from a /16 pool through `select 'guest' as pool`. Each exchange
 * is a DISCOVER and the REQUEST for the offered address; later runs are
 * returning clients (affinity, renewals), as in perfdhcp's -R 10000.
 * Prints exchanges per second (median of 5 runs) and CPU per exchange.
 *
 *   bun bench/hotpath-pool.ts [exchanges-per-run=50000] [--inflight N] [--mysql SOCKET] [--runs N]
 *
 * SQLite file in WAL mode by default, one exchange at a time unless
 * --inflight says more. --mysql runs the same on a MariaDB reached by its
 * unix socket as root (a throwaway database is created and dropped) with
 * the benchmark's sizing (64 in flight, 4 connections); on a server nobody
 * else uses it also prints the server's own counters per exchange
 * (statements, commits, log fsyncs) and its CPU.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scratchMysql } from "./support/scratch-mysql.ts";
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

const args = process.argv.slice(2);
function flag(name: string): string | null {
  const i = args.indexOf(name);
  if (i < 0) return null;
  const v = args[i + 1] ?? "";
  args.splice(i, 2);
  return v;
}
const socket = flag("--mysql");
const INFLIGHT = Number(flag("--inflight") ?? (socket ? 64 : 1));
const RUNS = Number(flag("--runs") ?? 5);
const N = Number(args[0] ?? 50_000);
const CLIENTS = 10_000;
const dir = mkdtempSync(join(tmpdir(), "pydhcp-hotpath-pool-"));
const dbName = `hotpath_pool_${process.pid}`;

const scratch = socket ? await scratchMysql(socket, dbName) : null;
const root = scratch?.root ?? null;
const database = socket
  ? scratch!.configXml(4)
  : `<sqlite><path>${dir}/h.db</path></sqlite>`;
const xml = `<?xml version="1.0"?>
<config>
  <dhcpserver><host>127.0.0.1</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>${INFLIGHT}</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.19.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database>${database}</database>
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
// as the service does: lease memory is written in batches every 100 ms
const leaseTimer = setInterval(() => void leases.flush().catch(() => {}), 100);
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
  let next = 0;
  // INFLIGHT exchanges at a time; a client is never in two at once (CLIENTS >> INFLIGHT)
  const worker = async () => {
    for (let k = next++; k < N; k = next++) await exchange(k % CLIENTS);
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  const s = (performance.now() - t0) / 1000;
  await leases.flush();
  await history.flush();
  return N / s;
}

/** The database server's counters (a server nobody else uses: they are all ours). */
const COUNTERS = ["Questions", "Com_stmt_execute", "Com_select", "Com_update", "Com_insert", "Com_begin", "Com_commit", "Handler_commit", "Created_tmp_tables", "Handler_write", "Innodb_data_fsyncs", "Innodb_log_writes"];
async function counters(): Promise<Map<string, number>> {
  if (!root) return new Map();
  const [rows] = await root.query("SHOW GLOBAL STATUS");
  const m = new Map<string, number>();
  for (const r of rows as { Variable_name: string; Value: string }[]) if (COUNTERS.includes(r.Variable_name)) m.set(r.Variable_name, Number(r.Value));
  return m;
}
function serverCpuMs(): number {
  if (!root) return 0;
  const pid = readFileSync(join(socket!, "..", "mysqld.pid"), "utf8").trim();
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const hasPid = (() => {
  try {
    return root !== null && serverCpuMs() >= 0;
  } catch {
    return false;
  }
})();

/** performance_schema's prepared statements (on a server started with it on), executions and rows per statement text. */
async function stmts(): Promise<Map<string, { n: number; ex: number; aff: number }>> {
  const m = new Map<string, { n: number; ex: number; aff: number }>();
  if (!root) return m;
  const [on] = await root.query("SELECT @@performance_schema AS p");
  if (Number((on as { p: number }[])[0]?.p) !== 1) return m;
  const [rows] = await root.query(
    "SELECT SQL_TEXT AS t, SUM(COUNT_EXECUTE) AS n, SUM(SUM_ROWS_EXAMINED) AS ex, SUM(SUM_ROWS_AFFECTED) AS aff FROM performance_schema.prepared_statements_instances GROUP BY SQL_TEXT",
  );
  for (const r of rows as { t: string; n: string; ex: string; aff: string }[]) {
    m.set(String(r.t).replace(/\s+/g, " ").trim(), { n: Number(r.n), ex: Number(r.ex), aff: Number(r.aff) });
  }
  return m;
}

const stFirst0 = await stmts();
const firstRate = await run(); // warm-up: the first 10,000 are new clients
const c0 = await counters();
const st0 = await stmts();
const db0 = hasPid ? serverCpuMs() : 0;
const cpu0 = process.cpuUsage();
const rates: number[] = [];
for (let r = 0; r < RUNS; r++) rates.push(await run());
const cpu = process.cpuUsage(cpu0);
const dbMs = hasPid ? serverCpuMs() - db0 : 0;
const c1 = await counters();
const st1 = await stmts();
rates.sort((a, b) => a - b);
const rows = (await backend.internal("count", "SELECT COUNT(*) AS n, COUNT(DISTINCT ip) AS d FROM pydhcp_pool_lease", [])).rows[0]!;
const total = RUNS * N;
console.log(`pool hot path, no network: ${N} DORA exchanges per run, ${CLIENTS} unknown clients, /16 pool, ${socket ? "MariaDB" : "SQLite"}, ${INFLIGHT} in flight, history and leases on`);
console.log(`  first run (new clients) ${Math.round(firstRate).toLocaleString("en-US")} exchanges/s`);
console.log(`  median ${Math.round(rates[Math.floor(RUNS / 2)]!).toLocaleString("en-US")} exchanges/s; runs ${rates.map((r) => Math.round(r)).join(", ")}`);
console.log(`  CPU ${(((cpu.user + cpu.system) / 1000) / total).toFixed(3)} ms per exchange (user+system over all runs)`);
if (root) {
  if (hasPid) console.log(`  database server CPU ${(dbMs / total).toFixed(3)} ms per exchange`);
  console.log(`  per exchange: ${COUNTERS.map((k) => `${k} ${(((c1.get(k) ?? 0) - (c0.get(k) ?? 0)) / total).toFixed(2)}`).join(", ")}`);
}
/** A statement's kind: its verb and table (the grouped and padded sizes of one statement count as one kind). */
function kind(t: string): string {
  const u = t.toLowerCase();
  const verb = u.startsWith("select 0 as __pydhcp_slot") ? "grouped select" : u.split(" ")[0]!;
  const table = /(?:from|into|update)\s+([a-z_]+)/.exec(u)?.[1] ?? "-";
  if (table === "pydhcp_pool_lease" && verb === "select") return `select pydhcp_pool_lease ${u.includes("client_key in") ? "mine (grouped)" : u.includes("client_key =") ? "mine" : u.includes("between") ? "scan" : u.includes("ipnum =") ? "row" : u.includes("ipnum in") ? "insert check" : u.includes("count(") ? "count" : "other"}`;
  if (table === "pydhcp_pool_lease" && verb === "update") return `update pydhcp_pool_lease ${u.includes("case ipnum") ? "renew (grouped)" : u.includes("expires <") ? "take over" : "renew/other"}`;
  if (verb === "grouped select" || (verb === "select" && !u.includes("pydhcp_"))) return `${verb} (offer chain) ${u.includes("users") ? "users" : "constant"}`;
  return `${verb} ${table}`;
}
function report(label: string, st0: Map<string, { n: number; ex: number; aff: number }>, st1: Map<string, { n: number; ex: number; aff: number }>, total: number): void {
  if (!st1.size) return;
  const byKind = new Map<string, { n: number; ex: number; aff: number }>();
  for (const [t, b] of st1) {
    const a = st0.get(t) ?? { n: 0, ex: 0, aff: 0 };
    const k = kind(t);
    const x = byKind.get(k) ?? { n: 0, ex: 0, aff: 0 };
    x.n += b.n - a.n;
    x.ex += b.ex - a.ex;
    x.aff += b.aff - a.aff;
    byKind.set(k, x);
  }
  let sum = 0;
  console.log(`  ${label}: prepared statements per exchange by kind (executions, rows examined, rows affected, per exchange):`);
  for (const [k, x] of [...byKind].sort((p, q) => q[1].n - p[1].n)) {
    if (x.n <= 0) continue;
    sum += x.n;
    console.log(`    ${(x.n / total).toFixed(3).padStart(7)} ${(x.ex / total).toFixed(2).padStart(7)} ${(x.aff / total).toFixed(2).padStart(7)}  ${k}`);
  }
  console.log(`    ${(sum / total).toFixed(3).padStart(7)}  all`);
}
report("first run (new clients)", stFirst0, st0, N);
report("later runs (returning clients)", st0, st1, total);
console.log(`  pool rows ${rows.n}, distinct addresses ${rows.d}`);
clearInterval(leaseTimer);
await history.close();
await backend.close();
await scratch?.drop();
rmSync(dir, { recursive: true, force: true });
