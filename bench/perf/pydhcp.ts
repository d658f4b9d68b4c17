/**
 * pydhcp rows: a pydhcpdb-style config.xml and the users/history tables
 * holding the same 10,000 clients the Kea rows reserve.
 */
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CLIENT_NET } from "./clients.ts";
import { bulkInsert, countRows, createDb, rootConnection, type Db } from "./mariadb.ts";
import type { Prepared, ServerContext } from "./servers.ts";
import { createPgDb, pgBulkInsert, pgCountRows, pgExec, type PgDb } from "./postgresql.ts";

export const PYDHCP_ROOT = resolve(import.meta.dir, "../..");
export const PYDHCP_ENTRY = join(PYDHCP_ROOT, "src/cli/main.ts");
export const PYDHCP_BINARY = join(PYDHCP_ROOT, "dist/pydhcp");
const BUN = join(PYDHCP_ROOT, "node_modules/.bin/bun");

/** null when pydhcp can run; else why not */
export function pydhcpMissing(): string | null {
  return existsSync(PYDHCP_BINARY) || existsSync(PYDHCP_ENTRY) ? null : `neither ${PYDHCP_ENTRY} nor ${PYDHCP_BINARY} exists`;
}

/**
 * pydhcpdb's offer_3 looks the MAC up with upper(mac)=upper('{ClientMacAddress}'),
 * which defeats the index; MACs are stored lower-case, the way ClientMacAddress
 * is written, so plain equality asks the same question and uses the index,
 * as Kea's hosts lookup does.
 */
export const OFFER_BY_MAC = "select ip,mask,router,dns from users where mac='{ClientMacAddress}'";
export const HISTORY_SQL =
  "insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')";

export interface PydhcpOptions {
  threadLimit: number;
  poolSize: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
}

