/**
 * Logger and metrics throughput. Prints lines/s for the per-exchange log line
 * in text and JSON, buffered and unbuffered, to /dev/null and to a pipe (what
 * journald reads), plus the cost of a disabled debug call and of the hot-path
 * metric updates.
 *
 *   bun bench/log.ts [seconds-per-case=1]
 */
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type LogFormat } from "../src/log/logger.ts";
import { fdSink, type Sink } from "../src/log/sink.ts";
import { createMetrics } from "../src/service/metrics.ts";

const seconds = Number(process.argv[2] ?? 1);

/** One exchange as the server logs it: a dozen fields, one hostile. */
const fields = {
  type: "ACK",
  mac: "14d64da7c955",
  ip: "172.16.134.61",
  xid: "0x23cfde1d",
  giaddr: "172.16.114.41",
  hostname: "host\x1b[2Jname",
  vendor: "udhcp 0.9.8",
  circuit: "00040001000a",
  remote: "0006c8be19931148",
  query: "offer_1",
  ms: 0.42,
};

async function run(name: string, body: (n: number) => void, batch = 2000): Promise<void> {
  // warm up the JIT, then count whole batches until the time is up
  body(batch);
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    body(batch);
    n += batch;
    // let buffered sinks flush, as the event loop does between packets
    await new Promise((r) => setImmediate(r));
  }
  const dt = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(44)} ${Math.round(n / dt).toLocaleString("en-US").padStart(12)} /s`);
}

/** A FIFO drained by a child `cat > /dev/null`: a reader in another process, like journald. */
function pipeSink(buffered: boolean): { sink: Sink; close: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), "svc-logbench-"));
  const fifo = join(dir, "fifo");
  Bun.spawnSync(["mkfifo", fifo]);
  const cat = Bun.spawn(["sh", "-c", 'exec cat "$0" > /dev/null', fifo], { stdout: "ignore" });
  const w = openSync(fifo, "w");
  return {
    sink: fdSink(w, { buffered }),
    close: async () => {
      closeSync(w);
      await cat.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

console.log(`bun ${Bun.version}, ${seconds}s per case`);
const devnull = openSync("/dev/null", "w");
for (const format of ["text", "json"] as LogFormat[]) {
  for (const buffered of [true, false]) {
    const sink = fdSink(devnull, { buffered });
    const log = createLogger({ level: "info", format, out: sink, err: sink });
    await run(`${format} ${buffered ? "buffered" : "unbuffered"} -> /dev/null`, (n) => {
      for (let i = 0; i < n; i++) log.info("reply sent", fields);
    });
    sink.flush();
  }
  for (const buffered of [true, false]) {
    const p = pipeSink(buffered);
    const log = createLogger({ level: "info", format, out: p.sink, err: p.sink });
    await run(`${format} ${buffered ? "buffered" : "unbuffered"} -> pipe (cat)`, (n) => {
      for (let i = 0; i < n; i++) log.info("reply sent", fields);
    });
    p.sink.flush();
    await p.close();
  }
  const child = createLogger({ level: "info", format, out: fdSink(devnull), err: fdSink(devnull) }).child({
    iface: "eth1",
    giaddr: "172.16.114.41",
  });
  await run(`${format} buffered child(2 bound) + 11 fields`, (n) => {
    for (let i = 0; i < n; i++) child.info("reply sent", fields);
  });
}

const quiet = createLogger({ level: "info", format: "text", out: fdSink(devnull), err: fdSink(devnull) });
await run("debug call while level=info (no-op)", (n) => {
  for (let i = 0; i < n; i++) quiet.debug("query", fields);
});

const m = createMetrics();
const rx = m.packetsReceived.labels("DISCOVER");
const q = m.queryDuration.labels("offer_1");
await run("metrics: counter inc + histogram observe", (n) => {
  for (let i = 0; i < n; i++) {
    rx.inc();
    q.observe(0.0004);
  }
});
await run("metrics: labels(\"DISCOVER\").inc() (lookup each time)", (n) => {
  for (let i = 0; i < n; i++) m.packetsReceived.labels("DISCOVER").inc();
});
await run("metrics: full /metrics exposition", (n) => {
  for (let i = 0; i < n; i++) m.registry.expose();
}, 20);
closeSync(devnull);
