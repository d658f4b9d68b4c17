/**
 * The history journal and writer on a real SQLite database: every event
 * arrives once and in order, through bursts, damaged journal lines, lines
 * naming statements the configuration does not have, a crash between a
 * commit and the position file, and a missing history table.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Backend } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { compileTemplate, type CompiledTemplate } from "../../src/db/template.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { HistoryWriter } from "../../src/server/history.ts";
import { databaseOwner, formerDatabaseOwner, type DatabaseSettings } from "../../src/db/settings.ts";

const SQL = "insert into history (dt, mac, ip, comment) values (now(), '{mac_hex}', '{answer_ip}', '{event_id}')";

let dir = "";
let sink = memorySink();
let log = createLogger({ level: "info", format: "text", out: sink, err: sink });
let backend: Backend;
let t: CompiledTemplate;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), `pydhcp-history-${process.pid}-`));
  sink = memorySink();
  log = createLogger({ level: "info", format: "text", out: sink, err: sink });
  backend = await openBackend({ kind: "sqlite", path: join(dir, "h.db") }, log, 2000);
  const c = compileTemplate("history_sql", SQL, "sqlite");
  if (c.kind !== "template") throw new Error(c.message);
  t = c;
});

afterEach(async () => {
  await backend.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const journal = () => join(dir, "journal");

function writer(limits?: { compactBytes: number; rotateBytes: number }, database?: string, formerDatabase?: string | null): HistoryWriter {
  const w = new HistoryWriter(backend, { journalPath: journal(), fsync: { kind: "never" }, ...(limits ? { limits } : {}), ...(database ? { database } : {}), ...(formerDatabase ? { formerDatabase } : {}) }, log);
  w.start();
  w.setStatements([{ name: t.name, sql: t.sql, params: 4 }]);
  return w;
}

function record(w: HistoryWriter, i: number, at = Date.now()): string {
  return w.record((id) => [{ s: "history_sql", v: t.bind(new Map([["mac_hex", `m${i}`], ["answer_ip", String(i)], ["event_id", id]]), at) }]);
}

function rows(): { dt: string; ip: string; comment: string }[] {
  const db = new Database(join(dir, "h.db"), { readonly: true });
  try {
    return db.query("select dt, ip, comment from history where comment != '' order by id").all() as { dt: string; ip: string; comment: string }[];
  } finally {
    db.close();
  }
}

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await Bun.sleep(20);
}

test("a 25,000-event burst is journaled at once, then written in order, each event once", async () => {
  const w = writer();
  const N = 25_000;
  // synchronously: the writer gets no turn, as under a storm
  for (let i = 0; i < N; i++) record(w, i);
  expect(w.pending).toBe(N);
  await until(() => w.pending === 0, 20_000);
  await w.close();
  const r = rows();
  expect(r.length).toBe(N);
  expect(r.every((x, i) => x.ip === String(i))).toBe(true);
  expect(new Set(r.map((x) => x.comment)).size).toBe(N);
});

test("events recorded together (one write for a turn's events) keep their order and their own ids, and an event of two statements gets two ids", async () => {
  const w = writer();
  const one = (i: number) => (id: string) => [{ s: "history_sql", v: t.bind(new Map([["mac_hex", `m${i}`], ["answer_ip", String(i)], ["event_id", id]]), Date.now()) }];
  const two = (id: string) => [...one(100)(id), ...one(101)(`${id}b`)];
  const r = w.recordMany([one(0), one(1), two, one(2)]);
  expect(r.error).toBeNull();
  expect(r.written).toBe(4);
  expect(r.lines).toBe(5);
  const seq = r.ids.map((id) => Number(id.split("-")[1]));
  // two ids for the event of two statements: the next event's id skips one
  expect(seq.map((n) => n - seq[0]!)).toEqual([0, 1, 2, 4]);
  expect(w.pending).toBe(5);
  await until(() => w.pending === 0);
  await w.close();
  expect(rows().map((x) => x.ip)).toEqual(["0", "1", "100", "101", "2"]);
});

test("a backlog of several batches is written one batch per event-loop turn: packets run between them", async () => {
  const w = writer();
  const N = 2_000;
  for (let i = 0; i < N; i++) record(w, i);
  // what arrives while the backlog is written: it must get a turn before the last batch
  const seen: number[] = [];
  const packets = setInterval(() => seen.push(w.pending), 0);
  await until(() => w.pending === 0, 20_000);
  clearInterval(packets);
  await w.close();
  expect(rows().length).toBe(N);
  // a turn while rows were still waiting, after the writer had started
  expect(seen.some((p) => p > 0 && p < N)).toBe(true);
});

test("now() in a history statement is the event time, even when the row is written later", async () => {
  const w = writer();
  const at = Date.parse("2026-03-04T05:06:07.000Z");
  record(w, 1, at);
  await until(() => w.pending === 0);
  await w.close();
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, "0");
  const local = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  expect(rows()[0]!.dt).toBe(local);
});

test("damaged lines go to quarantine (WARN names file and line); every other event is written, in order; no SQL from the file runs", async () => {
  const db = new Database(join(dir, "h.db"));
  db.exec("create table victim (x int)");
  db.close();
  const good = (run: string, seq: number) => JSON.stringify({ i: `${run}-${seq}`, s: "history_sql", v: ["2026-01-01 00:00:00", `m${seq}`, String(seq), `${run}-${seq}`] });
  writeFileSync(
    journal(),
    [
      good("aaa", 1),
      '{"name":"history_sql","sql":"drop table victim","params":[]}',
      good("aaa", 2),
      "garbage that is not json",
      good("aaa", 3),
      '{"i":"aaa-4","s":"history_sql","v":["2026-01-01 0', // cut by a crash, no newline
    ].join("\n"),
    { mode: 0o644 },
  );
  const w = writer();
  await until(() => w.pending === 0);
  record(w, 100);
  await until(() => w.pending === 0);
  await w.close();
  expect(rows().map((r) => r.ip)).toEqual(["1", "2", "3", "100"]);
  const q = readFileSync(journal() + ".quarantine", "utf8").trim().split("\n").map((l) => JSON.parse(l) as { line: number; text: string });
  expect(q.map((x) => x.line)).toEqual([2, 4, 6]);
  expect(q[0]!.text).toContain("drop table victim");
  const db2 = new Database(join(dir, "h.db"), { readonly: true });
  expect(db2.query("select name from sqlite_master where name = 'victim'").all().length).toBe(1);
  db2.close();
  log.flush();
  const text = sink.text();
  expect(text).toMatch(new RegExp(`WARN damaged history journal line moved to quarantine.*journal=${journal().replace(/[/.]/g, "\\$&")} line=2`));
  expect(text).toMatch(/line=4/);
  expect(text).toMatch(/line=6/);
  for (const f of [journal(), journal() + ".quarantine", journal() + ".pos"]) expect(statSync(f).mode & 0o777).toBe(0o600);
});

test("a line naming a statement the configuration does not have is refused with a WARN", async () => {
  writeFileSync(journal(), JSON.stringify({ i: "bbb-1", s: "history_drop", v: [] }) + "\n" + JSON.stringify({ i: "bbb-2", s: "history_sql", v: ["2026-01-01 00:00:00", "m", "7", "x"] }) + "\n");
  chmodSync(journal(), 0o644);
  const w = writer();
  await until(() => w.pending === 0);
  await w.close();
  expect(rows().map((r) => r.ip)).toEqual(["7"]);
  log.flush();
  expect(sink.text()).toMatch(/WARN history journal line refused.*line=1 reason="statement history_drop is not in the current configuration"/);
  expect(statSync(journal()).mode & 0o777).toBe(0o600);
});

test("a crash after the commit but before the position file: the batch read again is recognised, nothing doubles", async () => {
  const w = writer();
  for (let i = 0; i < 300; i++) record(w, i);
  await until(() => w.pending === 0);
  // as if killed (no close) before the position was saved: the next run starts at the beginning
  rmSync(journal() + ".pos");
  const w2 = writer();
  // counted from the start of the file: the marks, not the count, decide what is written
  expect(w2.pending).toBe(300);
  for (let i = 300; i < 310; i++) record(w2, i);
  await until(() => w2.pending === 0);
  await w2.close();
  const r = rows();
  expect(r.length).toBe(310);
  expect(new Set(r.map((x) => x.comment)).size).toBe(310);
  expect(w2.stats.duplicates).toBe(300);
  await w.close();
});

test("a missing history table: events wait in the journal with one WARN, and are written when it is back", async () => {
  const raw = new Database(join(dir, "h.db"));
  raw.exec("alter table history rename to history_away");
  const w = writer();
  for (let i = 0; i < 5; i++) record(w, i);
  await Bun.sleep(1500);
  for (let i = 5; i < 10; i++) record(w, i);
  await Bun.sleep(1200);
  expect(w.problem).toMatch(/no such table/);
  expect(w.pending).toBe(10);
  raw.exec("alter table history_away rename to history");
  raw.close();
  await until(() => w.pending === 0, 5000);
  expect(w.problem).toBeNull();
  await w.close();
  expect(rows().map((r) => r.ip)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  log.flush();
  expect(sink.text().match(/WARN history rows cannot be written/g)?.length).toBe(1);
  expect(sink.text()).toMatch(/INFO history rows are written again/);
});

test("a caught-up journal over 1 MiB is emptied; the position file follows", async () => {
  const w = writer();
  for (let i = 0; i < 12_000; i++) record(w, i);
  await until(() => w.pending === 0, 20_000);
  await w.close();
  expect(statSync(journal()).size).toBe(0);
  expect(rows().length).toBe(12_000);
  expect(existsSync(journal() + ".sealed")).toBe(false);
});

test("a row the database refuses (NULL into NOT NULL) goes to quarantine after a second try; the rest is written, in order", async () => {
  const w = writer();
  record(w, 1);
  // answer_ip absent: binds NULL into history.ip, which is NOT NULL
  w.record((id) => [{ s: "history_sql", v: t.bind(new Map([["mac_hex", "m2"], ["event_id", id]]), Date.now()) }]);
  record(w, 3);
  await until(() => w.pending === 0, 8000);
  await w.close();
  expect(rows().map((r) => r.ip)).toEqual(["1", "3"]);
  const q = readFileSync(journal() + ".quarantine", "utf8").trim().split("\n").map((l) => JSON.parse(l) as { line: number; reason: string });
  expect(q.map((x) => x.line)).toEqual([2]);
  expect(q[0]!.reason).toMatch(/refused the row: .*NOT NULL/);
  log.flush();
  expect(sink.text()).toMatch(/WARN history row refused by the database moved to quarantine.*line=2/);
});

test("a backlog past the rotation size is sealed once written to, new events go to a new file, every row arrives once and in order", async () => {
  const small = { compactBytes: 4096, rotateBytes: 16 * 1024 };
  const raw = new Database(join(dir, "h.db"));
  raw.exec("alter table history rename to history_away");
  const w = writer(small);
  for (let i = 0; i < 2000; i++) record(w, i);
  await Bun.sleep(300);
  raw.exec("alter table history_away rename to history");
  raw.close();
  await until(() => w.pending === 0, 8000);
  for (let i = 2000; i < 2100; i++) record(w, i);
  await until(() => w.pending === 0, 8000);
  await w.close();
  const r = rows();
  expect(r.length).toBe(2100);
  expect(r.every((x, i) => x.ip === String(i))).toBe(true);
  expect(existsSync(journal() + ".sealed")).toBe(false);
  log.flush();
  expect(sink.text()).toMatch(/INFO history journal sealed/);
}, 20_000);

test("a sealed journal left by a killed run is read before the active one", async () => {
  const line = (run: string, seq: number) => JSON.stringify({ i: `${run}-${seq}`, s: "history_sql", v: ["2026-01-01 00:00:00", "m", String(seq), `${run}-${seq}`] }) + "\n";
  writeFileSync(journal() + ".sealed", Array.from({ length: 700 }, (_, k) => line("aaa", k + 1)).join(""));
  writeFileSync(journal(), Array.from({ length: 300 }, (_, k) => line("aaa", k + 701)).join(""));
  const w = writer();
  expect(w.pending).toBe(1000);
  record(w, 1001);
  await until(() => w.pending === 0, 8000);
  await w.close();
  const r = rows();
  expect(r.map((x) => Number(x.ip))).toEqual(Array.from({ length: 1001 }, (_, k) => k + 1));
  expect(existsSync(journal() + ".sealed")).toBe(false);
}, 20_000);

test("events a journal holds for another database are set aside with an ERROR, not written to this one; the same database replays them", async () => {
  // database A: its table is away, so three events stay in the journal at the stop
  const raw = new Database(join(dir, "h.db"));
  raw.exec("alter table history rename to history_away");
  const a = writer(undefined, "mysql database a");
  for (let i = 0; i < 3; i++) record(a, i);
  await a.close(200);
  raw.exec("alter table history_away rename to history");
  raw.close();
  // database B on the same journal file (two configurations in one directory)
  const b = writer(undefined, "mysql database b");
  record(b, 10);
  await until(() => b.pending === 0);
  await b.close();
  expect(rows().map((r) => r.ip)).toEqual(["10"]);
  log.flush();
  expect(sink.text()).toMatch(/ERROR history journal holds events for another database: set aside, not written to this one .*rows=3 for="mysql database a" database="mysql database b"/);
  const aside = readdirSync(dir).filter((f) => f.endsWith(".other-database"));
  expect(aside.length).toBe(1);
  expect(readFileSync(join(dir, aside[0]!), "utf8").trim().split("\n").length).toBe(3);
  // beside it, for `pydhcp history replay`: the database it was for
  expect(readFileSync(join(dir, aside[0]!) + ".database", "utf8")).toBe("mysql database a\n");
  expect(readFileSync(journal() + ".database", "utf8")).toBe("mysql database b\n");
  // B again: its own events are replayed as always
  const raw2 = new Database(join(dir, "h.db"));
  raw2.exec("alter table history rename to history_away");
  const b2 = writer(undefined, "mysql database b");
  record(b2, 11);
  await b2.close(200);
  raw2.exec("alter table history_away rename to history");
  raw2.close();
  const b3 = writer(undefined, "mysql database b");
  await until(() => b3.pending === 0);
  await b3.close();
  expect(rows().map((r) => r.ip)).toEqual(["10", "11"]);
  expect(readdirSync(dir).filter((f) => f.endsWith(".other-database")).length).toBe(1);
});

/** A MySQL or PostgreSQL database of that name on that server (only what databaseOwner reads matters). */
function server(kind: "mysql" | "postgresql", database: string, host: string, port: number, socket: string | null = null): DatabaseSettings {
  return { kind, host, port, socket, user: "u", password: "p", database, poolSize: 1, lookupBatch: 1 };
}

