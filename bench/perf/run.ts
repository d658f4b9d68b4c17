/**
 * DHCPv4 load benchmark: a relayed DORA load (bench/perf/loadgen.c, or
 * perfdhcp) against Kea and pydhcp, in network namespaces. One command:
 *
 *   bun bench/perf/run.ts [--quick] [--scenario reserved|pool] [--servers kea-memfile,kea-mysql,...] [--runs N]
 *                         [--step-seconds S] [--max-rate R] [--soak S] [--no-scout] [--keep] [--out DIR]
 *                         [--generator loadgen|perfdhcp]
 *   bun bench/perf/run.ts --report bench/results/<date>-<host>.json   (rewrite .md/.svg from a JSON)
 *
 * See docs/benchmark.md for how to read the output.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CEILING_NOTE } from "./ceiling.ts";
import { barChartSvg } from "./chart.ts";
import { DEFAULT_BASE_MAC, knownClients, type Client } from "./clients.ts";
import { mariadbPid } from "./mariadb.ts";
import { postgresqlCpu } from "./postgresql.ts";
import { machine, shortHost, versions } from "./meta.ts";
import { createNetns, GENERATOR_RMEM, raiseReceiveBuffer, type Netns } from "./netns.ts";
import { parsePerfdhcp, perfdhcpArgv, type PerfdhcpReport } from "./perfdhcp.ts";
import { cpuMeter, cpuPressureMicros, memoryKb, type CpuSource } from "./proc.ts";
import { markdownReport } from "./report.ts";
import { ratios, soakMemory, summarize, tailOfWindows, TAIL_WINDOWS, type SoakResult, type BenchResult, type RunResult, type ServerResult, type StepResult, type TailResult, type UnthrottledResult, type VerifyResult } from "./results.ts";
import { inPool, POOL_BASE_MAC } from "./pools.ts";
import { SERVERS, serverByName, type Prepared, type ServerContext, type ServerRow } from "./servers.ts";
import { median, percentile, round } from "./stats.ts";
import { MAX_LOSS, RATE_STEPS, search } from "./steps.ts";
import { cleanupAll, cleanupDepth, cleanupTo, installSignalCleanup, onCleanup, run, runAsync, spawnDaemon } from "./sys.ts";
import { canCapture, readRecording, record, summary } from "./wire.ts";
import { generatorProgram, parseGenerator, type Generator } from "./loadgen.ts";

const CLIENTS = 10_000;

interface Options {
  quick: boolean;
  scenario: "reserved" | "pool";
  servers: ServerRow[];
  runs: number;
  stepSeconds: number;
  ladder: number[];
  /** seconds of the memory run at the maximum rate (pydhcp rows); 0 = none */
  soakSeconds: number;
  /** seconds per scouting step; 0 = climb the whole ladder with full steps */
  scoutSeconds: number;
  outDir: string;
  /** only re-render this result file */
  report: string | null;
  /** leave the work directory (server logs, configs) in place */
  keep: boolean;
  generator: Generator;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    scenario: "reserved",
    servers: [],
    runs: 2,
    stepSeconds: 20,
    ladder: [...RATE_STEPS],
    soakSeconds: 300,
    scoutSeconds: 3,
    outDir: resolve(import.meta.dir, "../results"),
    report: null,
    keep: false,
    generator: "loadgen",
  };
  let stepSet = false;
  let soakSet = false;
  let maxRate = Infinity;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--scenario") {
      const v = val();
      if (v !== "reserved" && v !== "pool") throw new Error("--scenario is reserved or pool");
      o.scenario = v;
    }
    else if (a === "--servers") {
      o.servers = val().split(",").map((n) => {
        const row = serverByName(n.trim());
        if (!row) throw new Error(`unknown server "${n}"; known: ${SERVERS.map((s) => s.name).join(", ")}`);
        return row;
      });
    } else if (a === "--runs") o.runs = Math.max(1, Number(val()) | 0);
    else if (a === "--step-seconds") (o.stepSeconds = Number(val())), (stepSet = true);
    else if (a === "--max-rate") maxRate = Number(val());
    else if (a === "--soak") (o.soakSeconds = Math.max(0, Number(val()) | 0)), (soakSet = true);
    else if (a === "--no-scout") o.scoutSeconds = 0;
    else if (a === "--keep") o.keep = true;
    else if (a === "--generator") o.generator = parseGenerator(val());
    else if (a === "--out") o.outDir = resolve(val());
    else if (a === "--report") o.report = resolve(val());
    else if (a === "-h" || a === "--help") {
      console.log(readFileSync(import.meta.path, "utf8").split("*/")[0]);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.servers.length === 0) o.servers = SERVERS.filter((s) => s.enabled && (s.scenario ?? "reserved") === o.scenario);
  if (o.quick && !stepSet) o.stepSeconds = 5;
  if (o.quick && !soakSet) o.soakSeconds = 0;
  o.ladder = o.ladder.filter((r) => r <= maxRate);
  if (!(o.stepSeconds >= 1)) throw new Error("--step-seconds must be at least 1");
  return o;
}

