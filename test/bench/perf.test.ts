/**
 * The pure parts of the load benchmark (bench/perf): perfdhcp's MAC
 * derivation, its report parser, the ladder search, the summary, the chart,
 * and the generated Kea and pydhcp configs checked by Kea and by pydhcp's
 * own config loader.
 */
import { describe, expect, test } from "bun:test";
import { XMLValidator } from "fast-xml-parser";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CEILING_NOTE } from "../../bench/perf/ceiling.ts";
import { barChartSvg, niceMax } from "../../bench/perf/chart.ts";
import { knownClients, macColon, parseMac, perfdhcpMac } from "../../bench/perf/clients.ts";
import { keaConfig } from "../../bench/perf/kea.ts";
import { parsePerfdhcp, perfdhcpArgv } from "../../bench/perf/perfdhcp.ts";
import { pydhcpConfigXml, serviceEnvironment } from "../../bench/perf/pydhcp.ts";
import { limitOf } from "../../bench/perf/limit.ts";
import { markdownReport } from "../../bench/perf/report.ts";
import { ratios, soakMemory, summarize, tailOfWindows, type BenchResult, type RunResult, type ServerResult, type StepResult } from "../../bench/perf/results.ts";
import { median, medianIndex, percentile } from "../../bench/perf/stats.ts";
import { climb, search, stepPasses } from "../../bench/perf/steps.ts";
import { parseConfig } from "../../src/config/load.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dir, "fixtures", name), "utf8");

describe("perfdhcp MAC derivation", () => {
  const base = parseMac("00:0c:01:00:00:00");
  test.each([
    [0, "00:0c:01:00:00:00"],
    [1, "00:0c:01:00:00:01"],
    [255, "00:0c:01:00:00:ff"],
    [256, "00:0c:01:00:01:00"],
    [9999, "00:0c:01:00:27:0f"],
  ])("draw %d -> %s", (r, mac) => {
    expect(macColon(perfdhcpMac(base, r))).toBe(mac);
  });

  test("adds per octet without carry, as perfdhcp does", () => {
    const b = parseMac("00:0c:01:00:00:ff");
    expect(macColon(perfdhcpMac(b, 1))).toBe("00:0c:01:00:00:00");
    expect(macColon(perfdhcpMac(b, 0x0101))).toBe("00:0c:01:00:01:00");
  });

  test("10,000 distinct clients with consecutive addresses", () => {
    const c = knownClients(10_000);
    expect(new Set(c.map((x) => x.hex)).size).toBe(10_000);
    expect(c[0]).toEqual({ index: 0, hex: "000c01000000", colon: "00:0c:01:00:00:00", ip: "198.19.1.0" });
    expect(c[9999]!.ip).toBe("198.19.40.15");
    expect(c[9999]!.hex).toBe("000c0100270f");
  });

  test("rejects a malformed base", () => {
    expect(() => parseMac("00:0c:01:00:00")).toThrow(/six hex octets/);
  });
});

describe("perfdhcp report parser", () => {
  test("counts, delays, timestamps and leases", () => {
    const r = parsePerfdhcp(fixture("perfdhcp-ok.txt"));
    expect(r.rate).toBeCloseTo(19.4949, 4);
    expect(r.expectedRate).toBe(20);
    expect(r.do).toMatchObject({ sent: 39, received: 39, drops: 0, minMs: 0.272, avgMs: 0.42, maxMs: 0.658, stdMs: 0.093 });
    expect(r.ra).toMatchObject({ sent: 39, received: 38, drops: 1, avgMs: 0.285, maxMs: 1.079 });
    expect(r.loss).toBeCloseTo(1 / 39, 10);
    expect(r.doDelaysMs.map((x) => Math.round(x * 1000))).toEqual([378, 355, 540, 503]);
    expect(r.raDelaysMs.map((x) => Math.round(x * 1000))).toEqual([200, 1079]);
    expect([...r.ackLeases]).toEqual([["01000c01000000", "198.19.1.0"], ["01000c0100270f", "198.19.40.15"]]);
  });

  test("no answer at all: n/a delays, 100% loss", () => {
    const r = parsePerfdhcp(fixture("perfdhcp-no-answer.txt"));
    expect(r.do).toMatchObject({ sent: 59, received: 0, drops: 59, avgMs: null, maxMs: null, minMs: null });
    expect(r.ra.sent).toBe(0);
    expect(r.loss).toBe(1);
  });

  test("empty output counts as total loss", () => {
    expect(parsePerfdhcp("").loss).toBe(1);
  });

  test("argv: relayed from the given address, timestamps on request", () => {
    const a = perfdhcpArgv({ local: "198.18.0.2", server: "198.18.0.1", baseMac: "00:0c:01:00:00:00", clients: 10000, rate: 500, seconds: 20, timestamps: true });
    expect(a.join(" ")).toBe("perfdhcp -4 -l 198.18.0.2 -b mac=00:0c:01:00:00:00 -R 10000 -r 500 -p 20 -d 1 -W 1000000 -x t 198.18.0.1");
  });
});

