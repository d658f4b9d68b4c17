/**
 * PostgreSQL test helpers: an admin connection (the machine's server,
 * socket /var/run/postgresql, user postgres), throwaway databases and
 * roles named after the test process, loaded from sql/postgresql.sql with
 * pydhcpdb's seed row, and pydhcpdb's reference config pointed at one.
 */

import { SQL } from "bun";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";

export const PG_SOCKET_DIR = "/var/run/postgresql";
const SCHEMA = join(import.meta.dir, "../../sql/postgresql.sql");

let admin: SQL | null = null;

/** The superuser connection (closed by closeAdmin). */
export function adminSql(): SQL {
  admin ??= new SQL({ adapter: "postgres", hostname: PG_SOCKET_DIR, port: 5432, username: "postgres", database: "postgres", max: 2 });
  return admin;
}

export async function closeAdmin(): Promise<void> {
  const a = admin;
  admin = null;
  await a?.close({ timeout: 1 });
}

export interface TempPgDb {
  database: string;
  user: string;
  password: string;
  /** runs SQL in the database as its owner, returns the rows */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

/**
 * A fresh database owned by a fresh role (login with password), loaded
 * from sql/postgresql.sql plus pydhcpdb's seed subscriber.
 */
export async function createTempPgDb(prefix = "pdcpg"): Promise<TempPgDb> {
  const tag = `${process.pid}_${randomBytes(4).toString("hex")}`;
  const database = `${prefix}_${tag}`;
  const user = `${prefix}_${tag}`;
  const password = randomBytes(9).toString("hex");
  const a = adminSql();
  // names are ours (pid + random hex); the password is hex too
  await a.unsafe(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
  await a.unsafe(`CREATE DATABASE ${database} OWNER ${user}`);
  const own = new SQL({ adapter: "postgres", hostname: PG_SOCKET_DIR, port: 5432, username: user, password, database, max: 2 });
  await own.unsafe(`SET client_min_messages = warning; ${readFileSync(SCHEMA, "utf8")}`).simple();
  await own.unsafe(
    "INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('192.168.0.19', '255.255.255.0', '192.168.0.1', '8.8.8.8', '080027059ed0', '')",
  );
  return {
    database,
    user,
    password,
    sql: (text, params = []) => own.unsafe(text, params) as Promise<Record<string, unknown>[]>,
    async drop() {
      await own.close({ timeout: 0 }).catch(() => {});
      await a.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await a.unsafe(`DROP ROLE IF EXISTS ${user}`);
    },
  };
}

/**
 * pydhcpdb's config.xml, queries unchanged, with its <mysql> replaced by a
 * <postgresql> on `db` (socket unless `tcp` gives host and port); `extra`
 * goes inside <postgresql>.
 */
export function referencePgXml(db: Pick<TempPgDb, "user" | "password" | "database">, opts: { tcp?: { host: string; port: number }; extra?: string } = {}): string {
  const where = opts.tcp
    ? `<host>${opts.tcp.host}</host><port>${opts.tcp.port}</port>`
    : `<socket>${PG_SOCKET_DIR}</socket>`;
  return readFileSync(REFERENCE_CONFIG, "utf8").replace(
    /<mysql>[\s\S]*<\/mysql>/,
    `<database><postgresql>${where}<user>${db.user}</user><password>${db.password}</password><database>${db.database}</database>${opts.extra ?? ""}</postgresql></database>`,
  );
}