/** Leaves `n` events waiting in the journal for `owner` (the history table is away while they are recorded). */
async function leaveWaiting(owner: string, n: number, former: string | null = null): Promise<void> {
  const raw = new Database(join(dir, "h.db"));
  raw.exec("alter table history rename to history_away");
  const w = writer(undefined, owner, former);
  for (let i = 0; i < n; i++) record(w, i);
  await w.close(200);
  raw.exec("alter table history_away rename to history");
  raw.close();
}

test("the owner names the server: host:port, a socket (PostgreSQL's directory as its socket file), an IPv6 host in brackets", () => {
  expect(databaseOwner(server("mysql", "dhcp", "198.18.0.5", 3306))).toBe("mysql database dhcp on 198.18.0.5:3306");
  expect(databaseOwner(server("mysql", "dhcp", "localhost", 3306, "/run/mysqld/mysqld.sock"))).toBe("mysql database dhcp on socket /run/mysqld/mysqld.sock");
  expect(databaseOwner(server("postgresql", "dhcp", "", 5433, "/var/run/postgresql/"))).toBe("postgresql database dhcp on socket /var/run/postgresql/.s.PGSQL.5433");
  expect(databaseOwner(server("postgresql", "dhcp", "::1", 5432))).toBe("postgresql database dhcp on [::1]:5432");
  expect(formerDatabaseOwner(server("mysql", "dhcp", "198.18.0.5", 3306))).toBe("mysql database dhcp");
  expect(formerDatabaseOwner({ kind: "sqlite", path: "/x/h.db" })).toBeNull();
});

