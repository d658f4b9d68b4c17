/**
 * How long an eden collection takes while the server serves, and whether
 * that grows with the number of subscribers. JSC's write barrier remembers
 * an old object that is given a young one, and the next eden collection
 * visits all of that object again: a Map of every subscriber written once
 * per exchange costs its whole size at each collection (about 17 ns an
 * entry here), so the pause would grow with the subscriber count instead of
 * with the work in flight.
 *
 * Same packet path as bench/promoted.ts (relayed DISCOVER + REQUEST with
 * Option 82, SQLite, answer cache, history journaled, lease memory flushed
 * every 100 ms, the flood check), over every subscriber in turn, so each is
 * seen again about when its cache entry and lease are old. After a warm-up
 * of two passes, each round runs `batch` exchanges, then times one forced
 * eden collection (edenGC()).
 *
 *   bun bench/eden.ts [--users 2000,10000,30000] [--rounds 200] [--batch 300] [--ttl 5]
 *
 * Each subscriber count runs in a child process of its own (one heap each).
 */
import { edenGC, fullGC } from "bun:jsc";
import { percentile } from "./perf/stats.ts";
import { openRig, SimClock, simulatedRun } from "./support/rig.ts";
import { discover, request } from "./support/subscribers.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const ROUNDS = Number(opt("--rounds", "200"));
const BATCH = Number(opt("--batch", "300"));
/** the answer cache's TTL, seconds: below the time between two visits of a subscriber (USERS / 6,400 s), every visit refreshes its entry */
const TTL = Number(opt("--ttl", "5"));
const child = process.env.PYDHCP_EDEN_USERS;

if (child === undefined) {
  const counts = opt("--users", "2000,10000,30000").split(",").map(Number);
  for (const n of counts) if (!(n > 0 && n <= 32_000)) throw new Error(`--users: 1 to 32000 each (198.18.128.0/17), not ${n}`);
  console.log(`bun ${Bun.version}: forced eden collection after every ${BATCH} relayed DORA exchanges, ${ROUNDS} rounds, answer cache ttl ${TTL} s`);
  for (const n of counts) {
    const r = Bun.spawnSync([process.execPath, import.meta.path, ...args], { env: { ...process.env, PYDHCP_EDEN_USERS: String(n) }, stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString().trimEnd();
    if (r.exitCode !== 0 || !out.trim()) throw new Error(`${n} subscribers: ${r.stderr.toString().slice(-2000)}`);
    console.log(out);
  }
  process.exit(0);
}

const USERS = Number(child);
const clock = new SimClock(6400);
// the cache holds every subscriber: what is measured is the rescan, not eviction
const rig = await openRig("pydhcp-eden-", { users: USERS, now: clock.now, extra: `\n  <answerCache><ttl>${TTL}</ttl><maxEntries>${Math.max(16_384, USERS)}</maxEntries></answerCache>` });
// built per exchange, as received datagrams are: 30,000 prepared packets would be old objects of their own
const { run, stop } = simulatedRun(rig, clock, USERS, (i) => [discover(i), request(i)]);

await run(2 * USERS);
fullGC();
const ms: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  await run(BATCH);
  const t = performance.now();
  edenGC();
  ms.push(performance.now() - t);
}
stop();
const at = (p: number) => percentile(ms, p)!.toFixed(3);
console.log(`  ${String(USERS).padStart(6)} subscribers: eden collection p50 ${at(50)} ms, p90 ${at(90)} ms, max ${at(100)} ms`);
await rig.close();
