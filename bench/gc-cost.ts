/**
 * What a full collection walks, and how long it takes, with the server's
 * long-lived structures full: the answer cache (one entry per subscriber)
 * and lease memory (one lease each); then without the cache. (The
 * exchange ring, on with <metrics>, is bench/retained.ts's.) A full
 * collection visits every live cell, so its time grows with their number,
 * and under load it runs on the cores the packets need. Also: what a cache
 * hit costs. Same packet path as bench/retained.ts (relayed DORA with
 * Option 82, SQLite, history journaled), the cache's TTL long enough that
 * nothing expires.
 *
 *   bun bench/gc-cost.ts [subscribers=10000]
 *
 * Cells are JSC's object count after a full collection (heapStats); the
 * time is the median of 9 forced full collections, each synchronous.
 */
import { fullGC, heapStats } from "bun:jsc";
import { openRig } from "./support/rig.ts";
import { ringExchange } from "./support/ring-exchange.ts";
import { discover, request } from "./support/subscribers.ts";

const USERS = Number(process.argv[2] ?? 10_000);
const rig = await openRig("pydhcp-gc-cost-", { extra: `\n  <answerCache><ttl>3600</ttl><maxEntries>${USERS}</maxEntries></answerCache>`, now: Date.now, users: USERS });
const { config, leases, history, rt } = rig;
const cache = rig.cache!;

function measure(label: string): { cells: number; ms: number } {
  const t: number[] = [];
  for (let k = 0; k < 9; k++) {
    const t0 = performance.now();
    fullGC();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  const s = heapStats();
  const top = Object.entries(s.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(`${label.padEnd(28)} cells ${String(s.objectCount).padStart(7)}  full collection p50 ${t[4]!.toFixed(2)} ms (min ${t[0]!.toFixed(2)})  heap ${(s.heapSize / 1e6).toFixed(1)} MB  (${top})`);
  return { cells: s.objectCount, ms: t[4]! };
}

const exchange = (buf: Uint8Array) => ringExchange(buf, rt, history, config.server.leaseTime, null);

await history.flush();
const base = measure("started");
for (let i = 0; i < USERS; i++) {
  await exchange(discover(i));
  await exchange(request(i));
}
await leases.flush();
await history.flush();
if (cache.size !== USERS) throw new Error(`cache holds ${cache.size}`);

{
  // a hit: the entry found and handed on as a result of its own
  const key = (cache as unknown as { entries: Map<string, unknown> }).entries.keys().next().value!;
  const n = 200_000;
  let found = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (cache.get(key)) found++;
  if (found !== n) throw new Error("not a hit");
  console.log(`answer cache hit: ${(((performance.now() - t0) / n) * 1000).toFixed(2)} µs`);
}
const all = measure("cache, leases");
cache.invalidate();
const leasesOnly = measure("leases");
const per = (a: { cells: number }, b: { cells: number }) => ((a.cells - b.cells) / USERS).toFixed(1);
console.log(`cells per subscriber: answer cache ${per(all, leasesOnly)}, lease ${per(leasesOnly, base)}; all ${all.cells}`);
await rig.close();
