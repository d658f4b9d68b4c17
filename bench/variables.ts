/**
 * Variable extraction rate: what every packet pays between decode and the
 * first query. Prints packets/s for extractVariables alone, with the
 * reference config's three slices, and for decode + extract + slices, on the
 * reference relayed DHCPINFORM and on a plain (unrelayed) DISCOVER.
 *
 *   bun bench/variables.ts [seconds-per-case=1]
 */
import { readFileSync } from "node:fs";
import { parseHexText } from "../src/cli/dump.ts";
import { decode } from "../src/codec/decode.ts";
import type { DhcpMessage } from "../src/codec/message.ts";
import type { Slice } from "../src/config/types.ts";
import { extractVariables } from "../src/variables/extract.ts";
import { applySlices } from "../src/variables/slices.ts";

const seconds = Number(process.argv[2] ?? 1);

const SLICES: Slice[] = [
  { source: "option_82_hex", name: "sw_port1", start: 20, end: 22 },
  { source: "option_82_hex", name: "sw_port2", start: 16, end: 18 },
  { source: "option_82_hex", name: "sw_mac", start: 26, end: 40 },
];

function bytesOf(path: string): Uint8Array {
  const r = parseHexText(readFileSync(new URL(path, import.meta.url), "utf8"));
  if (!r.ok) throw new Error(r.error);
  return r.bytes;
}

/** A udhcpc-style DISCOVER: 53, 61, 57, 60, 12, 55, no relay. */
function discover(): Uint8Array {
  const b = new Uint8Array(300);
  b.set([1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78]);
  b.set([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30], 28);
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  const enc = new TextEncoder();
  const opts = [
    [53, 1, 1],
    [61, 7, 1, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30],
    [57, 2, 0x02, 0x40],
    [60, 12, ...enc.encode("udhcp 1.36.1")],
    [12, 6, ...enc.encode("pdc-01")],
    [55, 7, 1, 3, 6, 12, 15, 28, 42],
    [255],
  ].flat();
  b.set(opts, 240);
  return b;
}

function mustDecode(b: Uint8Array): DhcpMessage {
  const r = decode(b);
  if (!r.ok) throw new Error(r.error.message);
  return r.msg;
}

let sink = 0;
function run(name: string, body: () => number): void {
  for (let i = 0; i < 20000; i++) sink += body();
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) sink += body();
    n += 1000;
  }
  const dt = (performance.now() - t0) / 1000;
  const rate = n / dt;
  console.log(`${name.padEnd(44)} ${Math.round(rate).toLocaleString("en-US").padStart(12)} packets/s  ${((1e6 / rate) * 1000).toFixed(0).padStart(6)} ns/packet`);
}

const inform = bytesOf("../test/unit/variables/fixtures/seed-inform.hex");
const disc = discover();
const informMsg = mustDecode(inform);
const discMsg = mustDecode(disc);

console.log(`bun ${Bun.version}, ${seconds}s per case, vars: inform ${extractVariables(informMsg).size}, discover ${extractVariables(discMsg).size}`);
run("extract: relayed INFORM (option 82)", () => extractVariables(informMsg).size);
run("extract + 3 slices: relayed INFORM", () => {
  const v = extractVariables(informMsg);
  applySlices(v, SLICES);
  return v.size;
});
run("decode + extract + 3 slices: relayed INFORM", () => {
  const r = decode(inform);
  if (!r.ok) return 0;
  const v = extractVariables(r.msg);
  applySlices(v, SLICES);
  return v.size;
});
run("extract: plain DISCOVER", () => extractVariables(discMsg).size);
run("decode + extract: plain DISCOVER", () => {
  const r = decode(disc);
  return r.ok ? extractVariables(r.msg).size : 0;
});
run("decode only: relayed INFORM", () => (decode(inform).ok ? 1 : 0));
if (sink < 0) console.log(sink);
