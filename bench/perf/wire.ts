/**
 * Latency as the server's own interface sees it: a capture (dumpcap) on the
 * server's side of the veth, each DISCOVER matched to its OFFER and each
 * REQUEST to its ACK by xid. perfdhcp's delays also hold the generator's own
 * waits for a CPU (it shares the two cores with the server); these hold only
 * what happened between the packet reaching the server's namespace and the
 * reply leaving it: the kernel's queue, the server's event loop, its work.
 *
 * Besides the percentiles it reports how evenly the generator sent (requests
 * per 10 ms: a generator that stalled catches up in a burst) and the longest
 * stretch with requests waiting and no reply leaving (the server stalled).
 */
import { existsSync } from "node:fs";
import { describeGc, type GcCycle } from "./gclog.ts";
import type { WireSummary } from "./results.ts";
import { percentile, round } from "./stats.ts";
import { runAsync } from "./sys.ts";

export interface WirePacket {
  /** seconds (epoch) */
  t: number;
  /** sent by the server */
  fromServer: boolean;
  xid: string;
  /** DHCP message type: 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK */
  type: number;
}

export interface WireReport {
  doMs: number[];
  raMs: number[];
  /** requests per 10 ms window, sorted */
  perWindow: number[];
  /** longest time with a request waiting and no reply leaving, ms */
  longestStallMs: number;
  /** DISCOVERs answered after more than 5 ms: arrival and reply, epoch ms (gclog.ts reads them against the collector) */
  lateDo: { at: number; done: number }[];
  /** the first and last packet, epoch ms */
  from: number;
  to: number;
}

const ANSWERS: Readonly<Record<number, number>> = { 2: 1, 5: 3 };

/** a request unanswered this long was lost: it no longer counts as waiting */
const LOST_AFTER_S = 1;

/** Pairs requests with their replies; `packets` in capture order. */
export function analyse(packets: readonly WirePacket[]): WireReport {
  const asked = new Map<string, number>();
  /** requests in arrival order, to forget the lost ones */
  const order: { key: string; t: number }[] = [];
  let head = 0;
  const doMs: number[] = [];
  const raMs: number[] = [];
  const lateDo: { at: number; done: number }[] = [];
  const windows = new Map<number, number>();
  const t0 = packets[0]?.t ?? 0;
  // since when a reply was due: the last reply, or the first request after the server had nothing waiting
  let since = t0;
  let longest = 0;
  for (const p of packets) {
    while (head < order.length && order[head]!.t < p.t - LOST_AFTER_S) {
      const o = order[head++]!;
      if (asked.get(o.key) === o.t) asked.delete(o.key);
    }
    if (!p.fromServer) {
      if (asked.size === 0) since = p.t;
      const key = `${p.xid}/${p.type}`;
      asked.set(key, p.t);
      order.push({ key, t: p.t });
      const w = Math.floor((p.t - t0) * 100);
      windows.set(w, (windows.get(w) ?? 0) + 1);
      continue;
    }
    const q = ANSWERS[p.type];
    if (q === undefined) continue;
    const key = `${p.xid}/${q}`;
    const at = asked.get(key);
    if (at === undefined) continue;
    asked.delete(key);
    const ms = (p.t - at) * 1000;
    (p.type === 2 ? doMs : raMs).push(ms);
    if (p.type === 2 && ms > 5) lateDo.push({ at: at * 1000, done: p.t * 1000 });
    longest = Math.max(longest, (p.t - since) * 1000);
    since = p.t;
  }
  const last = packets.at(-1)?.t ?? t0;
  const perWindow: number[] = [];
  for (let w = 0; w <= Math.floor((last - t0) * 100); w++) perWindow.push(windows.get(w) ?? 0);
  perWindow.sort((a, b) => a - b);
  doMs.sort((a, b) => a - b);
  raMs.sort((a, b) => a - b);
  return { doMs, raMs, perWindow, longestStallMs: longest, lateDo, from: t0 * 1000, to: last * 1000 };
}

/** tshark's `-T fields` lines (time, ip.src, dhcp.id, dhcp.option.dhcp) as packets. */
export function parseFields(text: string, serverAddr: string): WirePacket[] {
  const out: WirePacket[] = [];
  for (const line of text.split("\n")) {
    const [t, src, xid, type] = line.trim().split(/\s+/);
    if (!t || !src || !xid || !type) continue;
    out.push({ t: Number(t), fromServer: src === serverAddr, xid, type: Number(type) });
  }
  return out;
}

