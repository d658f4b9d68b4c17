/**
 * `--check`, second half: how each offer query will run. EXPLAIN (MySQL,
 * MariaDB), EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (FORMAT JSON) with
 * sequential scans priced out (PostgreSQL) with sample values, the table's
 * row count, a timed run, and the settings that cap throughput. It only
 * reads: the fixes are printed for the operator to apply.
 */

import type { Config } from "../config/types.ts";
import type { Backend, Row } from "../db/backend.ts";
import type { BoundQuery } from "../db/chain.ts";
import { advise, lowerCaseSql, mergeIndexes, mysqlAccesses, postgresqlAccesses, sqliteAccesses, type TableAccess } from "../db/plan.ts";
import { PostgresqlBackend } from "../db/postgresql.ts";
import { VARIABLES } from "../variables/catalogue.ts";
import { applySlices } from "../variables/slices.ts";
import type { Vars } from "../variables/types.ts";

/** Timed runs per query; the median is reported. */
const RUNS = 15;
/**
 * ThreadLimit below this keeps a MySQL server mostly idle while lookups wait;
 * 64 in flight, grouped on the pool's connections, is what the benchmark
 * measured best (docs/benchmark.md, pydhcp-mysql).
 */
const SUGGESTED_THREADS = 64;

/** SQLite with pools: exchanges in flight whose renewals share a commit (the benchmark's pool row). */
const SQLITE_POOL_THREADS = 16;

export interface PlanReport {
  lines: string[];
  /** queries that read every row */
  scanning: string[];
  /** settings that cap throughput */
  settings: string[];
}

