/**
 * The database choice: pydhcpdb's `<mysql>` (host, username, password,
 * basename) unchanged, or pydhcp's `<database>` with exactly one of
 * `<sqlite>`, `<mysql>` or `<postgresql>` (config/postgresql.ts).
 */

import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { DatabaseConfig } from "./types.ts";
import { Section } from "./reader.ts";
import { postgresqlSection } from "./postgresql.ts";
import type { ConfigError } from "./types.ts";

/** Where MySQL/MariaDB clients look for the local server's socket, in order. */
export const DEFAULT_MYSQL_SOCKETS = [
  "/run/mysqld/mysqld.sock",
  "/var/run/mysqld/mysqld.sock",
  "/var/lib/mysql/mysql.sock",
  "/tmp/mysql.sock",
];

export interface DatabaseOptions {
  /** socket paths tried for host `localhost` (tests override) */
  mysqlSockets?: readonly string[];
  /** socket directories tried when <postgresql> names no host (tests override) */
  postgresqlSockets?: readonly string[];
  /** directory relative paths are resolved against (the config file's) */
  baseDir: string;
}

const DEFAULT_POOL = 8;

/**
 * `localhost` means the local socket, as the mysql client does; when no
 * socket exists, TCP to 127.0.0.1.
 */
function resolveLocalhost(host: string, socket: string | null, sockets: readonly string[]): { host: string; socket: string | null } {
  if (socket !== null || host !== "localhost") return { host, socket };
  const found = sockets.find((p) => existsSync(p));
  return found ? { host, socket: found } : { host: "127.0.0.1", socket: null };
}

/** Most offer lookups sent as one statement when every connection is busy (1 = one each). */
const DEFAULT_LOOKUP_BATCH = 16;

function mysqlSection(s: Section, legacy: boolean, opts: DatabaseOptions): DatabaseConfig {
  const host = s.string("host", legacy, "localhost");
  const user = s.string(legacy ? "username" : "user", true, "");
  const pw = s.text("password", legacy) ?? "";
  const database = s.string(legacy ? "basename" : "database", true, "");
  // extensions, allowed in pydhcpdb's <mysql> as well
  const port = s.int("port", false, 3306, 1, 65535);
  const socketText = s.text("socket", false);
  const poolSize = s.int("poolSize", false, DEFAULT_POOL, 1, 256);
  const lookupBatch = s.int("lookupBatch", false, DEFAULT_LOOKUP_BATCH, 1, 32);
  s.finish();
  const where = resolveLocalhost(host, socketText ? socketText : null, opts.mysqlSockets ?? DEFAULT_MYSQL_SOCKETS);
  return { kind: "mysql", host: where.host, port, socket: where.socket, user, password: pw, database, poolSize, lookupBatch };
}

function sqliteSection(s: Section, opts: DatabaseOptions): DatabaseConfig {
  const path = s.string("path", true, "");
  s.finish();
  if (path === ":memory:") return { kind: "sqlite", path };
  return { kind: "sqlite", path: path === "" ? "" : isAbsolute(path) ? path : resolve(opts.baseDir, path) };
}

/** Reads the database choice from the root <config> section. */
export function readDatabase(root: Section, errors: ConfigError[], opts: DatabaseOptions): DatabaseConfig {
  const legacy = root.child("mysql");
  const modern = root.child("database");
  const none: DatabaseConfig = { kind: "sqlite", path: "" };
  if (legacy && modern) {
    root.error(modern.path, "give either <database> or pydhcpdb's <mysql>, not both");
    return none;
  }
  if (legacy) return mysqlSection(new Section(legacy, errors), true, opts);
  if (!modern) {
    root.error(root.pathOf("database"), "missing (or pydhcpdb's <mysql>)");
    return none;
  }
  const s = new Section(modern, errors);
  const sqlite = s.child("sqlite");
  const mysql = s.child("mysql");
  const postgresql = s.child("postgresql");
  s.finish();
  if ([sqlite, mysql, postgresql].filter(Boolean).length > 1) {
    s.error(modern.path, "give one of <sqlite>, <mysql> or <postgresql>, not several");
    return none;
  }
  if (sqlite) return sqliteSection(new Section(sqlite, errors), opts);
  if (mysql) return mysqlSection(new Section(mysql, errors), false, opts);
  if (postgresql) return postgresqlSection(new Section(postgresql, errors), opts.postgresqlSockets);
  s.error(modern.path, "needs <sqlite>, <mysql> or <postgresql>");
  return none;
}
