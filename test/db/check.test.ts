/**
 * --check: load, connect, prepare every query, report.
 */

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { runCheck } from "../../src/cli/check.ts";
import { createTempDb, ensureReferenceDb, loadPydhcpSql, rootPool, type TempDb } from "./mariadb.ts";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";
import { closeAdmin, createTempPgDb, PG_SOCKET_DIR, referencePgXml } from "./postgresql.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/configs");
const REFERENCE = REFERENCE_CONFIG;

let root: Pool;
let db: TempDb;
let dir: string;
beforeAll(async () => {
  root = await rootPool();
  db = await createTempDb(root);
  await loadPydhcpSql(root, db.database);
  dir = mkdtempSync(join(tmpdir(), "pdc-check-"));
});
afterAll(async () => {
  await db?.drop();
  await root?.end();
  rmSync(dir, { recursive: true, force: true });
});

test("pydhcpdb's reference config against its database: every query prepares, all three offer queries flagged as full scans", async () => {
  await ensureReferenceDb(root);
  const r = await runCheck(REFERENCE);
  expect(r.ok).toBe(true);
  expect(r.lines.slice(0, 2)).toEqual([`config ${REFERENCE}: OK`, "database MySQL test@/run/mysqld/mysqld.sock/pydhcp: OK"]);
  for (const n of ["offer_1", "offer_2", "offer_3"]) {
    expect(r.lines.find((l) => l.startsWith(`query ${n}: `))).toStartWith(`query ${n}: WARN reads every row of users`);
  }
  expect(r.lines.some((l) => l.startsWith("setting ThreadLimit 1: WARN one lookup at a time"))).toBe(true);
  expect(r.lines.at(-2)).toBe("query history_sql: OK");
  // its history_sql stores {RequestedIpAddress}: renewals would be recorded as 0.0.0.0
  expect(r.lines.at(-1)).toStartWith("query history_sql: NOTE {RequestedIpAddress} is option 50, which a renewal or rebinding does not carry");
  expect(r.lines.at(-1)).toContain("{answer_ip} is the address the client was given");
});

test("a query MariaDB cannot prepare is reported with its XML path and the server's reason", async () => {
  const xml = readFileSync(join(FIXTURES, "mysql-unpreparable.xml"), "utf8")
    .replace("@USER@", db.user).replace("@PASSWORD@", db.password).replace("@DATABASE@", db.database);
  const path = join(dir, "unpreparable.xml");
  writeFileSync(path, xml);
  const r = await runCheck(path);
  expect(r.ok).toBe(false);
  expect(r.lines.slice(0, 2)).toEqual([`config ${path}: OK`, `database MySQL ${db.user}@127.0.0.1:3306/${db.database}: OK`]);
  expect(r.lines.slice(2)).toEqual(["config/query/offer_3: the database cannot prepare it: offer_3: Unknown column 'no_such_column' in 'SELECT'"]);
});

test("config errors are reported before any connection", async () => {
  const r = await runCheck(join(FIXTURES, "unknown-variable.xml"));
  expect(r).toEqual({ ok: false, exitCode: 2, lines: ["config/query/offer_3: unknown variable {ClientMac}"] });
});

test("a database that refuses the login is one line", async () => {
  const xml = readFileSync(join(FIXTURES, "mysql-unpreparable.xml"), "utf8")
    .replace("@USER@", db.user).replace("@PASSWORD@", "wrong-password").replace("@DATABASE@", db.database);
  const path = join(dir, "badlogin.xml");
  writeFileSync(path, xml);
  const r = await runCheck(path);
  expect(r.ok).toBe(false);
  expect(r.exitCode).toBe(1);
  expect(r.lines.length).toBe(2);
  expect(r.lines[1]).toStartWith(`database MySQL ${db.user}@127.0.0.1:3306/${db.database}: cannot use MySQL database`);
  expect(r.lines[1]).toContain("Access denied");
});

test("SQLite: a fresh file gets the schema and the reference queries prepare", async () => {
  const xml = readFileSync(REFERENCE, "utf8").replace(/<mysql>[\s\S]*<\/mysql>/, "<database><sqlite><path>fresh.db</path></sqlite></database>");
  const path = join(dir, "sqlite.xml");
  writeFileSync(path, xml);
  const r = await runCheck(path);
  expect(r.ok).toBe(true);
  expect(r.lines[1]).toBe(`database SQLite ${join(dir, "fresh.db")}: OK`);
  const bad = xml.replace("from users where upper(mac)=upper('{ClientMacAddress}')", "from subscribers where upper(mac)=upper('{ClientMacAddress}')");
  writeFileSync(path, bad);
  const r2 = await runCheck(path);
  expect(r2.lines.at(-1)).toBe("config/query/offer_3: the database cannot prepare it: offer_3: no such table: subscribers");
});