/** Values for every variable: the catalogue's example packet, its slices, and a stand-in for the rest. */
export function sampleVars(config: Config, queries: readonly BoundQuery[]): Vars {
  const v: Vars = new Map();
  for (const r of VARIABLES) if (!r.codes && r.example !== "") v.set(r.name, r.example);
  if (config.slices.length) applySlices(v, config.slices);
  // a NULL would let the planner answer "impossible WHERE" without looking at the table
  for (const q of queries) for (const n of q.template.names) if (!v.get(n)) v.set(n, "000000000000");
  return v;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? "" : "s"}`;
}

async function explain(backend: Backend, q: BoundQuery, vars: Vars): Promise<TableAccess[]> {
  if (backend instanceof PostgresqlBackend) {
    return postgresqlAccesses(await backend.explain(`${q.template.name} (plan)`, q.template.sql, q.template.bind(vars)));
  }
  const prefix = backend.kind === "sqlite" ? "EXPLAIN QUERY PLAN " : "EXPLAIN ";
  const p = await backend.prepare(`${q.template.name} (plan)`, prefix + q.template.sql);
  const rows = await p.run(q.template.bind(vars));
  return backend.kind === "sqlite" ? sqliteAccesses(rows) : mysqlAccesses(rows);
}

async function rowCount(backend: Backend, table: string): Promise<number | null> {
  // the name comes from the database's own plan; refuse anything that is not a plain identifier
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(table)) return null;
  const quoted = backend.kind === "mysql" ? "`" + table + "`" : `"${table}"`;
  try {
    const p = await backend.prepare(`${table} (count)`, `SELECT COUNT(*) AS n FROM ${quoted}`);
    const rows: Row[] = await p.run([]);
    const n = Number(Object.values(rows[0] ?? {})[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

async function medianMs(q: BoundQuery, vars: Vars, timeoutMs: number): Promise<number> {
  const params = q.template.bind(vars);
  await q.query.run(params, timeoutMs);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await q.query.run(params, timeoutMs);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

const fmtMs = (ms: number) => (ms < 1 ? ms.toFixed(3) : ms.toFixed(2));

export async function checkPlans(backend: Backend, config: Config, offers: readonly BoundQuery[]): Promise<PlanReport> {
  const vars = sampleVars(config, offers);
  const lines: string[] = [];
  const scanning: string[] = [];
  const settings: string[] = [];
  const indexes: { table: string; columns: string[]; sql: string }[] = [];
  const lower = new Map<string, Set<string>>();
  const db = { sqlite: "SQLite", mysql: "MySQL", postgresql: "PostgreSQL" }[backend.kind];
  let chainMs = 0;
  for (const q of offers) {
    const name = q.template.name;
    let accesses: TableAccess[];
    let ms: number;
    try {
      accesses = await explain(backend, q, vars);
      ms = await medianMs(q, vars, config.queryTimeoutMs);
    } catch (e) {
      lines.push(`query ${name}: OK (plan not read: ${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    chainMs += ms;
    const scans = accesses.filter((a) => a.scan);
    if (!scans.length) {
      const used = accesses.map((a) => `${a.table} by ${a.index ?? "key"}`).join(", ");
      lines.push(`query ${name}: OK, uses an index (${used || "no table read"}), ${fmtMs(ms)} ms`);
      continue;
    }
    scanning.push(name);
    for (const a of scans) {
      const n = await rowCount(backend, a.table);
      const adv = advise(configSql(config, name), a.table, backend.kind);
      const why = adv.defeating.length
        ? `${adv.defeating.join(" and ")} ${adv.defeating.length === 1 ? "hides its column" : "hide their columns"} from every index`
        : adv.indexColumns.length
          ? `no index on ${adv.indexColumns.join(", ")}`
          : "no index serves its WHERE clause";
      lines.push(
        `query ${name}: WARN reads every row of ${a.table} (${n === null ? "unknown number of rows" : plural(n, "row")}) on each lookup: ${why}; ${fmtMs(ms)} ms now, growing with the table [${db}: ${a.detail}]`,
      );
      if (adv.query) lines.push(`  equivalent query: <${name}>${adv.query}</${name}>`);
      else if (adv.createIndex) lines.push(`  the query stays as it is once the index below exists`);
      if (adv.createIndex) indexes.push({ table: a.table, columns: adv.indexColumns, sql: adv.createIndex });
      if (adv.lowerCase.length) {
        const set = lower.get(a.table) ?? new Set<string>();
        for (const c of adv.lowerCase) set.add(c);
        lower.set(a.table, set);
      }
    }
  }
  const create = mergeIndexes(indexes);
  const dataFixes = [...lower].map(([t, cols]) => lowerCaseSql(backend.kind, t, [...cols]));
  if (dataFixes.length || create.length) {
    lines.push("fix (run by you; --check changes nothing), then use the equivalent queries above:");
    for (const f of dataFixes) lines.push(`  ${f}`);
    if (dataFixes.length) lines.push("  -- and have whatever writes these columns write lower case, as pydhcp's hex variables are");
    for (const c of create) lines.push(`  ${c}`);
  }

  // SQLite answers synchronously, one statement at a time whatever ThreadLimit says: only a database server is capped by it
  const threads = config.server.threadLimit;
  if (config.database.kind !== "sqlite" && threads < SUGGESTED_THREADS) {
    settings.push("ThreadLimit");
    const cap = chainMs > 0 ? Math.floor((1000 / chainMs) * threads) : null;
    lines.push(
      `setting ThreadLimit ${threads}: WARN ${threads === 1 ? "one lookup at a time" : `${threads} lookups at a time`}` +
        (cap !== null ? `; a client no query knows costs ${fmtMs(chainMs)} ms here (all ${offers.length === 1 ? "1 offer query" : `${offers.length} offer queries`}), so at most ~${cap} such lookups/s` : "") +
        `; fix: <ThreadLimit>${SUGGESTED_THREADS}</ThreadLimit> (lookups in flight share <poolSize>${config.database.poolSize}</poolSize> connections)`,
    );
  }
  // with pools, renewals of exchanges in flight together share one commit (db/pool-batch.ts): one at a time shares nothing
  if (config.database.kind === "sqlite" && config.pools.pools.length > 0 && threads === 1) {
    settings.push("ThreadLimit");
    lines.push(
      `setting ThreadLimit 1: WARN with <pools>, each renewal commits alone; exchanges in flight together share one commit; fix: <ThreadLimit>${SQLITE_POOL_THREADS}</ThreadLimit>`,
    );
  }
  if (config.log.level === "debug") {
    settings.push("log level");
    lines.push("setting log level debug: WARN every packet writes its variables and queries to the log; fix: <log><level>info</level></log>");
  }
  return { lines, scanning, settings };
}

function configSql(config: Config, name: string): string {
  return config.offers.find((o) => o.name === name)?.sql ?? "";
}
