/**
 * --check reads each offer query's plan: a query that reads every row is
 * named with its table, row count and the expression that hides the column,
 * with the fix; an indexed one is OK. MariaDB, SQLite and PostgreSQL, real
 * EXPLAIN output.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { runCheck } from "../../src/cli/check.ts";
import { createTempDb, loadPydhcpSql, rootPool, type TempDb } from "./mariadb.ts";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";
import { closeAdmin, createTempPgDb, referencePgXml, type TempPgDb } from "./postgresql.ts";

const REFERENCE_XML = readFileSync(REFERENCE_CONFIG, "utf8");
const OFFER_1 = "select ip,mask,router,dns from users where upper(mac)=upper('{option_82_AgentRemoteId_hex}') and upper(port)=upper('{option_82_AgentCircuitId_port_hex}')";
const OFFER_2 = "select ip,mask,router,dns from users where upper(mac)=upper('{sw_mac}') and upper(port)=upper('{sw_port2}')";
const OFFER_3 = "select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `pdc-plan-${process.pid}-`));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The reference config with its <mysql> section pointed elsewhere, queries as given. */
function configWith(database: string, queries?: { offers: string[] }, threadLimit = 1): string {
  let xml = REFERENCE_XML.replace(/<mysql>[\s\S]*<\/mysql>/, database);
  if (queries) {
    const offers = queries.offers.map((q, i) => `<offer_${i + 1}>${q.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</offer_${i + 1}>`).join("\n");
    xml = xml.replace(/<offer_count>[\s\S]*?(?=<history_sql>)/, `<offer_count>${queries.offers.length}</offer_count>\n${offers}\n`);
  }
  return xml.replace("<ThreadLimit>1</ThreadLimit>", `<ThreadLimit>${threadLimit}</ThreadLimit>`);
}

function write(name: string, xml: string): string {
  const p = join(dir, name);
  writeFileSync(p, xml);
  return p;
}

const lineOf = (lines: string[], start: string) => lines.find((l) => l.startsWith(start));

describe("MariaDB", () => {
  let root: Pool;
  let db: TempDb;
  let mysqlXml: string;
  beforeAll(async () => {
    root = await rootPool();
    db = await createTempDb(root, "pdcplan");
    await loadPydhcpSql(root, db.database);
    // 300 subscribers more, so the scan is a scan of something
    const values = Array.from({ length: 300 }, (_, i) => `(${i + 2}, '10.0.${i >> 8}.${i & 255}', '255.255.0.0', '10.0.0.1', '10.0.0.53', '0800270${(0x10000 + i).toString(16).slice(1)}0', '')`).join(",");
    await root.query(`INSERT INTO \`${db.database}\`.users (id, ip, mask, router, dns, mac, port) VALUES ${values}`);
    mysqlXml = `<mysql><host>127.0.0.1</host><username>${db.user}</username><password>${db.password}</password><basename>${db.database}</basename></mysql>`;
  });
  afterAll(async () => {
    await db?.drop();
    await root?.end();
  });

  test("pydhcpdb's reference queries: all three read every row, each named with the expression and the fix", async () => {
    const r = await runCheck(write("ref-mysql.xml", configWith(mysqlXml)));
    expect(r.ok).toBe(true);
    for (const [n, expr] of [["offer_1", "upper(mac) and upper(port) hide their columns"], ["offer_2", "upper(mac) and upper(port) hide their columns"], ["offer_3", "upper(mac) hides its column"]] as const) {
      const l = lineOf(r.lines, `query ${n}: `)!;
      expect(l).toContain("WARN reads every row of users (301 rows) on each lookup");
      expect(l).toContain(expr);
      expect(l).toContain("type ALL");
    }
    const fix = r.lines.slice(r.lines.findIndex((l) => l.startsWith("fix ")), r.lines.findIndex((l) => l.startsWith("query history_sql")));
    expect(fix).toEqual([
      "fix (run by you; --check changes nothing), then use the equivalent queries above:",
      "  UPDATE `users` SET `mac` = lower(`mac`), `port` = lower(`port`);",
      "  -- and have whatever writes these columns write lower case, as pydhcp's hex variables are",
      "  CREATE INDEX `users_mac_port` ON `users` (`mac`, `port`);",
      expect.stringMatching(/^setting ThreadLimit 1: WARN one lookup at a time; a client no query knows costs [0-9.]+ ms here \(all 3 offer queries\), so at most ~[0-9]+ such lookups\/s; fix: <ThreadLimit>64<\/ThreadLimit> \(lookups in flight share <poolSize>[0-9]+<\/poolSize> connections\)$/),
    ]);
    expect(r.lines).toContain("  equivalent query: <offer_3>select ip,mask,router,dns from users where mac = '{ClientMacAddress}'</offer_3>");
    expect(r.lines).toContain("  equivalent query: <offer_1>select ip,mask,router,dns from users where mac = '{option_82_AgentRemoteId_hex}' and port = '{option_82_AgentCircuitId_port_hex}'</offer_1>");
    expect(r.lines.at(-2)).toBe("query history_sql: OK");
    expect(r.lines.at(-1)).toStartWith("query history_sql: NOTE {RequestedIpAddress} is option 50");
    // nothing was changed: no index on users
    const [idx] = (await root.query("SELECT COUNT(*) AS n FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'users' AND index_name <> 'PRIMARY'", [db.database])) as unknown as [{ n: number }[]];
    expect(Number(idx[0]!.n)).toBe(0);
  });

  test("after the suggested fix the equivalent queries use the index and nothing is flagged", async () => {
    const first = await runCheck(write("ref-mysql2.xml", configWith(mysqlXml)));
    const fixSql = first.lines.filter((l) => /^ {2}(UPDATE|CREATE)/.test(l)).map((l) => l.trim());
    const equivalent = ["offer_1", "offer_2", "offer_3"].map((n) => {
      const l = lineOf(first.lines, `  equivalent query: <${n}>`)!;
      return l.slice(`  equivalent query: <${n}>`.length, -`</${n}>`.length);
    });
    const conn = await root.getConnection();
    try {
      await conn.query(`USE \`${db.database}\``);
      for (const s of fixSql) await conn.query(s);
    } finally {
      conn.release();
    }
    try {
      const r = await runCheck(write("fixed-mysql.xml", configWith(mysqlXml, { offers: equivalent }, 64)));
      expect(r.ok).toBe(true);
      for (const n of ["offer_1", "offer_2", "offer_3"]) {
        expect(lineOf(r.lines, `query ${n}: `)).toMatch(new RegExp(`^query ${n}: OK, uses an index \\(users by users_mac_port\\), [0-9.]+ ms$`));
      }
      expect(r.lines.some((l) => l.includes("WARN"))).toBe(false);
    } finally {
      await root.query(`DROP INDEX users_mac_port ON \`${db.database}\`.users`);
    }
  });
});

