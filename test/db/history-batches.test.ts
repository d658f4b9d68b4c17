/**
 * History batches under a steady stream of events: rows that arrive while a
 * batch is being written wait FLUSH_MS for more, as a batch's first row
 * does. On a real MariaDB that is 20 ms, so a stream is written as about one
 * transaction per 20 ms rather than one per round trip; on SQLite (its
 * writer thread commits without a sync) 5 ms, so lines wait less in memory.
 * Every event still arrives once and in order, and flush() does not wait for
 * the window.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import type { Backend } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { compileTemplate } from "../../src/db/template.ts";
import { HistoryWriter } from "../../src/server/history.ts";
import { Database } from "bun:sqlite";
import { createTempDb, loadPydhcpSql, memoryLog, rootPool, SOCKET, type TempDb } from "./mariadb.ts";

const SQL = "insert into history (id,dt,mac,ip,comment) values (null,now(),'{ClientMacAddress}','{RequestedIpAddress}','{event_id}')";

let root: Pool;
let db: TempDb;
let dir: string;
beforeAll(async () => {
  root = await rootPool();
  db = await createTempDb(root, "pdh");
  await loadPydhcpSql(root, db.database);
  dir = mkdtempSync(join(tmpdir(), `pdc-hbatch-${process.pid}-`));
});
afterAll(async () => {
  await db.drop();
  await root.end();
  rmSync(dir, { recursive: true, force: true });
});

/** 600 events over about 600 ms (one per millisecond, as a server at 1,000 exchanges/s records them) through `backend`, its batches counted (each is one transaction). */
async function stream(backend: Backend, kind: "mysql" | "sqlite", journal: string): Promise<{ batches: number; ms: number; flushMs: number; pending: number }> {
  const log = memoryLog();
  let batches = 0;
  const counted: Backend = Object.create(backend);
  counted.runBatch = (items, marks) => {
    batches++;
    return backend.runBatch(items, marks);
  };
  // SQLite takes the journal's rows as text
  const json = backend.runBatchJson?.bind(backend);
  if (json) {
    counted.runBatchJson = (items, marks) => {
      batches++;
      return json(items, marks);
    };
  }
  const t = compileTemplate("history_sql", SQL, kind);
  if (t.kind !== "template") throw new Error(t.message);
  const w = new HistoryWriter(counted, { journalPath: join(dir, journal), fsync: { kind: "never" } }, log);
  try {
    w.start();
    // now() is bound too (the event time): the parameter count is what bind gives
    w.setStatements([{ name: t.name, sql: t.sql, params: t.bind(new Map(), Date.now()).length }]);
    await w.flush();
    batches = 0;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      w.record((id) => [{ s: "history_sql", v: t.bind(new Map([["ClientMacAddress", `m${i}`], ["RequestedIpAddress", String(i)], ["event_id", id]]), Date.now()) }]);
      if (i % 4 === 3) await Bun.sleep(4);
    }
    const ms = performance.now() - t0;
    const f0 = performance.now();
    await w.flush();
    return { batches, ms, flushMs: performance.now() - f0, pending: w.pending };
  } finally {
    await w.close();
  }
}

const N = 600;
const inOrder = Array.from({ length: N }, (_, i) => i);

test("a steady stream of events is written in about one transaction per 20 ms, every row once and in order", async () => {
  const backend = await openBackend(
    { kind: "mysql", host: "localhost", port: 3306, socket: SOCKET, user: db.user, password: db.password, database: db.database, poolSize: 4, lookupBatch: 16 },
    memoryLog(),
    5000,
  );
  try {
    const r = await stream(backend, "mysql", "journal");
    // flush() writes what is there without waiting for the window
    expect(r.flushMs).toBeLessThan(1000);
    expect(r.pending).toBe(0);
    // about one batch per 20 ms window of the stream (a batch per round trip would be several times that)
    expect(r.batches).toBeGreaterThan(3);
    expect(r.batches).toBeLessThanOrEqual(Math.ceil(r.ms / 20) + 3);
    const [rows] = await root.query(`SELECT ip FROM \`${db.database}\`.history WHERE mac LIKE 'm%' ORDER BY id`);
    expect((rows as { ip: string }[]).map((x) => Number(x.ip))).toEqual(inOrder);
  } finally {
    await backend.close();
  }
});

test("on SQLite the window is 5 ms: a steady stream goes in more transactions than 20 ms windows allow, every row once and in order", async () => {
  const path = join(dir, "h.sqlite");
  const setup = new Database(path);
  setup.exec("CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, dt TEXT, mac TEXT, ip TEXT, comment TEXT)");
  setup.close();
  // as the server opens it: the writes go to the writer thread
  const backend = await openBackend({ kind: "sqlite", path }, memoryLog(), 5000, { serving: true });
  try {
    const r = await stream(backend, "sqlite", "journal-sqlite");
    expect(r.pending).toBe(0);
    // 20 ms windows would give at most ms / 20 + 3 batches (the MariaDB test's bound); 5 ms ones up to four times that
    expect(r.batches).toBeGreaterThan(Math.ceil(r.ms / 20) + 3);
    expect(r.batches).toBeLessThanOrEqual(Math.ceil(r.ms / 5) + 3);
    const check = new Database(path, { readonly: true });
    try {
      const rows = check.query("SELECT ip FROM history WHERE mac LIKE 'm%' ORDER BY id").all() as { ip: string }[];
      expect(rows.map((x) => Number(x.ip))).toEqual(inOrder);
    } finally {
      check.close();
    }
  } finally {
    await backend.close();
  }
});
