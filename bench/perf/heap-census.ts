/**
 * A preload for pydhcp run from the sources: every 250 ms an eden
 * collection and a census of the heap (`heapStats()`). It appends to
 * $HEAP_CENSUS_OUT (default /tmp/pydhcp-heap-census.txt):
 *  - after each full collection (the object count falls), what is live:
 *    the count and the most numerous types;
 *  - then, every 250 ms, the growth since that full collection per second:
 *    what eden collections promoted and a full one will have to free.
 * The forced collections promote some of what is in flight, so the growth
 * is an upper bound on the server's own.
 *
 *   PYDHCP_BUN_ARGS="--preload $PWD/bench/perf/heap-census.ts" ./node_modules/.bin/bun bench/perf/probe.ts <row> 3000,10000 15
 *
 * (an absolute path: the server need not start in the repository's directory)
 */
import { edenGC, heapStats } from "bun:jsc";
import { appendFileSync } from "node:fs";

const out = process.env.HEAP_CENSUS_OUT || "/tmp/pydhcp-heap-census.txt";
type Stats = ReturnType<typeof heapStats>;
const top = (counts: Record<string, number>, n: number, per = 1) =>
  Object.entries(counts).map(([k, v]) => [k, v / per] as const).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ");

let prev: Stats | null = null;
let base: Stats | null = null;
let t0 = 0;
setInterval(() => {
  edenGC();
  const h = heapStats();
  const now = performance.now();
  if (!base || (prev && h.objectCount < prev.objectCount - 1000)) {
    base = h;
    t0 = now;
    appendFileSync(out, `${new Date().toISOString()} live after a full collection: ${h.objectCount} objects, ${(h.heapSize / 1e6).toFixed(1)} MB: ${top(h.objectTypeCounts, 12)}\n`);
  } else if (now - t0 > 1000) {
    const dt = (now - t0) / 1000;
    const grown: Record<string, number> = {};
    for (const [k, v] of Object.entries(h.objectTypeCounts)) grown[k] = v - (base.objectTypeCounts[k] ?? 0);
    appendFileSync(out, `${new Date().toISOString()} promoted since: ${((h.heapSize - base.heapSize) / dt / 1e6).toFixed(2)} MB/s over ${dt.toFixed(1)} s, per second: ${top(grown, 8, dt)}\n`);
  }
  prev = h;
}, 250).unref();
