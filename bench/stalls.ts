/**
 * Tail latency and event-loop stalls under a fixed-rate DORA load on
 * loopback. Runs pydhcp from the sources (as contrib/pydhcp.service does:
 * its Environment= lines) with pydhcpdb's reference config after --check's
 * fixes (three offer queries by equality, an index on (mac, port), the
 * default log level: one INFO line per exchange, read from a pipe), 10,000
 * known clients, SQLite or MariaDB (a database made for the run and dropped
 * after it). A relay at 127.0.0.2 sends DISCOVERs at a fixed rate and the
 * REQUEST as soon as its OFFER is in; replies come back to the relay's port
 * (RFC 8357 relay-source-port in Option 82).
 *
 * Every client makes one exchange first, at up to 2,000/s, unmeasured (code
 * compiled, leases and caches filled, as the perf harness's lower steps
 * leave them). Prints the answered share, DISCOVER->OFFER and REQUEST->ACK p50/p99/max,
 * the server's CPU and the machine's CPU pressure (Linux PSI: on a shared
 * machine every percentile follows it), and the server's own event-loop lag
 * during the load (pydhcp_event_loop_lag_seconds, scraped from /metrics
 * before and after): ticks late by over 5, 10, 20, 50 ms, and the bucket of
 * the longest.
 *
 *   bun bench/stalls.ts [sqlite|mysql] [DORA-per-second=3000] [seconds=20, at most 30]
 *
 * PYDHCP_BUN_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp") is passed to bun
 * before the entry point; STALLS_METRICS=0 leaves <metrics> (and the
 * exchange ring it keeps) out; STALLS_ECHO=1 shows the server's stderr;
 * STALLS_BINARY=dist/pydhcp runs a built binary instead of the sources;
 * STALLS_RAM=bytes replaces the unit's BUN_JSC_forceRAMSize (the GC's idea
 * of the machine's memory, which sets how often it collects). The
 * statements line (pydhcp_query_duration_seconds) tells a slow database
 * from a stalled event loop.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { scratchMysql } from "./support/scratch-mysql.ts";
import { serviceEnvironment } from "./perf/pydhcp.ts";
import { buildRequest, ip } from "../test/support/client.ts";
import { freeTcpPort, freeUdpPort } from "../test/support/ports.ts";
import { openUdp } from "../test/support/udp.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const KIND = (process.argv[2] ?? "sqlite") as "sqlite" | "mysql";
const RATE = Number(process.argv[3] ?? 3000);
const SECONDS = Math.min(30, Number(process.argv[4] ?? 20));
const CLIENTS = 10_000;
const SOCKET = "/run/mysqld/mysqld.sock";
const RELAY = "127.0.0.2";
if (KIND !== "sqlite" && KIND !== "mysql") throw new Error("first argument: sqlite or mysql");

const mac = (i: number) => "000c01" + i.toString(16).padStart(6, "0");
const addr = (i: number) => `198.19.${1 + (i >> 8)}.${i & 255}`;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** pydhcpdb's three offers as `--check` rewrites them for lower-case data and an index on (mac, port) */
const OFFERS = [
  "select ip,mask,router,dns from users where mac='{option_82_AgentRemoteId_hex}' and port='{option_82_AgentCircuitId_port_hex}'",
  "select ip,mask,router,dns from users where mac='{sw_mac}' and port='{sw_port2}'",
  "select ip,mask,router,dns from users where mac='{ClientMacAddress}'",
];
const HISTORY = "insert into history (id,dt,mac,ip,comment) values (null,now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')";

