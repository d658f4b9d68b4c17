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
import type { Lease, LeaseStore } from "../../src/db/backend.ts";
import { LEASE_SLICE, leaseFrom, leasesFrom } from "../../src/db/lease-row.ts";
import { ADOPT_SLICE, LeaseMemory } from "../../src/server/leases.ts";
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
  // two servers: writer ids of their own, as two processes have
  a = SqliteBackend.open({ path, timeoutMs: 1000, leaseWriter: "server-a" }, log);
  b = SqliteBackend.open({ path, timeoutMs: 1000, leaseWriter: "server-b" }, log);
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

  test("fetch: a lease in memory is handed back as it is (a renewal does not wait); one only the table has, through a query", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000001", "198.18.0.10"));
    await m.flush();
    const mine = m.fetch("020000000001");
    expect(mine instanceof Promise).toBe(false);
    expect((mine as Lease).ip).toBe("198.18.0.10");
    // granted by the other server: memory has it not, the shared table does
    const other = new LeaseMemory(b.leases, log);
    other.set(lease("020000000002", "198.18.0.11"));
    await other.flush();
    const theirs = m.fetch("020000000002");
    expect(theirs).toBeInstanceOf(Promise);
    expect((await theirs)?.ip).toBe("198.18.0.11");
    expect(m.fetch("020000000002") instanceof Promise).toBe(false);
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
    a = SqliteBackend.open({ path, timeoutMs: 1000, leaseWriter: "server-a" }, log);
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

  test("a row read while this server's write of the client is in flight is not adopted; a later write by another server is", async () => {
    // a's writes wait for `open` (the write on its way to the database while the sync reads)
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slow = new Proxy(a.leases, {
      get(t, p) {
        if (p === "upsert") return async (ls: readonly Lease[]) => (await gate, t.upsert(ls));
        const v = Reflect.get(t, p);
        return typeof v === "function" ? v.bind(t) : v;
      },
    }) as LeaseStore;
    const m = new LeaseMemory(slow, log);
    await m.warm(now);
    // b writes the client first, a in the same second: a's row is the table's last word
    await b.leases.upsert([lease("020000000001", "198.18.0.20")]);
    m.set(lease("020000000001", "198.18.0.10"));
    const flushed = m.flush();
    expect(await m.sync(now)).toBe(0);
    open();
    await flushed;
    expect((await a.leases.get("020000000001"))?.ip).toBe("198.18.0.10");
    // a's own row does not come back: memory must already hold it
    expect(await m.sync(now)).toBe(0);
    expect(m.get("020000000001")?.ip).toBe("198.18.0.10");
    // b's next write is read as usual
    await b.leases.upsert([lease("020000000001", "198.18.0.30", { updated: now + 1 })]);
    expect(await m.sync(now + 1)).toBe(1);
    expect(m.get("020000000001")?.ip).toBe("198.18.0.30");
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

describe("large syncs leave the event loop to packets", () => {
  const many = (n: number, from = 0) => Array.from({ length: n }, (_, i) => lease("03" + (from + i).toString(16).padStart(10, "0"), `198.19.${(from + i) >> 8}.${(from + i) & 255}`));

  test("a sync of more rows than one slice adopts them all, with other work running between slices", async () => {
    const m = new LeaseMemory(a.leases, log);
    const rows = many(ADOPT_SLICE * 2 + 500);
    await b.leases.upsert(rows);
    let done = false;
    const during: boolean[] = [];
    const p = m.sync(now).then((n) => ((done = true), n));
    // a packet arriving meanwhile: handled before the sync has gone through every row
    setImmediate(() => during.push(done));
    expect(await p).toBe(rows.length);
    expect(during).toEqual([false]);
    expect(m.size).toBe(rows.length);
    expect(m.holder(rows.at(-1)!.ip, now)?.mac).toBe(rows.at(-1)!.mac);
  });

  test("the store writes and reads a large set a page at a time: every row, other work between pages", async () => {
    const rows = many(1000).map((l, i) => (i % 4 === 0 ? { ...l, expires: now - 5 } : l));
    let done = false;
    const during: boolean[] = [];
    const w = a.leases.upsert(rows).then(() => (done = true));
    setImmediate(() => during.push(done));
    await w;
    expect(during).toEqual([false]);
    const active = await a.leases.loadActive(now);
    expect(active.map((l) => l.clientKey)).toEqual(rows.filter((l) => l.expires >= now).map((l) => l.clientKey));
  });

  test("rows become leases a slice per turn (MySQL and PostgreSQL results): all of them, in order", async () => {
    const rows = many(LEASE_SLICE * 2 + 7).map((l) => ({ client_key: l.clientKey, mac: l.mac, ip: l.ip, option82: null, expires: String(l.expires), state: l.state, answer: l.answer, updated: l.updated, relay: null, hostname: null }));
    let done = false;
    const during: boolean[] = [];
    const p = leasesFrom(rows).then((ls) => ((done = true), ls));
    setImmediate(() => during.push(done));
    const out = await p;
    expect(during).toEqual([false]);
    expect(out).toEqual(rows.map(leaseFrom));
    expect(out.at(-1)).toMatchObject({ option82: "", relay: "", hostname: "", expires: now + 3600 });
  });

  test("resync in slices: rows deleted by hand are dropped; a lease set while it runs stands", async () => {
    const m = new LeaseMemory(a.leases, log);
    const rows = many(ADOPT_SLICE * 2);
    for (const r of rows) m.set(r);
    await m.flush();
    sql("DELETE FROM pydhcp_lease WHERE client_key = ?", rows[5]!.clientKey);
    const p = m.resync(now);
    // between slices a packet grants a lease; the table read before it cannot show it
    const late = lease("040000000001", "198.18.9.9");
    setImmediate(() => {
      m.set(late);
      void m.flush();
    });
    const r = await p;
    expect(r.dropped).toBe(1);
    expect(m.get(rows[5]!.clientKey)).toBeUndefined();
    expect(m.get(late.clientKey)?.ip).toBe("198.18.9.9");
    expect(m.size).toBe(rows.length);
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

  test("an older table gains the relay, hostname and writer columns and the (updated, writer) index at open", async () => {
    const old = join(dir, "old.sqlite");
    const db = new Database(old, { create: true });
    db.exec(`CREATE TABLE pydhcp_lease (client_key TEXT PRIMARY KEY, mac TEXT NOT NULL, ip TEXT NOT NULL, option82 TEXT NOT NULL DEFAULT '',
      expires INTEGER NOT NULL, state TEXT NOT NULL, answer TEXT NOT NULL, updated INTEGER NOT NULL)`);
    db.exec("CREATE INDEX pydhcp_lease_updated ON pydhcp_lease (updated)");
    db.query("INSERT INTO pydhcp_lease VALUES ('k', '020000000009', '198.18.0.9', '', ?, 'bound', '{}', ?)").run(now + 60, now);
    db.close();
    const o = SqliteBackend.open({ path: old, timeoutMs: 1000, leaseWriter: "server-o" }, log);
    try {
      expect(await o.leases.get("k")).toMatchObject({ ip: "198.18.0.9", relay: "", hostname: "" });
      // the row from before the writer column is read back by the sync
      expect((await o.leases.changedSince(now)).map((l) => l.clientKey)).toEqual(["k"]);
      await o.leases.upsert([lease("k", "198.18.0.9", { hostname: "pc" })]);
      expect((await o.leases.get("k"))?.hostname).toBe("pc");
    } finally {
      await o.close();
    }
    const check = new Database(old, { readonly: true });
    try {
      expect(check.query("SELECT writer FROM pydhcp_lease").all()).toEqual([{ writer: "server-o" }]);
      const idx = check.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pydhcp_lease' AND name LIKE 'pydhcp_lease_updated%'").all();
      expect(idx).toEqual([{ name: "pydhcp_lease_updated_writer" }]);
    } finally {
      check.close();
    }
  });

  test("a sync leaves out this server's own rows even when another connection has committed", async () => {
    await a.leases.upsert([lease("020000000001", "198.18.0.10")]);
    await b.leases.upsert([lease("020000000002", "198.18.0.11")]);
    expect((await a.leases.changedSince(now - 2)).map((l) => l.clientKey)).toEqual(["020000000002"]);
    expect((await b.leases.changedSince(now - 2)).map((l) => l.clientKey)).toEqual(["020000000001"]);
    await a.leases.release({ mac: "020000000001" }, now + 1);
    expect((await a.leases.changedSince(now + 1)).map((l) => [l.clientKey, l.state])).toEqual([["020000000001", "released"]]);
  });
});

describe("a renewal updates the lease memory holds", () => {
  test("written leases are updated in place; one waiting to be written keeps its version when an OFFER hold comes", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000031", "198.18.0.31", { hostname: "cpe" }));
    await m.flush();
    const first = m.get("020000000031")!;
    // a renewal: the same object, its expiry moved, equal text left as it was
    const host = first.hostname;
    m.set(lease("020000000031", "198.18.0.31", { hostname: "cp" + "e", expires: now + 7200, updated: now + 5 }));
    expect(m.get("020000000031")).toBe(first);
    expect(first.expires).toBe(now + 7200);
    expect(first.hostname).toBe(host);
    await m.flush();
    expect((await a.leases.get("020000000031"))?.expires).toBe(now + 7200);
    // a new address: still the same object, indexed under the new address only
    m.set(lease("020000000031", "198.18.0.32", { updated: now + 6 }));
    expect(m.get("020000000031")).toBe(first);
    expect(m.holder("198.18.0.31", now)).toBeUndefined();
    expect(m.holder("198.18.0.32", now)).toBe(first);
    // not yet written: an OFFER hold for another address must not change what will be written
    m.hold(lease("020000000031", "198.18.0.33", { state: "offered", updated: now + 7 }));
    expect(first.state).toBe("bound");
    expect(first.ip).toBe("198.18.0.32");
    expect(m.get("020000000031")?.state).toBe("offered");
    await m.flush();
    const row = await a.leases.get("020000000031");
    expect(row?.state).toBe("bound");
    expect(row?.ip).toBe("198.18.0.32");
  });

  test("a lease a snapshot has read is written to it as read: not updated in place until the snapshot is written", async () => {
    const m = new LeaseMemory(a.leases, log);
    m.set(lease("020000000041", "198.18.0.41"));
    await m.flush();
    const entries = await m.snapshotEntries(now);
    const read = entries.find((e) => e.lease.clientKey === "020000000041")!;
    expect(read.unwritten).toBe(false);
    // renewed while the snapshot is being written: the snapshot still holds the written version
    m.set(lease("020000000041", "198.18.0.41", { expires: now + 9000, updated: now + 9 }));
    expect(read.lease.expires).toBe(now + 3600);
    expect(m.get("020000000041")).not.toBe(read.lease);
    m.releaseSnapshot();
    await m.flush();
    const current = m.get("020000000041")!;
    m.set(lease("020000000041", "198.18.0.41", { expires: now + 9500, updated: now + 10 }));
    expect(m.get("020000000041")).toBe(current);
    expect(current.expires).toBe(now + 9500);
  });
});

test("leases from more relays than memory shares addresses for (4,096) keep their own relay and MAC, in memory and in the table", async () => {
  const m = new LeaseMemory(a.leases, log);
  const n = 5000;
  const mac = (i: number) => "02" + i.toString(16).padStart(10, "0");
  const relay = (i: number) => `198.18.${(i >> 8) & 255}.${i & 255}`;
  // each lease twice (an OFFER hold, then the bound lease), from relay i, and a second client behind every tenth relay
  for (let i = 0; i < n; i++) {
    m.hold(lease(mac(i), `198.19.${i >> 8}.${i & 255}`, { state: "offered", relay: relay(i) }));
    m.set(lease(mac(i), `198.19.${i >> 8}.${i & 255}`, { relay: relay(i) }));
    if (i % 10 === 0) m.set(lease(mac(n + i), `198.19.${(n + i) >> 8}.${(n + i) & 255}`, { relay: relay(i), clientKey: "id:ff" + mac(n + i) }));
  }
  await m.flush();
  for (let i = 0; i < n; i++) {
    expect(m.get(mac(i))).toMatchObject({ mac: mac(i), clientKey: mac(i), relay: relay(i) });
    if (i % 10 === 0) expect(m.get("id:ff" + mac(n + i))).toMatchObject({ mac: mac(n + i), relay: relay(i) });
  }
  const db = new Database(path);
  const rows = db.query("select mac, relay from pydhcp_lease").all() as { mac: string; relay: string }[];
  db.close();
  expect(rows.length).toBe(n + n / 10);
  const byMac = new Map(rows.map((r) => [r.mac, r.relay]));
  for (let i = 0; i < n; i++) expect(byMac.get(mac(i))).toBe(relay(i));
});