function log(msg: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/** the MAC base perfdhcp draws from: known clients, or (pool scenario) clients nobody knows */
let baseMac = DEFAULT_BASE_MAC;
/** the generator's program: loadgen compiled for the run, or perfdhcp */
let program = "perfdhcp";

async function perfdhcp(
  ns: Netns,
  rate: number,
  seconds: number,
  x: { timestamps?: boolean; leases?: boolean } = {},
): Promise<{ report: PerfdhcpReport; cpuSeconds: number | null; raw: string }> {
  const argv = perfdhcpArgv({
    local: ns.clientAddr, server: ns.serverAddr, baseMac, clients: CLIENTS, rate, seconds, ...x,
  });
  // exit 3 = some exchanges not completed, which is what we measure
  const r = await runAsync([...ns.exec(ns.client), program, ...argv.slice(1)], [0, 3]);
  return { report: parsePerfdhcp(r.stdout), cpuSeconds: r.cpuSeconds ?? null, raw: r.stdout };
}

interface Live {
  pid: number;
  alive: () => boolean;
  stop: () => Promise<void>;
  logTail: () => string;
}

async function startServer(ctx: ServerContext, prep: Prepared, label: string): Promise<Live> {
  const logFile = join(ctx.dir, `${label}.log`);
  const d = spawnDaemon([...ctx.netns.exec(ctx.netns.server), ...prep.argv], logFile, prep.env);
  const live: Live = {
    pid: d.proc.pid,
    alive: () => d.proc.exitCode === null && d.proc.signalCode === null,
    stop: d.stop,
    logTail: () =>
      [logFile, logFile + ".err", join(ctx.dir, "kea-dhcp4.log")]
        .filter(existsSync)
        .map((f) => readFileSync(f, "utf8").trim().split("\n").slice(-5).join("\n"))
        .join("\n")
        .trim(),
  };
  // ready = one full DORA answered
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!live.alive()) throw new Error(`server exited with ${d.proc.exitCode ?? d.proc.signalCode}: ${live.logTail()}`);
    const p = await perfdhcp(ctx.netns, 10, 1);
    if (p.report.ra.received > 0) return live;
    await Bun.sleep(300);
  }
  throw new Error(`server gave no DORA within 30 s: ${live.logTail()}`);
}

/** Every address handed out must be the one reserved for that MAC. */
async function verifyReservations(ctx: ServerContext): Promise<VerifyResult> {
  const want = new Map(ctx.clients.map((c) => [`01${c.hex}`, c.ip]));
  const p = await perfdhcp(ctx.netns, 100, 3, { leases: true });
  let mismatches = 0;
  let example: string | null = null;
  for (const [cid, ip] of p.report.ackLeases) {
    if (want.get(cid) !== ip) {
      mismatches++;
      example ??= `${cid} got ${ip}, reserved ${want.get(cid) ?? "(no such client)"}`;
    }
  }
  return { leases: p.report.ra.received, distinctClients: p.report.ackLeases.size, mismatches, example };
}

