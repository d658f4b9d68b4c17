/**
 * Flood control with the default limits (no <rateLimit> in the config):
 * one MAC sending 5,000 DISCOVERs a second for 5 s does not stop 50 other
 * clients from completing DORA; its excess is counted as rate_limit drops.
 * A random-MAC flood (every packet a new key) leaves the server up, its
 * memory bounded and normal clients served.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { RateLimiter } from "../../src/server/ratelimit.ts";
import { DEFAULT_PER_CIRCUIT, DEFAULT_PER_MAC } from "../../src/config/load.ts";
import { buildRequest } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { openUdp } from "../support/udp.ts";
import { Relay, alive, freeTcpPort, freeUdpPort, macOf, metric, option82, rssKiB, serverConfig, text } from "./support.ts";

const CLIENTS = 50;
const FLOOD_MAC = "0a0000f100d0";
let server: RunningServer;
let relay: Relay;
let metricsPort: number;
let serverPort: number;

beforeAll(async () => {
  serverPort = await freeUdpPort();
  metricsPort = await freeTcpPort();
  server = await startServer({
    config: serverConfig({
      serverPort,
      clientPort: 68,
      database: "<sqlite><path>{dir}/t.db</path></sqlite>",
      offer: "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'",
      history: "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', 'x')",
      // warn: the random-MAC flood would otherwise log a no-match line per packet
      extra: `<metrics><host>127.0.0.1</host><port>${metricsPort}</port></metrics><log><level>warn</level></log>`,
    }),
    ready: null,
  });
  for (let i = 0; i < 150 && !(await metric(metricsPort, "pydhcp_queue_depth").catch(() => NaN) >= 0); i++) await Bun.sleep(100);
  const db = new Database(join(server.dir, "t.db"));
  const add = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)");
  for (let i = 0; i < CLIENTS; i++) add.run(`198.18.2.${10 + i}`, "255.255.255.0", "198.18.2.1", "198.18.0.53", macOf(i, 0x02), "");
  add.run("198.18.3.10", "255.255.255.0", "198.18.3.1", "198.18.0.53", FLOOD_MAC, "");
  db.close();
  relay = await Relay.open(serverPort);
}, 30_000);

afterAll(async () => {
  relay?.close();
  await server?.close();
});

interface Flooder {
  sent: number;
  replies: number;
  done: Promise<void>;
}

/** Sends `perSecond` packets a second for `ms`, in batches every 10 ms; counts replies to its own port. */
async function flood(make: (n: number) => Uint8Array, perSecond: number, ms: number): Promise<Flooder> {
  const f = { sent: 0, replies: 0 } as Flooder;
  const sock = await openUdp({ onData: () => void f.replies++ });
  f.done = (async () => {
    const t0 = performance.now();
    for (;;) {
      const el = performance.now() - t0;
      if (el >= ms) break;
      const due = Math.floor((el / 1000) * perSecond);
      const batch: (Uint8Array | number | string)[] = [];
      while (f.sent < due) batch.push(make(f.sent++), serverPort, "127.0.0.1");
      if (batch.length) sock.sendMany(batch);
      await Bun.sleep(10);
    }
    await Bun.sleep(300);
    sock.close();
  })();
  return f;
}

test("one MAC at 5,000 DISCOVERs/s for 5 s: 50 other clients complete DORA, the excess is counted as rate_limit", async () => {
  const limitedBefore = await metric(metricsPort, "pydhcp_dropped_total", 'reason="rate_limit"');
  const rai = option82(text("flood-port"));
  const packet = (n: number) => buildRequest({ type: MessageType.DISCOVER, mac: FLOOD_MAC, xid: n + 1, giaddr: "127.0.0.1", options: [[82, rai]] });
  const f = await flood(packet, 5000, 5000);

  const latencies: number[] = [];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      await Bun.sleep(300 + Math.random() * 4200);
      const t0 = performance.now();
      const r = await relay.dora(macOf(i, 0x02), option82(text(`port-${i}`)), { timeoutMs: 2000 });
      if ("failed" in r) failures.push(`client ${i}: ${r.failed}`);
      else latencies.push(performance.now() - t0);
    }),
  );
  await f.done;
  expect(alive(server.proc.pid)).toBe(true);
  const limited = (await metric(metricsPort, "pydhcp_dropped_total", 'reason="rate_limit"')) - limitedBefore;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
  console.log(
    `flood: ${f.sent} DISCOVERs from one MAC in 5 s (${(f.sent / 5).toFixed(0)}/s), ${f.replies} answered, ${limited} counted as rate_limit; ` +
      `other clients: ${latencies.length}/${CLIENTS} completed DORA, latency p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms`,
  );
  expect(failures).toEqual([]);
  expect(latencies.length).toBe(CLIENTS);
  // bucket of 2 s worth, then the rate: at most ~40 + 20 * 5.5 answered
  expect(f.replies).toBeLessThanOrEqual(DEFAULT_PER_MAC * 2 + DEFAULT_PER_MAC * 6);
  expect(f.replies).toBeGreaterThan(DEFAULT_PER_MAC);
  // everything the kernel delivered beyond that was dropped by the limiter
  expect(limited).toBeGreaterThanOrEqual(f.sent * 0.95 - DEFAULT_PER_MAC * 8);
}, 30_000);