describe("SQLite", () => {
  function sqliteDb(name: string, extra: string[] = []): string {
    const path = join(dir, name);
    const d = new Database(path, { create: true });
    d.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, ip TEXT NOT NULL, mask TEXT NOT NULL, router TEXT NOT NULL, dns TEXT NOT NULL, mac TEXT NOT NULL, port TEXT NOT NULL)");
    d.exec("CREATE TABLE history (id INTEGER PRIMARY KEY, dt TEXT NOT NULL, mac TEXT NOT NULL, ip TEXT NOT NULL, comment TEXT NOT NULL)");
    const ins = d.prepare("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES (?, '255.255.0.0', '10.0.0.1', '10.0.0.53', ?, '')");
    d.transaction(() => {
      for (let i = 0; i < 300; i++) ins.run(`10.0.${i >> 8}.${i & 255}`, `0800270${(0x10000 + i).toString(16).slice(1)}0`);
    })();
    for (const s of extra) d.exec(s);
    d.close();
    return path;
  }

  test("pydhcpdb's reference queries read every row; the fix is an index on the same expressions, queries unchanged", async () => {
    const path = sqliteDb("ref.db");
    const r = await runCheck(write("ref-sqlite.xml", configWith(`<database><sqlite><path>${path}</path></sqlite></database>`)));
    expect(r.ok).toBe(true);
    for (const n of ["offer_1", "offer_2", "offer_3"]) {
      const l = lineOf(r.lines, `query ${n}: `)!;
      expect(l).toContain("WARN reads every row of users (300 rows) on each lookup");
      expect(l).toContain("SQLite: SCAN users");
    }
    expect(lineOf(r.lines, "query offer_3: ")).toContain("upper(mac) hides its column from every index");
    const fix = r.lines.slice(r.lines.findIndex((l) => l.startsWith("fix ")), r.lines.findIndex((l) => l.startsWith("query history_sql")));
    expect(fix).toEqual([
      "fix (run by you; --check changes nothing), then use the equivalent queries above:",
      `  CREATE INDEX "users_upper_mac_upper_port" ON "users" (upper("mac"), upper("port"));`,
    ]);
    // SQLite runs one statement at a time whatever ThreadLimit says: not a setting to change
    expect(r.lines.some((l) => l.startsWith("setting ThreadLimit"))).toBe(false);

    // applied as printed, the unchanged queries search the index
    const d = new Database(path);
    d.exec(fix[1]!.trim());
    d.close();
    const r2 = await runCheck(write("ref-sqlite.xml", configWith(`<database><sqlite><path>${path}</path></sqlite></database>`, undefined, 64)));
    for (const n of ["offer_1", "offer_2", "offer_3"]) {
      expect(lineOf(r2.lines, `query ${n}: `)).toMatch(new RegExp(`^query ${n}: OK, uses an index \\(users by users_upper_mac_upper_port\\), [0-9.]+ ms$`));
    }
    expect(r2.lines.some((l) => l.includes("WARN"))).toBe(false);
  });

  test("an indexed query is OK; a bare column without an index gets the index, its query unchanged", async () => {
    const path = sqliteDb("plain.db", ["CREATE INDEX users_mac ON users (mac)"]);
    const r = await runCheck(write("plain.xml", configWith(`<database><sqlite><path>${path}</path></sqlite></database>`, { offers: ["select ip,mask,router,dns from users where mac='{ClientMacAddress}'", "select ip,mask,router,dns from users where port='{sw_port2}'"] }, 64)));
    expect(lineOf(r.lines, "query offer_1: ")).toMatch(/^query offer_1: OK, uses an index \(users by users_mac\), [0-9.]+ ms$/);
    expect(lineOf(r.lines, "query offer_2: ")).toContain("WARN reads every row of users (300 rows) on each lookup: no index on \"port\"");
    expect(r.lines).toContain(`  CREATE INDEX "users_port" ON "users" ("port");`);
  });
});