describe("stats", () => {
  test("median, median index, nearest-rank percentile", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(medianIndex([10, 30, 20])).toBe(2);
    expect(medianIndex([30, 10])).toBe(1);
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile([], 99)).toBeNull();
  });
});

function step(rate: number, loss: number, extra: Partial<StepResult> = {}): StepResult {
  const h = { sent: rate, received: rate, avgMs: 1, maxMs: 2, stdMs: 0.1 };
  return { rate, achieved: rate * (1 - loss), loss, offered: 1, do: h, ra: h, cpuServer: 50, cpuDb: null, cpuPerfdhcp: 20, rssKb: 1000, ...extra };
}

describe("ladder", () => {
  test("stops at a step that fails twice and keeps the last passing one", async () => {
    const seen: number[] = [];
    const { best, all } = await climb([100, 200, 300, 400], async (rate) => {
      seen.push(rate);
      return step(rate, rate >= 300 ? 0.05 : 0.001);
    });
    expect(seen).toEqual([100, 200, 300, 300]);
    expect(best?.rate).toBe(200);
    expect(all.length).toBe(4);
  });

  test("a step that fails once and passes on the retry counts as passed", async () => {
    let n = 0;
    const { best, all } = await climb([100, 200], async (rate) => step(rate, rate === 200 && n++ === 0 ? 0.5 : 0));
    expect(best?.rate).toBe(200);
    expect(all.map((s) => s.loss)).toEqual([0, 0.5, 0]);
  });

  test("a dead server ends the climb without a retry", async () => {
    const { best, all } = await climb([100, 200], async (rate) => step(rate, 0, rate === 200 ? { died: true } : {}), 3);
    expect(best?.rate).toBe(100);
    expect(all).toHaveLength(2);
  });

  test("search: scouts with short steps, then full steps from two rungs below where scouting stopped", async () => {
    const ladder = [100, 200, 300, 400, 500, 600, 700];
    const full: number[] = [];
    const scouts: number[] = [];
    const r = await search(
      ladder,
      async (rate) => (full.push(rate), step(rate, rate > 450 ? 0.05 : 0)),
      async (rate) => (scouts.push(rate), step(rate, rate > 550 ? 0.05 : 0)),
    );
    // scouting passes up to 500 (fails at 600, no retry); full steps start at 300 and find 400
    expect(scouts).toEqual([100, 200, 300, 400, 500, 600]);
    expect(full).toEqual([300, 400, 500, 500]);
    expect(r.best?.rate).toBe(400);
    expect(r.scouted).toHaveLength(6);
  });

  test("search: when the first full step fails it moves down the ladder", async () => {
    const ladder = [100, 200, 300, 400, 500, 600];
    const full: number[] = [];
    const r = await search(
      ladder,
      async (rate) => (full.push(rate), step(rate, rate >= 300 ? 0.05 : 0)),
      async (rate) => step(rate, 0),
    );
    // scouting reached the top (600): full steps from 400 fail, then from 200
    expect(full).toEqual([400, 400, 200, 300, 300]);
    expect(r.best?.rate).toBe(200);
  });

  test("search without scouting is a climb from the bottom", async () => {
    const r = await search([100, 200], async (rate) => step(rate, 0), null);
    expect(r.best?.rate).toBe(200);
    expect(r.scouted).toEqual([]);
  });

  test("a step fails on 1% loss, on a dead server, or when perfdhcp could not offer the rate", () => {
    expect(stepPasses(step(100, 0.0099))).toBe(true);
    expect(stepPasses(step(100, 0.01))).toBe(false);
    expect(stepPasses(step(100, 0, { died: true }))).toBe(false);
    expect(stepPasses(step(100, 0, { offered: 0.5 }))).toBe(false);
  });
});