test("a database of the same name on another host is another database: its waiting events are set aside", async () => {
  const here = server("mysql", "dhcp", "198.18.0.5", 3306);
  const there = server("mysql", "dhcp", "198.18.0.6", 3306);
  await leaveWaiting(databaseOwner(here), 3, formerDatabaseOwner(here));
  const w = writer(undefined, databaseOwner(there), formerDatabaseOwner(there));
  record(w, 10);
  await until(() => w.pending === 0);
  await w.close();
  expect(rows().map((r) => r.ip)).toEqual(["10"]);
  log.flush();
  expect(sink.text()).toMatch(/ERROR history journal holds events for another database: set aside, not written to this one .*rows=3 for="mysql database dhcp on 198.18.0.5:3306" database="mysql database dhcp on 198.18.0.6:3306"/);
  const aside = readdirSync(dir).filter((f) => f.endsWith(".other-database"));
  expect(aside.length).toBe(1);
  expect(readFileSync(join(dir, aside[0]!), "utf8").trim().split("\n").length).toBe(3);
  expect(readFileSync(journal() + ".database", "utf8")).toBe("mysql database dhcp on 198.18.0.6:3306\n");
});

test("another port on the same host, or PostgreSQL of the same name, is another database too", async () => {
  await leaveWaiting(databaseOwner(server("mysql", "dhcp", "198.18.0.5", 3306)), 2);
  const w = writer(undefined, databaseOwner(server("mysql", "dhcp", "198.18.0.5", 3307)));
  await w.close();
  await leaveWaiting(databaseOwner(server("mysql", "dhcp", "198.18.0.5", 3307)), 1);
  const p = writer(undefined, databaseOwner(server("postgresql", "dhcp", "198.18.0.5", 3307)));
  await p.close();
  expect(readdirSync(dir).filter((f) => f.endsWith(".other-database")).length).toBe(2);
});

