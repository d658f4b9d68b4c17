/**
 * Old-generation garbage per exchange: what the packet path keeps alive long
 * enough to be promoted by an eden collection and then drops, so that only a
 * full collection frees it. Same exchanges as bench/alloc.ts, run with
 * event-loop turns and lease memory flushed every 100 ms as the server does.
 * Measured as the growth of heapStats() between two forced eden collections
 * with N exchanges between them (no full collection may run in between: the
 * run is refused if the object count drops).
 *
 *   bun bench/promoted.ts [exchanges=6000] [runs=5] [--ttl S] [--no-history]
 */
import { edenGC, fullGC, heapStats } from "bun:jsc";
import { openRig, SimClock, simulatedRun } from "./support/rig.ts";
import { discover, request, USERS } from "./support/subscribers.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const positional = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && (args[i - 1] === "--ttl" || args[i - 1] === "--rate")));
const N = Number(positional[0] ?? 6000);
const RUNS = Number(positional[1] ?? 5);
const TTL = opt("--ttl", 5);
const RATE = opt("--rate", 6400);
/** exchange k happens at k / RATE seconds */
const clock = new SimClock(RATE);
const HISTORY = !flag("--no-history");
const rig = await openRig("pydhcp-promoted-", { history: HISTORY, extra: `\n  <answerCache><ttl>${TTL}</ttl></answerCache>`, now: clock.now });
const discovers = Array.from({ length: USERS }, (_, i) => discover(i));
const requests = Array.from({ length: USERS }, (_, i) => request(i));
const { run, stop } = simulatedRun(rig, clock, USERS, (i) => [discovers[i]!, requests[i]!]);

await run(2 * USERS); // warm-up: JIT tiers, every subscriber's lease row exists
fullGC();
const bytes: number[] = [];
const perType = new Map<string, number[]>();
for (let r = 0; r < RUNS; r++) {
  await run(2000);
  edenGC();
  const a = heapStats();
  await run(N);
  edenGC();
  const b = heapStats();
  if (b.objectCount < a.objectCount) { r--; fullGC(); continue; }
  bytes.push((b.heapSize - a.heapSize) / N);
  for (const k of new Set([...Object.keys(a.objectTypeCounts), ...Object.keys(b.objectTypeCounts)])) {
    const v = ((b.objectTypeCounts[k] ?? 0) - (a.objectTypeCounts[k] ?? 0)) / N;
    (perType.get(k) ?? perType.set(k, []).get(k)!).push(v);
  }
  fullGC();
}
stop();
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
console.log(`bun ${Bun.version}: ${N} relayed DORA exchanges per run, ${RUNS} runs, ${RATE}/s simulated, answer cache ttl ${TTL} s, history ${HISTORY ? "on" : "off"}`);
console.log(`  promoted garbage: median ${Math.round(med(bytes))} bytes per exchange (runs ${bytes.map((x) => Math.round(x)).join(", ")})`);
console.log(`  cells per exchange, median: ${[...perType].map(([k, v]) => [k, med(v)] as const).filter(([, v]) => Math.abs(v) >= 0.05).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`);
await rig.close();
