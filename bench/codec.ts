/**
 * Codec throughput on the fixture packets: decode and encode rates
 * (packets/s), median of 5 runs of ~0.5 s each, per fixture and overall.
 * "/s" is per wall-clock second; "/cpu-s" per second of this process's CPU
 * time, which stays meaningful when other work shares the cores.
 *
 * Run: bun bench/codec.ts
 */
import { decode } from "../src/codec/decode.ts";
import { encode } from "../src/codec/encode.ts";
import type { DhcpMessage } from "../src/codec/message.ts";
import { loadPackets } from "../test/fixtures/load.ts";

const RUNS = 5;
const RUN_MS = 500;

interface Rate {
  wall: number;
  cpu: number;
}

function rate(fn: () => void, batch: number): Rate {
  // warm up (JIT)
  for (let i = 0; i < 20_000; i++) fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < RUN_MS) {
      for (let i = 0; i < batch; i++) fn();
      n += batch;
      t = performance.now();
    }
    const c = process.cpuUsage(c0);
    wall.push((n * 1000) / (t - t0));
    cpu.push((n * 1e6) / (c.user + c.system));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
  return { wall: median(wall), cpu: median(cpu) };
}

const num = (n: number) => Math.round(n).toLocaleString("en-US").padStart(12);
const fmt = (r: Rate) => `${num(r.wall)} ${num(r.cpu)}`;
let sink = 0;

const packets = loadPackets();
const msgs: DhcpMessage[] = packets.map((f) => {
  const r = decode(f.bytes);
  if (!r.ok) throw new Error(`${f.name}: ${r.error.message}`);
  return r.msg;
});

console.log(`bun ${Bun.version}, ${RUNS} runs of ${RUN_MS} ms, median packets/s`);
const cols = ["decode/s", "decode/cpu-s", "encode/s", "encode/cpu-s"].map((c) => c.padStart(12)).join(" ");
console.log(`${"fixture".padEnd(30)} ${"bytes".padStart(6)} ${cols}`);
packets.forEach((f, k) => {
  const d = rate(() => {
    const r = decode(f.bytes);
    if (r.ok) sink += r.msg.xid;
  }, 1000);
  const m = msgs[k]!;
  const e = rate(() => {
    const r = encode(m);
    if (r.ok) sink += r.bytes.length;
  }, 1000);
  console.log(`${f.name.padEnd(30)} ${String(f.bytes.length).padStart(6)} ${fmt(d)} ${fmt(e)}`);
});

let i = 0;
const all = packets.map((f) => f.bytes);
const dAll = rate(() => {
  const r = decode(all[i++ % all.length]!);
  if (r.ok) sink += r.msg.xid;
}, 1000);
const eAll = rate(() => {
  const r = encode(msgs[i++ % msgs.length]!);
  if (r.ok) sink += r.bytes.length;
}, 1000);
const rt = rate(() => {
  const r = decode(all[i++ % all.length]!);
  if (r.ok) {
    const e = encode(r.msg);
    if (e.ok) sink += e.bytes.length;
  }
}, 1000);
console.log(`${"all fixtures, round robin".padEnd(30)} ${"".padStart(6)} ${fmt(dAll)} ${fmt(eAll)}`);
console.log(`${"decode + encode".padEnd(30)} ${"".padStart(6)} ${fmt(rt)}`);
if (sink === 42) console.log("");