/** Pool scenario: every address handed out is in the pool, and no address went to two clients. */
async function verifyPool(ctx: ServerContext): Promise<VerifyResult> {
  const p = await perfdhcp(ctx.netns, 100, 3, { leases: true });
  let mismatches = 0;
  let example: string | null = null;
  const holder = new Map<string, string>();
  for (const [cid, ip] of p.report.ackLeases) {
    const other = holder.get(ip);
    if (!inPool(ip) || (other !== undefined && other !== cid)) {
      mismatches++;
      example ??= inPool(ip) ? `${ip} ACKed to ${other} and ${cid}` : `${cid} got ${ip}, outside the pool`;
    }
    holder.set(ip, cid);
  }
  return { leases: p.report.ra.received, distinctClients: p.report.ackLeases.size, mismatches, example };
}

function half(h: PerfdhcpReport["do"]) {
  return { sent: h.sent, received: h.received, avgMs: h.avgMs, maxMs: h.maxMs, stdMs: h.stdMs };
}

async function measureStep(ctx: ServerContext, live: Live, dbPid: CpuSource, rate: number, seconds: number, label = "step"): Promise<StepResult> {
  const meter = cpuMeter({ server: live.pid, db: dbPid });
  const psi0 = cpuPressureMicros();
  const t0 = performance.now();
  const p = await perfdhcp(ctx.netns, rate, seconds);
  const wall = (performance.now() - t0) / 1000;
  const cpu = meter.stop();
  const psi1 = cpuPressureMicros();
  const mem = memoryKb(live.pid);
  const r = p.report;
  const step: StepResult = {
    rate,
    // perfdhcp's own "Rate:" divides by the period plus the -W wait; count ACKs over the period instead
    achieved: round(r.ra.received / seconds, 1),
    loss: r.loss,
    offered: r.do.sent / (rate * seconds),
    ...(live.alive() ? {} : { died: true }),
    do: half(r.do),
    ra: half(r.ra),
    cpuServer: cpu.server ?? null,
    cpuDb: cpu.db ?? null,
    cpuPerfdhcp: p.cpuSeconds !== null ? (p.cpuSeconds / wall) * 100 : null,
    rssKb: mem?.rss ?? null,
    load1: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
    cpuPressure: psi0 !== null && psi1 !== null ? round(((psi1 - psi0) / 1e6 / wall) * 100, 1) : null,
  };
  log(
    `  ${label === "scout" ? "scout " : ""}${String(rate).padStart(5)}/s: ${step.achieved ?? "-"} DORA/s, lost ${(r.loss * 100).toFixed(2)}%, ` +
      `DO avg ${r.do.avgMs ?? "-"} ms, RA avg ${r.ra.avgMs ?? "-"} ms, CPU server ${step.cpuServer?.toFixed(0) ?? "-"}%` +
      `${dbPid ? ` db ${step.cpuDb?.toFixed(0) ?? "-"}%` : ""} generator ${step.cpuPerfdhcp?.toFixed(0) ?? "-"}%, load ${step.load1}, CPU pressure ${step.cpuPressure ?? "-"}%`,
  );
  await drain(ctx.netns);
  return step;
}

/**
 * Waits until the server's sockets hold no unread datagrams (ss Recv-Q 0
 * twice in a row), so an overloaded step's backlog does not leak into the
 * next measurement. Gives up after 30 s.
 */
async function drain(ns: Netns): Promise<void> {
  const deadline = Date.now() + 30_000;
  let quiet = 0;
  while (Date.now() < deadline && quiet < 2) {
    const r = run([...ns.exec(ns.server), "ss", "-Huln"], { allow: [1] });
    const queued = r.stdout.split("\n").reduce((a, l) => a + (Number(l.trim().split(/\s+/)[1]) || 0), 0);
    quiet = queued === 0 ? quiet + 1 : 0;
    await Bun.sleep(250);
  }
  await Bun.sleep(500);
}

