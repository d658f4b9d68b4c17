/**
 * Throw-away MariaDB databases and users for one benchmark run, created as
 * root over the unix socket and dropped by the cleanup stack.
 */
import mysql from "mysql2/promise";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { onCleanup } from "./sys.ts";

/** the shared MariaDB; PYDHCP_BENCH_MARIADB_SOCKET names another (a private one for profiling) */
export const MARIADB_SOCKET = process.env.PYDHCP_BENCH_MARIADB_SOCKET || "/run/mysqld/mysqld.sock";

export interface Db {
  database: string;
  user: string;
  password: string;
  socket: string;
}

export async function rootConnection(database?: string): Promise<mysql.Connection> {
  return mysql.createConnection({ socketPath: MARIADB_SOCKET, user: "root", ...(database ? { database } : {}) });
}

/** Creates database and user `name` (both), registers their removal. */
export async function createDb(name: string): Promise<Db> {
  if (!/^[a-z0-9_]{1,32}$/.test(name)) throw new Error(`bad database name ${name}`);
  const db: Db = { database: name, user: name, password: randomBytes(9).toString("base64url"), socket: MARIADB_SOCKET };
  const c = await rootConnection();
  try {
    // ?? is an identifier placeholder, ? a value placeholder (mysql2 escapes both)
    await c.query("CREATE DATABASE ??", [name]);
    onCleanup(`drop database ${name}`, async () => {
      const d = await rootConnection();
      try {
        await d.query("DROP DATABASE IF EXISTS ??", [name]);
      } finally {
        await d.end();
      }
    });
    await c.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [name, db.password]);
    onCleanup(`drop user ${name}`, async () => {
      const d = await rootConnection();
      try {
        await d.query("DROP USER IF EXISTS ?@'localhost'", [name]);
      } finally {
        await d.end();
      }
    });
    await c.query("GRANT ALL PRIVILEGES ON ??.* TO ?@'localhost'", [name, name]);
  } finally {
    await c.end();
  }
  return db;
}

/** Insert rows in batches of 1000 with bound values. */
export async function bulkInsert(db: Db, sqlPrefix: string, rows: unknown[][]): Promise<void> {
  const c = await rootConnection(db.database);
  try {
    for (let i = 0; i < rows.length; i += 1000) {
      await c.query(`${sqlPrefix} VALUES ?`, [rows.slice(i, i + 1000)]);
    }
  } finally {
    await c.end();
  }
}

/**
 * The process of the MariaDB server the benchmark uses (the one behind
 * MARIADB_SOCKET), from its own pid file: `pidof mariadbd` also finds any
 * other MariaDB on the machine (a test's private server, a Galera node).
 */
export async function mariadbPid(): Promise<number | null> {
  const c = await rootConnection();
  try {
    const [rows] = await c.query("SELECT @@pid_file AS f");
    const file = String((rows as { f: string }[])[0]?.f ?? "");
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  } finally {
    await c.end();
  }
}

export async function mariadbVersion(): Promise<string> {
  const c = await rootConnection();
  try {
    const [rows] = await c.query("SELECT VERSION() AS v");
    return String((rows as { v: string }[])[0]?.v ?? "unknown");
  } finally {
    await c.end();
  }
}

/** SELECT COUNT(*) of each table, as root. */
export async function countRows(db: Db, tables: string[]): Promise<Record<string, number>> {
  const c = await rootConnection(db.database);
  try {
    const out: Record<string, number> = {};
    for (const t of tables) {
      const [rows] = await c.query("SELECT COUNT(*) AS n FROM ??", [t]);
      out[t] = Number((rows as { n: number }[])[0]?.n ?? 0);
    }
    return out;
  } finally {
    await c.end();
  }
}
