/**
 * The SQLite writer thread (src/db/sqlite-writer.ts): history batches, lease
 * upserts and the lease sync's read run on a worker's own connection; what
 * they leave in the file, how their failures read, and the serving
 * connection taking over when the thread is gone.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DbError } from "../../src/db/backend.ts";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { NOW, testLease } from "./lease-fixture.ts";

const now = NOW;
const lease = testLease;

let dir: string;
let path: string;
let sink: ReturnType<typeof memorySink>;
let log: ReturnType<typeof createLogger>;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), `pydhcp-sqlite-writer-${process.pid}-`));
  path = join(dir, "p.sqlite");
  sink = memorySink();
  log = createLogger({ level: "info", format: "text", out: sink, err: sink });
  const b = SqliteBackend.open({ path, timeoutMs: 1000 }, log);
  b.exec("CREATE TABLE h (mac TEXT NOT NULL, ip TEXT)");
  await b.close();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What a second connection (the operator's sqlite3) sees in the file. */
function outside<T>(sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query(sql).all() as T[];
  } finally {
    db.close();
  }
}

const open = () => SqliteBackend.open({ path, timeoutMs: 1000, writerThread: true, leaseWriter: "server-a" }, log);

describe("the SQLite writer thread", () => {
  test("a history batch and its marks commit together from the thread", async () => {
    const b = open();
    try {
      expect(b.writer?.alive).toBe(true);
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      await b.runBatch([{ query: q, params: ["020000000001", "198.18.0.1"] }, { query: q, params: ["020000000002", null] }], [{ run: "r1", seq: 7 }]);
      expect(outside<{ mac: string; ip: string | null }>("SELECT mac, ip FROM h ORDER BY mac")).toEqual([
        { mac: "020000000001", ip: "198.18.0.1" },
        { mac: "020000000002", ip: null },
      ]);
      expect(await b.historyMark("r1")).toBe(7);
    } finally {
      await b.close();
    }
  });

  test("a failing row fails the whole batch as the serving connection would: the query's name, SQLite's code, nothing written", async () => {
    const b = open();
    try {
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      const err = await b.runBatch([{ query: q, params: ["020000000001", "198.18.0.1"] }, { query: q, params: [null, "198.18.0.2"] }], [{ run: "r1", seq: 9 }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DbError);
      expect((err as DbError).query).toBe("history_sql");
      expect((err as DbError).code).toBe("SQLITE_CONSTRAINT_NOTNULL");
      expect((err as DbError).message).toContain("history_sql: NOT NULL constraint failed: h.mac");
      expect(outside("SELECT * FROM h")).toEqual([]);
      expect(await b.historyMark("r1")).toBe(0);
      // the thread is still there for the next batch
      expect(b.writer?.alive).toBe(true);
    } finally {
      await b.close();
    }
  });

  test("a batch of two statements interleaved: each row runs its own statement, in order, and a failure names the statement that failed", async () => {
    const b = open();
    try {
      b.exec("CREATE TABLE h2 (mac TEXT NOT NULL, n INTEGER)");
      const q1 = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      const q2 = await b.prepare("history_extra", "INSERT INTO h2 (mac, n) VALUES (?, ?)");
      await b.runBatch([
        { query: q1, params: ["020000000001", "198.18.0.1"] },
        { query: q2, params: ["020000000001", "1"] },
        { query: q1, params: ["020000000002", "198.18.0.2"] },
        { query: q2, params: ["020000000002", "2"] },
      ]);
      expect(outside("SELECT mac, ip FROM h ORDER BY mac")).toEqual([
        { mac: "020000000001", ip: "198.18.0.1" },
        { mac: "020000000002", ip: "198.18.0.2" },
      ]);
      expect(outside("SELECT mac, n FROM h2 ORDER BY mac")).toEqual([
        { mac: "020000000001", n: 1 },
        { mac: "020000000002", n: 2 },
      ]);
      const err = await b.runBatch([
        { query: q1, params: ["020000000003", "198.18.0.3"] },
        { query: q2, params: [null, "3"] },
      ]).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as DbError).query).toBe("history_extra");
      expect((err as DbError).message).toContain("history_extra: NOT NULL constraint failed: h2.mac");
      expect(outside("SELECT count(*) AS n FROM h")).toEqual([{ n: 2 }]);
    } finally {
      await b.close();
    }
  });

  test("lease writes land in the file; the sync reads only rows another writer changed, and only after a commit elsewhere", async () => {
    const b = open();
    try {
      const many = Array.from({ length: 600 }, (_, i) => lease(i + 1));
      await b.leases.upsert(many);
      expect(outside<{ n: number }>("SELECT COUNT(*) AS n FROM pydhcp_lease WHERE writer = 'server-a'")[0]!.n).toBe(600);
      // its own rows are never read back
      expect(await b.leases.changedSince(now - 10)).toEqual([]);
      // another server's write (its own connection) is
      const other = SqliteBackend.open({ path, timeoutMs: 1000, leaseWriter: "server-b" }, log);
      await other.leases.upsert([lease(9000, { ip: "198.18.200.1" })]);
      await other.close();
      const seen = await b.leases.changedSince(now - 10);
      expect(seen.map((l) => l.ip)).toEqual(["198.18.200.1"]);
      // nothing committed elsewhere since: nothing read
      expect(await b.leases.changedSince(now - 10)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  test("the thread gone: the serving connection writes instead, one WARN says so, nothing is lost", async () => {
    const b = open();
    try {
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      await b.runBatch([{ query: q, params: ["020000000001", "a"] }]);
      b.writer!.kill();
      expect(b.writer!.alive).toBe(false);
      await b.runBatch([{ query: q, params: ["020000000002", "b"] }], [{ run: "r2", seq: 3 }]);
      await b.leases.upsert([lease(1), lease(2)]);
      expect(outside<{ mac: string }>("SELECT mac FROM h ORDER BY mac").map((r) => r.mac)).toEqual(["020000000001", "020000000002"]);
      expect(await b.historyMark("r2")).toBe(3);
      expect(outside<{ n: number }>("SELECT COUNT(*) AS n FROM pydhcp_lease")[0]!.n).toBe(2);
      const warns = sink.lines().filter((l) => l.includes("SQLite writer thread stopped"));
      expect(warns.length).toBe(1);
      expect(warns[0]).toContain("WARN");
    } finally {
      await b.close();
    }
  });

  test("rows as the journal's JSON text: the same rows and marks from the thread, and from the serving connection once it is gone; a failing row reads the same", async () => {
    const b = open();
    try {
      const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
      const odd = 'q"uote \\ ünï\n';
      await b.runBatchJson([{ query: q, values: JSON.stringify(["020000000001", odd]) }, { query: q, values: '["020000000002",null]' }], [{ run: "r4", seq: 2 }]);
      const err = await b.runBatchJson([{ query: q, values: '["020000000003","x"]' }, { query: q, values: '[null,"y"]' }], [{ run: "r4", seq: 4 }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as DbError).code).toBe("SQLITE_CONSTRAINT_NOTNULL");
      expect((err as DbError).message).toContain("history_sql: NOT NULL constraint failed: h.mac");
      b.writer!.kill();
      await b.runBatchJson([{ query: q, values: '["020000000005","z"]' }], [{ run: "r4", seq: 5 }]);
      expect(outside<{ mac: string; ip: string | null }>("SELECT mac, ip FROM h ORDER BY mac")).toEqual([
        { mac: "020000000001", ip: odd },
        { mac: "020000000002", ip: null },
        { mac: "020000000005", ip: "z" },
      ]);
      expect(await b.historyMark("r4")).toBe(5);
    } finally {
      await b.close();
    }
  });

  test("close() lets what was already sent commit", async () => {
    const b = open();
    const q = await b.prepare("history_sql", "INSERT INTO h (mac, ip) VALUES (?, ?)");
    const rows = Array.from({ length: 2000 }, (_, i) => ({ query: q, params: [`02${String(i).padStart(10, "0")}`, "x"] }));
    const sent = b.runBatch(rows, [{ run: "r3", seq: 2000 }]);
    await b.close();
    await sent;
    expect(outside<{ n: number }>("SELECT COUNT(*) AS n FROM h")[0]!.n).toBe(2000);
  });

  test("a thread that cannot open its file is gone at once: calls end in WriterGone, which the backend answers by writing on the serving connection", async () => {
    const b = open();
    try {
      // a writer on a path that is not there, as a thread that failed to open would be
      const { SqliteWriter } = await import("../../src/db/sqlite-writer.ts");
      const w = SqliteWriter.start(join(dir, "no-such-dir", "x.sqlite"), 100, 1000, log);
      const err = await w.rows("upsert", "INSERT INTO h (mac) VALUES (?)", [["x"]]).then(() => null, (e: unknown) => e);
      expect(String(err)).toContain("SQLite writer thread stopped");
      expect(w.alive).toBe(false);
      await w.stop();
    } finally {
      await b.close();
    }
  });
});

describe("when the server uses it", () => {
  // the serving thread must never wait for the disk: on one CPU too (bench/results/2026-12-06-intel-tail.md)
  test("on one CPU too: a server pinned to one core writes leases from a thread of its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "pydhcp-writer-cpu-"));
    try {
      const script = join(dir, "child.ts");
      Bun.write(script, `
        import { availableParallelism } from "node:os";
        import { readdirSync, readFileSync } from "node:fs";
        import { openBackend } from ${JSON.stringify(join(import.meta.dir, "../../src/db/open.ts"))};
        import { createLogger } from ${JSON.stringify(join(import.meta.dir, "../../src/log/logger.ts"))};
        import { testLease } from ${JSON.stringify(join(import.meta.dir, "lease-fixture.ts"))};
        const workers = () => readdirSync("/proc/self/task").filter((t) => readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim() === "Worker").length;
        const before = workers();
        const b = await openBackend({ kind: "sqlite", path: ${JSON.stringify(join(dir, "s.db"))} }, createLogger({ level: "error", format: "text" }), 2000, { serving: true });
        await b.leases.upsert([testLease(1)]);
        const rows = (await b.leases.loadActive(0)).length;
        console.log(JSON.stringify({ cpus: availableParallelism(), workers: workers() - before, rows }));
        await b.close();
      `);
      const r = Bun.spawnSync(["taskset", "-c", "0", process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      const out = JSON.parse(r.stdout.toString().trim().split("\n").at(-1)!) as { cpus: number; workers: number; rows: number };
      // the checkpoint thread and the writer thread
      expect(out).toEqual({ cpus: 1, workers: 2, rows: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
