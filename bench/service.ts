/**
 * pydhcp as a service, measured on the built binary (build it first:
 * `bun build.ts`): binary size, start-up time (`--version`, and spawn to
 * "listening" with SQLite), idle RSS, and RSS under a loopback DORA load with
 * 10,000 subscribers in SQLite, sampled every second (max and slope).
 *
 *   bun bench/service.ts [load-seconds=30] [window=64]
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encode } from "../src/codec/encode.ts";
import type { DhcpMessage } from "../src/codec/message.ts";
import { openUdp, type Udp } from "../test/support/udp.ts";
import { freeUdpPort } from "../test/support/ports.ts";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = join(ROOT, "dist/pydhcp");
const LOAD_SECONDS = Number(process.argv[2] ?? 30);
const WINDOW = Number(process.argv[3] ?? 64);
const SUBSCRIBERS = 10_000;
const RUNS = 10;

if (!existsSync(BINARY)) {
  process.stderr.write("dist/pydhcp is missing: run `bun build.ts` first\n");
  process.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const mac = (i: number) => [0x02, 0x18, 0, 0, (i >>> 8) & 255, i & 255];
const addr = (i: number) => [198, 18, 100 + Math.floor(i / 250), 1 + (i % 250)];

function makeDb(path: string): void {
  const db = new Database(path, { create: true });
  db.exec(readFileSync(join(ROOT, "sql/sqlite.sql"), "utf8"));
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '', '', '', ?, '')");
  db.transaction(() => {
    for (let i = 0; i < SUBSCRIBERS; i++) ins.run(addr(i).join("."), Buffer.from(mac(i)).toString("hex"));
  })();
  db.close();
}

function config(dir: string, port: number, clientPort: number): string {
  return `<?xml version="1.0" ?>
<config>
    <dhcpserver>
        <host>127.0.0.1</host><port>${port}</port><clientPort>${clientPort}</clientPort>
        <broadcast>127.0.0.1</broadcast><DHCPServer>198.18.0.1</DHCPServer>
        <LeaseTime>3600</LeaseTime><ThreadLimit>8</ThreadLimit>
        <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
    </dhcpserver>
    <database><sqlite><path>${dir}/t.db</path></sqlite></database>
    <query>
        <offer_count>1</offer_count>
        <offer_1>select ip,mask,router,dns from users where mac='{ClientMacAddress}'</offer_1>
        <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','{op}')</history_sql>
    </query>
</config>
`;
}


function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

interface Started {
  proc: ReturnType<typeof Bun.spawn>;
  ms: number;
}

/** Spawns the server and resolves when it logs "listening". */
async function spawnServer(dir: string, port: number, clientPort: number): Promise<Started> {
  writeFileSync(join(dir, "config.xml"), config(dir, port, clientPort));
  const t0 = performance.now();
  const proc = Bun.spawn([BINARY, "-c", join(dir, "config.xml")], { cwd: dir, stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!text.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`pydhcp exited before listening:\n${text}`);
    text += dec.decode(value, { stream: true });
  }
  const ms = performance.now() - t0;
  // keep draining stdout so the server never blocks on a full pipe
  void (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  return { proc, ms };
}

async function stopServer(p: ReturnType<typeof Bun.spawn>): Promise<number> {
  p.kill("SIGTERM");
  return p.exited;
}

function request(type: number, i: number, withRequested: boolean): Uint8Array {
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(type)]]);
  if (withRequested) {
    options.set(54, Uint8Array.of(198, 18, 0, 1));
    options.set(50, Uint8Array.from(addr(i)));
  }
  const chaddr = new Uint8Array(16);
  chaddr.set(mac(i));
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0, secs: 0, flags: 0,
    ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0",
    chaddr, sname: new Uint8Array(64), file: new Uint8Array(128), options,
  };
  const r = encode(m);
  if (!r.ok) throw new Error(r.error.message);
  return r.bytes;
}

/** Option 53 of a reply, by walking the options after the magic cookie. */
function replyType(b: Uint8Array): number {
  for (let i = 240; i + 1 < b.length; ) {
    const code = b[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255) break;
    if (code === 53) return b[i + 2]!;
    i += 2 + b[i + 1]!;
  }
  return 0;
}

interface Load {
  exchanges: number;
  timeouts: number;
  samples: number[];
}

/** As many DORA exchanges as the server takes, WINDOW at a time, for LOAD_SECONDS. */
type Sender = Udp;

