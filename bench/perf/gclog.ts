/**
 * JSC's collector log (BUN_JSC_logGC=1) read against the wire: which of the
 * late replies a capture saw happened while a collection ran.
 *
 * The log has no clock. probe.ts (PROBE_GC=1) reads the server's stderr as
 * it comes and stamps each chunk with the time it arrived; JSC writes a
 * cycle's "START" when it begins and "cycle <ms>ms END]" when it ends, so
 * a cycle is [end - cycle, end] on the same clock as the capture (epoch).
 * The heap with the most cycles is the serving thread's (workers have
 * their own, with a few small ones).
 */
import { percentile } from "./stats.ts";

export interface Stamped {
  /** epoch ms when the chunk was read */
  t: number;
  text: string;
}

export interface GcCycle {
  heap: string;
  kind: "Eden" | "Full";
  /** epoch ms */
  start: number;
  end: number;
  ms: number;
  /** the heap's size (kB) when the cycle started and after it ended; NaN when the log did not say */
  beforeKb: number;
  afterKb: number;
}

const TOKEN = /\[GC<(0x[0-9a-f]+)>: (START M (\d+)kb => (Eden|Full)Collection)?|(?:=> (\d+)kb, p=[\d.]+ms \(max [\d.]+\), )?cycle ([\d.]+)ms END\]/g;