test("PostgreSQL: pydhcpdb's queries prepare unchanged; MySQL spellings are named with the fix", async () => {
  const pg = await createTempPgDb("pdcchk");
  try {
    const path = join(dir, "postgresql.xml");
    writeFileSync(path, referencePgXml(pg));
    const r = await runCheck(path);
    expect(r).toEqual({
      ok: true,
      exitCode: 0,
      lines: [
        `config ${path}: OK`,
        `database PostgreSQL ${pg.user}@${PG_SOCKET_DIR}/${pg.database}: OK`,
        // sql/postgresql.sql's expression indexes serve the queries as written (check-plan.test.ts has the scanning case)
        ...["offer_1", "offer_2", "offer_3"].map((n) => expect.stringMatching(new RegExp(`^query ${n}: OK, uses an index \\(users by users_upper_mac(_port)?\\), [0-9.]+ ms$`))),
        expect.stringMatching(/^setting ThreadLimit 1: WARN one lookup at a time/),
        "query history_sql: OK",
        expect.stringMatching(/^query history_sql: NOTE \{RequestedIpAddress\} is option 50/),
      ],
    });
    // prepared fine, but ON DUPLICATE KEY is MySQL's: reported with what to write
    writeFileSync(path, referencePgXml(pg).replace(/<history_sql>[^<]*<\/history_sql>/,
      "<history_sql>insert ignore into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','x')</history_sql>")
      .replace(/<offer_3>[^<]*<\/offer_3>/, "<offer_3>select ip,mask,router,dns from users where mac = '{ClientMacAddress}' limit 0, 1</offer_3>"));
    const r2 = await runCheck(path);
    expect(r2.ok).toBe(false);
    expect(r2.lines.filter((l) => l.includes("needs a change for PostgreSQL"))).toEqual([
      "config/query/offer_3: needs a change for PostgreSQL: LIMIT offset, count: write LIMIT count OFFSET offset",
      "config/query/history_sql: needs a change for PostgreSQL: INSERT IGNORE: write INSERT ... ON CONFLICT DO NOTHING",
    ]);
    expect(r2.lines.some((l) => l.startsWith("config/query/history_sql: the database cannot prepare it:"))).toBe(true);
  } finally {
    await pg.drop();
    await closeAdmin();
  }
});

test("an offer query whose result has no ip column fails --check (SQLite and MariaDB)", async () => {
  const xml = readFileSync(REFERENCE, "utf8").replace("select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')", "select ip as address,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')");
  expect(xml).toContain("ip as address");
  const sqlite = join(dir, "no-ip-sqlite.xml");
  writeFileSync(sqlite, xml.replace(/<mysql>[\s\S]*<\/mysql>/, "<database><sqlite><path>no-ip.db</path></sqlite></database>"));
  const mysql = join(dir, "no-ip-mysql.xml");
  writeFileSync(mysql, xml.replace(/<mysql>[\s\S]*<\/mysql>/, `<database><mysql><host>127.0.0.1</host><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></mysql></database>`));
  for (const path of [sqlite, mysql]) {
    const r = await runCheck(path);
    expect(r.ok).toBe(false);
    expect(r.lines.at(-1)).toBe("config/query/offer_3: its result has no ip column (it has address, mask, router, dns), so it can never answer; name the address column ip (or return a pool column to draw from <pools>)");
  }
});

test("an offer query returning a pool column instead of ip passes --check (SQLite)", async () => {
  const xml = readFileSync(REFERENCE, "utf8")
    .replace("select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')", "select 'guest' as pool, mask from users where upper(mac)=upper('{ClientMacAddress}')")
    .replace(/<mysql>[\s\S]*<\/mysql>/, "<database><sqlite><path>pool-col.db</path></sqlite></database>")
    .replace("</config>", "<pools><pool name=\"guest\"><range>198.18.64.0/24</range></pool></pools></config>");
  expect(xml).toContain("'guest' as pool");
  const path = join(dir, "pool-col.xml");
  writeFileSync(path, xml);
  const r = await runCheck(path);
  const line = r.lines.filter((l) => /offer_3/.test(l));
  expect(line.length).toBe(1);
  expect(line[0]).toStartWith("query offer_3: OK");
  expect(r.ok).toBe(true);
  // ThreadLimit 1 (the reference's) leaves pool renewals nothing to share a commit with
  expect(r.lines).toContain("setting ThreadLimit 1: WARN with <pools>, each renewal commits alone; exchanges in flight together share one commit; fix: <ThreadLimit>16</ThreadLimit>");
  writeFileSync(path, xml.replace("<ThreadLimit>1</ThreadLimit>", "<ThreadLimit>16</ThreadLimit>"));
  expect((await runCheck(path)).lines.some((l) => l.startsWith("setting ThreadLimit"))).toBe(false);
});
