/**
 * What MariaDB does per DORA for one server row at one steady rate: server
 * and MariaDB CPU, SHOW GLOBAL STATUS deltas and, when performance_schema
 * is on, each prepared statement's executions, time and rows, all divided
 * by the exchanges completed (ACKs).
 *
 *   bun bench/perf/dbprofile.ts [--server pydhcp-mysql-pydhcpdb-fixed | pydhcp-mysql-pool] [--rate 2000] [--seconds 20] [--warm 10] [--json FILE]
 *
 * A warm-up run at the same rate first (every client gets its lease row),
 * then the measured run; the window closes 2 s after perfdhcp ends so the
 * last lease and history batches are in it. PYDHCP_BENCH_MARIADB_SOCKET
 * points the benchmark and the server at another MariaDB: a private one
 * started with performance_schema=ON, say (the shared one has it off), where
 * `UPDATE performance_schema.setup_consumers SET enabled = 'YES' WHERE name =
 * 'events_statements_current'` makes prepared statements counted. Other
 * clients of the same MariaDB count too: its figures are this server's only
 * on a MariaDB nothing else uses.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_BASE_MAC, knownClients } from "./clients.ts";
import { mariadbPid, rootConnection } from "./mariadb.ts";
import { createNetns, GENERATOR_RMEM, raiseReceiveBuffer } from "./netns.ts";
import { parsePerfdhcp, perfdhcpArgv } from "./perfdhcp.ts";
import { cpuSeconds } from "./proc.ts";
import { POOL_BASE_MAC } from "./pools.ts";
import { serverByName, type ServerContext } from "./servers.ts";
import { cleanupAll, installSignalCleanup, onCleanup, runAsync, spawnDaemon } from "./sys.ts";

const CLIENTS = 10_000;

/** status counters reported per DORA (those that moved) */
const COUNTERS = /^(Com_(select|insert|update|delete|begin|commit|rollback|stmt_.*|set_option|change_db|admin_commands)|Questions|Handler_.*|Innodb_(rows_.*|data_fsyncs|data_writes|data_written|os_log_fsyncs|os_log_written|log_writes|log_write_requests|buffer_pool_write_requests|buffer_pool_read_requests|pages_written|dblwr_writes)|Bytes_(sent|received)|Created_tmp_.*|Select_.*|Sort_.*|Table_locks_immediate|Opened_tables|Threads_created|Connections)$/;

