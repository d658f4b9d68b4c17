/**
 * `pydhcp --check -c config.xml`: load the config, connect, compile and
 * prepare every query, read each offer query's plan (cli/check-plan.ts), and
 * report. Nothing is served and nothing is changed. The caller prints the
 * lines and exits with `exitCode`: 2 for a bad configuration, 1 when the
 * database cannot be reached (the config may be fine; README: runtime
 * failures exit 1). A query that reads every row is a WARN line, not a
 * failure: it answers, slowly.
 */

import { loadConfig, formatConfigError, type LoadOptions } from "../config/load.ts";
import { openBackend } from "../db/open.ts";
import { allStatements, prepareQueries } from "../db/queries.ts";
import { postgresqlAdvice } from "../db/postgresql-sql.ts";
import { poolProblems } from "../server/pools.ts";
import type { Logger } from "../log/types.ts";
import { checkPlans } from "./check-plan.ts";

/** Swallows the backend's own log lines; --check reports through its lines. */
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface CheckResult {
  ok: boolean;
  /** 0 ok, 1 the database could not be opened, 2 the configuration is bad */
  exitCode: 0 | 1 | 2;
  lines: string[];
}

const REQUESTED_IP_NOTE =
  "{RequestedIpAddress} is option 50, which a renewal or rebinding does not carry (RFC 2131 4.3.2: they name the address in ciaddr), " +
  "nor an INFORM: such rows get 0.0.0.0. {answer_ip} is the address the client was given, {event} which event the row is for (docs/variables.md)";

export async function runCheck(path: string, opts: LoadOptions = {}): Promise<CheckResult> {
  const r = await check(path, opts);
  return { ...r, exitCode: r.ok ? 0 : r.unreachable ? 1 : 2 };
}

async function check(path: string, opts: LoadOptions): Promise<{ ok: boolean; lines: string[]; unreachable?: true }> {
  const loaded = loadConfig(path, opts);
  if (!loaded.ok) return { ok: false, lines: loaded.errors.map(formatConfigError) };
  const config = loaded.config;
  const db = config.database;
  const where = db.kind === "sqlite"
    ? `SQLite ${db.path}`
    : `${db.kind === "mysql" ? "MySQL" : "PostgreSQL"} ${db.user}@${db.socket ?? `${db.host}:${db.port}`}/${db.database}`;
  const lines = [`config ${config.file}: OK`];
  let backend;
  try {
    backend = await openBackend(db, quiet, config.queryTimeoutMs);
  } catch (e) {
    return { ok: false, unreachable: true, lines: [...lines, `database ${where}: ${e instanceof Error ? e.message : String(e)}`] };
  }
  try {
    lines.push(`database ${where}: OK`);
    const prepared = await prepareQueries(backend, config);
    // MySQL spellings PostgreSQL cannot take, with what to write instead
    const advice = db.kind === "postgresql"
      ? allStatements(config).flatMap((n) => postgresqlAdvice(n.sql).map((a) => `config/query/${n.name}: needs a change for PostgreSQL: ${a}`))
      : [];
    if (!prepared.ok || advice.length > 0) return { ok: false, lines: [...lines, ...(prepared.ok ? [] : prepared.problems), ...advice] };
    const pools = poolProblems(config.pools.pools);
    if (pools.length) return { ok: false, lines: [...lines, ...pools] };
    // offer queries: their plans (check-plan.ts); the rest: prepared, or why their events wait
    const plans = await checkPlans(backend, config, prepared.queries.offers);
    lines.push(...plans.lines);
    const offers = new Set(config.offers.map((o) => o.name));
    const deferred = new Map(prepared.queries.historyDeferred.map((d) => [d.name, d.message]));
    for (const n of allStatements(config)) {
      if (offers.has(n.name)) continue;
      const d = deferred.get(n.name);
      // a missing history table does not stop serving (events wait in the journal), but say it
      lines.push(d ? `query ${n.name}: WARN cannot be written now (events will wait in the journal): ${d}` : `query ${n.name}: OK`);
      // pydhcpdb's reference history_sql stores option 50, which renewals do not carry
      if (n.name.startsWith("history") && n.sql.includes("{RequestedIpAddress}")) lines.push(`query ${n.name}: NOTE ${REQUESTED_IP_NOTE}`);
    }
    return { ok: true, lines };
  } finally {
    await backend.close();
  }
}