function server(name: string, family: ServerResult["family"], maxima: number[], baseline?: string): ServerResult {
  const runs: RunResult[] = maxima.map((m) => ({ best: step(m, 0), steps: [step(m, 0), step(m * 2, 0.5)], hwmKb: 2048 }));
  return { name, family, backend: "x", description: name, command: [], status: "ok", runs, summary: summarize(runs), ...(baseline ? { baseline } : {}) };
}

describe("summary and report", () => {
  test("median of the maxima, details from the median run, ratios against the baseline", () => {
    const k = server("kea-memfile", "kea", [4000, 5000]);
    const p = server("pydhcp-sqlite", "pydhcp", [2000, 3000], "kea-memfile");
    expect(k.summary!.doraPerSec).toBe(4500);
    expect(k.summary!.stepRate).toBe(4000);
    const r = ratios([k, p]);
    expect(r).toHaveLength(1);
    expect(r[0]!.dora).toBeCloseTo(2500 / 4500, 3);
  });

  test("a pydhcp row is also compared with its further Kea rows", () => {
    const km = server("kea-memfile", "kea", [6000]);
    const ky = server("kea-mysql", "kea", [400]);
    const p = { ...server("pydhcp-mysql", "pydhcp", [9000], "kea-mysql"), also: ["kea-memfile"] };
    expect(ratios([km, ky, p]).map((x) => [x.kea, x.dora])).toEqual([["kea-mysql", 22.5], ["kea-memfile", 1.5]]);
  });

  test("soak memory: first, last, max and the drift between the halves", () => {
    expect(soakMemory([[0, 100], [5, 120], [10, 110], [15, 130], [20, 140], [25, 150]])).toEqual({
      rssFirstKb: 100, rssLastKb: 150, rssMaxKb: 150, driftKb: 30,
    });
    expect(soakMemory([])).toEqual({ rssFirstKb: null, rssLastKb: null, rssMaxKb: null, driftKb: null });
  });

  test("the tail step is its median window by DO p99, every window kept in order", () => {
    const w = (doP99Ms: number | null, samples: number) => ({ rate: 800, samples, loss: 0, doP50Ms: 0.1, doP99Ms, raP50Ms: 0.1, raP99Ms: 1, doMaxMs: 2, raMaxMs: 2 });
    const t = tailOfWindows([w(9, 1), w(0.5, 2), w(3, 3)]);
    expect(t.doP99Ms).toBe(3);
    expect(t.samples).toBe(3);
    expect(t.windows!.map((x) => x.doP99Ms)).toEqual([9, 0.5, 3]);
    // a window without a p99 counts as the slowest
    expect(tailOfWindows([w(null, 1), w(2, 2), w(4, 3)]).doP99Ms).toBe(4);
    expect(() => tailOfWindows([])).toThrow();
  });

  test("the captured window gives the wire's figures and never the row's p99", () => {
    const wire = (doP99Ms: number) => ({ samples: 2000, doP99Ms, raP99Ms: 0.31, over5: 0.0012, longestStallMs: 3.25 });
    const w = (doP99Ms: number, samples: number) => ({ rate: 800, samples, loss: 0, doP50Ms: 0.1, doP99Ms, raP50Ms: 0.1, raP99Ms: 1, doMaxMs: 2, raMaxMs: 2 });
    // the captured window is the slowest by far: the median is still 3, from the three without a capture
    const t = tailOfWindows([w(9, 1), w(0.5, 2), w(3, 3)], { ...w(40, 4), wire: wire(6) });
    expect(t.doP99Ms).toBe(3);
    expect(t.samples).toBe(3);
    expect(t.wire!.doP99Ms).toBe(6);
    expect(t.captured).toEqual({ doP99Ms: 40, raP99Ms: 1, wire: wire(6) });
    expect(t.windows!.map((x) => x.doP99Ms)).toEqual([9, 0.5, 3]);
    // a capture that read nothing: no wire figures, not a median window's
    expect(tailOfWindows([{ ...w(1, 1), wire: wire(2) }], w(5, 2)).wire).toBeUndefined();
  });

  test("markdown carries every server row and the ratio row", () => {
    const k = server("kea-memfile", "kea", [5000]);
    const p = server("pydhcp-sqlite", "pydhcp", [2500], "kea-memfile");
    const skipped: ServerResult = { name: "pydhcp-mysql", family: "pydhcp", backend: "mysql", description: "", command: [], status: "skipped", reason: "not built", runs: [] };
    const res: BenchResult = {
      date: "2026-01-01T00:00:00.000Z", host: "h", mode: "full", stepSeconds: 20, runsPerServer: 1, ladder: [2500, 5000],
      clients: 10000, baseMac: "00:0c:01:00:00:00", lossThreshold: 0.01,
      machine: { cpuModel: "CPU", cores: 2, kernel: "6", memTotalKb: 1048576, loadAvgAtStart: "0 0 0" },
      versions: { kea: "2.2.0" }, servers: [k, p, skipped], ratios: ratios([k, p]), notes: [],
    };
    const md = markdownReport(res);
    expect(md).toContain("| **kea-memfile** | 5,000 | 5,000 |");
    expect(md).toContain("| pydhcp-sqlite | kea-memfile | 0.50 |");
    expect(md).toContain("- pydhcp-mysql: skipped: not built");
  });

  test("the ceiling row is in the main, runs and latency tables and the notes, not in the ratios", () => {
    const c: ServerResult = {
      ...server("ceiling", "reference", [11000]),
      tail: { rate: 8800, samples: 1000, loss: 0, doP50Ms: 0.1, doP99Ms: 0.9, raP50Ms: 0.1, raP99Ms: 0.8, doMaxMs: 2, raMaxMs: 2 },
    };
    const k = server("kea-memfile", "kea", [5000]);
    const p = server("pydhcp-sqlite", "pydhcp", [2500], "kea-memfile");
    const rs = ratios([c, k, p]);
    expect(rs.map((x) => [x.pydhcp, x.kea])).toEqual([["pydhcp-sqlite", "kea-memfile"]]);
    const res: BenchResult = {
      date: "2026-01-01T00:00:00.000Z", host: "h", mode: "full", stepSeconds: 20, runsPerServer: 1, ladder: [2500, 5000, 11000],
      clients: 10000, baseMac: "00:0c:01:00:00:00", lossThreshold: 0.01,
      machine: { cpuModel: "CPU", cores: 2, kernel: "6", memTotalKb: 1048576, loadAvgAtStart: "0 0 0" },
      versions: {}, servers: [c, k, p], ratios: rs, notes: [CEILING_NOTE],
    };
    const md = markdownReport(res);
    expect(md).toContain("| **ceiling** (reference) | 11,000 | 11,000 |");
    expect(md).toContain("| ceiling (reference) | 11,000 (11000) |");
    expect(md).toContain("| ceiling (reference) | 8,800 | 1,000 |");
    // no capture: the wire columns say so
    expect(md).toContain("| 0.80 | 2.0 | - | - | - | - |");
    const wire = (doP99Ms: number) => ({ samples: 2000, doP99Ms, raP99Ms: 0.31, over5: 0.0012, longestStallMs: 3.25 });
    const windows = [{ doP99Ms: 0.5, raP99Ms: 0.4, wire: wire(0.3) }, { doP99Ms: 0.9, raP99Ms: 0.8, wire: wire(0.42) }, { doP99Ms: 12.5, raP99Ms: 11, wire: wire(6.1) }];
    const wired = markdownReport({ ...res, servers: [{ ...c, tail: { ...c.tail!, wire: wire(0.42), windows } }, k, p] });
    // the median window's figures, then every window's DO p99: the generator's, then the wire's
    expect(wired).toContain("| 0.80 | 2.0 | 0.42 / 0.31 | 0.12 | 3.3 | 0.50, 0.90, 12.50; 0.30, 0.42, 6.10 |");
    expect(wired).toContain("3 windows of the step length");
    // since the capture has its own window: the generator's p99 per window, then the captured window's two
    const captured = { doP99Ms: 7.5, raP99Ms: 6, wire: wire(4.4) };
    const separate = markdownReport({ ...res, servers: [{ ...c, tail: { ...c.tail!, wire: wire(4.4), windows: windows.map(({ wire: _, ...x }) => x), captured } }, k, p] });
    expect(separate).toContain("| 0.80 | 2.0 | 4.40 / 0.31 | 0.12 | 3.3 | 0.50, 0.90, 12.50; 7.50; 4.40 |");
    expect(separate).toContain("| DO p99 ms per window; captured window: generator; wire |");
    expect(separate).toContain("so its window is not one the row's p99 is taken from");
    expect(md).toContain("One window of the step length");
    const ratioSection = md.slice(md.indexOf("## pydhcp over Kea"), md.indexOf("## Runs"));
    expect(ratioSection).not.toContain("ceiling");
    expect(md).toContain("no server can be measured above it");
  });
});

