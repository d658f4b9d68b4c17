/**
 * Drives a fuzz run against the running server (SQLite, flood control off so
 * every packet reaches the decoder and, when it decodes, the handler).
 *
 * Pacing: packets go out in batches; after each batch a probe DISCOVER from
 * a known client must be answered before the next batch. The socket is
 * FIFO, so the probe's OFFER means the server has read the whole batch: the
 * kernel buffer never overflows and the probe doubles as "a normal client
 * is served during the fuzz". A full DORA also runs every second alongside.
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { loadPackets } from "../fixtures/load.ts";
import { startServer } from "../support/server.ts";
import { openUdp } from "../support/udp.ts";
import { makeFuzzer, type FuzzKind } from "./fuzz.ts";
import { Relay, alive, freeUdpPort, macOf, option82, replyType, rssKiB, serverConfig, text } from "./support.ts";

export interface FuzzResult {
  seed: number;
  packets: number;
  byKind: Partial<Record<FuzzKind, number>>;
  seconds: number;
  packetsPerSecond: number;
  rssStartKiB: number;
  /** RSS once the heap has reached its working size: the sample after WARM_TENTHS */
  rssWarmKiB: number;
  rssEndKiB: number;
  /** RSS after each tenth of the packets, KiB */
  rssTrendKiB: number[];
  probes: number;
  probesAnswered: number;
  doras: number;
  dorasCompleted: number;
  repliesToFuzz: number;
  exitCode: number;
  aliveAtEnd: boolean;
  /** control characters other than \n in everything the server wrote */
  rawControls: number;
}

const PROBE_MAC = "0e00000000aa";
/**
 * Tenths of the run before the baseline sample. The heap grows to its
 * working size over the first few hundred thousand packets and then stays
 * there: a 4,000,000-packet run's RSS rose from 67 MB to 149 MB in its
 * first tenth and then swung between 142 and 168 MB to the end, so a
 * baseline taken after one tenth of a 1,000,000-packet run counted that
 * climb as growth.
 */
const WARM_TENTHS = 3;

