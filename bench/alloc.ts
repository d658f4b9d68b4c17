/**
 * Heap allocated per DHCP exchange on the server's packet path, and the CPU
 * time that goes with it, without the network: relayed DISCOVER + REQUEST
 * with Option 82 (D-Link-style circuit and remote id), the reference
 * config's three <options> slices and offer queries (by remote id and port,
 * by slices, by MAC), SQLite with 10,000 subscribers, history_sql journaled
 * and written, lease memory, reply encode, the per-exchange INFO line
 * rendered (to a sink that drops it). Per packet it does what
 * server.ts does: decode, Option 82 parsed once, respond, history event
 * built and journaled, log line.
 *
 * Bytes are what JSC counts towards its next collection (what makes eden
 * collections happen): the run is repeated in a child with JSC's GC log on,
 * and every "bytes allocated this cycle" after a forced collection is
 * summed. The exchanges run without an event-loop turn (so no timer-driven
 * collection resets the count unlogged); the last, partial cycle is then
 * filled with arrays of a size measured the same way until it is collected,
 * and the filler taken off. The history writer's database batches run
 * after that, outside the count: they are off the packet path.
 *
 * ALLOC_UPTO=decode|respond|history stops each packet after that stage
 * (default: the whole path, through the log line); the differences between
 * stages say where the bytes go. ALLOC_CACHE=1 turns the answer cache on
 * (an hour's TTL): the offer queries then run once per subscriber, in the
 * warm-up, and every measured lookup is a hit, as for a server whose
 * subscribers come back within the TTL (the default config's cache).
 *
 *   bun bench/alloc.ts [exchanges=20000] [runs=3]
 */
import { heapSize } from "bun:jsc";
import { macHex } from "../src/core/lease.ts";
import { packetPath, STAGES, type Stage } from "./support/packet.ts";
import { openRig } from "./support/rig.ts";
import { discover, request, USERS } from "./support/subscribers.ts";

const N = Number(process.argv[2] ?? 20_000);
const RUNS = Number(process.argv[3] ?? 3);
const CHILD = process.env.PYDHCP_ALLOC_CHILD === "1";
const UPTO = (process.env.ALLOC_UPTO ?? "log") as Stage;
if (!STAGES.includes(UPTO)) throw new Error(`ALLOC_UPTO: one of ${STAGES.join(", ")}`);

if (!CHILD) {
  // parent: bytes from a child with the GC log, time in a child without it
  const bytes: number[] = [];
  const gcs: number[] = [];
  const us: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const logged = Bun.spawnSync([process.execPath, import.meta.path, String(N), "1"], {
      env: { ...process.env, PYDHCP_ALLOC_CHILD: "1", BUN_JSC_logGC: "1" },
      stderr: "pipe",
      stdout: "pipe",
    });
    const text = logged.stderr.toString();
    const cyclesIn = (from: string, to: string) => {
      const a = text.indexOf(from);
      const b = text.indexOf(to, a);
      if (a < 0 || b < 0) throw new Error(`child failed: ${text.slice(-2000)} ${logged.stdout.toString()}`);
      return [...text.slice(a, b).matchAll(/bytes allocated this cycle: (\d+)/g)].map((m) => Number(m[1]));
    };
    const number = (tag: string) => Number(new RegExp(`@@${tag} (\\d+)`).exec(text)![1]);
    const fill = cyclesIn("@@fill", "@@filled");
    if (fill.length !== 1) throw new Error(`filler: ${fill.length} collections`);
    const perFill = fill[0]! / number("filled");
    const loop = cyclesIn("@@begin", "@@tail");
    const sum = loop.reduce((x, y) => x + y, 0) - number("tail") * perFill;
    bytes.push(sum / N);
    gcs.push(loop.length - 1);
    const timed = Bun.spawnSync([process.execPath, import.meta.path, String(N), "1"], {
      env: { ...process.env, PYDHCP_ALLOC_CHILD: "1" },
      stderr: "pipe",
      stdout: "pipe",
    });
    const t = /@@us ([\d.]+) ([\d.]+)/.exec(timed.stderr.toString());
    if (!t) throw new Error(`timed child failed: ${timed.stderr.toString().slice(-2000)}`);
    us.push(Number(t[1]));
    cpu.push(Number(t[2]));
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  console.log(`bun ${Bun.version}: ${N} relayed DORA exchanges (2 packets each) per run, ${RUNS} runs, through ${UPTO}, answer cache ${process.env.ALLOC_CACHE === "1" ? "on (hits)" : "off"}`);
  console.log(`  bytes/exchange  median ${Math.round(med(bytes))}  runs ${bytes.map((x) => Math.round(x)).join(", ")}  (eden collections per run ${gcs.join(", ")})`);
  console.log(`  µs/exchange     median ${med(us).toFixed(2)}  runs ${us.map((x) => x.toFixed(2)).join(", ")}  (wall clock)`);
  console.log(`  CPU µs/exchange median ${med(cpu).toFixed(2)}  runs ${cpu.map((x) => x.toFixed(2)).join(", ")}  (user + system, all threads)`);
  process.exit(0);
}

const CACHE = process.env.ALLOC_CACHE === "1";
const rig = await openRig("pydhcp-alloc-", CACHE ? { extra: "\n  <answerCache><ttl>3600</ttl></answerCache>", now: Date.now } : {});
const { leases, history, config } = rig;

const discovers = Array.from({ length: USERS }, (_, i) => discover(i));
const requests = Array.from({ length: USERS }, (_, i) => request(i));
const packet = packetPath({
  rt: rig.rt,
  history,
  lines: rig.lines,
  leaseTime: config.server.leaseTime,
  // the per-MAC rate limit's key
  admit: (msg) => macHex(msg) !== "",
  upTo: UPTO,
});

async function run(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const i = k % USERS;
    await packet(discovers[i]!);
    await packet(requests[i]!);
  }
}

/** A collection ran when heapSize() changes; in a loop of plain arrays nothing else changes it. */
let filler: unknown = null;
function fillUntilCollected(): number {
  const h0 = heapSize();
  let k = 0;
  while (heapSize() === h0) {
    for (let j = 0; j < 64; j++) filler = [k, j, k, j];
    k += 64;
  }
  return k;
}

await run(Math.min(N, USERS)); // warm-up: JIT tiers, every subscriber's lease row exists
await leases.flush();
await history.flush();
// the filler's size: from a fresh cycle to the collection it asks for
fillUntilCollected();
Bun.gc(true);
console.error("@@fill");
console.error(`@@filled ${fillUntilCollected()}`);
Bun.gc(true);
console.error("@@begin");
const t0 = performance.now();
const c0 = process.cpuUsage();
// no event-loop turn in here: every collection is one the allocations asked for, and logged
for (let k = 0; k < N; k++) {
  const i = k % USERS;
  await packet(discovers[i]!);
  await packet(requests[i]!);
}
const c1 = process.cpuUsage(c0);
const us = ((performance.now() - t0) * 1000) / N;
// the partial last cycle: filled up until it is collected, the filler then taken off
console.error(`@@tail ${fillUntilCollected()}`);
await leases.flush();
await history.flush();
console.error("@@end");
console.error(`@@us ${us.toFixed(3)} ${((c1.user + c1.system) / N).toFixed(3)}`);
await rig.close();