/**
 * Seconds at the tail's rate before it is measured: the ladder just ended
 * with steps past the maximum, and a server still working off their
 * backlog (queued lease and history writes, a database catching up) would
 * be measured recovering, not at 80% load.
 */
const TAIL_SETTLE_SECONDS = 10;

/**
 * The tail step, TAIL_WINDOWS times after one settle; the median window (by
 * DO p99) with every window's p99s. Then one more window with the server's
 * interface recorded, for the wire's figures: dumpcap shares the cores with
 * the server and the generator, so no window the row's p99 comes from has
 * it running.
 */
async function measureTail(ctx: ServerContext, rate: number, seconds: number): Promise<TailResult> {
  await drain(ctx.netns);
  await perfdhcp(ctx.netns, rate, TAIL_SETTLE_SECONDS);
  const windows: TailResult[] = [];
  for (let i = 0; i < TAIL_WINDOWS; i++) {
    const w = await measureTailWindow(ctx, rate, seconds, false);
    log(`  window ${i + 1}: DO p99 ${w.doP99Ms} ms, RA p99 ${w.raP99Ms} ms`);
    windows.push(w);
  }
  if (!canCapture()) return tailOfWindows(windows);
  const c = await measureTailWindow(ctx, rate, seconds, true);
  log(`  captured window: DO p99 ${c.doP99Ms} ms, RA p99 ${c.raP99Ms} ms${c.wire ? `; wire ${c.wire.doP99Ms} / ${c.wire.raP99Ms} ms` : ""}`);
  return tailOfWindows(windows, c);
}

async function measureTailWindow(ctx: ServerContext, rate: number, seconds: number, capture: boolean): Promise<TailResult> {
  await drain(ctx.netns);
  // the same step on the server's interface too: perfdhcp's delays hold its own waits for a CPU
  // dumpcap during the step; tshark reads the file after it (wire.ts, record)
  const wire = capture
    ? Bun.sleep((seconds / 4) * 1000).then(() => record(ctx.netns.exec(ctx.netns.server), ctx.netns.serverIf, Math.max(2, Math.min(10, Math.floor(seconds / 2))), join(ctx.dir, `wire-${rate}.pcapng`)))
    : null;
  const p = await perfdhcp(ctx.netns, rate, seconds, { timestamps: true });
  const w = wire ? await readRecording(await wire, ctx.netns.serverAddr) : null;
  if (typeof w === "string") log(`  wire capture: ${w}`);
  else if (w?.dropped) log(`  wire capture dropped ${w.dropped} packets: not reported`);
  const r = p.report;
  return {
    ...(w && typeof w !== "string" && !w.dropped ? { wire: summary(w.report) } : {}),
    rate,
    samples: r.raDelaysMs.length,
    loss: r.loss,
    doP50Ms: round(percentile(r.doDelaysMs, 50), 3),
    doP99Ms: round(percentile(r.doDelaysMs, 99), 3),
    raP50Ms: round(percentile(r.raDelaysMs, 50), 3),
    raP99Ms: round(percentile(r.raDelaysMs, 99), 3),
    doMaxMs: round(r.do.maxMs, 3),
    raMaxMs: round(r.ra.maxMs, 3),
  };
}

/** The ladder's top: far above any row's maximum on this machine. */
const UNTHROTTLED_RATE = RATE_STEPS[RATE_STEPS.length - 1]!;

async function measureUnthrottled(ctx: ServerContext, live: Live, dbPid: CpuSource, max: number, seconds: number): Promise<UnthrottledResult> {
  const s = await measureStep(ctx, live, dbPid, UNTHROTTLED_RATE, seconds, "unthrottled");
  return {
    rate: UNTHROTTLED_RATE,
    achieved: s.achieved,
    loss: s.loss,
    share: s.achieved !== null && max > 0 ? round(s.achieved / max, 3) : null,
    cpuServer: s.cpuServer,
    cpuDb: s.cpuDb,
  };
}