describe("what limits a row", () => {
  const failing = (extra: Partial<StepResult>, died = false): RunResult => {
    const best = step(4000, 0);
    return { best, steps: [step(3000, 0), best, step(5000, 0.2, { ...extra, ...(died ? { died } : {}) })], hwmKb: null };
  };

  test("names each resource saturated in the first failing step", () => {
    expect(limitOf(failing({ cpuServer: 97.4, cpuPerfdhcp: 30 }), 2)).toBe("server CPU 97%");
    expect(limitOf(failing({ cpuServer: 30, cpuDb: 95, cpuPerfdhcp: 10 }), 2)).toBe("database CPU 95%");
    expect(limitOf(failing({ cpuServer: 20, cpuPerfdhcp: 99 }), 2)).toBe("generator CPU 99%");
    // two cores, neither process alone at 90% of one, together at 90% of both
    expect(limitOf(failing({ cpuServer: 85, cpuDb: 20, cpuPerfdhcp: 80 }), 2)).toBe("the machine 185% of 200%");
    expect(limitOf(failing({ cpuServer: 101, cpuPerfdhcp: 90 }), 2)).toBe("server CPU 101%, generator CPU 90%, the machine 191% of 200%");
  });

  test("a failure with no core full is waiting, with its figures; the ladder's top and a dead server say so", () => {
    expect(limitOf(failing({ cpuServer: 60, cpuPerfdhcp: 40 }), 2)).toBe("waiting, no CPU saturated (server 60%, generator 40%)");
    expect(limitOf(failing({ cpuServer: null, cpuPerfdhcp: null }), 2)).toBe("waiting, no CPU saturated");
    expect(limitOf(failing({ cpuServer: 99 }, true), 2)).toBe("the server died at 5000/s");
    const top = step(4000, 0);
    expect(limitOf({ best: top, steps: [step(3000, 0), top], hwmKb: null }, 2)).toBe("nothing: passed the ladder's top");
    // read back from JSON the best step is a copy of the last one, not the same object
    expect(limitOf(JSON.parse(JSON.stringify({ best: top, steps: [step(3000, 0), top], hwmKb: null })), 2)).toBe("nothing: passed the ladder's top");
    expect(limitOf({ best: null, steps: [], hwmKb: null }, 2)).toBe("no step ran");
  });

  test("the report gives the median run's limit in the main table and each run's in the runs table", () => {
    const runs: RunResult[] = [
      { best: step(4000, 0), steps: [step(4000, 0), step(5000, 0.3, { cpuServer: 98 })], hwmKb: 1 },
      { best: step(6000, 0), steps: [step(6000, 0), step(7000, 0.3, { cpuServer: 40, cpuPerfdhcp: 96 })], hwmKb: 1 },
      { best: step(5000, 0), steps: [step(5000, 0), step(6000, 0.3, { cpuServer: 60, cpuDb: 92 })], hwmKb: 1 },
    ];
    const k: ServerResult = { name: "kea-mysql", family: "kea", backend: "mysql", description: "", command: [], status: "ok", runs, summary: summarize(runs) };
    const md = markdownReport({
      date: "2026-01-01T00:00:00.000Z", host: "h", mode: "full", stepSeconds: 20, runsPerServer: 3, ladder: [4000, 5000, 6000, 7000],
      clients: 10000, baseMac: "00:0c:01:00:00:00", lossThreshold: 0.01,
      machine: { cpuModel: "CPU", cores: 2, kernel: "6", memTotalKb: 1048576, loadAvgAtStart: "0 0 0" },
      versions: {}, servers: [k], ratios: [], notes: [],
    });
    // the median maximum is run 3's (5,000): its failing step had the database at 92%
    expect(md).toContain("| 1.0 | 0.0 | database CPU 92% |");
    expect(md).toContain("| server CPU 98%; generator CPU 96%; database CPU 92% |");
    expect(md).toContain("Limited by: what was saturated in that run's first failing step");
  });
});

