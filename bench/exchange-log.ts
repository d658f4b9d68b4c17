/**
 * The per-exchange INFO line at the maximum rate: what one line costs as the
 * server writes it (server/exchange-log.ts, fixed keys through lineOf), next
 * to the generic path it replaced (a fields object built with spreads, then
 * log.info), in text and JSON, to a buffered /dev/null sink. Prints µs per
 * line and the share of one core it takes at the line rates the benchmark
 * reaches (two lines per DORA).
 *
 * Each case runs in a process of its own: run one after another in one
 * process, the JIT's view of the first skews the second.
 *
 *   bun bench/exchange-log.ts [lines-per-case=400000]
 */
import { openSync } from "node:fs";
import { decode } from "../src/codec/decode.ts";
import { toHex } from "../src/codec/hex.ts";
import { createLogger, type LogFormat } from "../src/log/logger.ts";
import { fdSink } from "../src/log/sink.ts";
import { ExchangeLog } from "../src/server/exchange-log.ts";
import { macHex } from "../src/core/lease.ts";
import { buildRequest } from "../test/support/client.ts";

const N = Number(process.argv[2] ?? 400_000);
/** DORA/s: Kea memfile's rate in the run, and a rate twice that */
const RATES = [3_250, 6_500];

const r = decode(buildRequest({ type: 1, mac: "0c0100000001", xid: 0x1234 }));
if (!r.ok) throw new Error("fixture does not decode");
const msg = { ...r.msg, giaddr: "198.18.0.1" };
const subs = new Map<number, Uint8Array>([
  [1, Uint8Array.of(0, 4, 0, 1, 0, 6)],
  [2, Uint8Array.of(0, 6, 0, 0x1e, 0x58, 0x9e, 0xb2, 0xad)],
]);
const sink = fdSink(openSync("/dev/null", "w"), { buffered: true });

/** The generic path as the server wrote it before: fields object, spreads, toFixed. */
function generic(format: LogFormat) {
  const log = createLogger({ level: "info", format, out: sink, err: sink });
  const fieldsOf = (): Record<string, unknown> => {
    const f: Record<string, unknown> = { mac: macHex(msg), xid: msg.xid.toString(16).padStart(8, "0") };
    if (msg.giaddr !== "0.0.0.0") f.relay = msg.giaddr;
    if (subs.has(1)) f.circuit_id = toHex(subs.get(1)!);
    if (subs.has(2)) f.remote_id = toHex(subs.get(2)!);
    return f;
  };
  return (ms: number) =>
    log.info("DISCOVER -> OFFER 198.18.128.1", { ...fieldsOf(), ...{ query: "offer_1" }, to: "198.18.0.1:67", ms: +ms.toFixed(2) });
}

function fixed(format: LogFormat) {
  const lines = new ExchangeLog(createLogger({ level: "info", format, out: sink, err: sink }));
  return (ms: number) => lines.write("info", "DISCOVER -> OFFER 198.18.128.1", msg, subs, "offer_1", "198.18.0.1:67", undefined, ms);
}

async function measure(f: (ms: number) => void): Promise<number> {
  for (let i = 0; i < 50_000; i++) f(i * 0.001);
  const best: number[] = [];
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    for (let k = 0; k < N / 2000; k++) {
      for (let i = 0; i < 2000; i++) f(i * 0.0013);
      // buffered sinks write once per event-loop turn, as between packets
      await new Promise((res) => setImmediate(res));
    }
    best.push(((performance.now() - t0) * 1000) / N);
  }
  return Math.min(...best);
}

const CASES: Record<string, (format: LogFormat) => (ms: number) => void> = {
  "generic fields + log.info": generic,
  "exchange-log lineOf": fixed,
};

const [, , , one, oneFormat] = process.argv;
if (one) {
  const us = await measure(CASES[one]!(oneFormat as LogFormat));
  sink.flush();
  console.log(us);
} else {
  console.log(`bun ${Bun.version}, ${N} lines per case, best of 3, one process per case`);
  for (const format of ["text", "json"] as LogFormat[]) {
    for (const name of Object.keys(CASES)) {
      const p = Bun.spawnSync([process.execPath, import.meta.path, String(N), name, format], { stdout: "pipe", stderr: "inherit" });
      const us = Number(p.stdout.toString().trim());
      const share = RATES.map((d) => `${((us * 2 * d) / 10_000).toFixed(1)}% of a core at ${d} DORA/s`).join(", ");
      console.log(`${format} ${name.padEnd(28)} ${us.toFixed(2)} µs/line  ${share}`);
    }
  }
}
