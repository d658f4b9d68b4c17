/**
 * PostgreSQL driver choice, by measurement: Bun's built-in SQL client
 * against the `postgres` (postgres.js) and `pg` (node-postgres) packages,
 * on the two things pydhcp asks of a database:
 *
 *  - the offer chain: pydhcpdb's three lookups (two misses on option 82
 *    values, one hit on the client MAC, `upper(mac) = upper($1)` on an
 *    expression index) for a random subscriber, from 64 concurrent loops
 *    over a pool of 8 connections, named prepared statements;
 *  - write batches: 64 history rows as one multi-row INSERT, and 64 lease
 *    rows as one INSERT .. ON CONFLICT, each in a transaction.
 *
 * Then pydhcp's own backend (src/db/postgresql.ts, Bun.SQL) on the same
 * chain with lookup grouping off (lookupBatch 1) and on (16), pool 4 and 8.
 *
 * Prints chains/s, batches/s and the client's CPU time per chain or batch
 * (the server is on the same 2 cores, so client CPU is what the driver
 * costs), median of several runs. The two packages are not dependencies of
 * pydhcp; install them for this run only:
 *
 *   npm install --no-save postgres pg
 *   bun bench/pg-drivers.ts [--seconds 3] [--runs 3] [--users 10000]
 */

import { SQL } from "bun";
import { openBackend } from "../src/db/open.ts";
import { compileTemplate } from "../src/db/template.ts";
import { runOfferChain, type BoundQuery } from "../src/db/chain.ts";
import type { Backend } from "../src/db/backend.ts";
import type { Logger } from "../src/log/types.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("seconds", 3);
const RUNS = arg("runs", 3);
const USERS = arg("users", 10_000);
const POOL = 8;
const LOOPS = 64;
const BATCH = 64;
const SOCKET_DIR = "/var/run/postgresql";
const DB = `pdc_drv_${process.pid}`;