describe("pydhcp as deployed", () => {
  test("the benchmark takes the Environment= lines of the systemd unit", () => {
    expect(serviceEnvironment("[Service]\nEnvironment=A_B=1\n  Environment=X=y z\n#Environment=C=2\nExecStart=x\n")).toEqual({ A_B: "1", X: "y z" });
    // the shipped unit caps the engine's idea of RAM (docs/running.md)
    expect(serviceEnvironment()).toMatchObject({ BUN_JSC_forceRAMSize: "536870912" });
  });
});

describe("chart", () => {
  test("valid SVG with one bar per measured server", () => {
    const svg = barChartSvg("t <&>", "s", [
      { label: "kea-memfile", value: 5123, family: "kea" },
      { label: "pydhcp-sqlite", value: 2500, family: "pydhcp" },
      { label: "pydhcp-mysql", value: null, family: "pydhcp" },
      { label: "ceiling", value: 11000, family: "reference" },
    ]);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg.match(/<rect /g)!.length).toBe(4); // background + 3 bars
    // one colour per family: the reference row stands apart
    const fills = [...svg.matchAll(/<rect x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*" fill="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(fills).size).toBe(3);
    expect(svg).toContain("not measured");
    expect(svg).toContain("t &lt;&amp;&gt;");
  });

  test("axis maximum is a round number at or above the largest bar", () => {
    expect(niceMax(5123)).toBe(10000);
    expect(niceMax(4500)).toBe(5000);
    expect(niceMax(240)).toBe(250);
    expect(niceMax(0)).toBe(1);
  });
});

