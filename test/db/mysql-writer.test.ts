/**
 * The MySQL history writer thread (src/db/mysql/writer.ts): a server's
 * history batches run on a worker's own connection against a real MariaDB;
 * what they leave in the tables, how their failures read (as the pool's
 * would), a lost connection, and the pool taking over when the thread is
 * gone.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Pool } from "mysql2/promise";
import { DbError, type Backend, type PreparedQuery } from "../../src/db/backend.ts";
import { MysqlBackend } from "../../src/db/mysql.ts";
import { openBackend } from "../../src/db/open.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { createTempDb, rootPool, type TempDb } from "./mariadb.ts";

let root: Pool;
let db: TempDb;
let sink: ReturnType<typeof memorySink>;
let log: ReturnType<typeof createLogger>;
beforeAll(async () => {
  root = await rootPool();
});
afterAll(async () => {
  await root.end();
});
beforeEach(async () => {
  db = await createTempDb(root, "pdw");
  await root.query(`CREATE TABLE \`${db.database}\`.h (id INT AUTO_INCREMENT PRIMARY KEY, mac VARCHAR(12) NOT NULL, ip VARCHAR(15), dt DATETIME)`);
  sink = memorySink();
  log = createLogger({ level: "info", format: "text", out: sink, err: sink });
});
afterEach(async () => {
  await db.drop();
});

const settings = () => ({ kind: "mysql" as const, host: "127.0.0.1", port: 3306, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 2, lookupBatch: 1 });
/** as the server opens it: with the thread */
const serving = async () => (await openBackend(settings(), log, 2000, { serving: true })) as MysqlBackend;

async function rows(): Promise<{ mac: string; ip: string | null }[]> {
  const [r] = await root.query(`SELECT mac, ip FROM \`${db.database}\`.h ORDER BY id`);
  return r as { mac: string; ip: string | null }[];
}

/** Connections the server holds for this database, by what they last ran. */
async function connections(): Promise<number> {
  const [r] = await root.query("SELECT COUNT(*) AS n FROM information_schema.processlist WHERE db = ?", [db.database]);
  return Number((r as { n: number }[])[0]!.n);
}

const json = (q: PreparedQuery, ...values: (string | null)[]) => ({ query: q, values: JSON.stringify(values) });

describe("the MySQL history writer thread", () => {
  test("a server's batch commits from the thread with its mark, rows in journal order", async () => {
    const b = await serving();
    try {
      expect(b.writer?.alive).toBe(true);
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip, dt) VALUES (?, ?, now())");
      const items = Array.from({ length: 70 }, (_, i) => json(q, `02000000${String(i).padStart(4, "0")}`, i % 2 ? null : `198.18.0.${i}`));
      await b.runBatchJson(items, [{ run: "r1", seq: 70 }]);
      const got = await rows();
      expect(got.length).toBe(70);
      expect(got[0]).toEqual({ mac: "020000000000", ip: "198.18.0.0" });
      expect(got[69]).toEqual({ mac: "020000000069", ip: null });
      expect(await b.historyMark("r1")).toBe(70);
      // the pool's connections and the thread's own
      expect(await connections()).toBeGreaterThanOrEqual(2);
      expect(sink.lines().filter((l) => l.includes("writer thread stopped"))).toEqual([]);
    } finally {
      await b.close();
    }
  });

  test("a refused row fails the whole batch as the pool would: the query's name, MariaDB's code, kind query, nothing written", async () => {
    const b = await serving();
    try {
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      const err = await b.runBatchJson([json(q, "020000000001", "198.18.0.1"), json(q, null, "198.18.0.2")], [{ run: "r1", seq: 9 }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DbError);
      expect((err as DbError).kind).toBe("query");
      expect((err as DbError).query).toBe("history_sql");
      expect((err as DbError).code).toBe("ER_BAD_NULL_ERROR");
      expect((err as DbError).message).toContain("history_sql: Column 'mac' cannot be null");
      expect(await rows()).toEqual([]);
      expect(await b.historyMark("r1")).toBe(0);
      // the thread goes on: the next batch commits
      await b.runBatchJson([json(q, "020000000003", null)], [{ run: "r1", seq: 10 }]);
      expect(await rows()).toEqual([{ mac: "020000000003", ip: null }]);
      expect(b.writer?.alive).toBe(true);
    } finally {
      await b.close();
    }
  });

  test("its connection killed by the server: a later batch connects again and commits", async () => {
    const b = await serving();
    try {
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      await b.runBatchJson([json(q, "020000000001", null)], [{ run: "r1", seq: 1 }]);
      // every connection of this database's user: the pool's come back by themselves, the thread's at its next batch
      const [list] = await root.query("SELECT id FROM information_schema.processlist WHERE db = ?", [db.database]);
      for (const { id } of list as { id: number }[]) await root.query(`KILL ${Number(id)}`);
      for (let i = 2; i < 40; i++) {
        try {
          await b.runBatchJson([json(q, `02000000000${i % 10}`, null)], [{ run: "r1", seq: i }]);
          break;
        } catch (e) {
          // a lost connection reads as one, so the history writer waits for the reconnect and tries again
          expect((e as DbError).kind).toBe("connect");
          await Bun.sleep(100);
        }
      }
      expect((await rows()).length).toBe(2);
      expect(await b.historyMark("r1")).toBeGreaterThanOrEqual(2);
      expect(b.writer?.alive).toBe(true);
    } finally {
      await b.close();
    }
  });

  test("the thread gone: the batch in flight and every later one run on the pool, one WARN, nothing lost", async () => {
    const b = await serving();
    try {
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      await b.runBatchJson([json(q, "020000000001", null)], [{ run: "r1", seq: 1 }]);
      b.writer!.kill();
      expect(b.writer!.alive).toBe(false);
      await b.runBatchJson([json(q, "020000000002", "198.18.0.2")], [{ run: "r1", seq: 2 }]);
      expect(await rows()).toEqual([
        { mac: "020000000001", ip: null },
        { mac: "020000000002", ip: "198.18.0.2" },
      ]);
      expect(await b.historyMark("r1")).toBe(2);
      expect(sink.lines().filter((l) => l.includes("MySQL history writer thread stopped; history batches run on the serving thread")).length).toBe(1);
    } finally {
      await b.close();
    }
  });

  test("a thread whose code cannot be found is gone at once: the backend writes on the pool", async () => {
    const { MysqlWriter } = await import("../../src/db/mysql/writer.ts");
    const w = MysqlWriter.start({ ...settings(), timeoutMs: 1000 }, log, "/nonexistent/writer-thread.js");
    for (let i = 0; i < 50 && w.alive; i++) await Bun.sleep(20);
    expect(w.alive).toBe(false);
    const err = await w.batchJson([], "m", "x", []).then(() => null, (e: unknown) => e);
    expect(String(err)).toContain("MySQL history writer thread stopped");
    await w.stop();
  });

  test("only a server has it: a backend opened for a command runs history on the pool", async () => {
    const b: Backend = await openBackend(settings(), log, 2000);
    try {
      expect((b as MysqlBackend).writer).toBeNull();
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      await b.runBatchJson!([json(q, "020000000001", "198.18.0.1")], [{ run: "r1", seq: 1 }]);
      expect(await rows()).toEqual([{ mac: "020000000001", ip: "198.18.0.1" }]);
    } finally {
      await b.close();
    }
  });
});
