/**
 * The history journal's cost per event on the reply path: one write() of a
 * pydhcpdb-style history_sql line (4 bound values) per event, for each fsync
 * policy, on the disk that holds the temp directory. Run:
 *   ./node_modules/.bin/bun bench/journal.ts [events]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../src/log/logger.ts";
import type { FsyncPolicy } from "../src/config/types.ts";
import { Journal } from "../src/server/journal.ts";

const N = Number(process.argv[2] ?? 200_000);
const log = createLogger({ level: "error", format: "text" });
const dir = mkdtempSync(join(tmpdir(), `pydhcp-bench-journal-${process.pid}-`));

function runOnce(policy: FsyncPolicy, n: number): { usPerEvent: number; perSecond: number; bytesPerEvent: number } {
  const path = join(dir, `j-${policy.kind}-${Math.random().toString(36).slice(2)}`);
  const j = new Journal(path, policy, log);
  j.open();
  // the values exist before the journal sees them (bound from the packet): built outside the timing
  const values = Array.from({ length: 256 }, (_, i) => ["2026-12-01 21:29:04", "0025224ad7" + i.toString(16).padStart(2, "0"), "198.51.100." + i, "ACK/3c897d8c"]);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) j.record(() => [{ s: "history_sql", v: values[i & 255]! }]);
  const ms = performance.now() - t0;
  const bytes = Bun.file(path).size;
  j.close();
  return { usPerEvent: (ms * 1000) / n, perSecond: (n * 1000) / ms, bytesPerEvent: bytes / n };
}

const rows: [string, FsyncPolicy, number][] = [
  ["never (write only)", { kind: "never" }, N],
  ["1000 ms (default)", { kind: "interval", ms: 1000 }, N],
  ["always (fdatasync per event)", { kind: "always" }, Math.min(N, 2000)],
];
console.log(`history journal, ${tmpdir()}: one write() per event (history_sql, 4 values)`);
for (const [name, policy, n] of rows) {
  runOnce(policy, Math.min(n, 1000)); // warm-up
  const r = runOnce(policy, n);
  console.log(`  fsync ${name.padEnd(30)} ${r.usPerEvent.toFixed(2).padStart(8)} µs/event  ${Math.round(r.perSecond).toLocaleString("en-US").padStart(10)} events/s  ${r.bytesPerEvent.toFixed(0)} bytes/event  (${n.toLocaleString("en-US")} events)`);
}
rmSync(dir, { recursive: true, force: true });
