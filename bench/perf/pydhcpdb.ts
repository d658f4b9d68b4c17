/**
 * Rows for the operator who migrates: pydhcpdb's reference config.xml and
 * pydhcp.sql as shipped (test/fixtures/pydhcpdb), with only the addresses and
 * the credentials changed, holding the same 10,000 clients as the other rows.
 * So: upper(mac)=upper('{..}') queries that read the whole table, ThreadLimit
 * 1, the default log level (an INFO line per exchange).
 *
 * The "-fixed" rows then apply exactly what `pydhcp --check` prints for that
 * setup, and nothing else: its statements (run here, since --check itself
 * changes nothing), its equivalent queries and its ThreadLimit.
 */
import { Database } from "bun:sqlite";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { runCheck } from "../../src/cli/check.ts";
import { CLIENT_NET } from "./clients.ts";
import { bulkInsert, countRows, createDb, MARIADB_SOCKET } from "./mariadb.ts";
import { PYDHCP_ROOT, pydhcpCommand, serviceEnvironment } from "./pydhcp.ts";
import type { Prepared, ServerContext } from "./servers.ts";

const REFERENCE = join(PYDHCP_ROOT, "test/fixtures/pydhcpdb");
const CONFIG = readFileSync(join(REFERENCE, "config.xml"), "utf8");
const DUMP = readFileSync(join(REFERENCE, "pydhcp.sql"), "utf8");

/** pydhcp.sql's tables in SQLite terms: the same columns, the primary key, no other index. */
const SQLITE_TABLES = [
  "CREATE TABLE users (id INTEGER PRIMARY KEY, ip TEXT NOT NULL, mask TEXT NOT NULL, router TEXT NOT NULL, dns TEXT NOT NULL, mac TEXT NOT NULL, port TEXT NOT NULL)",
  "CREATE TABLE history (id INTEGER PRIMARY KEY, dt TEXT NOT NULL, mac TEXT NOT NULL, ip TEXT NOT NULL, comment TEXT NOT NULL)",
  "INSERT INTO users (id, ip, mask, router, dns, mac, port) VALUES (1, '192.168.0.19', '255.255.255.0', '192.168.0.1', '8.8.8.8', '080027059ed0', '')",
];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The reference config with only addresses and the database's location and credentials changed. */
export function referenceConfig(serverAddr: string, database: string): string {
  const out = CONFIG.replace("<host>0.0.0.0</host>", `<host>${serverAddr}</host>`)
    .replace("<broadcast>255.255.255.255</broadcast>", "<broadcast>198.18.0.255</broadcast>")
    .replace("<DHCPServer>192.168.0.71</DHCPServer>", `<DHCPServer>${serverAddr}</DHCPServer>`)
    .replace(/<mysql>[\s\S]*<\/mysql>/, database);
  if (out === CONFIG) throw new Error("reference config.xml changed shape: addresses not found");
  return out;
}

/** What --check printed: the statements to run, the equivalent queries, the ThreadLimit. */
export interface CheckFix {
  statements: string[];
  queries: Map<string, string>;
  threadLimit: number | null;
  lines: string[];
}

export function parseCheckFix(lines: readonly string[]): CheckFix {
  const statements = lines.filter((l) => /^ {2}(UPDATE|CREATE INDEX) /.test(l)).map((l) => l.trim());
  const queries = new Map<string, string>();
  for (const l of lines) {
    const m = /^ {2}equivalent query: <(offer_[0-9]+)>(.*)<\/\1>$/.exec(l);
    if (m) queries.set(m[1]!, m[2]!);
  }
  const t = lines.map((l) => /^setting ThreadLimit .*fix: <ThreadLimit>([0-9]+)<\/ThreadLimit>/.exec(l)).find(Boolean);
  return { statements, queries, threadLimit: t ? Number(t[1]) : null, lines: [...lines] };
}

/** The config with --check's equivalent queries and ThreadLimit in place; nothing else differs. */
export function applyCheckFix(xml: string, fix: CheckFix): string {
  let out = xml;
  for (const [name, q] of fix.queries) out = out.replace(new RegExp(`<${name}>[\\s\\S]*?</${name}>`), `<${name}>${esc(q)}</${name}>`);
  if (fix.threadLimit !== null) out = out.replace(/<ThreadLimit>[0-9]+<\/ThreadLimit>/, `<ThreadLimit>${fix.threadLimit}</ThreadLimit>`);
  return out;
}

