/**
 * MariaDB test helpers: a root pool (TCP, else the unix socket), throwaway
 * databases and users with random names, and pydhcpdb's reference database
 * `pydhcp` with user test/test (shared with other tests: set up
 * idempotently, under a named lock).
 */

import mysql, { type Pool } from "mysql2/promise";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { REFERENCE_SQL } from "../fixtures/reference.ts";

export const SOCKET = "/run/mysqld/mysqld.sock";
export const PYDHCP_SQL = REFERENCE_SQL;

export async function rootPool(): Promise<Pool> {
  const tcp = mysql.createPool({ host: "127.0.0.1", port: 3306, user: "root", password: "", connectionLimit: 4, multipleStatements: true });
  try {
    await tcp.query("SELECT 1");
    return tcp;
  } catch {
    await tcp.end().catch(() => {});
    return mysql.createPool({ socketPath: SOCKET, user: "root", password: "", connectionLimit: 4, multipleStatements: true });
  }
}

export interface TempDb {
  database: string;
  user: string;
  password: string;
  drop(): Promise<void>;
}

/** A fresh database and a user allowed on it from localhost and 127.0.0.1. */
export async function createTempDb(root: Pool, prefix = "pdc"): Promise<TempDb> {
  const tag = randomBytes(5).toString("hex");
  const database = `${prefix}_${tag}`;
  const user = `${prefix}_${tag}`;
  const password = randomBytes(9).toString("hex");
  await root.query(`CREATE DATABASE \`${database}\``);
  for (const host of ["localhost", "127.0.0.1"]) {
    await root.query(`CREATE USER ?@? IDENTIFIED BY ?`, [user, host, password]);
    await root.query(`GRANT ALL ON \`${database}\`.* TO ?@?`, [user, host]);
  }
  return {
    database,
    user,
    password,
    async drop() {
      await root.query(`DROP DATABASE IF EXISTS \`${database}\``);
      for (const host of ["localhost", "127.0.0.1"]) await root.query("DROP USER IF EXISTS ?@?", [user, host]);
    },
  };
}

/** Runs pydhcpdb's dump (tables users, history and the seed row) in a database. */
export async function loadPydhcpSql(root: Pool, database: string): Promise<void> {
  const conn = await root.getConnection();
  try {
    await conn.query(`USE \`${database}\``);
    await conn.query(readFileSync(PYDHCP_SQL, "utf8"));
  } finally {
    conn.release();
  }
}

/**
 * pydhcpdb's reference setup: database `pydhcp`, user test/test, the dump
 * loaded once. Idempotent and safe when several test files run it at once.
 */
export async function ensureReferenceDb(root: Pool): Promise<void> {
  const conn = await root.getConnection();
  try {
    const [[lock]] = (await conn.query("SELECT GET_LOCK('pydhcp_reference_setup', 60) AS l")) as unknown as [[{ l: number }]];
    if (lock.l !== 1) throw new Error("could not take the reference setup lock");
    try {
      await conn.query("CREATE DATABASE IF NOT EXISTS pydhcp");
      for (const host of ["localhost", "127.0.0.1", "%"]) {
        await conn.query("CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY 'test'", ["test", host]);
        await conn.query("GRANT ALL ON pydhcp.* TO ?@?", ["test", host]);
      }
      const [tables] = (await conn.query(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'pydhcp' AND table_name IN ('users', 'history')",
      )) as unknown as [{ n: number }[]];
      if (Number(tables[0]!.n) < 2) {
        await conn.query("DROP TABLE IF EXISTS pydhcp.users, pydhcp.history");
        await conn.query("USE pydhcp");
        await conn.query(readFileSync(PYDHCP_SQL, "utf8"));
      }
      await conn.query(
        "INSERT IGNORE INTO pydhcp.users (id, ip, mask, router, dns, mac, port) VALUES (1, '192.168.0.19', '255.255.255.0', '192.168.0.1', '8.8.8.8', '080027059ed0', '')",
      );
    } finally {
      await conn.query("SELECT RELEASE_LOCK('pydhcp_reference_setup')");
    }
  } finally {
    conn.release();
  }
}

/** A logger that keeps lines for assertions. */
export function memoryLog() {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