/** The collection cycles in a stamped log, in order of their ends, every heap's. */
export function gcCycles(chunks: readonly Stamped[]): GcCycle[] {
  let text = "";
  const at: number[] = [];
  const times: number[] = [];
  for (const c of chunks) {
    at.push(text.length);
    times.push(c.t);
    text += c.text;
  }
  // the stamp of the chunk holding offset i
  const timeAt = (i: number): number => {
    let lo = 0;
    let hi = at.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (at[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return times[lo]!;
  };
  const out: GcCycle[] = [];
  /** the heap whose record is being written, and each heap's cycle under way */
  let heap = "";
  const open = new Map<string, { kind: "Eden" | "Full"; beforeKb: number }>();
  for (const m of text.matchAll(TOKEN)) {
    if (m[1] !== undefined) {
      heap = m[1];
      if (m[4]) open.set(heap, { kind: m[4] as "Eden" | "Full", beforeKb: Number(m[3]) });
      continue;
    }
    const o = open.get(heap);
    if (!o) continue;
    open.delete(heap);
    const end = timeAt(m.index! + m[0].length - 1);
    const ms = Number(m[6]);
    out.push({ heap, kind: o.kind, start: end - ms, end, ms, beforeKb: o.beforeKb, afterKb: m[5] === undefined ? NaN : Number(m[5]) });
  }
  return out;
}

/** The serving thread's cycles: the heap that collected most. */
export function mainHeap(cycles: readonly GcCycle[]): GcCycle[] {
  const n = new Map<string, number>();
  for (const c of cycles) n.set(c.heap, (n.get(c.heap) ?? 0) + 1);
  let best = "";
  for (const [h, k] of n) if (k > (n.get(best) ?? 0)) best = h;
  return cycles.filter((c) => c.heap === best);
}

export interface Attribution {
  full: number;
  eden: number;
  neither: number;
}

/**
 * Late requests (epoch ms of arrival and of the reply) by the cycle they
 * overlapped: a full collection first, then an eden one, else neither.
 * `slackMs` after a cycle still counts: the queue it left drains then.
 */
export function attribute(late: readonly { at: number; done: number }[], cycles: readonly GcCycle[], slackMs = 5): Attribution {
  const r: Attribution = { full: 0, eden: 0, neither: 0 };
  for (const l of late) {
    let kind: "full" | "eden" | "neither" = "neither";
    for (const c of cycles) {
      if (c.start > l.done || c.end + slackMs < l.at) continue;
      if (c.kind === "Full") {
        kind = "full";
        break;
      }
      kind = "eden";
    }
    r[kind]++;
  }
  return r;
}

export interface Promotion {
  /** eden cycles read (each after another eden cycle, both sizes known) */
  cycles: number;
  /** kB a cycle left in the old generation (heap after it minus heap after the one before), median of the shorter half of the cycles, then of the longer half */
  shortKb: number;
  longKb: number;
  /** median cycle length of each half, ms */
  shortMs: number;
  longMs: number;
}

/**
 * What eden cycles promote, by how long they ran. Whatever an eden cycle
 * keeps is old afterwards, and only a full collection frees it. The mutator
 * keeps running (and allocating) during a concurrent cycle, so the halves
 * say whether a cycle's length adds to it. In pydhcp it adds little: a
 * cycle that stops the server promotes about as much, so what it keeps is
 * what outlives its exchange (bench/results/2026-12-06-amd-promotion.md).
 */
export function edenPromotion(cycles: readonly GcCycle[]): Promotion | null {
  const pts: { ms: number; kb: number }[] = [];
  for (let i = 1; i < cycles.length; i++) {
    const a = cycles[i - 1]!;
    const b = cycles[i]!;
    if (a.kind !== "Eden" || b.kind !== "Eden" || Number.isNaN(a.afterKb) || Number.isNaN(b.afterKb)) continue;
    pts.push({ ms: b.ms, kb: b.afterKb - a.afterKb });
  }
  if (pts.length < 2) return null;
  pts.sort((x, y) => x.ms - y.ms);
  const half = pts.length >> 1;
  const short = pts.slice(0, half);
  const long = pts.slice(half);
  // medians: when two heaps write at once a size can land on the other heap's record, and one such pair is far out
  const med = (xs: readonly { kb: number }[]) => percentile(xs.map((p) => p.kb), 50)!;
  return {
    cycles: pts.length,
    shortKb: med(short),
    longKb: med(long),
    shortMs: percentile(short.map((p) => p.ms), 50)!,
    longMs: percentile(long.map((p) => p.ms), 50)!,
  };
}

export interface Allocation {
  /** gaps read: an eden cycle after an eden cycle, both sizes known */
  gaps: number;
  /** kB the heap grew between the end of one eden cycle and the start of the next, median */
  kb: number;
  /** ms from the end of one to the start of the next, median */
  ms: number;
}

/**
 * What the server allocates between two eden cycles: the heap at the start
 * of a cycle less the heap after the one before. With the rate, bytes per
 * exchange, as the whole server allocates them (bench/alloc.ts counts the
 * packet path alone). More bytes per exchange, more eden cycles a second.
 */
export function edenAllocation(cycles: readonly GcCycle[]): Allocation | null {
  const kb: number[] = [];
  const ms: number[] = [];
  for (let i = 1; i < cycles.length; i++) {
    const a = cycles[i - 1]!;
    const b = cycles[i]!;
    if (a.kind !== "Eden" || b.kind !== "Eden" || Number.isNaN(a.afterKb)) continue;
    kb.push(b.beforeKb - a.afterKb);
    ms.push(b.start - a.end);
  }
  if (kb.length < 2) return null;
  // medians, as for promotion: a size written over by another heap's record is far out
  return { gaps: kb.length, kb: percentile(kb, 50)!, ms: percentile(ms, 50)! };
}

/** One line for the probe: the cycles in [from, to] and the late replies by cause. */
export function describeGc(cycles: readonly GcCycle[], late: readonly { at: number; done: number }[], from: number, to: number): string {
  const inside = cycles.filter((c) => c.end >= from && c.start <= to);
  const eden = inside.filter((c) => c.kind === "Eden").map((c) => c.ms);
  const full = inside.filter((c) => c.kind === "Full").map((c) => c.ms);
  const q = (xs: number[], p: number) => percentile(xs, p)?.toFixed(1) ?? "-";
  const a = attribute(late, inside);
  const p = edenPromotion(inside);
  const al = edenAllocation(inside);
  return `collector (serving thread) in the capture: ${eden.length} eden cycles (p50/p90 ${q(eden, 50)}/${q(eden, 90)} ms), ` +
    `${full.length} full (${full.length ? full.map((x) => x.toFixed(0)).join(", ") + " ms" : "none"}); ` +
    `DISCOVERs over 5 ms: ${a.full} during a full cycle, ${a.eden} during an eden one, ${a.neither} during neither` +
    (p ? `; promoted per eden cycle (median): ${p.shortKb.toFixed(0)} kB in the shorter half (p50 ${p.shortMs.toFixed(1)} ms), ${p.longKb.toFixed(0)} kB in the longer (p50 ${p.longMs.toFixed(1)} ms)` : "") +
    (al ? `; allocated between eden cycles (median): ${al.kb.toFixed(0)} kB in ${al.ms.toFixed(0)} ms` : "");
}