async function checkAndFix(file: string, run: (sql: string) => Promise<void>, log: (l: string) => void): Promise<void> {
  const r = await runCheck(file);
  if (!r.ok) throw new Error(`--check failed: ${r.lines.join(" | ")}`);
  const fix = parseCheckFix(r.lines);
  if (!fix.statements.length && !fix.queries.size && fix.threadLimit === null) throw new Error("--check suggested nothing to fix");
  for (const l of r.lines) log(`  --check: ${l}`);
  for (const s of fix.statements) await run(s);
  writeFileSync(file, applyCheckFix(readFileSync(file, "utf8"), fix));
}

const note = (l: string) => console.log(l);

export async function setupPydhcpdbMysql(ctx: ServerContext, opts: { fixed: boolean }): Promise<Prepared> {
  const db = await createDb(`${ctx.tag.replace(/-/g, "_")}_ref${opts.fixed ? "f" : ""}`);
  const c = await mysql.createConnection({ socketPath: MARIADB_SOCKET, user: "root", database: db.database, multipleStatements: true });
  try {
    // the dump as shipped: tables, its seed row, its keys (the primary key only)
    await c.query(DUMP);
  } finally {
    await c.end();
  }
  await bulkInsert(
    db,
    "INSERT INTO users (id, ip, mask, router, dns, mac, port)",
    ctx.clients.map((cl, i) => [i + 2, cl.ip, CLIENT_NET.mask, CLIENT_NET.router, ctx.netns.serverAddr, cl.hex, ""]),
  );
  const file = join(ctx.dir, `pydhcpdb-mysql${opts.fixed ? "-fixed" : ""}.xml`);
  const credentials = `<mysql>
        <host>localhost</host>${MARIADB_SOCKET === "/run/mysqld/mysqld.sock" ? "" : `
	<socket>${esc(MARIADB_SOCKET)}</socket>`}
	<username>${esc(db.user)}</username>
	<password>${esc(db.password)}</password>
	<basename>${esc(db.database)}</basename>
    </mysql>`;
  writeFileSync(file, referenceConfig(ctx.netns.serverAddr, credentials));
  if (opts.fixed) {
    await checkAndFix(
      file,
      async (sql) => {
        const k = await mysql.createConnection({ socketPath: MARIADB_SOCKET, user: "root", database: db.database });
        try {
          await k.query(sql);
        } finally {
          await k.end();
        }
      },
      note,
    );
  }
  return { argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: true, counts: () => countRows(db, ["users", "history"]) };
}

export async function setupPydhcpdbSqlite(ctx: ServerContext, opts: { fixed: boolean }): Promise<Prepared> {
  const path = join(ctx.dir, `pydhcpdb${opts.fixed ? "-fixed" : ""}.sqlite`);
  const sq = new Database(path, { create: true });
  try {
    sq.exec("PRAGMA journal_mode=WAL");
    for (const s of SQLITE_TABLES) sq.exec(s);
    const ins = sq.prepare("INSERT INTO users (id, ip, mask, router, dns, mac, port) VALUES (?, ?, ?, ?, ?, ?, '')");
    sq.transaction(() => {
      ctx.clients.forEach((c, i) => ins.run(i + 2, c.ip, CLIENT_NET.mask, CLIENT_NET.router, ctx.netns.serverAddr, c.hex));
    })();
  } finally {
    sq.close();
  }
  const file = join(ctx.dir, `pydhcpdb-sqlite${opts.fixed ? "-fixed" : ""}.xml`);
  writeFileSync(file, referenceConfig(ctx.netns.serverAddr, `<database><sqlite><path>${esc(path)}</path></sqlite></database>`));
  if (opts.fixed) {
    await checkAndFix(
      file,
      async (sql) => {
        const d = new Database(path);
        try {
          d.exec(sql);
        } finally {
          d.close();
        }
      },
      note,
    );
  }
  const counts = async () => {
    const d = new Database(path, { readonly: true });
    try {
      const n = (t: string) => Number((d.query(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n);
      return { users: n("users"), history: n("history") };
    } finally {
      d.close();
    }
  };
  return { argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: false, counts };
}