test("an owner file from before the server was named (kind and name only) is the same database: replayed, then rewritten", async () => {
  const db = server("mysql", "dhcp", "198.18.0.5", 3306);
  // what an older pydhcp left: its owner file says "mysql database dhcp"
  await leaveWaiting("mysql database dhcp", 3);
  expect(readFileSync(journal() + ".database", "utf8")).toBe("mysql database dhcp\n");
  const w = writer(undefined, databaseOwner(db), formerDatabaseOwner(db));
  await until(() => w.pending === 0);
  await w.close();
  expect(rows().map((r) => r.ip)).toEqual(["0", "1", "2"]);
  expect(readdirSync(dir).filter((f) => f.endsWith(".other-database"))).toEqual([]);
  log.flush();
  expect(sink.text()).not.toContain("another database");
  expect(readFileSync(journal() + ".database", "utf8")).toBe("mysql database dhcp on 198.18.0.5:3306\n");
  // an old owner file naming another database's name is still another database
  await leaveWaiting("mysql database dhcp", 1);
  writeFileSync(journal() + ".database", "mysql database other\n");
  const o = writer(undefined, databaseOwner(db), formerDatabaseOwner(db));
  await o.close();
  expect(readdirSync(dir).filter((f) => f.endsWith(".other-database")).length).toBe(1);
});

test("lines waiting in memory when the statement changes its values are refused as lines read from the file are: the quarantine holds the line's own text", async () => {
  const w = writer();
  const ids = [record(w, 1), record(w, 2)];
  // before the writer's first batch: the statement now takes five values
  w.setStatements([{ name: t.name, sql: t.sql, params: 5 }]);
  await until(() => w.pending === 0);
  await w.close();
  expect(rows()).toEqual([]);
  const q = readFileSync(journal() + ".quarantine", "utf8").trim().split("\n").map((l) => JSON.parse(l) as { line: number; reason: string; text: string });
  expect(q.map((x) => x.line)).toEqual([1, 2]);
  expect(q[0]!.reason).toBe("statement history_sql now takes 5 values, the journal has 4");
  // the text is the journal's line: its id and values
  const lines = q.map((x) => JSON.parse(x.text) as { i: string; v: string[] });
  expect(lines.map((l) => l.i)).toEqual(ids);
  expect(lines[1]!.v.slice(1)).toEqual(["m2", "2", ids[1]!]);
});
