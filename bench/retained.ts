/**
 * Heap kept alive by the exchange ring and by the answer cache, per entry:
 * what every eden collection promotes and every full collection walks.
 * Same setup as bench/alloc.ts (relayed DORA with Option 82, the reference
 * config's three offer queries, history journaled, SQLite with 10,000
 * subscribers). Measured as heapStats().heapSize after Bun.gc(true) with
 * the structure full, minus the same after it is emptied.
 *
 *   bun bench/retained.ts [cacheEntries=10000]
 */
import { edenGC, fullGC, heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/load.ts";
import { openBackend } from "../src/db/open.ts";
import { createLogger } from "../src/log/logger.ts";
import { HistoryWriter } from "../src/server/history.ts";
import { AnswerCache } from "../src/server/answer-cache.ts";
import { ExchangeRing, RING_SIZE } from "../src/server/exchange-ring.ts";
import { exchangeJson } from "../src/server/exchange-view.ts";
import { LeaseMemory } from "../src/server/leases.ts";
import { buildRuntime } from "../src/server/runtime.ts";
import { ringExchange } from "./support/ring-exchange.ts";
import { benchConfigXml, discover, fillUsers, request } from "./support/subscribers.ts";

const CACHED = Number(process.argv[2] ?? 10_000);
const USERS = Math.max(10_000, CACHED);
const dir = mkdtempSync(join(tmpdir(), "pydhcp-retained-"));
const xml = (ttl: number) => benchConfigXml(dir, { extra: `\n  <answerCache><ttl>${ttl}</ttl><maxEntries>${USERS}</maxEntries></answerCache>` });
const parsed = parseConfig(xml(3600), join(dir, "config.xml"));
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const config = parsed.config;
const quiet = createLogger({ level: "warn", format: "text" });
const backend = await openBackend(config.database, quiet, 2000);
const leases = new LeaseMemory(backend.leases, quiet);
const history = new HistoryWriter(backend, { journalPath: join(dir, "journal"), fsync: config.historyFsync }, quiet);
const cache = new AnswerCache(config.answerCache);
const rtCached = await buildRuntime({ config, backend, leases, cache });
const off = parseConfig(xml(0), join(dir, "config.xml"));
if (!off.ok) throw new Error(JSON.stringify(off.errors));
const rtPlain = await buildRuntime({ config: off.config, backend, leases, cache: new AnswerCache(off.config.answerCache) });
history.start();
history.setStatements(rtCached.historyStatements);

fillUsers(join(dir, "h.db"), USERS);

const exchange = (buf: Uint8Array, rt: typeof rtCached, ring: ExchangeRing | null) => ringExchange(buf, rt, history, config.server.leaseTime, ring);

function heap(): number {
  Bun.gc(true);
  Bun.gc(true);
  return heapStats().heapSize;
}

// warm-up: JIT, every subscriber's lease exists
for (let i = 0; i < USERS; i++) {
  await exchange(discover(i), rtPlain, null);
  await exchange(request(i), rtPlain, null);
}
await leases.flush();
await history.flush();

/** Heap with a full ring, then without it: the ring lives only in here. */
async function fillRing(rt: typeof rtCached): Promise<{ full: number; view: number }> {
  const ring = new ExchangeRing();
  // a DISCOVER and a REQUEST per client, as a DORA puts them in the ring
  for (let i = 0; i < RING_SIZE / 2; i++) {
    await exchange(discover(i), rt, ring);
    await exchange(request(i), rt, ring);
  }
  await history.flush();
  const full = heap();
  // views read entries as they are (what they rebuild is not kept)
  const view = JSON.stringify(ring.recent(3).map((e) => exchangeJson(e))).length;
  return { full, view };
}

for (const [label, rt] of [["cache off", rtPlain], ["cache on (hits)", rtCached]] as const) {
  const results: number[] = [];
  for (let r = 0; r < 3; r++) {
    const { full, view } = await fillRing(rt);
    await new Promise((r) => setTimeout(r, 10));
    const empty = heap();
    results.push((full - empty) / RING_SIZE);
    if (r === 0) console.log(`  (a view of 3 entries: ${view} chars of JSON)`);
  }
  console.log(`exchange ring, ${label}: bytes per entry ${results.map((x) => Math.round(x)).join(", ")}`);
}

{
  const results: number[] = [];
  for (let r = 0; r < 3; r++) {
    cache.invalidate();
    for (let i = 0; i < CACHED; i++) await exchange(discover(i), rtCached, null);
    await history.flush();
    if (cache.size !== CACHED) throw new Error(`cache holds ${cache.size}`);
    const full = heap();
    cache.invalidate();
    const empty = heap();
    results.push((full - empty) / CACHED);
  }
  console.log(`answer cache: bytes per entry (${CACHED} entries) ${results.map((x) => Math.round(x)).join(", ")}`);
}
{
  // What a DORA leaves in the old generation: every eden collection promotes
  // what is alive then (the leases just granted, among others); what of it
  // dies afterwards waits for a full collection. Eden collections every 600
  // DORAs, as at 3,000 DORA/s with five a second; ring and cache off.
  const results: number[] = [];
  const DORAS = 10_000;
  for (let r = 0; r < 3; r++) {
    await leases.flush();
    await history.flush();
    fullGC();
    fullGC();
    for (let k = 0; k < DORAS; k++) {
      const i = k % USERS;
      await exchange(discover(i), rtPlain, null);
      await exchange(request(i), rtPlain, null);
      if (k % 600 === 599) {
        await leases.flush();
        await history.flush();
        edenGC();
      }
    }
    await leases.flush();
    await history.flush();
    edenGC();
    const before = heapStats().heapSize;
    fullGC();
    results.push((before - heapStats().heapSize) / DORAS);
  }
  console.log(`old generation freed by a full collection, bytes per DORA (eden every 600) ${results.map((x) => Math.round(x)).join(", ")}`);
}
await history.close();
await backend.close();
rmSync(dir, { recursive: true, force: true });