function mbText(kb: number | null): string {
  return kb == null ? "-" : (kb / 1024).toFixed(1);
}

/** One long perfdhcp run at `rate` with the server's RSS sampled every 5 s. */
async function soak(ctx: ServerContext, live: Live, rate: number, seconds: number): Promise<SoakResult> {
  await drain(ctx.netns);
  const rss: [number, number][] = [];
  const t0 = performance.now();
  const sample = () => {
    const m = memoryKb(live.pid);
    if (m) rss.push([Math.round((performance.now() - t0) / 1000), m.rss]);
  };
  sample();
  const timer = setInterval(sample, 5000);
  let p: Awaited<ReturnType<typeof perfdhcp>>;
  try {
    p = await perfdhcp(ctx.netns, rate, seconds);
  } finally {
    clearInterval(timer);
  }
  sample();
  return {
    rate,
    seconds,
    achieved: round(p.report.ra.received / seconds, 1),
    loss: p.report.loss,
    rss,
    ...soakMemory(rss),
  };
}

async function benchServer(row: ServerRow, ctx: ServerContext, o: Options): Promise<ServerResult> {
  const res: ServerResult = {
    name: row.name, family: row.family, backend: row.backend, description: row.description,
    ...(row.baseline ? { baseline: row.baseline } : {}), ...(row.also ? { also: row.also } : {}), command: [], status: "ok", runs: [],
  };
  const why = row.unavailable();
  if (why) return { ...res, status: "skipped", reason: why };
  const depth = cleanupDepth();
  try {
    log(`${row.name}: setting up`);
    const prep = await row.setup(ctx);
    res.command = prep.argv;
    const dbPid = prep.usesMariadb ? await mariadbPid() : prep.usesPostgresql ? postgresqlCpu() : null;
    for (let k = 1; k <= o.runs; k++) {
      log(`${row.name}: run ${k}/${o.runs}`);
      const live = await startServer(ctx, prep, `${row.name}-run${k}`);
      try {
        if (k === 1) {
          res.verify = o.scenario === "pool" ? await verifyPool(ctx) : await verifyReservations(ctx);
          log(`  ${o.scenario === "pool" ? "lease check" : "reservations"}: ${res.verify.leases} leases, ${res.verify.distinctClients} clients, ${res.verify.mismatches} wrong`);
          if (res.verify.leases === 0 || res.verify.mismatches > 0) {
            throw new Error(`${o.scenario === "pool" ? "lease" : "reservation"} check failed: ${res.verify.example ?? "no lease handed out"}`);
          }
          // perfdhcp lists leases by the client identifier echoed in the ACK; without it nothing was checked
          if (res.verify.distinctClients === 0) {
            throw new Error("reservation check failed: no ACK carried the client identifier (option 61), so no address could be checked");
          }
        }
        const { best, all, scouted } = await search(
          o.ladder,
          (rate) => measureStep(ctx, live, dbPid, rate, o.stepSeconds),
          o.scoutSeconds > 0 && o.scoutSeconds < o.stepSeconds ? (rate) => measureStep(ctx, live, dbPid, rate, o.scoutSeconds, "scout") : null,
        );
        const hwm = memoryKb(live.pid)?.hwm ?? null;
        res.runs.push({ best, steps: all, ...(scouted.length ? { scouted } : {}), hwmKb: hwm } satisfies RunResult);
        if (all.some((s) => s.died)) throw new Error(`server died during the run: ${live.logTail()}`);
        if (k === o.runs) {
          const m = median(res.runs.map((x) => x.best?.achieved ?? 0));
          const rate = Math.max(10, Math.round((m * 0.8) / 10) * 10);
          log(`${row.name}: latency at 80% of max (${rate}/s)`);
          res.tail = await measureTail(ctx, rate, o.stepSeconds);
          log(`  median window: DO p99 ${res.tail.doP99Ms} ms, RA p99 ${res.tail.raP99Ms} ms over ${res.tail.samples} exchanges`);
          if (row.family !== "reference" && m > 0) {
            log(`${row.name}: unthrottled, ${UNTHROTTLED_RATE}/s offered`);
            res.unthrottled = await measureUnthrottled(ctx, live, dbPid, m, o.stepSeconds);
            log(`  goodput ${res.unthrottled.achieved} DORA/s, ${((res.unthrottled.share ?? 0) * 100).toFixed(0)}% of its max`);
          }
          if (row.family === "pydhcp" && o.soakSeconds > 0 && m > 0) {
            // the median run's passing step (achieved rates sit a hair under the step: 8,999.9 at 9,000)
            const soakRate = summarize(res.runs).stepRate ?? Math.round(m);
            log(`${row.name}: ${o.soakSeconds} s at the maximum rate (${soakRate}/s), RSS every 5 s`);
            res.soak = await soak(ctx, live, soakRate, o.soakSeconds);
            const sk = res.soak;
            log(`  ${sk.achieved} DORA/s, lost ${(sk.loss * 100).toFixed(2)}%, RSS ${mbText(sk.rssFirstKb)} -> ${mbText(sk.rssLastKb)} MB, max ${mbText(sk.rssMaxKb)} MB, drift ${mbText(sk.driftKb)} MB`);
          }
        }
      } finally {
        await live.stop();
      }
    }
    res.summary = summarize(res.runs);
    if (prep.counts) {
      res.counts = await prep.counts();
      log(`  ${Object.entries(res.counts).map(([k, v]) => `${k}: ${v}`).join(", ")}`);
    }
  } catch (e) {
    res.status = "failed";
    res.reason = (e as Error).message.slice(0, 800);
    if (res.runs.length) res.summary = summarize(res.runs);
    log(`${row.name}: FAILED: ${res.reason}`);
  } finally {
    await cleanupTo(depth);
  }
  return res;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (o.report) {
    const r = JSON.parse(readFileSync(o.report, "utf8")) as BenchResult;
    // summaries are derived data: recompute them with the current code
    r.servers = r.servers.map((s) => (s.runs.length ? { ...s, summary: summarize(s.runs) } : s));
    r.ratios = ratios(r.servers);
    writeResults(r, { ...o, quick: r.mode === "quick", outDir: dirname(o.report) });
    return 0;
  }
  if (process.getuid?.() !== 0) throw new Error("run as root (network namespaces)");
  installSignalCleanup();
  const tag = `pdb${process.pid % 100000}`;
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  // --keep: the servers' logs and configs stay for reading afterwards
  if (o.keep) log(`work directory kept: ${dir}`);
  else onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const started = new Date();
  const meta = { machine: machine(), versions: await versions() };
  log(`${meta.machine.cpuModel}, ${meta.machine.cores} cores; ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  log(`servers: ${o.servers.map((s) => s.name).join(", ")}; ${o.runs} run(s); ${o.stepSeconds} s per step`);
  program = generatorProgram(o.generator, dir);
  log(`generator: ${o.generator}${o.generator === "loadgen" ? ` (${program})` : ""}`);
  const netns = createNetns(tag);
  const rmem = raiseReceiveBuffer(GENERATOR_RMEM);
  if (rmem) log(`net.core.rmem_default ${rmem.was} -> ${GENERATOR_RMEM} for the run (perfdhcp's socket, and any server's that does not size its own), restored at the end`);
  if (o.scenario === "pool") baseMac = POOL_BASE_MAC;
  const clients: Client[] = knownClients(CLIENTS, baseMac);
  const ctx: ServerContext = { tag, dir, netns, clients };
  const servers: ServerResult[] = [];
  for (const row of o.servers) servers.push(await benchServer(row, ctx, o));

  const result: BenchResult = {
    date: started.toISOString(),
    host: shortHost(),
    mode: o.quick ? "quick" : "full",
    stepSeconds: o.stepSeconds,
    runsPerServer: o.runs,
    ladder: o.ladder,
    clients: CLIENTS,
    baseMac,
    scenario: o.scenario,
    generator: o.generator,
    lossThreshold: MAX_LOSS,
    machine: { ...meta.machine, loadAvgAtEnd: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") },
    versions: meta.versions,
    servers,
    ratios: ratios(servers),
    notes: [
      `The generator (${o.generator}), the server under test and MariaDB share the same cores; the generator's own CPU is reported so a generator-bound step can be told apart.`,
      o.generator === "loadgen"
        ? "Latency percentiles come from loadgen's per-exchange timestamps (DO = DISCOVER to OFFER, RA = REQUEST to ACK): sent = just before the sendmmsg call, received = the kernel's arrival time on loadgen's socket (SO_TIMESTAMPNS)."
        : "Latency percentiles come from perfdhcp's -x t per-exchange timestamps (DO = DISCOVER to OFFER, RA = REQUEST to ACK).",
      "The wire columns time the same step on the server's side of the veth (a dumpcap capture of up to 10 s in its middle, bench/perf/wire.ts): no wait of the generator's for a CPU is in them. Longest stall: the longest time with a request waiting and no reply leaving.",
      `net.core.rmem_default is raised to ${GENERATOR_RMEM} bytes for the run: perfdhcp cannot size its socket, and with the 208 KiB default its own receive queue overflowed (drops counted by the kernel on perfdhcp's socket, not the server's) long before either server was busy. It is raised with loadgen too (which sizes its own), so a server that does not size its socket gets the same buffer with either generator.`,
      "The search scouts the ladder with short steps, then measures full steps from two rungs below where scouting stopped; every full step is in the Runs table.",
      ...(o.servers.some((s) => s.family === "reference") ? [CEILING_NOTE] : []),
    ],
  };
  writeResults(result, o);
  return servers.some((s) => s.status === "failed") ? 1 : 0;
}