interface Args {
  server: string;
  rate: number;
  seconds: number;
  warm: number;
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { server: "pydhcp-mysql-pydhcpdb-fixed", rate: 2000, seconds: 20, warm: 10, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === "--server") a.server = v;
    else if (k === "--rate") a.rate = Number(v);
    else if (k === "--seconds") a.seconds = Number(v);
    else if (k === "--warm") a.warm = Number(v);
    else if (k === "--json") a.json = v;
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

async function status(): Promise<Map<string, number>> {
  const c = await rootConnection();
  try {
    const [rows] = await c.query("SHOW GLOBAL STATUS");
    return new Map((rows as { Variable_name: string; Value: string }[]).filter((r) => COUNTERS.test(r.Variable_name)).map((r) => [r.Variable_name, Number(r.Value)]));
  } finally {
    await c.end();
  }
}

/** MariaDB's per-user statistics (userstat) of the benchmark's own users: other clients of the server do not count here */
const USER_COLUMNS = ["SELECT_COMMANDS", "UPDATE_COMMANDS", "OTHER_COMMANDS", "COMMIT_TRANSACTIONS", "ROWS_READ", "ROWS_SENT", "BYTES_RECEIVED", "BYTES_SENT", "BUSY_TIME", "CPU_TIME"] as const;

async function userStats(tag: string): Promise<Map<string, number>> {
  const c = await rootConnection();
  try {
    const [rows] = await c.query(`SELECT ${USER_COLUMNS.map((k) => `SUM(${k}) AS ${k}`).join(", ")} FROM information_schema.USER_STATISTICS WHERE USER LIKE ?`, [`${tag}\\_%`]);
    const r = (rows as Record<string, unknown>[])[0] ?? {};
    return new Map(USER_COLUMNS.map((k) => [k, Number(r[k] ?? 0)]));
  } finally {
    await c.end();
  }
}

async function setUserstat(on: boolean): Promise<boolean> {
  const c = await rootConnection();
  try {
    const [r] = await c.query("SELECT @@GLOBAL.userstat AS u");
    const was = Number((r as { u: number }[])[0]?.u) === 1;
    if (was !== on) await c.query(`SET GLOBAL userstat = ${on ? 1 : 0}`);
    return was;
  } finally {
    await c.end();
  }
}

interface Stmt {
  sql: string;
  execs: number;
  ms: number;
  examined: number;
  sent: number;
  affected: number;
}

/** performance_schema.prepared_statements_instances summed per statement text; null when performance_schema is off. */
async function statements(): Promise<Map<string, Stmt> | null> {
  const c = await rootConnection();
  try {
    const [on] = await c.query("SELECT @@performance_schema AS p");
    if (Number((on as { p: number }[])[0]?.p) !== 1) return null;
    const [rows] = await c.query(
      "SELECT SQL_TEXT AS sqlText, SUM(COUNT_EXECUTE) AS n, SUM(SUM_TIMER_EXECUTE) AS t, SUM(SUM_ROWS_EXAMINED) AS ex, SUM(SUM_ROWS_SENT) AS sent, SUM(SUM_ROWS_AFFECTED) AS aff FROM performance_schema.prepared_statements_instances GROUP BY SQL_TEXT",
    );
    const out = new Map<string, Stmt>();
    for (const r of rows as { sqlText: string; n: string; t: string; ex: string; sent: string; aff: string }[]) {
      const sql = String(r.sqlText).replace(/\s+/g, " ").trim();
      // timers are picoseconds
      out.set(sql, { sql, execs: Number(r.n), ms: Number(r.t) / 1e9, examined: Number(r.ex), sent: Number(r.sent), affected: Number(r.aff) });
    }
    return out;
  } finally {
    await c.end();
  }
}

/** the MAC base perfdhcp draws from: known clients, or (a pool row) clients nobody knows */
let baseMac = DEFAULT_BASE_MAC;

async function perfdhcp(ctx: ServerContext, rate: number, seconds: number) {
  const argv = perfdhcpArgv({ local: ctx.netns.clientAddr, server: ctx.netns.serverAddr, baseMac, clients: CLIENTS, rate, seconds });
  const r = await runAsync([...ctx.netns.exec(ctx.netns.client), ...argv], [0, 3]);
  return parsePerfdhcp(r.stdout);
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "-");

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error("run as root (network namespaces)");
  const row = serverByName(a.server);
  if (!row) throw new Error(`no server row ${a.server}`);
  installSignalCleanup();
  const tag = `dbp${process.pid % 100000}`;
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const netns = createNetns(tag);
  raiseReceiveBuffer(GENERATOR_RMEM);
  if (row.scenario === "pool") baseMac = POOL_BASE_MAC;
  const ctx: ServerContext = { tag, dir, netns, clients: knownClients(CLIENTS, baseMac) };
  const prep = await row.setup(ctx);
  const d = spawnDaemon([...netns.exec(netns.server), ...prep.argv], join(dir, "server.log"), prep.env);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error("server gave no DORA within 30 s");
    if ((await perfdhcp(ctx, 10, 1)).ra.received > 0) break;
    await Bun.sleep(300);
  }
  const dbPid = prep.usesMariadb ? await mariadbPid() : null;
  if (prep.usesMariadb) {
    const was = await setUserstat(true);
    if (!was) onCleanup("userstat off", () => setUserstat(false).then(() => {}));
  }
  if (a.warm > 0) {
    const w = await perfdhcp(ctx, a.rate, a.warm);
    console.log(`warm-up: ${w.ra.received} ACKs in ${a.warm} s, lost ${(w.loss * 100).toFixed(2)}%`);
    await Bun.sleep(3000);
  }
  const u0 = prep.usesMariadb ? await userStats(tag) : null;
  const s0 = await status();
  const p0 = await statements();
  const c0 = { server: cpuSeconds(d.proc.pid), db: dbPid ? cpuSeconds(dbPid) : null };
  const t0 = performance.now();
  const r = await perfdhcp(ctx, a.rate, a.seconds);
  await Bun.sleep(2000);
  const wall = (performance.now() - t0) / 1000;
  const c1 = { server: cpuSeconds(d.proc.pid), db: dbPid ? cpuSeconds(dbPid) : null };
  const s1 = await status();
  const u1 = prep.usesMariadb ? await userStats(tag) : null;
  const p1 = await statements();
  await d.stop();
  const dora = r.ra.received;
  const per = (x: number) => x / Math.max(1, dora);
  const cpu = (k: "server" | "db") => (c0[k] != null && c1[k] != null ? c1[k]! - c0[k]! : NaN);
  const out = {
    server: a.server,
    rate: a.rate,
    seconds: a.seconds,
    dora,
    loss: r.loss,
    doAvgMs: r.do.avgMs,
    raAvgMs: r.ra.avgMs,
    wallSeconds: wall,
    cpuServerSeconds: cpu("server"),
    cpuDbSeconds: cpu("db"),
    serverMsPerDora: per(cpu("server") * 1000),
    dbMsPerDora: per(cpu("db") * 1000),
    status: {} as Record<string, { delta: number; perDora: number }>,
    user: {} as Record<string, { delta: number; perDora: number }>,
    statements: [] as (Stmt & { perDora: number; usPerExec: number })[],
  };
  for (const [k, v] of s1) {
    const dv = v - (s0.get(k) ?? 0);
    if (dv !== 0) out.status[k] = { delta: dv, perDora: per(dv) };
  }
  if (u0 && u1) for (const [k, v] of u1) out.user[k] = { delta: v - u0.get(k)!, perDora: per(v - u0.get(k)!) };
  if (p0 && p1) {
    for (const [sql, b] of p1) {
      const z = p0.get(sql) ?? { execs: 0, ms: 0, examined: 0, sent: 0, affected: 0 };
      const s: Stmt = { sql, execs: b.execs - z.execs, ms: b.ms - z.ms, examined: b.examined - z.examined, sent: b.sent - z.sent, affected: b.affected - z.affected };
      if (s.execs > 0) out.statements.push({ ...s, perDora: per(s.execs), usPerExec: (s.ms * 1000) / s.execs });
    }
    out.statements.sort((x, y) => y.ms - x.ms);
  }
  console.log(`${a.server} at ${a.rate}/s for ${a.seconds} s: ${dora} DORA, lost ${(r.loss * 100).toFixed(2)}%, DO avg ${r.do.avgMs ?? "-"} ms, RA avg ${r.ra.avgMs ?? "-"} ms`);
  console.log(`CPU per DORA: server ${fmt(out.serverMsPerDora)} ms, MariaDB ${fmt(out.dbMsPerDora)} ms (${fmt((cpu("server") / wall) * 100, 0)}% / ${fmt((cpu("db") / wall) * 100, 0)}% of a core over ${fmt(wall, 1)} s)`);
  if (u0) {
    console.log("\nthis server's database users only (USER_STATISTICS; BUSY_TIME and CPU_TIME in ms per DORA):");
    for (const [k, v] of Object.entries(out.user)) {
      const time = k === "BUSY_TIME" || k === "CPU_TIME";
      console.log(`  ${k.padEnd(36)} ${fmt(v.delta, time ? 2 : 0).padStart(12)} ${fmt(time ? v.perDora * 1000 : v.perDora, 4).padStart(12)}`);
    }
  }
  console.log("\nstatus counters per DORA:");
  for (const [k, v] of Object.entries(out.status)) console.log(`  ${k.padEnd(36)} ${String(v.delta).padStart(12)} ${fmt(v.perDora, 4).padStart(12)}`);
  if (out.statements.length) {
    console.log("\nprepared statements (execs/DORA, us/exec, ms total, rows examined/exec, affected/exec):");
    for (const s of out.statements) {
      console.log(`  ${fmt(s.perDora, 4).padStart(8)} ${fmt(s.usPerExec, 1).padStart(8)} ${fmt(s.ms, 0).padStart(8)} ${fmt(s.examined / s.execs, 1).padStart(8)} ${fmt(s.affected / s.execs, 1).padStart(8)}  ${s.sql.slice(0, 150)}`);
    }
  } else if (!p0) console.log("\n(performance_schema is off on this MariaDB: no per-statement figures)");
  if (a.json) writeFileSync(a.json, JSON.stringify(out, null, 2) + "\n");
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
} finally {
  await cleanupAll();
}
process.exit(code);
