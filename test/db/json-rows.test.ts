/**
 * History rows on MySQL/MariaDB as one JSON_TABLE statement per run of one
 * INSERT (db/mysql/json-rows.ts): the statement it makes of pydhcpdb's
 * history_sql and of other shapes, and against a real MariaDB that the rows
 * are exactly those the multi-row path writes (hostile text, NULL, order),
 * that the form really runs, that a refused row still goes to quarantine
 * alone, and that a statement the form cannot express falls back.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import type { Backend } from "../../src/db/backend.ts";
import { jsonRowsParam, jsonRowsSql } from "../../src/db/mysql/json-rows.ts";
import { openBackend } from "../../src/db/open.ts";
import { compileTemplate } from "../../src/db/template.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { HistoryWriter } from "../../src/server/history.ts";
import { createTempDb, loadPydhcpSql, rootPool, type TempDb } from "./mariadb.ts";

/** pydhcpdb's config.xml */
const PYDHCPDB_HISTORY = "insert into history (id,dt,mac,ip,comment) values (null,now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')";

function compiled(sql: string): string {
  const t = compileTemplate("history_sql", sql, "mysql");
  if (t.kind !== "template") throw new Error(t.message);
  return t.sql;
}

describe("jsonRowsSql", () => {
  test("pydhcpdb's history_sql: each placeholder becomes its JSON column, literals and null stay, rows in array order", () => {
    expect(compiled(PYDHCPDB_HISTORY)).toBe("insert into history (id,dt,mac,ip,comment) values (null,?,?,?,'DHCPACK/INFORM')");
    expect(jsonRowsSql(compiled(PYDHCPDB_HISTORY))?.sql).toBe(
      "insert into history (id,dt,mac,ip,comment) SELECT null,pydhcp_j.p0,pydhcp_j.p1,pydhcp_j.p2,'DHCPACK/INFORM' " +
        "FROM JSON_TABLE(?, '$[*]' COLUMNS (pydhcp_n FOR ORDINALITY, p0 LONGTEXT PATH '$[0]', p1 LONGTEXT PATH '$[1]', p2 LONGTEXT PATH '$[2]')) AS pydhcp_j " +
        "ORDER BY pydhcp_j.pydhcp_n",
    );
  });

  test("a ? inside quotes is text, not a placeholder; escaped quotes do not end the literal", () => {
    const sql = jsonRowsSql("INSERT IGNORE INTO h (a, b, c) VALUES (concat(?, 'why?'), 'it\\'s ?', \"?\")")?.sql;
    expect(sql).toStartWith("INSERT IGNORE INTO h (a, b, c) SELECT concat(pydhcp_j.p0, 'why?'), 'it\\'s ?', \"?\" FROM JSON_TABLE(?, ");
    expect(sql).toContain("p0 LONGTEXT PATH '$[0]'))");
  });

  test("no column list, functions around placeholders", () => {
    expect(jsonRowsSql("insert into h values (?, inet_aton(?), now())")).toMatchObject({ params: 2 });
    expect(jsonRowsSql("insert into h values (?, inet_aton(?), now())")?.sql).toStartWith("insert into h SELECT pydhcp_j.p0, inet_aton(pydhcp_j.p1), now() FROM JSON_TABLE(?, ");
  });

  test("anything else has no form: several tuples, ON DUPLICATE KEY, UPDATE, no placeholder, a comment inside the values", () => {
    for (const sql of [
      "insert into h (a) values (?), (?)",
      "insert into h (a) values (?) on duplicate key update a = values(a)",
      "update h set a = ?",
      "insert into h (a) select ? from dual",
      "insert into h (a) values ('constant')",
      "insert into h (a, b) values (?, /* ? */ ?)",
      "insert into h (a, b) values (?, -- ?\n ?)",
      "insert into h (a, b) values (?, # ?\n ?)",
    ]) expect(jsonRowsSql(sql)).toBeNull();
  });

  test("the parameter is the journal's arrays joined, not parsed", () => {
    expect(jsonRowsParam(['["a",null]', '["\\"b\\"","é"]'])).toBe('[["a",null],["\\"b\\"","é"]]');
  });
});

