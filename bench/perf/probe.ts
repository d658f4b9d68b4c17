/**
 * One server at fixed rates, for profiling rather than ranking:
 *
 *   bun bench/perf/probe.ts <server> <rate>[,<rate>...] [seconds] [-- wrapper argv...]
 *
 * Prints, per rate: DORA/s, loss, p50/p99 of both halves, CPU of server,
 * database and perfdhcp, machine load, RSS. A wrapper (e.g. `nice -n -10`
 * or `perf record -g -o /tmp/p.data`) is put in front of the server command.
 * PROBE_GENERATOR=perfdhcp drives perfdhcp instead of bench/perf/loadgen.c.
 * PERFDHCP_EXTRA adds generator flags (e.g. perfdhcp's "-g single"), PERFDHCP_WRAPPER
 * goes in front of perfdhcp (e.g. "taskset -c 1"); PYDHCP_BUN_ARGS
 * runs pydhcp from the sources with those bun flags
 * (e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/p"). PROBE_METRICS=1 turns on
 * pydhcp's /metrics and prints, per rate, what it dropped and why, and
 * the history rows written and still waiting in the journal;
 * PROBE_ENV="K=V ..." adds to the server's environment. PROBE_WIRE=1 also
 * captures the middle of each step on the server's interface (dumpcap; read
 * back with tshark after the step, outside what the step measures) and
 * prints the latency seen there (wire.ts), without the generator's own waits
 * (dumpcap's CPU lengthens the generator's tail in that step: docs/benchmark.md);
 * PROBE_WIRE_KEEP=<dir> keeps each capture there (wire-<rate>.pcapng).
 * PROBE_GC=1 (with PROBE_WIRE=1) runs the server with JSC's collector log
 * and says, per capture, how many of the DISCOVERs answered after 5 ms
 * overlapped a full collection, an eden one, or neither (gclog.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_BASE_MAC, knownClients } from "./clients.ts";
import { mariadbPid } from "./mariadb.ts";
import { postgresqlCpu } from "./postgresql.ts";
import { createNetns, GENERATOR_RMEM, raiseReceiveBuffer } from "./netns.ts";
import { parsePerfdhcp, perfdhcpArgv } from "./perfdhcp.ts";
import { generatorProgram, parseGenerator } from "./loadgen.ts";
import { cpuMeter, mainThreadCpuSeconds, memoryKb } from "./proc.ts";
import { serverByName } from "./servers.ts";
import { percentile, round } from "./stats.ts";
import { cleanupAll, installSignalCleanup, onCleanup, runAsync, spawnDaemon } from "./sys.ts";
import { describeRecording, record } from "./wire.ts";
import { gcCycles, mainHeap, type Stamped } from "./gclog.ts";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const wrapper = dash >= 0 ? argv.slice(dash + 1) : [];
const [name = "pydhcp-sqlite", rates = "5000", secs = "10"] = dash >= 0 ? argv.slice(0, dash) : argv;
const row = serverByName(name);
if (!row) throw new Error(`unknown server ${name}`);
installSignalCleanup();
const tag = `prb${process.pid % 10000}`;
const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
try {
  const netns = createNetns(tag);
  raiseReceiveBuffer(GENERATOR_RMEM);
  const ctx = { tag, dir, netns, clients: knownClients(10_000, DEFAULT_BASE_MAC) };
  const prep = await row.setup(ctx);
  const metricsUrl = process.env.PROBE_METRICS === "1" && prep.configFile.endsWith(".xml") && readFileSync(prep.configFile, "utf8").includes("<dhcpserver>")
    ? `http://${netns.serverAddr}:9167/metrics`
    : null;
  if (metricsUrl) {
    const xml = readFileSync(prep.configFile, "utf8");
    writeFileSync(prep.configFile, xml.replace("</config>", `  <metrics><host>${netns.serverAddr}</host><port>9167</port></metrics>\n</config>`));
  }
  // PROBE_CONFIG_APPEND="<history>...</history>": XML added to pydhcp's config, for trying a setting
  if (process.env.PROBE_CONFIG_APPEND && prep.configFile.endsWith(".xml")) {
    const xml = readFileSync(prep.configFile, "utf8");
    writeFileSync(prep.configFile, xml.replace("</config>", `  ${process.env.PROBE_CONFIG_APPEND}\n</config>`));
  }
  // PROBE_CONFIG_REPLACE="FROM=>TO[;;FROM=>TO...]": literal replacements in pydhcp's config (e.g. another <poolSize>)
  if (process.env.PROBE_CONFIG_REPLACE && prep.configFile.endsWith(".xml")) {
    let xml = readFileSync(prep.configFile, "utf8");
    for (const pair of process.env.PROBE_CONFIG_REPLACE.split(";;")) {
      const [from, to] = pair.split("=>");
      if (from === undefined || to === undefined || !xml.includes(from)) throw new Error(`PROBE_CONFIG_REPLACE: ${from} not in the config`);
      xml = xml.split(from).join(to);
    }
    writeFileSync(prep.configFile, xml);
  }
  const dropped = async (): Promise<Map<string, number>> => {
    const m = new Map<string, number>();
    if (!metricsUrl) return m;
    const r = await runAsync([...netns.exec(netns.server), "curl", "-s", metricsUrl]);
    for (const line of r.stdout.split("\n")) {
      const x = /^pydhcp_dropped_total\{reason="([^"]+)"\} (\d+)/.exec(line);
      if (x) m.set(x[1]!, Number(x[2]));
      // the server's own time per reply: replies, and those out within 5 ms
      const r5 = /^pydhcp_reply_seconds_(count|bucket)\{type="(?:OFFER|ACK)"(?:,le="0.005")?\} (\d+)/.exec(line);
      if (r5 && (r5[1] === "count" || line.includes('le="0.005"'))) {
        const k = r5[1] === "count" ? "replies" : "replies <= 5 ms";
        m.set(k, (m.get(k) ?? 0) + Number(r5[2]));
      }
      // ACKs that reused a lease without a write (<leases><cacheThreshold>), and answer-cache lookups
      const u = /^pydhcp_leases_reused_total (\d+)/.exec(line);
      if (u) m.set("leases reused", Number(u[1]));
      const c = /^pydhcp_answer_cache_lookups_total\{result="([^"]+)"\} (\d+)/.exec(line);
      if (c) m.set(`cache ${c[1]}`, Number(c[2]));
      // each statement's runs, and those done within 5 ms
      const q = /^pydhcp_query_duration_seconds_(count|bucket)\{query="([^"]+)"(,le="0.005")?\} (\d+)/.exec(line);
      if (q && (q[1] === "count" || q[3])) m.set(`query ${q[2]}${q[1] === "count" ? "" : " <= 5 ms"}`, Number(q[4]));
      // the event loop's lag: ticks sampled, and those late by 5 ms or less
      const l = /^pydhcp_event_loop_lag_seconds_(count|bucket\{le="0.005"\}) (\d+)/.exec(line);
      if (l) m.set(l[1] === "count" ? "lag ticks" : "lag ticks <= 5 ms", Number(l[2]));
      // history: rows the database has, and rows waiting in the journal for it (a writer that falls behind)
      // stretches that held the loop past a quarter of maxWait under a storm (server.ts, STRETCH_SHARE)
      const b = /^pydhcp_loop_breathers_total (\d+)/.exec(line);
      if (b) m.set("breathers", Number(b[1]));
      const h = /^pydhcp_history_(rows_written_total|backlog_rows) (\d+)/.exec(line);
      if (h) m.set(h[1] === "backlog_rows" ? "history backlog" : "history written", Number(h[2]));
    }
    return m;
  };
  // PROBE_ENV="K=V K=V": extra environment for the server (e.g. JSC's BUN_JSC_* knobs)
  for (const kv of (process.env.PROBE_ENV ?? "").split(" ").filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i > 0) prep.env = { ...prep.env, [kv.slice(0, i)]: kv.slice(i + 1) };
  }
  // PROBE_GC=1: JSC's collector log, each chunk stamped as it is read (gclog.ts), set against each capture
  const gcChunks: Stamped[] = [];
  const gc = process.env.PROBE_GC === "1";
  if (gc) prep.env = { ...prep.env, BUN_JSC_logGC: "1" };
  const d = spawnDaemon([...netns.exec(netns.server), ...wrapper, ...prep.argv], join(dir, "server.log"), prep.env, gc ? (text) => void gcChunks.push({ t: Date.now(), text }) : undefined);
  onCleanup("server", () => d.stop());
  // PROBE_GENERATOR=perfdhcp: perfdhcp instead of loadgen (bench/perf/loadgen.ts)
  const program = generatorProgram(parseGenerator(process.env.PROBE_GENERATOR ?? "loadgen"), dir);
  const pf = async (rate: number, seconds: number, t = false) => {
    const a = perfdhcpArgv({ local: netns.clientAddr, server: netns.serverAddr, baseMac: DEFAULT_BASE_MAC, clients: 10_000, rate, seconds, timestamps: t });
    const extra = (process.env.PERFDHCP_EXTRA ?? "").split(" ").filter(Boolean);
    const wrap = (process.env.PERFDHCP_WRAPPER ?? "").split(" ").filter(Boolean);
    const r = await runAsync([...netns.exec(netns.client), ...wrap, program, ...extra, ...a.slice(1)], [0, 3]);
    return { rep: parsePerfdhcp(r.stdout), cpu: r.cpuSeconds ?? 0 };
  };
  for (let i = 0; i < 60; i++) {
    const p = await pf(10, 1);
    if (p.rep.ra.received > 0) break;
    await Bun.sleep(300);
  }
  const serverPid = Number((await runAsync(["pgrep", "-n", "-f", prep.configFile])).stdout.trim()) || d.proc.pid;
  const dbPid = prep.usesMariadb ? await mariadbPid() : prep.usesPostgresql ? postgresqlCpu() : null;
  for (const rate of rates.split(",").map(Number)) {
    const d0 = await dropped();
    const m = cpuMeter({ server: serverPid, serving: () => mainThreadCpuSeconds(serverPid), db: dbPid });
    const us0 = userSys(serverPid);
    const m0 = machineBusy();
    const t0 = performance.now();
    const s0 = steal();
    // the middle of the step: after the first quarter, at most 10 s; read back after the step (wire.ts, record)
    const wire = process.env.PROBE_WIRE === "1"
      ? Bun.sleep((Number(secs) / 4) * 1000).then(() =>
          record(netns.exec(netns.server), netns.serverIf, Math.max(2, Math.min(10, Math.floor(Number(secs) / 2))), join(process.env.PROBE_WIRE_KEEP || dir, `wire-${rate}.pcapng`)))
      : null;
    const { rep, cpu } = await pf(rate, Number(secs), true);
    const wall = (performance.now() - t0) / 1000;
    const c = m.stop();
    const us1 = userSys(serverPid);
    const m1 = machineBusy();
    console.log(
      `${name} ${rate}/s: ${round(rep.ra.received / Number(secs), 0)} DORA/s lost ${(rep.loss * 100).toFixed(2)}% ` +
        `DO p50/p99 ${round(percentile(rep.doDelaysMs, 50), 2)}/${round(percentile(rep.doDelaysMs, 99), 2)} ms ` +
        `RA p50/p99 ${round(percentile(rep.raDelaysMs, 50), 2)}/${round(percentile(rep.raDelaysMs, 99), 2)} ms ` +
        `CPU server ${c.server?.toFixed(0)}% (serving thread ${c.serving?.toFixed(0) ?? "-"}%, user ${(((us1[0] - us0[0]) / wall) * 100).toFixed(0)}% sys ${(((us1[1] - us0[1]) / wall) * 100).toFixed(0)}%) db ${c.db?.toFixed(0) ?? "-"}% generator ${((cpu / wall) * 100).toFixed(0)}% ` +
        `machine busy ${(((m1[0] - m0[0]) / (m1[1] - m0[1])) * 200).toFixed(0)}% of 200 ` +
        `RSS ${((memoryKb(serverPid)?.rss ?? 0) / 1024).toFixed(0)} MB peak ${((memoryKb(serverPid)?.hwm ?? 0) / 1024).toFixed(0)} MB ` +
        // time the hypervisor ran something else on our CPUs: a noisy neighbour shows here
        `steal ${(((steal() - s0) / 100 / wall) * 100).toFixed(1)}%`,
    );
    // the server's counters first, as the step left them; then the capture is read (tshark)
    const lines: string[] = [];
    if (metricsUrl) {
      const d1 = await dropped();
      const delta = (k: string) => (d1.get(k) ?? 0) - (d0.get(k) ?? 0);
      const diff = [...d1.keys()].filter((k) => !k.startsWith("lag") && !k.startsWith("replies") && !k.startsWith("query") && !k.startsWith("history") && !k.startsWith("leases") && !k.startsWith("cache") && k !== "breathers" && delta(k) > 0);
      const queries = [...d1.keys()].filter((k) => k.startsWith("query") && !k.endsWith("5 ms") && delta(k) > 0);
      lines.push(`  dropped by the server: ${diff.length ? diff.map((k) => `${k} ${delta(k)}`).join(", ") : "none"}; ` +
        `event-loop ticks late by over 5 ms: ${delta("lag ticks") - delta("lag ticks <= 5 ms")} of ${delta("lag ticks")}; loop breathers ${delta("breathers")}; ` +
        `replies over 5 ms in the server: ${(((delta("replies") - delta("replies <= 5 ms")) / Math.max(1, delta("replies"))) * 100).toFixed(2)}% of ${delta("replies")}; ` +
        `history rows written ${delta("history written")}, waiting in the journal at the end ${d1.get("history backlog") ?? "?"}; ` +
        `ACKs reusing a lease ${delta("leases reused")}; answer cache hit/negative/miss ${delta("cache hit")}/${delta("cache negative_hit")}/${delta("cache miss")}`);
      if (queries.length) {
        lines.push(`  statements over 5 ms: ${queries.map((k) => `${k.slice(6)} ${(((delta(k) - delta(`${k} <= 5 ms`)) / delta(k)) * 100).toFixed(1)}% of ${delta(k)}`).join(", ")}`);
      }
    }
    if (wire) console.log(`  ${await describeRecording(await wire, netns.serverAddr, gc ? () => mainHeap(gcCycles(gcChunks)) : undefined)}`);
    for (const l of lines) console.log(l);
    await Bun.sleep(1500);
  }
} finally {
  // PROBE_SERVER_LOG=<file>: keep the server's output (e.g. with BUN_JSC_logGC=1 in PROBE_ENV)
  if (process.env.PROBE_SERVER_LOG) {
    const fs = require("node:fs");
    fs.copyFileSync(join(dir, "server.log"), process.env.PROBE_SERVER_LOG);
    if (fs.existsSync(join(dir, "server.log.err"))) fs.copyFileSync(join(dir, "server.log.err"), `${process.env.PROBE_SERVER_LOG}.err`);
  }
  await cleanupAll();
}

function userSys(pid: number): [number, number] {
  const st = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8") as string;
  const rest = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return [Number(rest[11]) / 100, Number(rest[12]) / 100];
}

/** steal jiffies over all CPUs, from /proc/stat */
function steal(): number {
  const f = (require("node:fs").readFileSync("/proc/stat", "utf8") as string).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f[7] ?? 0;
}

/** [busy, total] jiffies over all CPUs, from /proc/stat */
function machineBusy(): [number, number] {
  const f = (require("node:fs").readFileSync("/proc/stat", "utf8") as string).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!;
  const total = f.reduce((a, b) => a + b, 0);
  return [total - idle, total];
}
