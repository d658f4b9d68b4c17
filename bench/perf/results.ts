/**
 * The shape of a benchmark result file and the pure summary over runs:
 * median of the per-run maxima, the details of the median run, and the
 * pydhcp/Kea ratios.
 */
import type { Generator } from "./loadgen.ts";
import { median, medianIndex, round } from "./stats.ts";

export interface StepResult {
  rate: number;
  achieved: number | null;
  loss: number;
  offered: number;
  died?: boolean;
  do: { sent: number; received: number; avgMs: number | null; maxMs: number | null; stdMs: number | null };
  ra: { sent: number; received: number; avgMs: number | null; maxMs: number | null; stdMs: number | null };
  /** % of one core over the step */
  cpuServer: number | null;
  cpuDb: number | null;
  /** the load generator's (perfdhcp's in the name: results before loadgen keep the key) */
  cpuPerfdhcp: number | null;
  /** server VmRSS at the end of the step, kB */
  rssKb: number | null;
  /** machine 1-minute load average at the end of the step (other work shows here) */
  load1?: number;
  /** % of the step during which some task waited for a CPU (PSI "some"): contention */
  cpuPressure?: number | null;
}

export interface RunResult {
  /** highest passing step, null if none passed */
  best: StepResult | null;
  steps: StepResult[];
  /** the short scouting steps that chose where the full steps start */
  scouted?: StepResult[];
  /** server peak RSS (VmHWM) at the end of the run, kB */
  hwmKb: number | null;
}

/** A step timed on the server's interface (bench/perf/wire.ts). */
export interface WireSummary {
  samples: number;
  doP99Ms: number | null;
  raP99Ms: number | null;
  /** share of replies over 5 ms, both kinds */
  over5: number;
  longestStallMs: number;
}

export interface TailResult {
  rate: number;
  samples: number;
  loss: number;
  doP50Ms: number | null;
  doP99Ms: number | null;
  raP50Ms: number | null;
  raP99Ms: number | null;
  doMaxMs: number | null;
  raMaxMs: number | null;
  /**
   * The step timed on the server's interface (bench/perf/wire.ts), when
   * dumpcap and tshark are there: from the captured window (`captured`) in
   * results since 2026-12-07's capture fix, from the median window before.
   */
  wire?: WireSummary;
  /**
   * Each window measured, in order. The tail comes in episodes that one
   * window catches or misses, so the fields above are the median window's
   * (by DO p99, the generator's); these say how far the windows spread.
   */
  windows?: TailWindow[];
  /**
   * One more window at the same rate, with dumpcap recording the server's
   * interface: where `wire` comes from. dumpcap's CPU on the cores the
   * server and generator share lengthens the generator's tail (at 12,000/s
   * on 2 cores: 7.3 and 10.1 ms against 3.4 and 5.4 ms without), so this
   * window's generator p99s are shown, not taken for the row.
   */
  captured?: TailWindow;
}

/** One window of the tail step: the generator's p99s, and the wire's when it was captured. */
export type TailWindow = Pick<TailResult, "doP99Ms" | "raP99Ms" | "wire">;

/** Windows of the tail step: the slow exchanges come in episodes that one window catches or misses. */
export const TAIL_WINDOWS = 3;

const windowOf = (w: TailResult): TailWindow => ({ doP99Ms: w.doP99Ms, raP99Ms: w.raP99Ms, ...(w.wire ? { wire: w.wire } : {}) });

/**
 * The tail step from its windows (in the order measured): the median window
 * by DO p99, with every window's p99s; the wire's figures from `captured`,
 * the window measured with a capture running, when there was one.
 */
export function tailOfWindows(windows: readonly TailResult[], captured?: TailResult): TailResult {
  if (windows.length === 0) throw new Error("a tail step needs at least one window");
  const byDo = [...windows].sort((a, b) => (a.doP99Ms ?? Infinity) - (b.doP99Ms ?? Infinity));
  const median = byDo[Math.floor((byDo.length - 1) / 2)]!;
  const t: TailResult = { ...median, windows: windows.map(windowOf) };
  if (captured) {
    t.captured = windowOf(captured);
    if (captured.wire) t.wire = captured.wire;
    else delete t.wire;
  }
  return t;
}

/** A long run at the maximum rate: is memory flat, does the rate hold? */
export interface SoakResult {
  rate: number;
  seconds: number;
  achieved: number | null;
  loss: number;
  /** [seconds since start, VmRSS kB] every few seconds */
  rss: [number, number][];
  rssFirstKb: number | null;
  rssLastKb: number | null;
  rssMaxKb: number | null;
  /** RSS over the second half minus RSS over the first half (median of each), kB: growth means a leak */
  driftKb: number | null;
}

export interface VerifyResult {
  leases: number;
  distinctClients: number;
  /** leases whose address differs from the client's reservation */
  mismatches: number;
  example: string | null;
}

export interface Summary {
  /** median over runs of the completed DORA/s at the highest passing step */
  doraPerSec: number | null;
  /** the ladder step of the median run */
  stepRate: number | null;
  loss: number | null;
  doAvgMs: number | null;
  doMaxMs: number | null;
  raAvgMs: number | null;
  raMaxMs: number | null;
  cpuServer: number | null;
  cpuDb: number | null;
  cpuPerfdhcp: number | null;
  rssKb: number | null;
  hwmKb: number | null;
  /** CPU pressure (PSI) during that step, % */
  cpuPressure: number | null;
}