describe("PostgreSQL", () => {
  let db: TempPgDb;
  let pgXml: string;
  beforeAll(async () => {
    db = await createTempPgDb("pdcplan");
    // 300 subscribers more; no index but the primary key, as pydhcp.sql made it
    await db.sql(
      "INSERT INTO users (ip, mask, router, dns, mac, port) SELECT '10.0.' || (i >> 8) || '.' || (i & 255), '255.255.0.0', '10.0.0.1', '10.0.0.53', '0800270' || substr(to_hex(65536 + i), 2) || '0', '' FROM generate_series(0, 299) AS i",
    );
    pgXml = referencePgXml(db).match(/<database>[\s\S]*<\/database>/)![0];
  });
  afterAll(async () => {
    await db?.drop();
    await closeAdmin();
  });

  test("sql/postgresql.sql's indexes serve the reference queries as written: nothing flagged", async () => {
    const r = await runCheck(write("ref-pg.xml", configWith(pgXml, undefined, 64)));
    expect(r.ok).toBe(true);
    for (const n of ["offer_1", "offer_2", "offer_3"]) expect(lineOf(r.lines, `query ${n}: `)).toMatch(new RegExp(`^query ${n}: OK, uses an index \\(users by users_upper_mac(_port)?\\), [0-9.]+ ms$`));
    expect(r.lines.some((l) => l.includes("WARN"))).toBe(false);
  });

  test("without them (a table moved over from pydhcp.sql) all three read every row, however small the table; the fix is an expression index, queries unchanged", async () => {
    await db.sql("DROP INDEX users_mac, users_mac_port, users_upper_mac, users_upper_mac_port");
    const r = await runCheck(write("ref-pg.xml", configWith(pgXml)));
    expect(r.lines.join("\n")).not.toContain("ERROR");
    expect(r.ok).toBe(true);
    for (const n of ["offer_1", "offer_2", "offer_3"]) {
      const l = lineOf(r.lines, `query ${n}: `)!;
      expect(l).toContain("WARN reads every row of users (301 rows) on each lookup");
      expect(l).toContain("PostgreSQL: Seq Scan on users, filter ");
    }
    expect(lineOf(r.lines, "query offer_3: ")).toContain("upper(mac) hides its column from every index");
    const fix = r.lines.slice(r.lines.findIndex((l) => l.startsWith("fix ")), r.lines.findIndex((l) => l.startsWith("setting ThreadLimit")));
    expect(fix).toEqual([
      "fix (run by you; --check changes nothing), then use the equivalent queries above:",
      `  CREATE INDEX "users_upper_mac_upper_port" ON "users" (upper("mac"), upper("port"));`,
    ]);
    // a database server is capped by ThreadLimit as MariaDB is
    expect(lineOf(r.lines, "setting ThreadLimit 1: WARN one lookup at a time")).toBeDefined();

    // applied as printed, the unchanged queries use the index
    await db.sql(fix[1]!.trim());
    const r2 = await runCheck(write("ref-pg.xml", configWith(pgXml, undefined, 64)));
    for (const n of ["offer_1", "offer_2", "offer_3"]) {
      expect(lineOf(r2.lines, `query ${n}: `)).toMatch(new RegExp(`^query ${n}: OK, uses an index \\(users by users_upper_mac_upper_port\\), [0-9.]+ ms$`));
    }
    expect(r2.lines.some((l) => l.includes("WARN"))).toBe(false);
  });
});

test("the reference queries as the plan reader sees them (fixture text unchanged)", () => {
  expect(REFERENCE_XML).toContain(OFFER_1);
  expect(REFERENCE_XML).toContain(OFFER_2);
  expect(REFERENCE_XML).toContain(OFFER_3);
});