/** What each driver must offer the benchmark. */
interface Driver {
  name: string;
  query(text: string, params: readonly (string | number | null)[]): Promise<Record<string, unknown>[]>;
  /** runs the statements in one transaction */
  tx(stmts: { text: string; params: readonly (string | number | null)[] }[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * At most `n` calls of `f` at once, the rest wait in order. Bun.SQL sends a
 * query down a busy connection (pipelining) when every one is taken, so one
 * slow statement holds up the quick ones queued behind it; pydhcp keeps at
 * most pool-size statements in flight, and this variant measures that.
 */
function limited<A extends unknown[], R>(n: number, f: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  let busy = 0;
  const waiting: (() => void)[] = [];
  const next = () => {
    busy--;
    waiting.shift()?.();
  };
  return async (...a: A) => {
    if (busy >= n) await new Promise<void>((r) => waiting.push(r));
    busy++;
    try {
      return await f(...a);
    } finally {
      next();
    }
  };
}

async function bunDriver(): Promise<Driver> {
  const sql = new SQL({ hostname: SOCKET_DIR, port: 5432, username: "postgres", database: DB, max: POOL, prepare: true });
  return {
    name: "Bun.SQL (built in), pipelined",
    query: (t, p) => sql.unsafe(t, p as unknown[]) as Promise<Record<string, unknown>[]>,
    tx: async (stmts) => {
      await sql.begin(async (tx) => {
        for (const s of stmts) await tx.unsafe(s.text, s.params as unknown[]);
      });
    },
    close: () => sql.close(),
  };
}

async function bunLimited(): Promise<Driver> {
  const d = await bunDriver();
  return { ...d, name: `Bun.SQL (built in), ${POOL} in flight`, query: limited(POOL, d.query), tx: limited(POOL, d.tx) };
}

/** The parts of the two packages used here (they are not dependencies, so no types at build time). */
type Rows = Promise<Record<string, unknown>[]>;
interface PostgresJs {
  unsafe(text: string, params: unknown[], opts: { prepare: boolean }): Rows;
  begin(f: (tx: PostgresJs) => Promise<void>): Promise<void>;
  end(): Promise<void>;
}
interface PgClient {
  query(q: string | { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
  release(): void;
}
interface PgPool extends Omit<PgClient, "release"> {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

/** Imports a package that may be missing, naming the install command when it is. */
async function optional<T>(name: string): Promise<T> {
  try {
    return ((await import(name)) as { default: T }).default;
  } catch {
    throw new Error(`package ${name} is not installed: npm install --no-save postgres pg`);
  }
}

async function postgresJs(): Promise<Driver> {
  const postgres = await optional<(o: object) => PostgresJs>("postgres");
  const sql = postgres({ host: SOCKET_DIR, port: 5432, user: "postgres", database: DB, max: POOL, prepare: true });
  return {
    name: "postgres 3 (postgres.js)",
    query: (t, p) => sql.unsafe(t, p as unknown[], { prepare: true }),
    tx: async (stmts) => {
      await sql.begin(async (tx) => {
        for (const s of stmts) await tx.unsafe(s.text, s.params as unknown[], { prepare: true });
      });
    },
    close: () => sql.end(),
  };
}

async function nodePg(): Promise<Driver> {
  const pg = await optional<{ Pool: new (o: object) => PgPool }>("pg");
  const pool = new pg.Pool({ host: SOCKET_DIR, port: 5432, user: "postgres", database: DB, max: POOL });
  // a statement name per text: node-postgres prepares named statements once per connection
  const names = new Map<string, string>();
  const named = (text: string) => {
    let n = names.get(text);
    if (!n) names.set(text, (n = `s${names.size}`));
    return n;
  };
  return {
    name: "pg 8 (node-postgres)",
    query: async (t, p) => (await pool.query({ name: named(t), text: t, values: p as unknown[] })).rows,
    tx: async (stmts) => {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        for (const s of stmts) await c.query({ name: named(s.text), text: s.text, values: s.params as unknown[] });
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    },
    close: () => pool.end(),
  };
}

const mac = (i: number) => (0x080027000000 + i).toString(16).padStart(12, "0");
const ip = (i: number) => `10.${((i + 2) >> 16) & 255}.${((i + 2) >> 8) & 255}.${(i + 2) & 255}`;

const OFFERS = [
  "select ip,mask,router,dns from users where upper(mac)=upper($1) and upper(port)=upper($2)",
  "select ip,mask,router,dns from users where upper(mac)=upper($1) and upper(port)=upper($2)",
  "select ip,mask,router,dns from users where upper(mac)=upper($1)",
];
const HISTORY_TUPLE = (k: number) => `(now(), $${k * 2 + 1}, $${k * 2 + 2}, 'DHCPACK/INFORM')`;
const HISTORY = `insert into history (dt, mac, ip, comment) values ${Array.from({ length: BATCH }, (_, k) => HISTORY_TUPLE(k)).join(", ")}`;
const LEASE = `insert into pydhcp_lease (client_key, mac, ip, option82, expires, state, answer, updated) values ${Array.from(
  { length: BATCH },
  (_, k) => `(${Array.from({ length: 8 }, (_, j) => `$${k * 8 + j + 1}`).join(", ")})`,
).join(", ")} on conflict (client_key) do update set mac = excluded.mac, ip = excluded.ip, option82 = excluded.option82,
  expires = excluded.expires, state = excluded.state, answer = excluded.answer, updated = excluded.updated`;

async function admin(text: string): Promise<void> {
  const p = Bun.spawn(["psql", "-h", SOCKET_DIR, "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", text], { stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`psql: ${err}`);
}

async function setup(): Promise<void> {
  await admin(`CREATE DATABASE ${DB}`);
  const sql = new SQL({ hostname: SOCKET_DIR, username: "postgres", database: DB, max: 1 });
  await sql.unsafe(await Bun.file(`${import.meta.dir}/../sql/postgresql.sql`).text()).simple();
  for (let i = 0; i < USERS; i += 1000) {
    const vals: string[] = [];
    for (let k = i; k < Math.min(USERS, i + 1000); k++) vals.push(`('${ip(k)}', '255.0.0.0', '10.0.0.1', '8.8.8.8', '${mac(k)}', '')`);
    await sql.unsafe(`insert into users (ip, mask, router, dns, mac, port) values ${vals.join(",")}`).simple();
  }
  await sql.unsafe("analyze").simple();
  await sql.close();
}

/** Work per second and client CPU microseconds per unit of work. */
async function measure(work: () => Promise<void>, loops: number): Promise<{ rate: number; cpuUs: number }> {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < end) {
        await work();
        n++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { rate: n / ((performance.now() - t0) / 1000), cpuUs: (cpu.user + cpu.system) / n };
}

async function chain(d: Driver): Promise<void> {
  const m = mac(Math.floor(Math.random() * USERS));
  const r1 = await d.query(OFFERS[0]!, ["0006" + m, "06"]);
  const r2 = await d.query(OFFERS[1]!, [m, "06"]);
  const r3 = await d.query(OFFERS[2]!, [m]);
  if (r1.length !== 0 || r2.length !== 0 || r3.length !== 1) throw new Error("offer chain: wrong rows");
}

let seq = 0;
async function historyBatch(d: Driver): Promise<void> {
  const p: string[] = [];
  for (let k = 0; k < BATCH; k++) p.push(mac(k), ip(k));
  await d.tx([{ text: HISTORY, params: p }]);
}
async function leaseBatch(d: Driver): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const base = (seq++ % 64) * BATCH;
  const p: (string | number)[] = [];
  for (let k = base; k < base + BATCH; k++) p.push(`01${mac(k)}`, mac(k), ip(k), "", now + 600, "bound", "{}", now);
  await d.tx([{ text: LEASE, params: p }]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function best(f: () => Promise<{ rate: number; cpuUs: number }>): Promise<{ rate: number; cpuUs: number }> {
  await f();
  const runs: { rate: number; cpuUs: number }[] = [];
  for (let k = 0; k < RUNS; k++) runs.push(await f());
  const rate = median(runs.map((r) => r.rate));
  return { rate, cpuUs: median(runs.map((r) => r.cpuUs)) };
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** pydhcp's backend with `lookupBatch`, the reference chain through runOfferChain. */
async function backendRow(pool: number, lookupBatch: number): Promise<string[]> {
  const b: Backend = await openBackend(
    { kind: "postgresql", host: "", port: 5432, socket: SOCKET_DIR, user: "postgres", password: "", database: DB, poolSize: pool, lookupBatch },
    quiet,
    2000,
  );
  try {
    const texts = [
      "select ip,mask,router,dns from users where upper(mac)=upper('{option_82_AgentRemoteId_hex}') and upper(port)=upper('{sw_port2}')",
      "select ip,mask,router,dns from users where upper(mac)=upper('{sw_mac}') and upper(port)=upper('{sw_port2}')",
      "select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')",
    ];
    const offers: BoundQuery[] = [];
    for (const [k, text] of texts.entries()) {
      const t = compileTemplate(`offer_${k + 1}`, text, "postgresql");
      if (t.kind !== "template") throw new Error(t.message);
      offers.push({ template: t, query: await b.prepare(t.name, t.sql) });
    }
    const d = { mask: "255.0.0.0", router: "10.0.0.1", dns: [] };
    const r = await best(() =>
      measure(async () => {
        const i = Math.floor(Math.random() * USERS);
        const m = mac(i);
        const vars = new Map([["ClientMacAddress", m], ["sw_mac", m], ["sw_port2", "06"], ["option_82_AgentRemoteId_hex", "0006" + m]]);
        const res = await runOfferChain(offers, vars, 2000, d);
        // a grouped lookup must get its own row back
        if (res.answer?.ip !== ip(i)) throw new Error(`offer chain: ${m} got ${res.answer?.ip ?? "no answer"}, not ${ip(i)}`);
      }, LOOPS),
    );
    return [`pydhcp backend, pool ${pool}`, lookupBatch === 1 ? "off" : `up to ${lookupBatch}`, r.rate.toFixed(0), r.cpuUs.toFixed(0)];
  } finally {
    await b.close();
  }
}

await setup();
const rows: string[][] = [];
const grouped: string[][] = [];
try {
  for (const pool of [4, 8]) for (const lb of [1, 16]) grouped.push(await backendRow(pool, lb));
  for (const make of [bunDriver, bunLimited, postgresJs, nodePg]) {
    const d = await make();
    try {
      // every value is sent untyped: a text parameter compared with an integer column must work
      const typed = await d.query("select ip from users where id = $1", ["1"]);
      if (typed.length !== 1) throw new Error(`${d.name}: a text value against an integer column found no row`);
      const c = await best(() => measure(() => chain(d), LOOPS));
      const h = await best(() => measure(() => historyBatch(d), POOL));
      const l = await best(() => measure(() => leaseBatch(d), POOL));
      rows.push([
        d.name,
        c.rate.toFixed(0), c.cpuUs.toFixed(0),
        h.rate.toFixed(0), h.cpuUs.toFixed(0),
        l.rate.toFixed(0), l.cpuUs.toFixed(0),
      ]);
    } finally {
      await d.close();
    }
  }
} finally {
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
}

const head = ["driver", "chains/s", "CPU µs/chain", "history 64-row batches/s", "CPU µs/batch", "lease 64-row upserts/s", "CPU µs/upsert"];
console.log(`PostgreSQL ${USERS} users, pool ${POOL}, ${LOOPS} chain loops, ${SECONDS} s x ${RUNS} runs (median), Bun ${Bun.version}`);
console.log(`| ${head.join(" | ")} |`);
console.log(`|${head.map(() => "---").join("|")}|`);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);

const head2 = ["backend", "lookup grouping", "chains/s", "CPU µs/chain"];
console.log(`\npydhcp's PostgreSQL backend, ${LOOPS} chains in flight, reference offer chain (2 misses, 1 hit)`);
console.log(`| ${head2.join(" | ")} |`);
console.log(`|${head2.map(() => "---").join("|")}|`);
for (const r of grouped) console.log(`| ${r.join(" | ")} |`);
