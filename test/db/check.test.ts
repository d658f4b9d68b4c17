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
  expect(r.lines.at(-1)).toBe("query history_sql: OK");
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
  expect(r).toEqual({ ok: false, lines: ["config/query/offer_3: unknown variable {ClientMac}"] });
});

test("a database that refuses the login is one line", async () => {
  const xml = readFileSync(join(FIXTURES, "mysql-unpreparable.xml"), "utf8")
    .replace("@USER@", db.user).replace("@PASSWORD@", "wrong-password").replace("@DATABASE@", db.database);
  const path = join(dir, "badlogin.xml");
  writeFileSync(path, xml);
  const r = await runCheck(path);
  expect(r.ok).toBe(false);
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