test("random-MAC flood: every packet a new key; memory stays bounded and clients are still served", async () => {
  const rssBefore = rssKiB(server.proc.pid);
  const rai = option82(text("random-port"));
  let n = 0;
  const packet = () =>
    buildRequest({ type: MessageType.DISCOVER, mac: macOf(++n, 0x0e), xid: n, giaddr: "127.0.0.1", options: [[82, rai]] });
  // past the per-circuit limit on purpose: the circuit bucket is one key, the MAC buckets are many
  const f = await flood(packet, 20_000, 6000);
  const served: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(800);
    // as a real client: a DISCOVER lost in the storm is sent again (3 tries of 2 s)
    const r = await relay.dora(macOf(i, 0x02), option82(text(`port-${i}`)), { timeoutMs: 2000, tries: 3 });
    served.push(!("failed" in r));
  }
  await f.done;
  const rssAfter = rssKiB(server.proc.pid);
  console.log(`random-MAC flood: ${f.sent} packets, ${f.sent} distinct MACs; server RSS ${rssBefore} -> ${rssAfter} KiB; clients served during it ${served.filter(Boolean).length}/5`);
  expect(alive(server.proc.pid)).toBe(true);
  expect(served.every(Boolean)).toBe(true);
  expect(rssAfter - rssBefore).toBeLessThan(64 * 1024);
  const after = await relay.dora(macOf(7, 0x02), option82(text("port-7")));
  expect("failed" in after).toBe(false);
}, 90_000);

test("the limiter's map is bounded: a million new keys keep at most maxKeys, a sweep empties refilled ones, a tracked flooder stays limited", () => {
  const rl = new RateLimiter(DEFAULT_PER_MAC, DEFAULT_PER_MAC * 2, 10_000);
  const now = 1_000_000;
  // the flooder is tracked first and spends its bucket
  let passed = 0;
  for (let i = 0; i < 100; i++) if (rl.allow("flooder", now)) passed++;
  expect(passed).toBe(DEFAULT_PER_MAC * 2);
  for (let i = 0; i < 1_000_000; i++) rl.allow("k" + i, now + (i >> 10));
  expect(rl.size).toBeLessThanOrEqual(10_000);
  expect(rl.untracked).toBeGreaterThan(900_000);
  expect(rl.allow("flooder", now + 20)).toBe(false);
  // five seconds later every other bucket has refilled: the next packet forgets them
  rl.allow("late", now + 5000);
  expect(rl.size).toBeLessThan(10);
  // a flooder that keeps sending stays limited however many periods go by
  // (each period of 2 s forgets the buckets untouched for one)
  const steady = new RateLimiter(DEFAULT_PER_MAC, DEFAULT_PER_MAC * 2, 10_000);
  let through = 0;
  for (let t = 0; t < 10_000; t += 5) if (steady.allow("flooder", now + t)) through++;
  // 40 of the burst, then 20/s for 10 s
  expect(through).toBeGreaterThanOrEqual(DEFAULT_PER_MAC * 2 + DEFAULT_PER_MAC * 10 - 1);
  expect(through).toBeLessThanOrEqual(DEFAULT_PER_MAC * 2 + DEFAULT_PER_MAC * 10 + 1);
  // a clock stepped back neither refuses a new client nor drains a bucket
  expect(steady.allow("after-step", now - 60_000)).toBe(true);
  expect(steady.size).toBeLessThanOrEqual(2);
  // per circuit, the same shape
  const circuit = new RateLimiter(DEFAULT_PER_CIRCUIT);
  let ok = 0;
  for (let i = 0; i < 1000; i++) if (circuit.allow("127.0.0.1/01", now)) ok++;
  expect(ok).toBe(DEFAULT_PER_CIRCUIT * 2);
});

test("the limiter forgets refilled buckets while traffic goes on, a bucket back after a quiet period is full, and a steady client keeps one bucket", () => {
  const rl = new RateLimiter(DEFAULT_PER_MAC, DEFAULT_PER_MAC * 2, 10_000);
  const refill = 2000; // ms: burst / rate
  const t0 = 5_000_000;
  // 1,000 clients drain their buckets once, then go quiet
  for (let i = 0; i < 1000; i++) for (let j = 0; j < DEFAULT_PER_MAC * 2; j++) rl.allow("quiet" + i, t0);
  expect(rl.allow("quiet0", t0)).toBe(false);
  expect(rl.size).toBe(1000);
  // one client sends 100/s: the others are kept for the period after their last use (their buckets may not be full)
  let t = t0;
  for (; t < t0 + 2 * refill; t += 10) rl.allow("steady", t);
  expect(rl.size).toBe(1001);
  // then forgotten by the packets' sweep, a few per packet, not all at once
  for (; t < t0 + 3 * refill; t += 10) rl.allow("steady", t);
  expect(rl.size).toBeGreaterThan(1);
  for (; t < t0 + 4 * refill; t += 10) rl.allow("steady", t);
  expect(rl.size).toBe(1);
  // its bucket is the one it had: limited at 20/s all along, never reset to a full burst
  let through = 0;
  for (let k = 0; k < 100; k++) if (rl.allow("steady", t + k)) through++;
  expect(through).toBeLessThanOrEqual(3);
  // a drained bucket untouched for a whole period comes back full, before any sweep reached it
  const one = new RateLimiter(DEFAULT_PER_MAC, DEFAULT_PER_MAC * 2, 10_000);
  for (let j = 0; j < 100; j++) one.allow("a", t0);
  for (let j = 0; j < 50; j++) one.allow("other" + j, t0);
  one.allow("b", t0 + refill);
  one.allow("b", t0 + 2 * refill);
  let again = 0;
  for (let j = 0; j < 100; j++) if (one.allow("a", t0 + 2 * refill)) again++;
  expect(again).toBe(DEFAULT_PER_MAC * 2);
});
