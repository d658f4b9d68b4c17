/**
 * Offer-chain throughput: config.example.xml's two queries (switch MAC +
 * port from option 82, then client MAC; both on indexed columns) for a
 * random subscriber MAC, so each chain is one miss and one hit. MariaDB
 * with pool sizes 1/4/8/16, SQLite in WAL mode; 10,000 and 100,000 users.
 * Prints chains/s and queries/s, median of several runs.
 *
 *   bun bench/db.ts [--seconds 2] [--runs 3]
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import type { Config } from "../src/config/types.ts";
import { openBackend } from "../src/db/open.ts";
import { prepareQueries } from "../src/db/queries.ts";
import { runOfferChain, type BoundQuery } from "../src/db/chain.ts";
import type { Backend } from "../src/db/backend.ts";
import { SqliteBackend } from "../src/db/sqlite.ts";
import type { Logger } from "../src/log/types.ts";
import { createTempDb, rootPool } from "../test/db/mariadb.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("seconds", 2);
const RUNS = arg("runs", 3);
const SIZES = [10_000, 100_000];
const POOLS = [1, 4, 8, 16];
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const mac = (i: number) => (0x080027000000 + i).toString(16).padStart(12, "0");
// 10.0.0.2 upwards in 10.0.0.0/8 (10.0.0.1 is the router)
const ip = (i: number) => `10.${((i + 2) >> 16) & 255}.${((i + 2) >> 8) & 255}.${(i + 2) & 255}`;

function exampleConfig(): Config {
  const r = loadConfig(join(import.meta.dir, "../config.example.xml"));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

/** Runs chains from `workers` concurrent loops for SECONDS; returns chains/s. */
async function measure(offers: BoundQuery[], users: number, workers: number, c: Config): Promise<number> {
  const d = { mask: c.server.defaultMask, router: c.server.defaultRouter, dns: c.server.defaultDns };
  const end = performance.now() + SECONDS * 1000;
  let chains = 0;
  let misses = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const vars = new Map([["ClientMacAddress", mac(Math.floor(Math.random() * users))]]);
      const r = await runOfferChain(offers, vars, 2000, d);
      if (!r.answer) misses++;
      chains++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, loop));
  if (misses > 0) throw new Error(`${misses} chains found no answer`);
  return chains / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bench(backend: Backend, c: Config, users: number, workers: number): Promise<number> {
  const p = await prepareQueries(backend, c);
  if (!p.ok) throw new Error(p.problems.join("\n"));
  await measure(p.queries.offers, users, workers, c); // warm-up
  const runs: number[] = [];
  for (let k = 0; k < RUNS; k++) runs.push(await measure(p.queries.offers, users, workers, c));
  return median(runs);
}

const rows: string[][] = [];
const base = exampleConfig();

// SQLite
for (const users of SIZES) {
  const dir = mkdtempSync(join(tmpdir(), "pdc-bench-"));
  const path = join(dir, "pydhcp.db");
  const b = SqliteBackend.open({ path, timeoutMs: 2000 }, quiet);
  b.exec("BEGIN");
  for (let i = 0; i < users; i++) b.exec("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES (?, '255.0.0.0', '10.0.0.1', '8.8.8.8', ?, '')", [ip(i), mac(i)]);
  b.exec("COMMIT");
  const c = { ...base, database: { kind: "sqlite" as const, path } };
  const rate = await bench(b, c, users, 1);
  rows.push(["SQLite (WAL, file)", "-", String(users), rate.toFixed(0), (rate * 2).toFixed(0)]);
  await b.close();
  rmSync(dir, { recursive: true, force: true });
}

// MariaDB
const root = await rootPool();
for (const users of SIZES) {
  const db = await createTempDb(root, "pdcbench");
  try {
    const c0: Config = {
      ...base,
      database: { kind: "mysql", host: "127.0.0.1", port: 3306, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 1, lookupBatch: 16 },
    };
    const setup = await openBackend(c0.database, quiet);
    await setup.close();
    const conn = await root.getConnection();
    await conn.query(`USE \`${db.database}\``);
    const { MYSQL_SCHEMA } = await import("../src/db/schema.ts");
    for (const s of MYSQL_SCHEMA) await conn.query(s);
    for (let i = 0; i < users; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(users, i + 1000); j++) batch.push([ip(j), "255.0.0.0", "10.0.0.1", "8.8.8.8", mac(j), ""]);
      await conn.query("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ?", [batch]);
    }
    conn.release();
    // baseline: the same two statements straight through mysql2, no pydhcp layer
    {
      const mysql = (await import("mysql2/promise")).default;
      const pool = mysql.createPool({ host: "127.0.0.1", user: db.user, password: db.password, database: db.database, connectionLimit: 8 });
      const q1 = "select ip, mask, router, dns from users where mac = ? and port = ?";
      const q2 = "select ip, mask, router, dns from users where mac = ?";
      const runs: number[] = [];
      for (let k = 0; k <= RUNS; k++) {
        const end = performance.now() + SECONDS * 1000;
        let n = 0;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (performance.now() < end) {
            const m = mac(Math.floor(Math.random() * users));
            await pool.execute(q1, [null, null]);
            await pool.execute(q2, [m]);
            n++;
          }
        }));
        if (k > 0) runs.push(n / ((performance.now() - t0) / 1000));
      }
      await pool.end();
      const rate = median(runs);
      rows.push(["mysql2 pool.execute only (baseline)", "8", String(users), rate.toFixed(0), (rate * 2).toFixed(0)]);
    }
    for (const pool of POOLS) {
      const c: Config = { ...c0, database: { ...c0.database, poolSize: pool } as Config["database"] };
      const b = await openBackend(c.database, quiet);
      // twice as many chains in flight as connections keeps the pool busy
      const rate = await bench(b, c, users, pool * 2);
      rows.push(["MariaDB (TCP, prepared)", String(pool), String(users), rate.toFixed(0), (rate * 2).toFixed(0)]);
      await b.close();
    }
  } finally {
    await db.drop();
  }
}
await root.end();

const head = ["backend", "pool", "users", "chains/s", "queries/s"];
const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
const line = (r: string[]) => r.map((x, k) => x.padStart(widths[k]!)).join("  ");
const { loadavg, cpus } = await import("node:os");
console.log(`offer chain (2 queries: miss by switch port, hit by MAC), median of ${RUNS} runs of ${SECONDS} s; ${cpus().length} CPUs, load average at end ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(line(head));
for (const r of rows) console.log(line(r));
