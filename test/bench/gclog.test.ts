/**
 * bench/perf/gclog.ts: JSC's collector log, stamped per chunk as probe.ts
 * reads it, as cycles on the capture's clock, and late replies set against
 * them. The chunks below are cut as JSC writes them: a cycle's START when it
 * begins, its END when it ends, another heap's record in between.
 */
import { expect, test } from "bun:test";
import { attribute, describeGc, edenAllocation, edenPromotion, gcCycles, mainHeap, type Stamped } from "../../bench/perf/gclog.ts";
import { analyse, parseFields } from "../../bench/perf/wire.ts";

const MAIN = "0x5860745c118";
const WORKER = "0x5860b480118";
const log: Stamped[] = [
  { t: 1000, text: `[GC<${MAIN}>: starting 0.013623ms]\n` },
  { t: 1010, text: `[GC<${MAIN}>: START M 6460kb => EdenCollection, a=0kb hf=0.000 mu=0.600 v=0kb (C:0 M:0) o=0 b=0 i#1:N<CsMsrShDMsm(0)SrbBcs> 6007+0 p=1.073112ms (max 1.073112)...]\n` },
  // a worker's whole cycle lands while the main heap's is under way
  { t: 1011, text: `[GC<${WORKER}>: START M 640kb => EdenCollection, a=0kb => 196kb, p=0.376670ms (max 1.084282), cycle 0.358903ms END]\n` },
  { t: 1013, text: `[GC<${MAIN}>: M a=6kb hf=0.001 mu=0.6 => 9000kb, p=0.5ms (max 1.07), cycle 3.5ms END]\n` },
  { t: 2000, text: `[GC<${MAIN}>: START M 50000kb => FullCollection, a=0kb hf=0.000 mu=0.600 p=1.0ms (max 2.3)...]\n[GC<${MAIN}>: M a=1` },
  { t: 2030, text: `0kb ...]\n[GC<${MAIN}>: M a=20kb` },
  { t: 2060, text: ` => 26000kb, p=4.1ms (max 5.8), cycle 62.5ms END]\n` },
  { t: 3000, text: `[GC<${MAIN}>: START M 9000kb => EdenCollection, a=0kb => 1000kb, p=1.2ms (max 5.8), cycle 2ms END]\n` },
];

test("cycles come out per heap, ending when their END was read, starting a cycle earlier", () => {
  const all = gcCycles(log);
  expect(all.map((c) => [c.heap === MAIN ? "main" : "worker", c.kind, c.end, c.ms])).toEqual([
    ["worker", "Eden", 1011, 0.358903],
    ["main", "Eden", 1013, 3.5],
    ["main", "Full", 2060, 62.5],
    ["main", "Eden", 3000, 2],
  ]);
  const main = mainHeap(all);
  expect(main.every((c) => c.heap === MAIN)).toBe(true);
  expect(main[1]!.start).toBeCloseTo(2060 - 62.5, 6);
});

test("late replies go to the full cycle they overlap first, then an eden one, else neither", () => {
  const main = mainHeap(gcCycles(log));
  const a = attribute(
    [
      { at: 1995, done: 2003 }, // overlaps the full cycle's start
      { at: 2063, done: 2070 }, // within 5 ms after it ended: its queue
      { at: 1008, done: 1015 }, // the first eden cycle
      { at: 2500, done: 2510 }, // nothing
    ],
    main,
  );
  expect(a).toEqual({ full: 2, eden: 1, neither: 1 });
  const line = describeGc(main, [{ at: 2500, done: 2510 }], 900, 2100);
  expect(line).toContain("1 eden cycles");
  expect(line).toContain("1 full (63 ms)");
  expect(line).toContain("0 during a full cycle, 0 during an eden one, 1 during neither");
});

test("the wire reader lists the DISCOVERs answered after 5 ms, on the epoch-ms clock", () => {
  const S = "198.18.0.1";
  const C = "198.18.0.2";
  const r = analyse(parseFields([`2.000 ${C} 0x1 1`, `2.001 ${C} 0x2 1`, `2.002 ${S} 0x1 2`, `2.0135 ${S} 0x2 2`].join("\n"), S));
  expect(r.lateDo.length).toBe(1);
  expect(r.lateDo[0]!.at).toBeCloseTo(2001, 6);
  expect(r.lateDo[0]!.done).toBeCloseTo(2013.5, 6);
  expect(r.from).toBeCloseTo(2000, 6);
  expect(r.to).toBeCloseTo(2013.5, 6);
});

test("cycles carry the heap's size before and after; eden promotion is read between two eden cycles, by cycle length", () => {
  const main = mainHeap(gcCycles(log));
  expect(main.map((c) => [c.kind, c.beforeKb, c.afterKb])).toEqual([
    ["Eden", 6460, 9000],
    ["Full", 50000, 26000],
    ["Eden", 9000, 1000],
  ]);
  // an eden after a full one says nothing of promotion: not enough pairs here
  expect(edenPromotion(main)).toBeNull();
  const eden = (ms: number, afterKb: number) => ({ heap: MAIN, kind: "Eden" as const, start: 0, end: 0, ms, beforeKb: afterKb + 20000, afterKb });
  const full = { ...eden(60, 20000), kind: "Full" as const };
  // the 3 ms cycle's size is another heap's (a worker's 300 kB): one pair far below, the next far above
  const series = [eden(1, 20000), eden(1, 20100), eden(8, 21100), eden(2, 21300), full, eden(9, 22500), eden(1, 22600), eden(10, 23800), eden(3, 300), eden(4, 24500)];
  // pairs by length: 1 ms +100, 1 +100, 2 +200 | 3 -23500, 4 +24200, 8 +1000, 10 +1200; the eden after the full one starts none
  const p = edenPromotion(series)!;
  expect(p.cycles).toBe(7);
  expect(p.shortKb).toBe(100);
  expect(p.longKb).toBe(1000);
  expect(p.shortMs).toBe(1);
  expect(p.longMs).toBe(4);
  // a log without sizes (an older JSC's) gives no reading rather than a wrong one
  expect(edenPromotion(series.map((c) => ({ ...c, afterKb: NaN })))).toBeNull();
  expect(describeGc(series, [], -1, 1)).toContain("promoted per eden cycle (median): 100 kB in the shorter half (p50 1.0 ms), 1000 kB in the longer (p50 4.0 ms)");
});

test("allocation is the heap's growth from the end of one eden cycle to the start of the next; none across a full one", () => {
  const eden = (start: number, end: number, beforeKb: number, afterKb: number) => ({ heap: MAIN, kind: "Eden" as const, start, end, ms: end - start, beforeKb, afterKb });
  const series = [
    eden(0, 2, 30000, 10000),
    eden(150, 153, 30500, 10400), // +20,500 kB in 148 ms
    eden(300, 302, 30100, 10800), // +19,700 in 147
    { ...eden(400, 460, 60000, 8000), kind: "Full" as const },
    eden(600, 603, 99999, 8300), // after a full cycle: not read
    eden(760, 762, 28300, 8700), // +20,000 in 157
  ];
  expect(edenAllocation(series)).toEqual({ gaps: 3, kb: 20000, ms: 148 });
  expect(edenAllocation(series.slice(0, 2))).toBeNull();
  expect(describeGc(series, [], -1, 1000)).toContain("allocated between eden cycles (median): 20000 kB in 148 ms");
});