describe("on MariaDB", () => {
  let root: Pool;
  let db: TempDb;
  let backend: Backend;
  let dir = "";
  let sink = memorySink();

  beforeAll(async () => {
    root = await rootPool();
  });
  afterAll(async () => {
    await root.end();
  });
  beforeEach(async () => {
    db = await createTempDb(root, "pdjr");
    await loadPydhcpSql(root, db.database);
    // a table with NULLable text, for what NULL and odd text become on each path
    await root.query(`CREATE TABLE \`${db.database}\`.h2 (id INT AUTO_INCREMENT PRIMARY KEY, a VARCHAR(200) NULL, b VARCHAR(200) NULL, path VARCHAR(10) NOT NULL) DEFAULT CHARSET=utf8mb4`);
    dir = mkdtempSync(join(tmpdir(), `pydhcp-jsonrows-${process.pid}-`));
    sink = memorySink();
    const log = createLogger({ level: "info", format: "text", out: sink, err: sink });
    backend = await openBackend(
      { kind: "mysql", host: "127.0.0.1", port: 3306, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 4, lookupBatch: 32 },
      log,
      5000,
    );
  });
  afterEach(async () => {
    await backend.close().catch(() => {});
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function insertSelects(): Promise<number> {
    const [r] = (await root.query("SHOW GLOBAL STATUS LIKE 'Com_insert_select'")) as unknown as [{ Value: string }[]];
    return Number(r[0]!.Value);
  }

  async function rows<T>(sql: string): Promise<T[]> {
    const [r] = (await root.query(sql.replaceAll("$db", `\`${db.database}\``))) as unknown as [T[]];
    return r;
  }

  function writer(name: string, sql: string): { w: HistoryWriter; bind: (vars: Map<string, string>, at: number) => (string | null)[] } {
    const t = compileTemplate(name, sql, "mysql");
    if (t.kind !== "template") throw new Error(t.message);
    const w = new HistoryWriter(backend, { journalPath: join(dir, `journal-${name}`), fsync: { kind: "never" } }, createLogger({ level: "info", format: "text", out: sink, err: sink }));
    w.start();
    w.setStatements([{ name, sql: t.sql, params: t.bind(new Map(), 0).length }]);
    return { w, bind: (vars, at) => t.bind(vars, at) };
  }

  async function drained(w: HistoryWriter, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (w.pending > 0 && Date.now() < end) await Bun.sleep(10);
    expect(w.pending).toBe(0);
  }

  /** Records `n` more events whose MACs are `prefix` and a running number (prefix0, prefix1, ...). */
  function recorder(w: HistoryWriter, bind: (vars: Map<string, string>, at: number) => (string | null)[], prefix: string): (n: number) => void {
    let next = 0;
    return (n) => {
      for (const end = next + n; next < end; next++) {
        const mac = `${prefix}${next}`;
        w.record(() => [{ s: "history_sql", v: bind(new Map([["ClientMacAddress", mac], ["RequestedIpAddress", "198.18.0.1"]]), Date.now()) }]);
      }
    };
  }

  /** After a failure whose rows went back through the journal file: `n` more rows, written; how many INSERT ... SELECT they took. */
  async function formRunsFor(w: HistoryWriter, record: (n: number) => void, n: number): Promise<number> {
    await drained(w, 8000);
    const before = await insertSelects();
    record(n);
    await drained(w, 8000);
    await w.close();
    return (await insertSelects()) - before;
  }

  const HOSTILE = ["plain", "it's", 'a "quoted" word', "back\\slash", "'); DROP TABLE history; --", "é ü ß", "漢字", "tab\there", "new\nline", "", "?", "[1,2]", "null"];

  test("pydhcpdb's history_sql: 1,200 rows through the JSON form, each with its own text and time, in journal order", async () => {
    const before = await insertSelects();
    const { w, bind } = writer("history_sql", PYDHCPDB_HISTORY);
    const at = Date.UTC(2026, 11, 7, 10, 0, 0);
    const want: { mac: string; ip: string }[] = [];
    for (let i = 0; i < 1200; i++) {
      const mac = `${HOSTILE[i % HOSTILE.length]}-${i}`;
      const ip = `198.18.${i >> 8}.${i & 255}`;
      want.push({ mac, ip });
      // the server records a turn's events together: 16 at a time here
      w.record(() => [{ s: "history_sql", v: bind(new Map([["ClientMacAddress", mac], ["RequestedIpAddress", ip]]), at + i * 1000) }]);
      if (i % 16 === 15) await Bun.sleep(0);
    }
    await drained(w);
    await w.close();
    const got = await rows<{ mac: string; ip: string; comment: string; dt: Date }>("SELECT mac, ip, comment, dt FROM $db.history WHERE comment = 'DHCPACK/INFORM' AND mac LIKE '%-%' ORDER BY id");
    expect(got.map((r) => ({ mac: r.mac, ip: r.ip }))).toEqual(want);
    // each row keeps its own event time, one second apart as recorded
    const secs = got.map((r) => Math.round(new Date(r.dt).getTime() / 1000));
    expect(secs.slice(1).every((s, k) => s - secs[k]! === 1)).toBe(true);
    // 1,200 rows in at most a few dozen INSERT ... SELECT statements: the form ran (the multi-row path makes none)
    const ran = (await insertSelects()) - before;
    expect(ran).toBeGreaterThanOrEqual(3);
    expect(ran).toBeLessThanOrEqual(1200 / 16);
  });

  test("the same values give the same rows on both paths: NULL stays NULL, text byte for byte", async () => {
    const sql = "insert into h2 (a, b, path) values ('{a}', '{b}', '{path}')";
    const t = compileTemplate("h2", sql, "mysql");
    if (t.kind !== "template") throw new Error(t.message);
    const q = await backend.prepare("h2", t.sql);
    const values: (string | null)[][] = HOSTILE.map((s, i) => [i % 3 === 0 ? null : s, s + "!"]);
    const before = await insertSelects();
    await backend.runBatchJson!(values.map((v) => ({ query: q, values: JSON.stringify([...v, "json"]) })));
    expect((await insertSelects()) - before).toBe(1);
    await backend.runBatch(values.map((v) => ({ query: q, params: [...v, "multi"] })));
    const json = await rows<{ a: string | null; b: string }>("SELECT a, b FROM $db.h2 WHERE path = 'json' ORDER BY id");
    const multi = await rows<{ a: string | null; b: string }>("SELECT a, b FROM $db.h2 WHERE path = 'multi' ORDER BY id");
    expect(multi.length).toBe(HOSTILE.length);
    expect(json).toEqual(multi);
    expect(json[0]!.a).toBeNull();
    expect(json[1]).toEqual({ a: "it's", b: "it's!" });
  });

  test("a row the database refuses (NULL into NOT NULL) goes to quarantine alone; the rows around it are written, in order", async () => {
    const { w, bind } = writer("history_sql", PYDHCPDB_HISTORY);
    const at = Date.now();
    for (let i = 0; i < 40; i++) {
      // RequestedIpAddress absent for row 17: NULL into history.ip, which is NOT NULL
      const vars = new Map([["ClientMacAddress", `m${i}`]]);
      if (i !== 17) vars.set("RequestedIpAddress", `198.18.0.${i}`);
      w.record(() => [{ s: "history_sql", v: bind(vars, at) }]);
    }
    await drained(w, 15_000);
    await w.close();
    const got = await rows<{ mac: string }>("SELECT mac FROM $db.history WHERE mac LIKE 'm%' ORDER BY id");
    expect(got.map((r) => r.mac)).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`).filter((m) => m !== "m17"));
    const q = readFileSync(join(dir, "journal-history_sql.quarantine"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { line: number; reason: string });
    expect(q.map((x) => x.line)).toEqual([18]);
    expect(q[0]!.reason).toMatch(/refused the row: .*cannot be null/i);
  });

  test("history table away when the form is first tried, and back: the rows wait and are written; later rows go through the form", async () => {
    const { w, bind } = writer("history_sql", PYDHCPDB_HISTORY);
    const record = recorder(w, bind, "w");
    // one row alone is one plain INSERT: the statement is prepared, its form not yet tried
    record(1);
    await drained(w);
    await root.query(`RENAME TABLE \`${db.database}\`.history TO \`${db.database}\`.history_away`);
    record(30);
    await Bun.sleep(300);
    expect(w.pending).toBe(30);
    await root.query(`RENAME TABLE \`${db.database}\`.history_away TO \`${db.database}\`.history`);
    // the waiting rows are read back from the journal file, parsed, as after any failed batch
    const ran = await formRunsFor(w, record, 30);
    expect((await rows<{ mac: string }>("SELECT mac FROM $db.history WHERE mac LIKE 'w%' ORDER BY id")).map((r) => r.mac)).toEqual(Array.from({ length: 61 }, (_, i) => `w${i}`));
    // the table's absence when the form was first tried did not turn the form off
    expect(ran).toBeGreaterThanOrEqual(1);
  });

  test("a form the server took once and now refuses (a failover to an older server) fails one batch; the next asks again and writes every row", async () => {
    const { w, bind } = writer("history_sql", PYDHCPDB_HISTORY);
    const sql = compiled(PYDHCPDB_HISTORY);
    // what MysqlWrites remembered from the server before: a form this server does not parse
    (backend as unknown as { writes: { jsonForms: Map<string, string | null> } }).writes.jsonForms.set(sql, "INSERT INTO history SELEKT ?");
    const record = recorder(w, bind, "f");
    // the failed batch's rows are read back from the journal file and go as multi-row INSERTs
    record(20);
    const ran = await formRunsFor(w, record, 20);
    expect((await rows<{ mac: string }>("SELECT mac FROM $db.history WHERE mac LIKE 'f%' ORDER BY id")).map((r) => r.mac)).toEqual(Array.from({ length: 40 }, (_, i) => `f${i}`));
    expect(existsSync(join(dir, "journal-history_sql.quarantine"))).toBe(false);
    // the next rows found the form the server does take
    expect(ran).toBeGreaterThanOrEqual(1);
  });

  test("a statement whose form the server will not prepare (DEFAULT in its values) is written as multi-row INSERTs", async () => {
    const sql = "insert into h2 (a, b, path) values ('{a}', DEFAULT, 'fallback')";
    expect(jsonRowsSql(compiled(sql))).not.toBeNull();
    const before = await insertSelects();
    const { w, bind } = writer("history_sql", sql);
    for (let i = 0; i < 50; i++) w.record(() => [{ s: "history_sql", v: bind(new Map([["a", `r${i}`]]), Date.now()) }]);
    await drained(w);
    await w.close();
    expect((await rows<{ a: string; b: string | null }>("SELECT a, b FROM $db.h2 WHERE path = 'fallback' ORDER BY id")).map((r) => [r.a, r.b])).toEqual(
      Array.from({ length: 50 }, (_, i) => [`r${i}`, null]),
    );
    expect((await insertSelects()) - before).toBe(0);
  });
});
