/**
 * The lease sync on a busy single server: N leases written by this server
 * in the last seconds (3 s at 3,500 DORA/s is ~10,000), OLD older rows,
 * then changedSince(now - 2) as the server's sync calls it, R times:
 *  - `self`: the server that wrote the N rows (its own sync),
 *  - `other`: a second server on the same table (it must read them all).
 * Per sync: rows returned, wall time of changedSince in the pydhcp process
 * (query, transfer, row parsing, leaseFrom) and that process's CPU time,
 * medians and maxima; then the database's own execution time of the sync
 * statement (MariaDB ANALYZE FORMAT=JSON r_total_time_ms, PostgreSQL
 * EXPLAIN ANALYZE Execution Time) and the index it used.
 *
 * A scratch database on the local MariaDB (root, unix socket) and/or
 * PostgreSQL (postgres, /var/run/postgresql), dropped at the end.
 *
 *   bun bench/lease-sync.ts [mariadb|postgresql|both=both] [N=10000] [OLD=100000] [R=20]
 *
 * On a tree without the writer column the same script measures the old
 * sync (`self` then reads back its own N rows too).
 */
import { randomBytes } from "node:crypto";
import { SQL } from "bun";
import type { Backend, Lease } from "../src/db/backend.ts";
import { LEASE_COLUMNS } from "../src/db/lease-row.ts";
import { openBackend } from "../src/db/open.ts";
import { createLogger } from "../src/log/logger.ts";
import { memorySink } from "../src/log/sink.ts";
import { scratchMysql } from "./support/scratch-mysql.ts";

const which = process.argv[2] ?? "both";
const N = Number(process.argv[3] ?? 10_000);
const OLD = Number(process.argv[4] ?? 100_000);
const R = Number(process.argv[5] ?? 20);
const MYSQL_SOCKET = "/run/mysqld/mysqld.sock";
const PG_SOCKET_DIR = "/var/run/postgresql";
const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
const now = Math.floor(Date.now() / 1000);

function leases(from: number, n: number, updated: number): Lease[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const mac = "0c01" + i.toString(16).padStart(8, "0");
    return {
      clientKey: "01" + mac, mac, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      option82: "0012010600040064000102080006001e589eb2ad", expires: now + 3600, state: "bound",
      answer: '{"ip":"10.1.2.3","mask":"255.255.0.0","router":"10.1.0.1","dns":["198.18.0.53"]}',
      updated, relay: "198.18.0.2", hostname: "host-" + i,
    };
  });
}

async function fill(b: Backend): Promise<void> {
  for (let i = 0; i < OLD; i += 5000) await b.leases.upsert(leases(i, Math.min(5000, OLD - i), now - 3600));
  for (let i = 0; i < N; i += 5000) await b.leases.upsert(leases(OLD + i, Math.min(5000, N - i), now - (i % 3)));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function syncs(b: Backend): Promise<{ rows: number; wallMs: number; wallMaxMs: number; cpuMs: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  let rows = 0;
  for (let r = 0; r < R + 2; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const got = await b.leases.changedSince(now - 2);
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    rows = got.length;
    // two warm-up runs
    if (r >= 2) wall.push(t1 - t0), cpu.push((c.user + c.system) / 1000);
  }
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return { rows, wallMs: r1(median(wall)), wallMaxMs: r1(Math.max(...wall)), cpuMs: r1(median(cpu)) };
}

async function mariadb(): Promise<void> {
  const name = `pydhcp_bench_sync_${randomBytes(4).toString("hex")}`;
  const db = await scratchMysql(MYSQL_SOCKET, name);
  const settings = { kind: "mysql" as const, host: "localhost", port: 3306, socket: MYSQL_SOCKET, user: "root", password: "", database: name, poolSize: 4, lookupBatch: 1 };
  const self = await openBackend(settings, log, 5000, { leaseWriter: "bench-self" });
  const other = await openBackend(settings, log, 5000, { leaseWriter: "bench-other" });
  try {
    await fill(self);
    await db.root.query("ANALYZE TABLE pydhcp_lease");
    const [cols] = (await db.root.query("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ? AND table_name = 'pydhcp_lease' AND column_name = 'writer'", [name])) as unknown as [unknown[]];
    const hasWriter = cols.length > 0;
    // the statement changedSince runs (src/db/mysql/leases.ts)
    const sql = hasWriter
      ? (await import("../src/db/mysql/leases.ts")).SYNC_SQL
      : `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= ?`;
    const params = hasWriter ? [now - 2, "bench-self"] : [now - 2];
    const [an] = (await db.root.query(`ANALYZE FORMAT=JSON ${sql}`, params)) as unknown as [Record<string, string>[]];
    const plan = JSON.parse(Object.values(an[0]!)[0]!).query_block;
    const table = plan.table ?? plan.nested_loop?.[0]?.table;
    const out = {
      backend: "mariadb", n: N, old: OLD, runs: R, writerColumn: hasWriter,
      self: await syncs(self), other: await syncs(other),
      database: { selfSyncMs: Math.round(Number(plan.r_total_time_ms) * 100) / 100, access: table?.access_type, key: table?.key ?? null, rowsExamined: table?.r_rows },
    };
    console.log(JSON.stringify(out));
  } finally {
    await self.close();
    await other.close();
    await db.drop();
  }
}

async function postgresql(): Promise<void> {
  const name = `pydhcp_bench_sync_${randomBytes(4).toString("hex")}`;
  const admin = new SQL({ adapter: "postgres", hostname: PG_SOCKET_DIR, port: 5432, username: "postgres", database: "postgres", max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const own = new SQL({ adapter: "postgres", hostname: PG_SOCKET_DIR, port: 5432, username: "postgres", database: name, max: 1 });
  const settings = { kind: "postgresql" as const, host: "localhost", port: 5432, socket: PG_SOCKET_DIR, user: "postgres", password: "", database: name, poolSize: 4, lookupBatch: 1 };
  const self = await openBackend(settings, log, 5000, { leaseWriter: "bench-self" });
  const other = await openBackend(settings, log, 5000, { leaseWriter: "bench-other" });
  try {
    await fill(self);
    await own.unsafe("ANALYZE pydhcp_lease");
    const hasWriter = (await own.unsafe("SELECT 1 FROM information_schema.columns WHERE table_name = 'pydhcp_lease' AND column_name = 'writer'")).length > 0;
    const sql = `SELECT ${LEASE_COLUMNS} FROM pydhcp_lease WHERE updated >= $1${hasWriter ? " AND writer <> $2" : ""}`;
    const params = hasWriter ? [String(now - 2), "bench-self"] : [String(now - 2)];
    const [r] = await own.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
    const plan = (r as { "QUERY PLAN": { Plan: Record<string, unknown>; "Execution Time": number }[] })["QUERY PLAN"][0]!;
    const node = plan.Plan;
    const inner = (node.Plans as Record<string, unknown>[] | undefined)?.[0];
    const out = {
      backend: "postgresql", n: N, old: OLD, runs: R, writerColumn: hasWriter,
      self: await syncs(self), other: await syncs(other),
      database: { selfSyncMs: Math.round(plan["Execution Time"] * 100) / 100, access: node["Node Type"], key: node["Index Name"] ?? inner?.["Index Name"] ?? null, rowsReturned: node["Actual Rows"] },
    };
    console.log(JSON.stringify(out));
  } finally {
    await self.close();
    await other.close();
    await own.close({ timeout: 1 });
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close({ timeout: 1 });
  }
}

if (which === "mariadb" || which === "both") await mariadb();
if (which === "postgresql" || which === "both") await postgresql();