export function describe(r: WireReport): string {
  const over = (xs: number[]) => ((xs.filter((x) => x > 5).length / Math.max(1, xs.length)) * 100).toFixed(2);
  const w = r.perWindow;
  return (
    `wire (server interface): DO p50/p99 ${round(percentile(r.doMs, 50), 2)}/${round(percentile(r.doMs, 99), 2)} ms (${over(r.doMs)}% over 5 ms) ` +
    `RA p50/p99 ${round(percentile(r.raMs, 50), 2)}/${round(percentile(r.raMs, 99), 2)} ms (${over(r.raMs)}% over 5 ms) of ${r.doMs.length + r.raMs.length}; ` +
    `requests per 10 ms p50/p99/max ${percentile(w, 50)}/${percentile(w, 99)}/${w.at(-1) ?? 0}; longest stall with requests waiting ${round(r.longestStallMs, 1)} ms`
  );
}

/** The capture's numbers as the benchmark's latency table keeps them. */
export function summary(r: WireReport): WireSummary {
  const all = r.doMs.length + r.raMs.length;
  const over = r.doMs.filter((x) => x > 5).length + r.raMs.filter((x) => x > 5).length;
  return {
    samples: all,
    doP99Ms: round(percentile(r.doMs, 99), 3),
    raP99Ms: round(percentile(r.raMs, 99), 3),
    over5: all ? round(over / all, 4) ?? 0 : 0,
    longestStallMs: round(r.longestStallMs, 1) ?? 0,
  };
}

/** dumpcap and tshark are both there (Debian's tshark package has both) */
export function canCapture(): boolean {
  return Bun.which("dumpcap") !== null && Bun.which("tshark") !== null;
}

/** A capture on disk, not read yet: dumpcap's file and the packets it said it dropped. */
export interface Recording {
  file: string;
  dropped: number;
}

/**
 * Captures `seconds` of UDP on `iface` inside the namespace (`nsExec` runs a
 * command there) with dumpcap, and only that: reading it back (tshark,
 * readRecording) takes seconds of CPU, which must not fall inside the step
 * being measured. On two cores it did: tshark started as the capture ended,
 * 5 s before the step did, and the generator's p99 at SQLite's 80% was
 * 35-51 ms with it against 3-5 ms without.
 */
export async function record(nsExec: readonly string[], iface: string, seconds: number, file: string): Promise<Recording | string> {
  const cap = await runAsync([...nsExec, "dumpcap", "-q", "-i", iface, "-s", "600", "-B", "64", "-f", "udp", "-a", `duration:${seconds}`, "-w", file], [0, 1]);
  if (!existsSync(file)) return `dumpcap wrote nothing: ${cap.stderr.trim()}`;
  return { file, dropped: Number(/dropped on interface[^:]*: \d+\/(\d+)/.exec(cap.stderr)?.[1] ?? 0) };
}

/**
 * Reads a recording back. A capture that could not keep up misses replies:
 * `dropped` says so rather than the report showing fewer late ones.
 */
export async function readRecording(rec: Recording | string, serverAddr: string): Promise<{ report: WireReport; dropped: number } | string> {
  if (typeof rec === "string") return rec;
  const r = await runAsync(["tshark", "-r", rec.file, "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "dhcp.id", "-e", "dhcp.option.dhcp"], [0, 2]);
  return { report: analyse(parseFields(r.stdout, serverAddr)), dropped: rec.dropped };
}

/**
 * A recording read back (readRecording), as a line for the probe's output;
 * with `gc` (the serving thread's collection cycles so far, gclog.ts) a
 * second line says which late DISCOVERs overlapped one.
 */
export async function describeRecording(rec: Recording | string, serverAddr: string, gc?: () => GcCycle[]): Promise<string> {
  const c = await readRecording(rec, serverAddr);
  if (typeof c === "string") return `wire: ${c}`;
  let line = describe(c.report);
  if (c.dropped > 0) line += ` (capture dropped ${c.dropped} packets)`;
  if (!gc) return line;
  return `${line}\n  ${describeGc(gc(), c.report.lateDo, c.report.from, c.report.to)}`;
}