async function load(pid: number, port: number, sock: Sender, waiters: Map<number, (b: Uint8Array | null) => void>): Promise<Load> {
  const discovers = Array.from({ length: SUBSCRIBERS }, (_, i) => request(1, i, false));
  const requests = Array.from({ length: SUBSCRIBERS }, (_, i) => request(3, i, true));
  let xid = 1;
  let next = 0;
  let exchanges = 0;
  let timeouts = 0;
  const samples: number[] = [];
  const end = performance.now() + LOAD_SECONDS * 1000;
  const sampler = setInterval(() => samples.push(rssKiB(pid)), 1000);
  const reply = (x: number) =>
    new Promise<Uint8Array | null>((resolve) => {
      const t = setTimeout(() => {
        waiters.delete(x);
        resolve(null);
      }, 1000);
      waiters.set(x, (b) => {
        clearTimeout(t);
        resolve(b);
      });
    });
  const worker = async () => {
    while (performance.now() < end) {
      const i = next++ % SUBSCRIBERS;
      const x = xid++;
      const d = discovers[i]!;
      new DataView(d.buffer, d.byteOffset, d.byteLength).setUint32(4, x);
      let r = reply(x);
      sock.send(d, port, "127.0.0.1");
      const offer = await r;
      if (!offer || replyType(offer) !== 2) {
        timeouts++;
        continue;
      }
      const q = requests[i]!;
      new DataView(q.buffer, q.byteOffset, q.byteLength).setUint32(4, x); // same xid (RFC 2131 4.4.1)
      r = reply(x);
      sock.send(q, port, "127.0.0.1");
      const ack = await r;
      if (!ack || replyType(ack) !== 5) timeouts++;
      else exchanges++;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  clearInterval(sampler);
  return { exchanges, timeouts, samples };
}

/** Least-squares slope of samples taken 1 s apart, KiB per second. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return NaN;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

const rows: [string, string][] = [];
const row = (k: string, v: string) => {
  rows.push([k, v]);
  process.stderr.write(`${k}: ${v}\n`);
};

const size = statSync(BINARY).size;
row("binary size", `${(size / 1048576).toFixed(1)} MiB`);

const version: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const p = Bun.spawn([BINARY, "--version"], { stdout: "ignore", stderr: "ignore" });
  await p.exited;
  version.push(performance.now() - t0);
}
row(`--version, median of ${RUNS}`, `${median(version).toFixed(1)} ms`);

const dir = mkdtempSync(join(tmpdir(), "pdsvc-bench-"));
try {
  makeDb(join(dir, "t.db"));
  const listen: number[] = [];
  const idle: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await spawnServer(dir, await freeUdpPort(), 9);
    listen.push(s.ms);
    if (i === RUNS - 1) {
      await Bun.sleep(1000);
      idle.push(rssKiB(s.proc.pid));
    }
    const code = await stopServer(s.proc);
    if (code !== 0) throw new Error(`pydhcp exited ${code}`);
  }
  row(`spawn to "listening" (SQLite, ${SUBSCRIBERS} users), median of ${RUNS}`, `${median(listen).toFixed(1)} ms (min ${Math.min(...listen).toFixed(1)}, max ${Math.max(...listen).toFixed(1)})`);
  row("idle RSS 1 s after start", `${(idle[0]! / 1024).toFixed(1)} MiB`);

  const waiters = new Map<number, (b: Uint8Array | null) => void>();
  const sock = await openUdp({
    onData(buf) {
      const b = new Uint8Array(buf);
      const x = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4);
      const w = waiters.get(x);
      if (w) {
        waiters.delete(x);
        w(b);
      }
    },
  });
  const port = await freeUdpPort();
  const s = await spawnServer(dir, port, sock.port);
  const before = rssKiB(s.proc.pid);
  const l = await load(s.proc.pid, port, sock, waiters);
  const code = await stopServer(s.proc);
  sock.close();
  const max = Math.max(...l.samples);
  const half = l.samples.slice(Math.floor(l.samples.length / 2));
  row("RSS at start of load", `${(before / 1024).toFixed(1)} MiB`);
  row(`DORA exchanges, ${LOAD_SECONDS} s, window ${WINDOW}`, `${l.exchanges} (${(l.exchanges / LOAD_SECONDS).toFixed(0)}/s, ${l.timeouts} timed out)`);
  row("RSS under load, max", `${(max / 1024).toFixed(1)} MiB`);
  row("RSS slope, whole run", `${(slope(l.samples) / 1024).toFixed(3)} MiB/s`);
  row("RSS slope, second half", `${(slope(half) / 1024).toFixed(3)} MiB/s`);
  row("exit code after the load", String(code));
  process.stderr.write(`RSS samples, MiB, every ${Math.max(1, Math.floor(l.samples.length / 30))} s: ${l.samples.filter((_, i) => i % Math.max(1, Math.floor(l.samples.length / 30)) === 0).map((k) => (k / 1024).toFixed(0)).join(" ")}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const w = Math.max(...rows.map(([k]) => k.length));
console.log(`\npydhcp service benchmark (${new Date().toISOString()}, bun ${Bun.version}, ${navigator.hardwareConcurrency} cores)\n`);
console.log(`| ${"measure".padEnd(w)} | value |`);
console.log(`| ${"-".repeat(w)} | ----- |`);
for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
