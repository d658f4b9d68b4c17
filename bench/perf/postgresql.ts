/**
 * Throw-away PostgreSQL databases and roles for one benchmark run, created
 * as postgres over the local socket (which a network namespace reaches, as
 * it shares the file system) and dropped by the cleanup stack.
 */
import { SQL } from "bun";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { treeCpuSeconds } from "./proc.ts";
import { onCleanup, run } from "./sys.ts";

export const POSTGRESQL_SOCKET_DIR = "/var/run/postgresql";

export interface PgDb {
  database: string;
  user: string;
  password: string;
  /** socket directory */
  socket: string;
}

export function pgConnection(database = "postgres", user = "postgres", password = ""): SQL {
  return new SQL({ adapter: "postgres", hostname: POSTGRESQL_SOCKET_DIR, port: 5432, username: user, password, database, max: 1 });
}

/** Creates role and database `name` (the role owns it), registers their removal. */
export async function createPgDb(name: string): Promise<PgDb> {
  if (!/^[a-z0-9_]{1,32}$/.test(name)) throw new Error(`bad database name ${name}`);
  const db: PgDb = { database: name, user: name, password: randomBytes(9).toString("hex"), socket: POSTGRESQL_SOCKET_DIR };
  const admin = pgConnection();
  try {
    // name checked above, password hex: no quoting needed
    await admin.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD '${db.password}'`);
    onCleanup(`drop role ${name}`, async () => {
      const a = pgConnection();
      try {
        await a.unsafe(`DROP ROLE IF EXISTS ${name}`);
      } finally {
        await a.close();
      }
    });
    await admin.unsafe(`CREATE DATABASE ${name} OWNER ${name}`);
    onCleanup(`drop database ${name}`, async () => {
      const a = pgConnection();
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.close();
      }
    });
  } finally {
    await admin.close();
  }
  return db;
}

/** Runs statements as the database's owner. */
export async function pgExec(db: PgDb, statements: string[]): Promise<void> {
  const c = pgConnection(db.database, db.user, db.password);
  try {
    for (const s of statements) await c.unsafe(s).simple();
  } finally {
    await c.close();
  }
}

/** Inserts rows in batches of 1000 as one multi-row INSERT each, values bound. */
export async function pgBulkInsert(db: PgDb, sqlPrefix: string, rows: unknown[][]): Promise<void> {
  const c = pgConnection(db.database, db.user, db.password);
  try {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      let k = 0;
      const tuples = chunk.map((r) => `(${r.map(() => `$${++k}`).join(", ")})`);
      await c.unsafe(`${sqlPrefix} VALUES ${tuples.join(", ")}`, chunk.flat());
    }
  } finally {
    await c.close();
  }
}

/** SELECT COUNT(*) of each table. */
export async function pgCountRows(db: PgDb, tables: string[]): Promise<Record<string, number>> {
  const c = pgConnection(db.database, db.user, db.password);
  try {
    const out: Record<string, number> = {};
    for (const t of tables) {
      if (!/^[a-z0-9_]+$/.test(t)) throw new Error(`bad table name ${t}`);
      out[t] = Number((await c.unsafe(`SELECT COUNT(*) AS n FROM ${t}`))[0]?.n ?? 0);
    }
    return out;
  } finally {
    await c.close();
  }
}

/** The local server's CPU seconds (postmaster and its per-connection processes), or null when not found. */
export function postgresqlCpu(): (() => number | null) | null {
  const dir = run(["psql", "-h", POSTGRESQL_SOCKET_DIR, "-U", "postgres", "-Atc", "show data_directory"], { allow: [0, 1, 2] }).stdout.trim();
  let pid = NaN;
  try {
    pid = Number(readFileSync(`${dir}/postmaster.pid`, "utf8").split("\n")[0]);
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 ? () => treeCpuSeconds(pid) : null;
}

/** The local server's version, or why it is unknown. */
export async function postgresqlVersion(): Promise<string> {
  const c = pgConnection();
  try {
    return String((await c.unsafe("SHOW server_version"))[0]?.server_version ?? "unknown");
  } catch (e) {
    return `unavailable (${(e as Error).message})`;
  } finally {
    await c.close();
  }
}
