/**
 * The server's SQLite connection leaves WAL checkpoints to a worker thread:
 * its own commits no longer copy the WAL into the database file, the
 * worker's do (the rows are in the file without its WAL), and CLI-style
 * opens keep SQLite's own checkpoints. Lease sync reads the table only when
 * someone else can have changed it.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import { BACKSTOP_PAGES, BackgroundCheckpoint, type CheckpointResult } from "../../src/db/sqlite-checkpoint.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { NOW, testLease } from "./lease-fixture.ts";

const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
const now = NOW;
const lease = testLease;

let dir: string;
let path: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), `pydhcp-sqlite-ckpt-${process.pid}-`));
  path = join(dir, "p.sqlite");
  // the schema in the file itself
  await SqliteBackend.open({ path, timeoutMs: 1000 }, log).close();
  const db = new Database(path);
  db.query("PRAGMA wal_checkpoint(TRUNCATE)").get();
  db.close();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Rows of pydhcp_lease in the database file alone, as if its WAL were lost. */
function rowsInFileAlone(): number {
  const copy = join(dir, "alone.sqlite");
  copyFileSync(path, copy);
  const db = new Database(copy, { readonly: true });
  try {
    return Number((db.query("SELECT COUNT(*) AS n FROM pydhcp_lease").get() as { n: number }).n);
  } finally {
    db.close();
  }
}

function pragma(b: SqliteBackend, name: string): number {
  return Number(Object.values(b.exec(`PRAGMA ${name}`)[0]!)[0]);
}

describe("checkpoints", () => {
  test("a serving connection does not checkpoint on commit; the worker does, and the rows reach the file", async () => {
    const b = SqliteBackend.open({ path, timeoutMs: 1000, checkpointMs: 60_000 }, log);
    try {
      expect(pragma(b, "wal_autocheckpoint")).toBe(BACKSTOP_PAGES);
      // several thousand pages of commits: SQLite's default (1000 pages) would have checkpointed on this connection
      for (let k = 0; k < 40; k++) await b.leases.upsert(Array.from({ length: 250 }, (_, i) => lease(k * 250 + i, { answer: "x".repeat(400) })));
      expect(rowsInFileAlone()).toBe(0);
      const done = new Promise<CheckpointResult>((resolve) => (b.checkpoint!.onCheckpoint = resolve));
      b.checkpoint!.now();
      const r = await done;
      expect(r.busy).toBe(false);
      expect(r.log).toBeGreaterThan(1000);
      expect(r.checkpointed).toBe(r.log);
      expect(rowsInFileAlone()).toBe(10_000);
    } finally {
      await b.close();
    }
  });

  test("the worker checkpoints on its clock", async () => {
    const b = SqliteBackend.open({ path, timeoutMs: 1000, checkpointMs: 20 }, log);
    try {
      await b.leases.upsert([lease(1), lease(2)]);
      // wait for a checkpoint that found frames to copy
      await new Promise<void>((resolve) => {
        b.checkpoint!.onCheckpoint = (r) => {
          if (r.checkpointed > 0) resolve();
        };
      });
      expect(rowsInFileAlone()).toBe(2);
    } finally {
      await b.close();
    }
  });

  test("a worker that cannot open the file says so once (WARN); the backstop stays", async () => {
    const sink = memorySink();
    const warnLog = createLogger({ level: "info", format: "text", out: sink, err: sink });
    const c = BackgroundCheckpoint.start(join(dir, "no-such-dir", "x.sqlite"), 20, 100, warnLog);
    try {
      for (let i = 0; i < 100 && !sink.text().includes("SQLite checkpoint failed"); i++) await Bun.sleep(20);
      c.now();
      await Bun.sleep(60);
      const lines = sink.lines().filter((l) => l.includes("SQLite checkpoint failed"));
      expect(lines.length).toBe(1);
      expect(lines[0]).toContain("WARN");
      expect(lines[0]).toContain(`backstopPages=${BACKSTOP_PAGES}`);
    } finally {
      await c.stop();
    }
  });

  test("opened without it (the CLI): SQLite's own checkpoints, no worker", async () => {
    const b = SqliteBackend.open({ path, timeoutMs: 1000 }, log);
    try {
      expect(b.checkpoint).toBeNull();
      expect(pragma(b, "wal_autocheckpoint")).toBe(1000);
    } finally {
      await b.close();
    }
  });
});

describe("lease sync reads only what someone else can have changed", () => {
  test("own writes are not read back; another connection's and a release here are", async () => {
    const a = SqliteBackend.open({ path, timeoutMs: 1000, leaseWriter: "server-a" }, log);
    const other = SqliteBackend.open({ path, timeoutMs: 1000, leaseWriter: "server-b" }, log);
    try {
      await a.leases.upsert([lease(1), lease(2)]);
      // the first sync after start reads, and finds only rows a wrote itself (left out)
      expect(await a.leases.changedSince(0)).toEqual([]);
      await a.leases.upsert([lease(3)]);
      expect(await a.leases.changedSince(0)).toEqual([]);
      // another server (or `pydhcp lease release`) on the same file: its row, not a's
      await other.leases.upsert([lease(4)]);
      expect((await a.leases.changedSince(0)).map((l) => l.mac)).toEqual([lease(4).mac]);
      expect(await a.leases.changedSince(0)).toEqual([]);
      // a release through this connection (the HTTP API) is read too
      await a.leases.release({ mac: lease(2).mac }, now + 1);
      const after = await a.leases.changedSince(now + 1);
      expect(after.map((l) => [l.mac, l.state])).toEqual([[lease(2).mac, "released"]]);
    } finally {
      await a.close();
      await other.close();
    }
  });
});
