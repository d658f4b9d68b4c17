/**
 * What the server's SQLite writes cost the serving thread, without the
 * network: lease writes of 300 rows every 30 ms for 10 s (a server granting
 * ~10,000 leases a second, written in its 100 ms batches three times
 * over), each write timed on the thread that commits it,
 *  - with SQLite's own checkpoints (the commit that passes 1000 WAL pages
 *    copies them into the database file and fsyncs it, on this thread),
 *  - with the server's: a worker thread checkpointing every second
 *    (src/db/sqlite-checkpoint.ts).
 * Then the lease sync with 10,000 leases written in the last seconds by
 * this connection: reading them back (what every sync did) against
 * PRAGMA data_version finding that nobody else wrote.
 *
 *   bun bench/sqlite-writes.ts [seconds=10]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lease } from "../src/db/backend.ts";
import { LEASE_COLUMNS, leaseFrom } from "../src/db/lease-row.ts";
import { SqliteBackend } from "../src/db/sqlite.ts";
import { createLogger } from "../src/log/logger.ts";
import { memorySink } from "../src/log/sink.ts";

const SECONDS = Number(process.argv[2] ?? 10);
const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
const dir = mkdtempSync(join(tmpdir(), "pydhcp-sqlite-writes-"));
const now = Math.floor(Date.now() / 1000);

function leases(from: number, n: number, updated: number): Lease[] {
  return Array.from({ length: n }, (_, k) => {
    const i = (from + k) % 20_000;
    return {
      clientKey: "0c01" + i.toString(16).padStart(8, "0"), mac: "0c01" + i.toString(16).padStart(8, "0"), ip: `198.19.${i >> 8}.${i & 255}`,
      option82: "", expires: now + 3600, state: "bound", answer: '{"ip":"198.19.1.2","mask":"255.255.0.0","router":"198.19.0.1","dns":["198.18.0.53"]}',
      updated, relay: "198.18.0.2", hostname: "",
    };
  });
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function writes(label: string, checkpointMs: number | undefined): Promise<void> {
  const path = join(dir, `${label}.sqlite`);
  const b = SqliteBackend.open({ path, timeoutMs: 1000, ...(checkpointMs ? { checkpointMs } : {}) }, log);
  const ms: number[] = [];
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const batch = leases(n, 300, now + n);
    n += 300;
    const t = performance.now();
    await b.leases.upsert(batch);
    ms.push(performance.now() - t);
    await Bun.sleep(30);
  }
  const wal = statSync(path + "-wal").size / 1048576;
  await b.close();
  console.log(
    `  ${label.padEnd(26)} ${ms.length} writes: p50 ${pct(ms, 0.5).toFixed(2)} p99 ${pct(ms, 0.99).toFixed(2)} max ${Math.max(...ms).toFixed(2)} ms; over 5 ms ${ms.filter((x) => x > 5).length}; WAL at the end ${wal.toFixed(1)} MiB`,
  );
}

async function sync(): Promise<void> {
  const path = join(dir, "sync.sqlite");
  const b = SqliteBackend.open({ path, timeoutMs: 1000 }, log);
  await b.leases.upsert(leases(0, 10_000, now));
  await b.leases.changedSince(0); // the first sync reads
  await b.leases.upsert(leases(0, 10_000, now + 1));
  const read: number[] = [];
  const gated: number[] = [];
  for (let k = 0; k < 20; k++) {
    let t = performance.now();
    b.exec(`SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= ?`, [String(now - 2)]).map(leaseFrom);
    read.push(performance.now() - t);
    t = performance.now();
    const rows = await b.leases.changedSince(now - 2);
    gated.push(performance.now() - t);
    if (rows.length !== 0) throw new Error("own writes were read back");
  }
  await b.close();
  console.log(`  lease sync, 10,000 rows this server wrote: read back (before) median ${pct(read, 0.5).toFixed(2)} ms; data_version check (now) median ${pct(gated, 0.5).toFixed(3)} ms`);
}

console.log(`SQLite writes on the serving thread (${new Date().toISOString()}, bun ${Bun.version})`);
try {
  await writes("SQLite's own checkpoints", undefined);
  await writes("checkpoints in a worker", 1000);
  await sync();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
