/**
 * The lease memory as a cache of pydhcp_lease (SQLite file, two memories on
 * it standing for two servers): a row deleted, released or changed in the
 * table stops refusing its address at the next check; rows another server
 * wrote come back with sync; a reload (resync) keeps no lease the table has
 * dropped; what this server has not written yet and OFFER holds stand.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import type { Lease } from "../../src/db/backend.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";

const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
let dir: string;
let path: string;
let a: SqliteBackend;
let b: SqliteBackend;
const now = Math.floor(Date.now() / 1000);

const lease = (mac: string, ip: string, over: Partial<Lease> = {}): Lease => ({
  clientKey: mac, mac, ip, option82: "", expires: now + 3600, state: "bound", answer: "{}", updated: now, relay: "", hostname: "", ...over,
});

function sql(text: string, ...params: (string | number)[]) {
  const db = new Database(path);
  try {
    db.query(text).run(...params);
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), `pydhcp-lease-cache-${process.pid}-`));
  path = join(dir, "leases.sqlite");
  a = SqliteBackend.open({ path, timeoutMs: 1000 }, log);
  b = SqliteBackend.open({ path, timeoutMs: 1000 }, log);
});
afterEach(async () => {
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("refusals are checked against the table", () => {
  test("a row deleted by hand frees the address for the next check", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    expect(m.holder("198.18.0.10", now)?.mac).toBe("020000000001");
    sql("DELETE FROM pydhcp_lease WHERE ip = ?", "198.18.0.10");
    expect(await m.holderChecked("198.18.0.10", now, "0200000000ff")).toBeUndefined();
    expect(m.get("020000000001")).toBeUndefined();
  });

  test("a lease released through the store (pydhcp lease release) frees it", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    const ended = await b.leases.release({ ip: "198.18.0.10" }, now);
    expect(ended.map((l) => l.mac)).toEqual(["020000000001"]);
    expect(await m.holderChecked("198.18.0.10", now, "0200000000ff")).toBeUndefined();
    expect(m.get("020000000001")?.state).toBe("released");
  });

  test("an expiry moved into the past in the table frees it", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    sql("UPDATE pydhcp_lease SET expires = ?, updated = ? WHERE ip = ?", now - 1, now + 1, "198.18.0.10");
    expect(await m.holderChecked("198.18.0.10", now, "0200000000ff")).toBeUndefined();
  });

  test("the client asking about its own lease (every renewal) costs no query", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    const r = m.holderChecked("198.18.0.10", now, "020000000001");
    expect(r instanceof Promise).toBe(false);
    expect((r as Lease | undefined)?.mac).toBe("020000000001");
    expect(m.holderChecked("198.18.0.99", now, "020000000001")).toBeUndefined();
  });

  test("a lease still held in the table keeps refusing", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    expect((await m.holderChecked("198.18.0.10", now, "0200000000ff"))?.mac).toBe("020000000001");
  });

  test("a lease not yet written, and an OFFER hold, stand without a row", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    m.hold(lease("020000000002", "198.18.0.11", { state: "offered" }));
    expect((await m.holderChecked("198.18.0.10", now, "0200000000ff"))?.mac).toBe("020000000001");
    expect((await m.holderChecked("198.18.0.11", now, "0200000000ff"))?.mac).toBe("020000000002");
  });

  test("the table naming another client on the address: that client holds it", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    // another server moved client 1 elsewhere and gave .10 to client 2
    await b.leases.upsert([lease("020000000001", "198.18.0.20", { updated: now + 1 }), lease("020000000002", "198.18.0.10", { updated: now + 1 })]);
    expect((await m.holderChecked("198.18.0.10", now, "0200000000ff"))?.mac).toBe("020000000002");
    expect(m.get("020000000001")?.ip).toBe("198.18.0.20");
  });

  test("database away: memory decides", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    await a.close();
    expect((await m.holderChecked("198.18.0.10", now, "0200000000ff"))?.mac).toBe("020000000001");
    a = SqliteBackend.open({ path, timeoutMs: 1000 }, log);
  });
});

describe("sync and resync", () => {
  test("sync brings another server's grants and releases", async () => {
    const ma = new LeaseMemory(a.leases, log);
    const mb = new LeaseMemory(b.leases, log);
    await ma.warm(now);
    mb.set(lease("020000000002", "198.18.0.12", { hostname: "Сергей-ПК", relay: "198.18.1.1" }));
    await mb.flush();
    expect(ma.get("020000000002")).toBeUndefined();
    expect(await ma.sync(now)).toBe(1);
    expect(ma.get("020000000002")).toMatchObject({ ip: "198.18.0.12", hostname: "Сергей-ПК", relay: "198.18.1.1" });
    expect(ma.holder("198.18.0.12", now)?.mac).toBe("020000000002");
    await b.leases.release({ mac: "020000000002" }, now + 1);
    await ma.sync(now + 1);
    expect(ma.holder("198.18.0.12", now + 1)).toBeUndefined();
  });

  test("sync never overwrites a lease this server has not written yet", async () => {
    const m = new LeaseMemory(a.leases, log);
    await m.warm(now);
    m.set(lease("020000000001", "198.18.0.10", { updated: now + 5 }));
    await b.leases.upsert([lease("020000000001", "198.18.0.99")]);
    await m.sync(now);
    expect(m.get("020000000001")?.ip).toBe("198.18.0.10");
  });

  test("an ended lease read back does not hide the client holding the address now", async () => {
    const m = new LeaseMemory(a.leases, log);
    await m.warm(now);
    m.set(lease("020000000002", "198.18.0.10"));
    await m.flush();
    await b.leases.upsert([lease("020000000001", "198.18.0.10", { state: "released", expires: now, updated: now + 1 })]);
    await m.sync(now + 1);
    expect(m.holder("198.18.0.10", now + 1)?.mac).toBe("020000000002");
  });

  test("resync (SIGHUP) drops leases whose rows were deleted; keeps unwritten ones and OFFER holds", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    m.set(lease("020000000003", "198.18.0.13"));
    m.hold(lease("020000000004", "198.18.0.14", { state: "offered" }));
    sql("DELETE FROM pydhcp_lease");
    const r = await m.resync(now);
    expect(r.dropped).toBe(1);
    expect(m.get("020000000001")).toBeUndefined();
    expect(m.get("020000000003")?.ip).toBe("198.18.0.13");
    expect(m.get("020000000004")?.state).toBe("offered");
  });
});

describe("store listing", () => {
  test("list filters by mac, ip, relay and expiry with bound values; SQL in a value is just a value", async () => {
    await a.leases.upsert([
      lease("020000000001", "198.18.0.10", { relay: "198.18.1.1" }),
      lease("020000000002", "198.18.0.11", { expires: now - 10 }),
      lease("020000000003", "198.18.0.12", { state: "released" }),
    ]);
    const macs = async (f: Parameters<typeof a.leases.list>[0]) => (await a.leases.list(f, now, 100)).map((l) => l.mac).sort();
    expect(await macs({})).toEqual(["020000000001", "020000000002", "020000000003"]);
    expect(await macs({ mac: "020000000002" })).toEqual(["020000000002"]);
    expect(await macs({ ip: "198.18.0.10" })).toEqual(["020000000001"]);
    expect(await macs({ relayIp: "198.18.1.1" })).toEqual(["020000000001"]);
    expect(await macs({ expired: true })).toEqual(["020000000002", "020000000003"]);
    expect(await macs({ expired: false })).toEqual(["020000000001"]);
    expect(await macs({ mac: "' OR 1=1 --" })).toEqual([]);
    expect(await macs({ option82Contains: "001e589eb2ad" })).toEqual([]);
    expect((await a.leases.list({}, now, 2)).length).toBe(2);
  });

  test("an older table gains the relay and hostname columns at open", async () => {
    const old = join(dir, "old.sqlite");
    const db = new Database(old, { create: true });
    db.exec(`CREATE TABLE pydhcp_lease (client_key TEXT PRIMARY KEY, mac TEXT NOT NULL, ip TEXT NOT NULL, option82 TEXT NOT NULL DEFAULT '',
      expires INTEGER NOT NULL, state TEXT NOT NULL, answer TEXT NOT NULL, updated INTEGER NOT NULL)`);
    db.query("INSERT INTO pydhcp_lease VALUES ('k', '020000000009', '198.18.0.9', '', ?, 'bound', '{}', ?)").run(now + 60, now);
    db.close();
    const o = SqliteBackend.open({ path: old, timeoutMs: 1000 }, log);
    try {
      expect(await o.leases.get("k")).toMatchObject({ ip: "198.18.0.9", relay: "", hostname: "" });
      await o.leases.upsert([lease("k", "198.18.0.9", { hostname: "pc" })]);
      expect((await o.leases.get("k"))?.hostname).toBe("pc");
    } finally {
      await o.close();
    }
  });
});
