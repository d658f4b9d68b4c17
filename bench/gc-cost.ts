/**
 * What a full collection walks, and how long it takes, with the server's
 * long-lived structures full: the answer cache (one entry per subscriber),
 * lease memory (one lease each) and the exchange ring; then without the
 * ring, without the cache. A full collection visits every live cell, so
 * its time grows with their number, and under load it runs on the cores
 * the packets need. Also: what a cache hit costs. Same setup as
 * bench/retained.ts (relayed DORA with Option 82, SQLite, history
 * journaled), the cache's TTL long enough that nothing expires.
 *
 *   bun bench/gc-cost.ts [subscribers=10000]
 *
 * Cells are JSC's object count after a full collection (heapStats); the
 * time is the median of 9 forced full collections, each synchronous.
 */
import { fullGC, heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../src/codec/decode.ts";
import { parseConfig } from "../src/config/load.ts";
import { openBackend } from "../src/db/open.ts";
import { createLogger } from "../src/log/logger.ts";
import { respond } from "../src/core/respond.ts";
import type { Request } from "../src/core/exchange.ts";
import { parseRelayAgentInfo } from "../src/option82/parse.ts";
import { HistoryWriter } from "../src/server/history.ts";
import { recordExchange } from "../src/server/history-event.ts";
import { AnswerCache } from "../src/server/answer-cache.ts";
import { ExchangeRing, ringEntry } from "../src/server/exchange-ring.ts";
import { LeaseMemory } from "../src/server/leases.ts";
import { buildRuntime } from "../src/server/runtime.ts";
import { benchConfigXml, discover, fillUsers, request } from "./support/subscribers.ts";

const USERS = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), "pydhcp-gc-cost-"));
const xml = benchConfigXml(dir, { extra: `\n  <answerCache><ttl>3600</ttl><maxEntries>${USERS}</maxEntries></answerCache>` });
const parsed = parseConfig(xml, join(dir, "config.xml"));
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const config = parsed.config;
const quiet = createLogger({ level: "warn", format: "text" });
const backend = await openBackend(config.database, quiet, 2000);
const leases = new LeaseMemory(backend.leases, quiet);
const history = new HistoryWriter(backend, { journalPath: join(dir, "journal"), fsync: config.historyFsync }, quiet);
const cache = new AnswerCache(config.answerCache);
const rt = await buildRuntime({ config, backend, leases, cache });
history.start();
history.setStatements(rt.historyStatements);
fillUsers(join(dir, "h.db"), USERS);

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

let ring: ExchangeRing | null = new ExchangeRing();
async function exchange(buf: Uint8Array): Promise<void> {
  // the datagram as the socket hands it: a buffer of its own
  buf = buf.slice();
  const d = decode(buf);
  if (!d.ok) throw new Error(d.error.message);
  const msg = d.msg;
  const rai = msg.options.get(82);
  const req: Request = { msg, type: msg.options.get(53)![0]!, size: buf.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() };
  if (rai) req.relay = parseRelayAgentInfo(rai);
  const ex = await respond(req, rt.deps);
  if (ex.outcome.kind !== "reply") throw new Error(`no reply: ${ex.outcome.note}`);
  recordExchange(history, ex, config.server.leaseTime);
  ring?.push(ringEntry(ex, buf, rt, performance.now() - req.arrived));
}

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
const all = measure("cache, leases, ring");
ring = null;
const noRing = measure("cache, leases");
cache.invalidate();
const leasesOnly = measure("leases");
const per = (a: { cells: number }, b: { cells: number }) => ((a.cells - b.cells) / USERS).toFixed(1);
console.log(`cells per subscriber: answer cache ${per(noRing, leasesOnly)}, lease ${per(leasesOnly, base)}; all ${all.cells}`);
await history.close();
await backend.close();
rmSync(dir, { recursive: true, force: true });