function config(dir: string, port: number, metricsPort: number, database: string): string {
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host><port>${port}</port>
    <broadcast>127.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>8600</LeaseTime><ThreadLimit>64</ThreadLimit>
    <defaultMask>255.255.0.0</defaultMask><defaultRouter>198.19.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  ${database}
  <options>
    <option>option_82_hex:sw_port1:20:22</option>
    <option>option_82_hex:sw_port2:16:18</option>
    <option>option_82_hex:sw_mac:26:40</option>
  </options>
  <query>
    <offer_count>3</offer_count>
${OFFERS.map((q, i) => `    <offer_${i + 1}>${esc(q)}</offer_${i + 1}>`).join("\n")}
    <history_sql>${esc(HISTORY)}</history_sql>
  </query>
  <history><spool>${dir}/history.spool</spool></history>
${process.env.STALLS_METRICS === "0" ? "" : `  <metrics><port>${metricsPort}</port></metrics>`}
</config>
`;
}

const USERS_COLUMNS = "ip, mask, router, dns, mac, port";
const userRow = (i: number) => [addr(i), "255.255.0.0", "198.19.0.1", "198.18.0.53", mac(i), ""];

async function setupSqlite(dir: string): Promise<{ database: string; history: () => Promise<number>; drop: () => Promise<void> }> {
  const path = join(dir, "bench.sqlite");
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, ip TEXT NOT NULL, mask TEXT NOT NULL, router TEXT NOT NULL, dns TEXT NOT NULL, mac TEXT NOT NULL, port TEXT NOT NULL)");
  db.exec("CREATE TABLE history (id INTEGER PRIMARY KEY, dt TEXT NOT NULL, mac TEXT NOT NULL, ip TEXT NOT NULL, comment TEXT NOT NULL)");
  db.exec("CREATE INDEX users_mac_port ON users (mac, port)");
  const ins = db.prepare(`INSERT INTO users (${USERS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < CLIENTS; i++) ins.run(...(userRow(i) as [string, string, string, string, string, string]));
  })();
  db.close();
  return {
    database: `<database><sqlite><path>${path}</path></sqlite></database>`,
    history: async () => {
      const d = new Database(path, { readonly: true });
      try {
        return Number((d.query("SELECT COUNT(*) AS n FROM history").get() as { n: number }).n);
      } finally {
        d.close();
      }
    },
    drop: async () => {},
  };
}

async function setupMysql(): Promise<{ database: string; history: () => Promise<number>; drop: () => Promise<void> }> {
  const name = `pydhcp_stalls_${process.pid}`;
  const scratch = await scratchMysql(SOCKET, name, { usersKey: "KEY mac_port (mac, port)", collation: "utf8_bin" });
  const root = scratch.root;
  for (let i = 0; i < CLIENTS; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, CLIENTS - i) }, (_, k) => userRow(i + k));
    await root.query(`INSERT INTO users (${USERS_COLUMNS}) VALUES ?`, [rows]);
  }
  return {
    database: `<database>${scratch.configXml(16)}</database>`,
    history: async () => Number(((await root.query(`SELECT COUNT(*) AS n FROM ${name}.history`))[0] as { n: number }[])[0]!.n),
    drop: () => scratch.drop(),
  };
}

/** Option 53 of a reply, by walking the options after the magic cookie. */
function replyType(b: Uint8Array): number {
  for (let i = 240; i + 1 < b.length; ) {
    const code = b[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) break;
    if (code === 53) return b[i + 2]!;
    i += 2 + b[i + 1]!;
  }
  return 0;
}

/** user + system CPU time of a process, ms */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

