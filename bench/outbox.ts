/**
 * The reply path's syscalls alone: per exchange one journal write() of its
 * history event (a pydhcpdb-style history_sql line, 4 values) and one send
 * of a 300-byte reply, against the outbox's way: one write() for the events
 * of a batch and one sendmmsg for its replies. The replies go to a loopback
 * socket that never reads (the kernel drops what overflows, as a client gone
 * would), so only the sender's cost is measured. CPU is this process's
 * user + system time per exchange.
 *
 *   ./node_modules/.bin/bun bench/outbox.ts [exchanges=100000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../src/log/logger.ts";
import { Journal, type JournalEntry } from "../src/server/journal.ts";
import { openDhcpSocket } from "../src/server/socket.ts";
import { freeUdpPort } from "../test/support/ports.ts";

const N = Number(process.argv[2] ?? 100_000);
const log = createLogger({ level: "error", format: "text" });
const dir = mkdtempSync(join(tmpdir(), `pydhcp-bench-outbox-${process.pid}-`));

// a socket bound and never read: sends succeed, nothing is received in this process
const sinkPort = await freeUdpPort();
const sink = Bun.spawn(["python3", "-c", `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("127.0.0.1",${sinkPort}))\nprint("ok",flush=True)\ntime.sleep(600)`], { stdout: "pipe" });
// "ok" once it is bound
await (sink.stdout as ReadableStream<Uint8Array>).getReader().read();

const sock = await openDhcpSocket({ host: "127.0.0.1", port: 0, onPacket() {}, onError() {} });
const reply = new Uint8Array(300).fill(7);
const values = Array.from({ length: 256 }, (_, i) => ["2026-12-01 21:29:04", "0025224ad7" + i.toString(16).padStart(2, "0"), "198.51.100." + i, "ACK/3c897d8c"]);

function run(batch: number, n: number): { us: number; cpuUs: number } {
  const j = new Journal(join(dir, `j-${batch}-${Math.random().toString(36).slice(2)}`), { kind: "interval", ms: 1000 }, log);
  j.open();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch) {
    if (batch === 1) {
      j.record(() => [{ s: "history_sql", v: values[i & 255]! }]);
      sock.send(reply, sinkPort, "127.0.0.1");
      continue;
    }
    const builds: ((id: string) => JournalEntry[])[] = [];
    const packets: (Uint8Array | number | string)[] = [];
    for (let k = 0; k < batch; k++) {
      const v = values[(i + k) & 255]!;
      builds.push(() => [{ s: "history_sql", v }]);
      packets.push(reply, sinkPort, "127.0.0.1");
    }
    j.recordMany(builds);
    sock.sendMany(packets);
  }
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  j.close();
  return { us: (ms * 1000) / n, cpuUs: (c.user + c.system) / n };
}

console.log(`reply path, ${N} exchanges: journal write (fsync 1000 ms) + 300-byte reply on loopback`);
for (const batch of [1, 2, 4, 8, 16, 64]) {
  run(batch, Math.min(N, 5000)); // warm-up
  const r = run(batch, N);
  console.log(`  ${batch === 1 ? "write + send per exchange " : `batches of ${String(batch).padEnd(16)}`} ${r.us.toFixed(2)} us/exchange, CPU ${r.cpuUs.toFixed(2)} us/exchange`);
}
sock.close();
sink.kill();
rmSync(dir, { recursive: true, force: true });
