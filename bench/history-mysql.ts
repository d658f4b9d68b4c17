/**
 * What writing history to MariaDB costs the serving thread, per row, with
 * the rows sent as one JSON_TABLE statement per batch (the journal's text,
 * unparsed: db/mysql/json-rows.ts) against multi-row INSERTs of parsed
 * values (the path for servers without JSON_TABLE). pydhcpdb's history
 * table and history_sql, events already in the journal (a backlog, so every
 * batch is full: 500 rows), written by the HistoryWriter as the server runs
 * it. Measured from the moment the writer gets its statements until the
 * journal is caught up: this thread's CPU (/proc/self/task/<pid>), MariaDB's
 * CPU (mariadbd's /proc entry) and the wall time. The two paths alternate.
 *
 *   ./node_modules/.bin/bun bench/history-mysql.ts [rows=100000] [rounds=3]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Backend } from "../src/db/backend.ts";
import { openBackend } from "../src/db/open.ts";
import { compileTemplate } from "../src/db/template.ts";
import { createLogger } from "../src/log/logger.ts";
import { HistoryWriter } from "../src/server/history.ts";
import { createTempDb, loadPydhcpSql, rootPool } from "../test/db/mariadb.ts";
import { cpuSeconds, mainThreadCpuSeconds } from "./perf/proc.ts";
import { median } from "./perf/stats.ts";

const ROWS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
/** events recorded at once: within what the journal keeps in memory (5,000 lines) */
const BURST = 4000;
// pydhcpdb's config.xml
const HISTORY_SQL = "insert into history (id,dt,mac,ip,comment) values (null,now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')";

function mariadbPid(): number {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === "mariadbd") return Number(d);
    } catch {}
  }
  throw new Error("mariadbd is not running");
}

const log = createLogger({ level: "error", format: "text" });
const root = await rootPool();
const db = await createTempDb(root, "pdh");
const dir = mkdtempSync(join(tmpdir(), "pydhcp-bench-history-"));
const dbPid = mariadbPid();
try {
  await loadPydhcpSql(root, db.database);
  const backend = await openBackend(
    { kind: "mysql", host: "127.0.0.1", port: 3306, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 8, lookupBatch: 32 },
    log,
    5000,
  );
  const compiled = compileTemplate("history_sql", HISTORY_SQL, "mysql");
  if (compiled.kind !== "template") throw new Error(compiled.message);
  const t = compiled;

  async function round(path: "json" | "multi-row", k: number): Promise<{ us: number; dbUs: number; ms: number }> {
    // the multi-row path: the backend as it is without runBatchJson (what a server without JSON_TABLE gets too)
    const b: Backend = path === "json" ? backend : Object.assign(Object.create(backend) as Backend, { runBatchJson: undefined });
    const w = new HistoryWriter(b, { journalPath: join(dir, `journal-${k}`), fsync: { kind: "never" } }, log);
    w.start();
    w.setStatements([{ name: "history_sql", sql: t.sql, params: t.bind(new Map(), 0).length }]);
    const at = Date.now();
    // bursts the journal keeps in memory (as a running server's are), each written before the next:
    // only the writing is timed, not the recording (the same on both paths)
    let cpu = 0;
    let dbCpu = 0;
    let ms = 0;
    for (let done = 0; done < ROWS; ) {
      const n = Math.min(BURST, ROWS - done);
      for (let i = done; i < done + n; i++) {
        const mac = (0x0c0100000000 + i).toString(16).padStart(12, "0");
        w.record(() => [{ s: "history_sql", v: t.bind(new Map([["ClientMacAddress", mac], ["RequestedIpAddress", `198.18.${(i >> 8) & 255}.${i & 255}`]]), at) }]);
      }
      done += n;
      const c0 = mainThreadCpuSeconds(process.pid)!;
      const d0 = cpuSeconds(dbPid)!;
      const t0 = performance.now();
      while (w.pending > 0) await Bun.sleep(1);
      ms += performance.now() - t0;
      cpu += mainThreadCpuSeconds(process.pid)! - c0;
      dbCpu += cpuSeconds(dbPid)! - d0;
    }
    const us = (cpu * 1e6) / ROWS;
    const dbUs = (dbCpu * 1e6) / ROWS;
    await w.close();
    const [n] = (await root.query(`SELECT COUNT(*) AS n FROM \`${db.database}\`.history`)) as unknown as [{ n: number }[]];
    if (Number(n[0]!.n) !== ROWS) throw new Error(`${path}: ${n[0]!.n} rows written, expected ${ROWS}`);
    await root.query(`TRUNCATE \`${db.database}\`.history`);
    return { us, dbUs, ms };
  }

  await round("json", 0); // warm-up: JIT, prepared statements, InnoDB pages
  await round("multi-row", 1);
  const got: Record<string, { us: number[]; dbUs: number[]; ms: number[] }> = { json: { us: [], dbUs: [], ms: [] }, "multi-row": { us: [], dbUs: [], ms: [] } };
  for (let r = 0; r < ROUNDS; r++) {
    for (const path of ["multi-row", "json"] as const) {
      const x = await round(path, 2 + r * 2 + (path === "json" ? 1 : 0));
      got[path]!.us.push(x.us);
      got[path]!.dbUs.push(x.dbUs);
      got[path]!.ms.push(x.ms);
    }
  }
  console.log(`bun ${Bun.version}, MariaDB history (pydhcpdb's history_sql), ${ROWS} rows in batches of 500, ${ROUNDS} rounds alternating, medians:`);
  for (const [path, x] of Object.entries(got)) {
    const f = (xs: number[]) => `${median(xs).toFixed(2)} (${xs.map((v) => v.toFixed(2)).join(", ")})`;
    console.log(`  ${path.padEnd(9)} serving thread µs/row ${f(x.us)}  MariaDB µs/row ${f(x.dbUs)}  rows/s ${Math.round((ROWS * 1000) / median(x.ms))}`);
  }
  await backend.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
  await root.end();
}