/** Linux PSI: microseconds some task waited for a CPU (a busy machine makes every percentile worse) */
function cpuPressureUs(): number {
  try {
    return Number(/^some .*total=(\d+)/m.exec(readFileSync("/proc/pressure/cpu", "utf8"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function summary(xs: number[]): string {
  const s = Float64Array.from(xs).sort();
  return `p50 ${quantile(s, 0.5).toFixed(2)} p99 ${quantile(s, 0.99).toFixed(2)} max ${(s.at(-1) ?? NaN).toFixed(1)} ms (n ${s.length})`;
}

/** `pydhcp_event_loop_lag_seconds` from a /metrics text: cumulative count per bucket bound (seconds), and the count */
function lagBuckets(text: string): { le: Map<string, number>; count: number } {
  const le = new Map<string, number>();
  for (const m of text.matchAll(/^pydhcp_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) le.set(m[1]!, Number(m[2]));
  const count = Number(/^pydhcp_event_loop_lag_seconds_count (\d+)/m.exec(text)?.[1] ?? 0);
  return { le, count };
}

/** The lag ticks of the load alone: the difference of two scrapes. */
function lagDuring(before: string, after: string): string {
  const a = lagBuckets(before);
  const b = lagBuckets(after);
  const n = b.count - a.count;
  const over = (le: string) => n - ((b.le.get(le) ?? 0) - (a.le.get(le) ?? 0));
  const bounds = [...b.le.keys()];
  // the longest tick lies in the first bucket that holds every tick
  const top = bounds.find((le) => (b.le.get(le) ?? 0) - (a.le.get(le) ?? 0) === n) ?? "+Inf";
  const i = bounds.indexOf(top);
  const range = top === "+Inf" ? "over 1 s" : `${i > 0 ? Number(bounds[i - 1]) * 1000 : 0}-${Number(top) * 1000} ms`;
  return `ticks ${n}, late by over 5 ms ${over("0.005")}, over 10 ms ${over("0.01")}, over 20 ms ${over("0.02")}, over 50 ms ${over("0.05")}, longest ${range}`;
}

/** Per statement (offer_N, history, lease_write): runs during the load and how many took over 10 ms (pydhcp_query_duration_seconds). */
function slowQueries(before: string, after: string): string {
  const read = (text: string) => {
    const m = new Map<string, { n: number; le10: number }>();
    for (const x of text.matchAll(/^pydhcp_query_duration_seconds_bucket\{query="([^"]+)",le="([^"]+)"\} (\d+)/gm)) {
      const e = m.get(x[1]!) ?? { n: 0, le10: 0 };
      if (x[2] === "0.01") e.le10 = Number(x[3]);
      if (x[2] === "+Inf") e.n = Number(x[3]);
      m.set(x[1]!, e);
    }
    return m;
  };
  const a = read(before);
  const out: string[] = [];
  for (const [q, e] of read(after)) {
    const b = a.get(q) ?? { n: 0, le10: 0 };
    const n = e.n - b.n;
    if (n > 0) out.push(`${q} ${n - (e.le10 - b.le10)}/${n}`);
  }
  return out.join(", ");
}

const dir = mkdtempSync(join(tmpdir(), "pydhcp-stalls-"));
const db = KIND === "sqlite" ? await setupSqlite(dir) : await setupMysql();
const port = await freeUdpPort();
const metricsPort = freeTcpPort();
writeFileSync(join(dir, "config.xml"), config(dir, port, metricsPort, db.database));
const bunArgs = (process.env.PYDHCP_BUN_ARGS ?? "").split(" ").filter(Boolean);
const command = process.env.STALLS_BINARY ? [process.env.STALLS_BINARY] : [BUN, ...bunArgs, join(ROOT, "src/cli/main.ts")];
const proc = Bun.spawn([...command, "-c", join(dir, "config.xml")], {
  cwd: dir,
  env: { ...process.env, ...serviceEnvironment(), ...(process.env.STALLS_RAM ? { BUN_JSC_forceRAMSize: process.env.STALLS_RAM } : {}) },
  stdout: "pipe",
  stderr: "pipe",
});
let logLines = 0;
let listening: () => void = () => {};
const ready = new Promise<void>((r) => (listening = r));
const stderrText: string[] = [];
void (async () => {
  const dec = new TextDecoder();
  for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
    const t = dec.decode(chunk, { stream: true });
    for (let i = t.indexOf("\n"); i >= 0; i = t.indexOf("\n", i + 1)) logLines++;
    if (t.includes("listening")) listening();
  }
})();
void (async () => {
  const dec = new TextDecoder();
  for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
    const t = dec.decode(chunk, { stream: true });
    stderrText.push(t);
    if (process.env.STALLS_ECHO) process.stderr.write(t);
  }
})();

/** Option 82 with only RFC 8357's relay-source-port: the reply comes back to the port the relay sent from */
const RAI: [number, Uint8Array] = [82, Uint8Array.of(19, 0)];
const discovers = Array.from({ length: CLIENTS }, (_, i) => buildRequest({ type: 1, mac: mac(i), xid: 1, giaddr: RELAY, options: [[55, Uint8Array.of(1, 3, 6, 15)], RAI] }));
const requests = Array.from({ length: CLIENTS }, (_, i) =>
  buildRequest({ type: 3, mac: mac(i), xid: 1, giaddr: RELAY, options: [[50, ip(addr(i))], [54, ip("198.18.0.1")], [55, Uint8Array.of(1, 3, 6, 15)], RAI] }),
);
const setXid = (b: Uint8Array, x: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(4, x);

/** every client once before the measured load, at up to 2,000/s: code compiled, leases and caches filled (the perf harness's lower steps do this) */
const WARM = CLIENTS;
const WARM_RATE = Math.min(RATE, 2000);
/** per xid: the client, when the DISCOVER and the REQUEST left */
const XIDS = WARM + RATE * SECONDS + 16;
const client = new Int32Array(XIDS).fill(-1);
const sentDiscover = new Float64Array(XIDS);
const sentRequest = new Float64Array(XIDS);
let measuring = false;
const doMs: number[] = [];
const raMs: number[] = [];
let offers = 0;
let acks = 0;
const relay = await openUdp({
  hostname: RELAY,
  onData(b) {
    const now = performance.now();
    const x = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4);
    const i = client[x];
    if (i === undefined || i < 0) return;
    const type = replyType(b);
    if (type === 2 && sentRequest[x] === 0) {
      if (measuring) {
        offers++;
        doMs.push(now - sentDiscover[x]!);
      }
      const q = requests[i]!;
      setXid(q, x);
      sentRequest[x] = performance.now();
      relay.send(q, port, "127.0.0.1");
    } else if (type === 5 && sentRequest[x]! > 0) {
      if (measuring) {
        acks++;
        raMs.push(now - sentRequest[x]!);
      }
      client[x] = -1;
    }
  },
});

let code = 0;
try {
  await Promise.race([ready, Bun.sleep(20_000).then(() => Promise.reject(new Error(`no "listening" line: ${stderrText.join("")}`)))]);
  let xid = 1;
  /** DISCOVERs for `count` more exchanges at `rate` per second, each client in turn */
  const drive = (count: number, rate: number) =>
    new Promise<void>((done) => {
      const first = xid;
      const last = xid + count - 1;
      const t0 = performance.now();
      const tick = setInterval(() => {
        const due = Math.min(last, first - 1 + Math.floor(((performance.now() - t0) / 1000) * rate));
        while (xid <= due) {
          const i = (xid - 1) % CLIENTS;
          const d = discovers[i]!;
          setXid(d, xid);
          client[xid] = i;
          sentDiscover[xid] = performance.now();
          relay.send(d, port, "127.0.0.1");
          xid++;
        }
        if (xid > last) {
          clearInterval(tick);
          done();
        }
      }, 1);
    });
  await drive(WARM, WARM_RATE);
  await Bun.sleep(1000);
  const total = RATE * SECONDS;
  const cpu0 = cpuMs(proc.pid);
  const psi0 = cpuPressureUs();
  const scrape = () => (process.env.STALLS_METRICS === "0" ? Promise.resolve("") : fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()));
  const metrics0 = await scrape();
  measuring = true;
  await drive(total, RATE);
  const cpu = cpuMs(proc.pid) - cpu0;
  const pressure = (cpuPressureUs() - psi0) / (SECONDS * 1e6);
  await Bun.sleep(1000);
  measuring = false;
  const metrics1 = await scrape();
  const total2 = total;
  console.log(`${KIND}, ${RATE} DORA/s for ${SECONDS} s (${new Date().toISOString()}, bun ${Bun.version})`);
  console.log(`  DISCOVERs ${total2}, OFFERs ${offers}, ACKs ${acks} (${((100 * acks) / total2).toFixed(2)}% answered), log lines ${logLines}, server CPU ${((100 * cpu) / (SECONDS * 1000)).toFixed(0)}% of a core, CPU pressure ${(100 * pressure).toFixed(0)}%`);
  console.log(`  DISCOVER->OFFER ${summary(doMs)}`);
  console.log(`  REQUEST->ACK    ${summary(raMs)}`);
  if (metrics1) {
    console.log(`  event-loop lag during the load: ${lagDuring(metrics0, metrics1)}`);
    console.log(`  statements over 10 ms / run: ${slowQueries(metrics0, metrics1)}`);
  }
  await Bun.sleep(500);
  console.log(`  history rows ${await db.history()}`);
} catch (e) {
  code = 1;
  console.error(String(e));
} finally {
  proc.kill("SIGTERM");
  const exit = await proc.exited;
  if (exit !== 0) console.log(`  pydhcp exited ${exit}`);
  relay.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
