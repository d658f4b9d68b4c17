/**
 * Why opening MySQL/MariaDB or PostgreSQL failed (DbError.failure,
 * db/backend.ts ConnectFailure), against the machine's servers and real
 * sockets: only a server that cannot be reached is "unreachable" (a start
 * may then serve from the lease snapshot); a refused login or database name
 * is "refused"; a server that answers but cannot be used is "unusable".
 * (A wrong PostgreSQL password needs password logins: the private server in
 * test/robust/snapshot-config.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { Pool } from "mysql2/promise";
import { DbError } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import type { DatabaseSettings } from "../../src/db/settings.ts";
import { createTempDb, memoryLog, rootPool, type TempDb } from "./mariadb.ts";
import { closeAdmin, createTempPgDb, PG_SOCKET_DIR, type TempPgDb } from "./postgresql.ts";

/** A TCP port that accepts and never says a word: the connect times out. */
let silent: Server;
let silentPort = 0;
/** A TCP port nothing listens on: the connection is refused. */
let closedPort = 0;

/** what the silent port accepted: ended at the end (a timed-out client may leave its end open) */
const accepted = new Set<Socket>();

beforeAll(async () => {
  silent = createServer((c) => {
    accepted.add(c);
    c.on("close", () => accepted.delete(c));
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  silentPort = (silent.address() as AddressInfo).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(async () => {
  for (const c of accepted) c.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
});

/** The DbError openBackend rejects with (1 s query timeout = connect timeout). */
async function openError(db: DatabaseSettings): Promise<DbError> {
  const b = await openBackend(db, memoryLog(), 1000).catch((e: unknown) => e);
  if (!(b instanceof DbError)) {
    if (b && typeof (b as { close?: unknown }).close === "function") await (b as { close(): Promise<void> }).close();
    throw new Error(`expected a DbError, got ${String(b)}`);
  }
  expect(b.kind).toBe("connect");
  return b;
}

describe("MySQL/MariaDB", () => {
  let root: Pool;
  let db: TempDb;
  const base = (o: Partial<Extract<DatabaseSettings, { kind: "mysql" }>>): DatabaseSettings => ({
    kind: "mysql", host: "127.0.0.1", port: 3306, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 2, lookupBatch: 1, ...o,
  });

  beforeAll(async () => {
    root = await rootPool();
    db = await createTempDb(root, "pdof");
  });
  afterAll(async () => {
    await root.query("DROP USER IF EXISTS ?@?", [`${db.user}_ro`, "127.0.0.1"]);
    await db.drop();
    await root.end();
  });

  test("the right login opens (the cases below differ from it in one setting)", async () => {
    const b = await openBackend(base({}), memoryLog(), 1000);
    await b.close();
  });

  test("a wrong password is refused (ER_ACCESS_DENIED_ERROR 1045)", async () => {
    const e = await openError(base({ password: "wrong" }));
    expect([e.failure, e.code]).toEqual(["refused", "ER_ACCESS_DENIED_ERROR"]);
    expect(e.message).toContain("Access denied");
  });

  test("a database the user may not use is refused (ER_DBACCESS_DENIED_ERROR 1044)", async () => {
    const e = await openError(base({ database: `${db.database}_other` }));
    expect([e.failure, e.code]).toEqual(["refused", "ER_DBACCESS_DENIED_ERROR"]);
  });

  test("an unknown database is refused (ER_BAD_DB_ERROR 1049)", async () => {
    const e = await openError(base({ user: "root", password: "", database: `${db.database}_none` }));
    expect([e.failure, e.code]).toEqual(["refused", "ER_BAD_DB_ERROR"]);
  });

  test("an unknown user is refused", async () => {
    const e = await openError(base({ user: `${db.user}_nobody` }));
    expect(e.failure).toBe("refused");
  });

  test("a closed port, a missing socket and a server that never answers are unreachable", async () => {
    const refused = await openError(base({ port: closedPort }));
    expect([refused.failure, refused.code]).toEqual(["unreachable", "ECONNREFUSED"]);
    const nosock = await openError(base({ socket: "/nonexistent/pdof.sock" }));
    expect([nosock.failure, nosock.code]).toEqual(["unreachable", "ENOENT"]);
    const mute = await openError(base({ port: silentPort }));
    expect([mute.failure, mute.code]).toEqual(["unreachable", "ETIMEDOUT"]);
  });

  test("a login that may not create pydhcp_lease is unusable, not unreachable", async () => {
    await root.query("CREATE USER ?@? IDENTIFIED BY ?", [`${db.user}_ro`, "127.0.0.1", db.password]);
    await root.query(`GRANT SELECT ON \`${db.database}\`.* TO ?@?`, [`${db.user}_ro`, "127.0.0.1"]);
    const e = await openError(base({ user: `${db.user}_ro` }));
    expect(e.failure).toBe("unusable");
    expect(e.code).toBe("ER_TABLEACCESS_DENIED_ERROR");
  });
});

describe("PostgreSQL", () => {
  let db: TempPgDb;
  let other: TempPgDb;
  const base = (o: Partial<Extract<DatabaseSettings, { kind: "postgresql" }>>): DatabaseSettings => ({
    kind: "postgresql", host: "127.0.0.1", port: 5432, socket: PG_SOCKET_DIR, user: db.user, password: db.password, database: db.database, poolSize: 2, lookupBatch: 1, ...o,
  });

  beforeAll(async () => {
    db = await createTempPgDb("pdof");
    // a database another role owns: this one may connect but not create tables in it (PostgreSQL 15 public schema)
    other = await createTempPgDb("pdofo");
  });
  afterAll(async () => {
    await db.drop();
    await other.drop();
    await closeAdmin();
  });

  test("the right login opens", async () => {
    const b = await openBackend(base({}), memoryLog(), 1000);
    await b.close();
  });

  test("an unknown database (3D000) and an unknown role (28000) are refused", async () => {
    const nodb = await openError(base({ database: `${db.database}_none` }));
    expect([nodb.failure, nodb.code]).toEqual(["refused", "3D000"]);
    const norole = await openError(base({ user: `${db.user}_nobody` }));
    expect([norole.failure, norole.code]).toEqual(["refused", "28000"]);
  });

  test("a closed port, a missing socket and a server that never answers are unreachable", async () => {
    const refused = await openError(base({ socket: null, port: closedPort }));
    expect(refused.failure).toBe("unreachable");
    const nosock = await openError(base({ socket: "/nonexistent/pdof" }));
    expect(nosock.failure).toBe("unreachable");
    const mute = await openError(base({ socket: null, port: silentPort }));
    expect([mute.failure, mute.code]).toEqual(["unreachable", "ERR_POSTGRES_CONNECTION_TIMEOUT"]);
  });

  test("a login that may not create pydhcp_lease is unusable (42501), not unreachable", async () => {
    const e = await openError(base({ database: other.database }));
    expect([e.failure, e.code]).toEqual(["unusable", "42501"]);
  });
});