export async function runFuzz(o: { packets: number; batch?: number; seed?: number; logLevel?: "info" | "warn" }): Promise<FuzzResult> {
  const seed = o.seed ?? (Date.now() & 0x7fffffff);
  const batch = o.batch ?? 400;
  const serverPort = await freeUdpPort();
  let repliesToFuzz = 0;
  const sink = await openUdp({ onData: () => void repliesToFuzz++ });
  const server = await startServer({
    config: serverConfig({
      serverPort,
      clientPort: sink.port,
      database: "<sqlite><path>{dir}/t.db</path></sqlite>",
      offer: "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'",
      history: "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', '{HostName}|{Vendor}')",
      extra: `<rateLimit><perMac>0</perMac><perCircuit>0</perCircuit></rateLimit><log><level>${o.logLevel ?? "info"}</level></log>`,
    }),
    // at warn level "listening" is not printed: readiness is the first answered probe below
    ready: o.logLevel === "warn" ? null : /listening/,
  });
  const pid = server.proc.pid;
  const knownMacs = loadPackets().map((f) => f.bytes.slice(28, 34));
  // the server creates the schema as it starts
  let db: Database | null = null;
  for (let i = 0; !db; i++) {
    try {
      // opening it first would create an empty file the server then takes as the operator's
      if (!existsSync(join(server.dir, "t.db"))) throw new Error("no database file yet");
      db = new Database(join(server.dir, "t.db"));
      db.prepare("select 1 from users");
    } catch (e) {
      db?.close();
      db = null;
      if (i > 150) throw e;
      await Bun.sleep(100);
    }
  }
  const add = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)");
  knownMacs.forEach((m, i) => add.run(`198.18.4.${10 + i}`, "255.255.255.0", "198.18.4.1", "198.18.0.53", Buffer.from(m).toString("hex"), ""));
  add.run("198.18.5.10", "255.255.255.0", "198.18.5.1", "198.18.0.53", PROBE_MAC, "");
  for (let i = 0; i < 64; i++) add.run(`198.18.6.${10 + i}`, "255.255.255.0", "198.18.6.1", "198.18.0.53", macOf(i, 0x0a), "");
  db.close();

  const relay = await Relay.open(serverPort);
  let fuzzReplies = 0;
  const sender = await openUdp({ onData: () => void fuzzReplies++ });
  for (let i = 0; ; i++) {
    const r = await relay.exchange({ type: MessageType.DISCOVER, mac: PROBE_MAC, options: [[82, option82(text("probe"))]] }, 200);
    if (replyType(r) === "OFFER") break;
    if (i > 75) throw new Error(`pydhcp does not answer:\n${server.output().slice(-2000)}`);
  }
  const fuzzer = makeFuzzer(seed, knownMacs);
  const byKind: Partial<Record<FuzzKind, number>> = {};
  const probeRai = option82(text("probe"));

  let doras = 0;
  let dorasCompleted = 0;
  let running = true;
  const doraLoop = (async () => {
    // the first at once: 50,000 packets take about a second on a fast machine
    for (let i = 0; running; i++) {
      doras++;
      const r = await relay.dora(macOf(i % 64, 0x0a), option82(text(`dora-${i % 64}`)), { timeoutMs: 2000 });
      if (!("failed" in r)) dorasCompleted++;
      await Bun.sleep(250);
    }
  })();

  const rssStartKiB = rssKiB(pid);
  let rssWarmKiB = rssStartKiB;
  const rssTrend: number[] = [];
  let sent = 0;
  let probes = 0;
  let probesAnswered = 0;
  const t0 = performance.now();
  while (sent < o.packets) {
    const n = Math.min(batch, o.packets - sent);
    const out: (Uint8Array | number | string)[] = [];
    for (let i = 0; i < n; i++) {
      const p = fuzzer.next();
      byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
      out.push(p.bytes, serverPort, "127.0.0.1");
    }
    sender.sendMany(out);
    sent += n;
    probes++;
    const probe = await relay.exchange({ type: MessageType.DISCOVER, mac: PROBE_MAC, options: [[82, probeRai]] }, 3000);
    if (replyType(probe) === "OFFER") probesAnswered++;
    if (sent >= ((rssTrend.length + 1) * o.packets) / 10) rssTrend.push(rssKiB(pid));
    if (rssTrend.length >= WARM_TENTHS && rssWarmKiB === rssStartKiB) rssWarmKiB = rssTrend[WARM_TENTHS - 1]!;
    if (probes % 50 === 0) relay.drain();
    if (!alive(pid)) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  await doraLoop;
  // RSS swings with garbage collection (tens of MB between samples): the
  // end value is the lowest of a few samples over two idle seconds
  let rssEndKiB = Infinity;
  for (let i = 0; i < 8 && alive(pid); i++) {
    await Bun.sleep(250);
    rssEndKiB = Math.min(rssEndKiB, rssKiB(pid));
  }
  if (!alive(pid)) rssEndKiB = -1;
  const aliveAtEnd = alive(pid);
  relay.close();
  sender.close();
  sink.close();
  const exitCode = await server.stop();
  const output = server.output();
  const rawControls = (output.match(/[\x00-\x09\x0b-\x1f\x7f]/g) ?? []).length;
  await server.close();
  return {
    seed,
    packets: sent,
    byKind,
    seconds,
    packetsPerSecond: Math.round(sent / seconds),
    rssStartKiB,
    rssWarmKiB,
    rssEndKiB,
    rssTrendKiB: rssTrend,
    probes,
    probesAnswered,
    doras,
    dorasCompleted,
    repliesToFuzz: repliesToFuzz + fuzzReplies,
    exitCode,
    aliveAtEnd,
    rawControls,
  };
}

/**
 * Growth that stays, KiB: the lowest RSS of the second half of the run (and
 * the end) minus the sample after WARM_TENTHS tenths. RSS swings by tens of
 * MB with garbage collection; a leak raises the floor, a GC swing does not.
 * A leak of about 110 bytes per packet or more fails a 32 MiB bound over a
 * 1,000,000-packet run.
 */
export function rssGrowthKiB(r: FuzzResult): number {
  const late = [...r.rssTrendKiB.slice(Math.floor(r.rssTrendKiB.length / 2)), r.rssEndKiB];
  return Math.min(...late) - r.rssWarmKiB;
}

export function describeFuzz(r: FuzzResult): string {
  return (
    `fuzz seed ${r.seed}: ${r.packets} packets in ${r.seconds.toFixed(1)} s (${r.packetsPerSecond}/s); ` +
    `RSS start ${r.rssStartKiB} KiB, after ${WARM_TENTHS * 10}% ${r.rssWarmKiB} KiB, end ${r.rssEndKiB} KiB (per tenth: ${r.rssTrendKiB.join(" ")}; lasting growth ${rssGrowthKiB(r)} KiB); ` +
    `probes answered ${r.probesAnswered}/${r.probes}; DORA during fuzz ${r.dorasCompleted}/${r.doras}; ` +
    `replies to fuzz packets ${r.repliesToFuzz}; exit ${r.exitCode}\n  by kind: ${JSON.stringify(r.byKind)}`
  );
}