describe("generated server configs", () => {
  const clients = knownClients(10_000);

  test("Kea memfile config: every client reserved, and kea-dhcp4 -t accepts it", () => {
    const dir = mkdtempSync(join(tmpdir(), "pdb-test-"));
    try {
      const cfg = keaConfig({ ifname: "lo", serverAddr: "127.0.0.1", relayAddr: "198.18.0.2", dir }, clients, null);
      const subnet = ((cfg.Dhcp4 as Record<string, unknown>).subnet4 as Record<string, unknown>[])[0]!;
      const res = subnet.reservations as { "hw-address": string; "ip-address": string }[];
      expect(res).toHaveLength(10_000);
      expect(res[9999]).toEqual({ "hw-address": "00:0c:01:00:27:0f", "ip-address": "198.19.40.15" });
      const file = join(dir, "kea.json");
      writeFileSync(file, JSON.stringify(cfg));
      const r = Bun.spawnSync(["kea-dhcp4", "-t", file], { env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
      expect(r.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("pydhcp configs load with pydhcp's own loader", () => {
    const sqlite = parseConfig(pydhcpConfigXml({ serverAddr: "198.18.0.1", dir: "/tmp" }, { kind: "sqlite", path: "/tmp/x.sqlite" }, { threadLimit: 1, poolSize: 1 }), "/tmp/bench.xml");
    expect(sqlite.ok).toBe(true);
    if (!sqlite.ok) return;
    expect(sqlite.config.database).toEqual({ kind: "sqlite", path: "/tmp/x.sqlite" });
    expect(sqlite.config.offers.map((o) => o.name)).toEqual(["offer_1"]);
    expect(sqlite.config.history?.name).toBe("history_sql");
    expect(sqlite.config.server.serverId).toBe("198.18.0.1");

    const db = { database: "d", user: "u", password: "p<&", socket: "/run/mysqld/mysqld.sock" };
    const mysql = parseConfig(pydhcpConfigXml({ serverAddr: "198.18.0.1", dir: "/tmp" }, { kind: "mysql", db }, { threadLimit: 8, poolSize: 8 }), "/tmp/bench.xml");
    expect(mysql.ok).toBe(true);
    if (!mysql.ok) return;
    expect(mysql.config.database).toMatchObject({ kind: "mysql", user: "u", password: "p<&", database: "d", socket: "/run/mysqld/mysqld.sock", poolSize: 8 });
    expect(mysql.config.server.threadLimit).toBe(8);

    const pg = parseConfig(
      pydhcpConfigXml({ serverAddr: "198.18.0.1", dir: "/tmp" }, { kind: "postgresql", db: { database: "d", user: "u", password: "p<&", socket: "/var/run/postgresql" } }, { threadLimit: 64, poolSize: 4 }),
      "/tmp/bench.xml",
    );
    expect(pg.ok).toBe(true);
    if (!pg.ok) return;
    expect(pg.config.database).toEqual({ kind: "postgresql", host: "", port: 5432, socket: "/var/run/postgresql", user: "u", password: "p<&", database: "d", poolSize: 4, lookupBatch: 16 });
  });

  test("Kea PostgreSQL config: lease and hosts in pgsql through the socket directory, and kea-dhcp4 -t accepts it", () => {
    const dir = mkdtempSync(join(tmpdir(), "pdb-test-"));
    try {
      const db = { database: "d", user: "u", password: "p", socket: "/var/run/postgresql" };
      const cfg = keaConfig({ ifname: "lo", serverAddr: "127.0.0.1", relayAddr: "198.18.0.2", dir }, clients, db, { threads: 0 }, "postgresql");
      const d4 = cfg.Dhcp4 as Record<string, unknown>;
      expect(d4["lease-database"]).toEqual({ type: "postgresql", name: "d", user: "u", password: "p", host: "/var/run/postgresql" });
      expect(d4["hosts-database"]).toEqual(d4["lease-database"]);
      const file = join(dir, "kea.json");
      writeFileSync(file, JSON.stringify(cfg));
      const r = Bun.spawnSync(["kea-dhcp4", "-t", file], { env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
      expect(r.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("CPU of a process tree (PostgreSQL's process per connection)", () => {
  test("a busy child's CPU counts for its parent, also after the child ended", async () => {
    const { treeCpuSeconds } = await import("../../bench/perf/proc.ts");
    // a shell whose child spins for 0.8 s and is killed; the shell itself only sleeps
    const p = Bun.spawn(["sh", "-c", "sh -c 'while :; do :; done' & sleep 0.8; kill $!; wait; sleep 0.5"], { stdout: "ignore" });
    await Bun.sleep(100);
    const t0 = treeCpuSeconds(p.pid)!;
    await Bun.sleep(600);
    const t1 = treeCpuSeconds(p.pid)!;
    await Bun.sleep(500);
    const t2 = treeCpuSeconds(p.pid)!;
    await p.exited;
    expect(t1 - t0).toBeGreaterThan(0.05);
    expect(t2).toBeGreaterThanOrEqual(t1);
    expect(treeCpuSeconds(p.pid)).toBeNull();
  });
});

describe("CPU of a server's serving thread", () => {
  test("a worker thread's CPU counts for the process, not for its first thread", async () => {
    const { cpuSeconds, mainThreadCpuSeconds } = await import("../../bench/perf/proc.ts");
    // the first thread sleeps while a Worker spins
    const p = Bun.spawn([process.execPath, "-e", `new Worker(URL.createObjectURL(new Blob(["while (true);"]))); await Bun.sleep(20000);`], { stdout: "ignore" });
    try {
      await Bun.sleep(150);
      const a0 = cpuSeconds(p.pid)!;
      const m0 = mainThreadCpuSeconds(p.pid)!;
      // however busy the machine: until the process has used 0.3 s more
      for (let i = 0; i < 100 && cpuSeconds(p.pid)! - a0 < 0.3; i++) await Bun.sleep(50);
      const used = cpuSeconds(p.pid)! - a0;
      expect(used).toBeGreaterThanOrEqual(0.3);
      expect(mainThreadCpuSeconds(p.pid)! - m0).toBeLessThan(used / 4);
    } finally {
      p.kill();
      await p.exited;
    }
    expect(mainThreadCpuSeconds(p.pid)).toBeNull();
  });
});

describe("pydhcpdb reference rows", () => {
  const { referenceConfig, parseCheckFix, applyCheckFix } = require("../../bench/perf/pydhcpdb.ts") as typeof import("../../bench/perf/pydhcpdb.ts");
  const original = readFileSync(join(import.meta.dir, "../fixtures/pydhcpdb/config.xml"), "utf8");
  const db = "<database><sqlite><path>/tmp/x.sqlite</path></sqlite></database>";

  test("the reference config changes only in addresses and the database", () => {
    const xml = referenceConfig("198.18.0.1", db);
    const strip = (s: string) =>
      s.replace(/<host>[^<]*<\/host>/, "").replace(/<broadcast>[^<]*<\/broadcast>/, "").replace(/<DHCPServer>[^<]*<\/DHCPServer>/, "").replace(/<mysql>[\s\S]*<\/mysql>|<database>[\s\S]*<\/database>/, "");
    expect(strip(xml)).toBe(strip(original));
    expect(xml).toContain("upper(mac)=upper('{ClientMacAddress}')");
    expect(xml).toContain("<ThreadLimit>1</ThreadLimit>");
    const parsed = parseConfig(xml, "/tmp/ref.xml");
    expect(parsed.ok).toBe(true);
  });

  test("--check's printed fix is applied as printed: statements, equivalent queries, ThreadLimit", () => {
    const lines = [
      "query offer_3: WARN reads every row of users (10001 rows) on each lookup: upper(mac) hides its column from every index; 3.10 ms now, growing with the table [MySQL: type ALL, ~10001 rows]",
      "  equivalent query: <offer_3>select ip,mask,router,dns from users where mac = '{ClientMacAddress}'</offer_3>",
      "fix (run by you; --check changes nothing), then use the equivalent queries above:",
      "  UPDATE `users` SET `mac` = lower(`mac`), `port` = lower(`port`);",
      "  -- and have whatever writes these columns write lower case, as pydhcp's hex variables are",
      "  CREATE INDEX `users_mac_port` ON `users` (`mac`, `port`);",
      "setting ThreadLimit 1: WARN one lookup at a time; fix: <ThreadLimit>64</ThreadLimit> (lookups in flight share <poolSize>8</poolSize> connections)",
    ];
    const fix = parseCheckFix(lines);
    expect(fix.statements).toEqual(["UPDATE `users` SET `mac` = lower(`mac`), `port` = lower(`port`);", "CREATE INDEX `users_mac_port` ON `users` (`mac`, `port`);"]);
    expect(fix.threadLimit).toBe(64);
    const xml = applyCheckFix(referenceConfig("198.18.0.1", db), fix);
    expect(xml).toContain("<offer_3>select ip,mask,router,dns from users where mac = '{ClientMacAddress}'</offer_3>");
    expect(xml).toContain("upper(mac)=upper('{sw_mac}')");
    expect(xml).toContain("<ThreadLimit>64</ThreadLimit>");
  });
});