export interface ServerResult {
  name: string;
  /** "reference" rows (the ceiling) are not servers under test: no ratios */
  family: "reference" | "kea" | "pydhcp";
  backend: string;
  description: string;
  baseline?: string;
  also?: string[];
  command: string[];
  status: "ok" | "skipped" | "failed";
  reason?: string;
  verify?: VerifyResult;
  /** row counts after the runs: the writes really happened */
  counts?: Record<string, number>;
  runs: RunResult[];
  summary?: Summary;
  tail?: TailResult;
  soak?: SoakResult;
  unthrottled?: UnthrottledResult;
}

/**
 * One step offered far above what the server sustains: goodput (completed
 * DORA/s) as a share of its own maximum says whether overload collapses it.
 */
export interface UnthrottledResult {
  /** DORA/s offered */
  rate: number;
  /** completed DORA/s */
  achieved: number | null;
  loss: number;
  /** achieved over the row's own maximum (median of runs); null without one */
  share: number | null;
  cpuServer: number | null;
  cpuDb: number | null;
}

export interface Ratio {
  pydhcp: string;
  kea: string;
  dora: number | null;
  doAvg: number | null;
  raAvg: number | null;
  /** server CPU per 1,000 DORA/s, pydhcp over Kea (lower is leaner) */
  cpuPerDora: number | null;
}

export interface BenchResult {
  date: string;
  host: string;
  mode: "quick" | "full";
  stepSeconds: number;
  runsPerServer: number;
  ladder: number[];
  clients: number;
  baseMac: string;
  /** absent in results from before pools: reserved */
  scenario?: "reserved" | "pool";
  /** the load generator (bench/perf/loadgen.ts); absent in results from before loadgen: perfdhcp */
  generator?: Generator;
  lossThreshold: number;
  machine: { cpuModel: string; cores: number; kernel: string; memTotalKb: number; loadAvgAtStart: string; loadAvgAtEnd?: string };
  versions: Record<string, string>;
  servers: ServerResult[];
  ratios: Ratio[];
  notes: string[];
}

export function summarize(runs: RunResult[]): Summary {
  const maxima = runs.map((r) => r.best?.achieved ?? 0);
  const i = medianIndex(maxima);
  const run = runs[i];
  const b = run?.best ?? null;
  return {
    doraPerSec: runs.length && runs.some((r) => r.best) ? round(median(maxima), 1) : null,
    stepRate: b?.rate ?? null,
    loss: b ? round(b.loss * 100, 3) : null,
    doAvgMs: round(b?.do.avgMs ?? null, 3),
    doMaxMs: round(b?.do.maxMs ?? null, 3),
    raAvgMs: round(b?.ra.avgMs ?? null, 3),
    raMaxMs: round(b?.ra.maxMs ?? null, 3),
    cpuServer: round(b?.cpuServer ?? null, 1),
    cpuDb: round(b?.cpuDb ?? null, 1),
    cpuPerfdhcp: round(b?.cpuPerfdhcp ?? null, 1),
    rssKb: b?.rssKb ?? null,
    hwmKb: run?.hwmKb ?? null,
    cpuPressure: b?.cpuPressure ?? null,
  };
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || b === 0 ? null : round(a / b, 3);
}

export function cpuPerKDora(s: Summary): number | null {
  return s.cpuServer == null || !s.doraPerSec ? null : (s.cpuServer / s.doraPerSec) * 1000;
}

/** Each pydhcp row against its Kea baseline (when both ran). */
export function ratios(servers: ServerResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const p of servers) {
    if (p.family !== "pydhcp" || !p.baseline || !p.summary) continue;
    for (const name of [p.baseline, ...(p.also ?? [])]) {
      const k = servers.find((s) => s.name === name);
      if (!k?.summary) continue;
      out.push({
        pydhcp: p.name,
        kea: k.name,
        dora: ratio(p.summary.doraPerSec, k.summary.doraPerSec),
        doAvg: ratio(p.summary.doAvgMs, k.summary.doAvgMs),
        raAvg: ratio(p.summary.raAvgMs, k.summary.raAvgMs),
        cpuPerDora: ratio(cpuPerKDora(p.summary), cpuPerKDora(k.summary)),
      });
    }
  }
  return out;
}

/** Summary of RSS samples taken during a soak. */
export function soakMemory(rss: [number, number][]): Pick<SoakResult, "rssFirstKb" | "rssLastKb" | "rssMaxKb" | "driftKb"> {
  if (rss.length === 0) return { rssFirstKb: null, rssLastKb: null, rssMaxKb: null, driftKb: null };
  const kb = rss.map(([, v]) => v);
  const half = Math.floor(kb.length / 2);
  return {
    rssFirstKb: kb[0]!,
    rssLastKb: kb[kb.length - 1]!,
    rssMaxKb: Math.max(...kb),
    driftKb: half > 0 ? Math.round(median(kb.slice(half)) - median(kb.slice(0, half))) : null,
  };
}