export function pydhcpConfigXml(
  ctx: { serverAddr: string; dir: string },
  db: { kind: "sqlite"; path: string } | { kind: "mysql"; db: Db } | { kind: "postgresql"; db: PgDb },
  opts: PydhcpOptions,
): string {
  const database = db.kind === "sqlite"
    ? `    <sqlite><path>${esc(db.path)}</path></sqlite>`
    : db.kind === "postgresql"
    ? [
        "    <postgresql>",
        `      <socket>${esc(db.db.socket)}</socket>`,
        `      <user>${esc(db.db.user)}</user>`,
        `      <password>${esc(db.db.password)}</password>`,
        `      <database>${esc(db.db.database)}</database>`,
        `      <poolSize>${opts.poolSize}</poolSize>`,
        "    </postgresql>",
      ].join("\n")
    : [
        "    <mysql>",
        "      <host>localhost</host>",
        `      <socket>${esc(db.db.socket)}</socket>`,
        `      <user>${esc(db.db.user)}</user>`,
        `      <password>${esc(db.db.password)}</password>`,
        `      <database>${esc(db.db.database)}</database>`,
        `      <poolSize>${opts.poolSize}</poolSize>`,
        "    </mysql>",
      ].join("\n");
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>${ctx.serverAddr}</host>
    <broadcast>198.18.0.255</broadcast>
    <DHCPServer>${ctx.serverAddr}</DHCPServer>
    <LeaseTime>86400</LeaseTime>
    <ThreadLimit>${opts.threadLimit}</ThreadLimit>
    <defaultMask>${CLIENT_NET.mask}</defaultMask>
    <defaultRouter>${CLIENT_NET.router}</defaultRouter>
    <defaultDNS>${ctx.serverAddr}</defaultDNS>
  </dhcpserver>
  <database>
${database}
  </database>
  <query>
    <offer_count>1</offer_count>
    <offer_1>${esc(OFFER_BY_MAC)}</offer_1>
    <history_sql>${esc(HISTORY_SQL)}</history_sql>
  </query>
  <history><spool>${esc(join(ctx.dir, "history.spool"))}</spool></history>
  <log><level>warn</level></log>
</config>
`;
}

/** pydhcpdb's schema (pydhcp.sql) plus an index on users.mac. */
const SCHEMA = {
  mysql: [
    "CREATE TABLE users (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, ip varchar(50) NOT NULL, mask varchar(50) NOT NULL, router varchar(50) NOT NULL, dns varchar(100) NOT NULL, mac varchar(50) NOT NULL, port varchar(10) NOT NULL, KEY mac (mac)) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_bin",
    "CREATE TABLE history (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, dt datetime NOT NULL, mac varchar(50) NOT NULL, ip varchar(50) NOT NULL, comment varchar(100) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_bin",
  ],
  postgresql: [
    "CREATE TABLE users (id serial PRIMARY KEY, ip varchar(50) NOT NULL, mask varchar(50) NOT NULL, router varchar(50) NOT NULL, dns varchar(100) NOT NULL, mac varchar(50) NOT NULL, port varchar(10) NOT NULL)",
    "CREATE INDEX users_mac ON users (mac)",
    "CREATE TABLE history (id serial PRIMARY KEY, dt timestamp NOT NULL, mac varchar(50) NOT NULL, ip varchar(50) NOT NULL, comment varchar(100) NOT NULL)",
  ],
  sqlite: [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, ip TEXT NOT NULL, mask TEXT NOT NULL, router TEXT NOT NULL, dns TEXT NOT NULL, mac TEXT NOT NULL, port TEXT NOT NULL)",
    "CREATE INDEX users_mac ON users (mac)",
    "CREATE TABLE history (id INTEGER PRIMARY KEY, dt TEXT NOT NULL, mac TEXT NOT NULL, ip TEXT NOT NULL, comment TEXT NOT NULL)",
  ],
} as const;

/** PYDHCP_BUN_ARGS (e.g. "--cpu-prof-md") runs the sources under bun with those flags, for profiling. */
/**
 * The Environment= lines of contrib/pydhcp.service: the benchmark runs
 * pydhcp with the environment it is deployed with.
 */
export function serviceEnvironment(unit = readFileSync(join(PYDHCP_ROOT, "contrib/pydhcp.service"), "utf8")): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit.split("\n")) {
    const m = /^Environment=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

export function pydhcpCommand(config: string): string[] {
  const bunArgs = process.env.PYDHCP_BUN_ARGS;
  if (bunArgs !== undefined) return [BUN, ...bunArgs.split(" ").filter(Boolean), PYDHCP_ENTRY, "-c", config];
  return existsSync(PYDHCP_BINARY) ? [PYDHCP_BINARY, "-c", config] : [BUN, PYDHCP_ENTRY, "-c", config];
}

export async function setupPydhcpSqlite(ctx: ServerContext, opts: PydhcpOptions): Promise<Prepared> {
  const path = join(ctx.dir, "pydhcp.sqlite");
  const sq = new Database(path, { create: true });
  try {
    sq.exec("PRAGMA journal_mode=WAL");
    for (const s of SCHEMA.sqlite) sq.exec(s);
    const ins = sq.prepare("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES (?, ?, ?, ?, ?, '')");
    sq.transaction(() => {
      for (const c of ctx.clients) ins.run(c.ip, CLIENT_NET.mask, CLIENT_NET.router, ctx.netns.serverAddr, c.hex);
    })();
  } finally {
    sq.close();
  }
  const file = join(ctx.dir, "pydhcp-sqlite.xml");
  writeFileSync(file, pydhcpConfigXml({ serverAddr: ctx.netns.serverAddr, dir: ctx.dir }, { kind: "sqlite", path }, opts));
  const counts = async () => {
    const sq = new Database(path, { readonly: true });
    try {
      const n = (t: string) => Number((sq.query(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n);
      return { users: n("users"), history: n("history") };
    } finally {
      sq.close();
    }
  };
  return { argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: false, counts };
}

export async function setupPydhcpMysql(ctx: ServerContext, opts: PydhcpOptions): Promise<Prepared> {
  const db = await createDb(`${ctx.tag.replace(/-/g, "_")}_py`);
  const c = await rootConnection(db.database);
  try {
    for (const s of SCHEMA.mysql) await c.query(s);
  } finally {
    await c.end();
  }
  await bulkInsert(
    db,
    "INSERT INTO users (ip, mask, router, dns, mac, port)",
    ctx.clients.map((cl) => [cl.ip, CLIENT_NET.mask, CLIENT_NET.router, ctx.netns.serverAddr, cl.hex, ""]),
  );
  const file = join(ctx.dir, "pydhcp-mysql.xml");
  writeFileSync(file, pydhcpConfigXml({ serverAddr: ctx.netns.serverAddr, dir: ctx.dir }, { kind: "mysql", db }, opts));
  return { argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: true, counts: () => countRows(db, ["users", "history"]) };
}

export async function setupPydhcpPostgresql(ctx: ServerContext, opts: PydhcpOptions): Promise<Prepared> {
  const db = await createPgDb(`${ctx.tag.replace(/-/g, "_")}_pypg`);
  await pgExec(db, [...SCHEMA.postgresql]);
  await pgBulkInsert(
    db,
    "INSERT INTO users (ip, mask, router, dns, mac, port)",
    ctx.clients.map((cl) => [cl.ip, CLIENT_NET.mask, CLIENT_NET.router, ctx.netns.serverAddr, cl.hex, ""]),
  );
  await pgExec(db, ["ANALYZE"]);
  const file = join(ctx.dir, "pydhcp-postgresql.xml");
  writeFileSync(file, pydhcpConfigXml({ serverAddr: ctx.netns.serverAddr, dir: ctx.dir }, { kind: "postgresql", db }, opts));
  return { argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: false, usesPostgresql: true, counts: () => pgCountRows(db, ["users", "history"]) };
}