function writeResults(r: BenchResult, o: Options): void {
  mkdirSync(o.outDir, { recursive: true });
  const pool = r.scenario === "pool";
  const base = `${r.date.slice(0, 10)}-${r.host}${pool ? "-pool" : ""}${o.quick ? "-quick" : ""}`;
  const md = markdownReport(r);
  writeFileSync(join(o.outDir, `${base}.json`), JSON.stringify(r, null, 2) + "\n");
  writeFileSync(join(o.outDir, `${base}.md`), md);
  const svg = barChartSvg(
    "Max DORA/s with under 1% lost",
    `${r.host}, ${r.machine.cpuModel} x${r.machine.cores}, ${r.date.slice(0, 10)}, median of ${r.runsPerServer}, ${r.stepSeconds} s steps`,
    r.servers.map((s) => ({
      label: s.name,
      value: s.summary?.doraPerSec ?? null,
      family: s.family,
      ...(s.runs.length > 1 ? { note: `(runs: ${s.runs.map((x) => Math.round(x.best?.achieved ?? 0)).join(", ")})` } : {}),
    })),
  );
  // quick runs are for development: they do not replace the published latest.*
  const files = [`${base}.json`, `${base}.md`];
  if (!o.quick) {
    const latest = pool ? "latest-pool" : "latest";
    writeFileSync(join(o.outDir, `${latest}.md`), md);
    writeFileSync(join(o.outDir, `${latest}.svg`), svg);
    files.push(`${latest}.md`, `${latest}.svg`);
  } else {
    writeFileSync(join(o.outDir, `${base}.svg`), svg);
    files.push(`${base}.svg`);
  }
  log(`wrote ${files.map((f) => join(o.outDir, f)).join(", ")}`);
  console.log("\n" + md);
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
} finally {
  await cleanupAll();
}
process.exit(code);
