/**
 * The pool allocator against real databases (SQLite file, MariaDB): what the
 * table holds after each step, affinity, renew, release, decline probation,
 * expiry, exhaustion, and two allocators (two servers) racing on one database.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import type { Pool } from "mysql2/promise";
import { parseSpan } from "../../src/config/pools.ts";
import type { PoolConfig, PoolsConfig } from "../../src/config/types.ts";
import type { Backend } from "../../src/db/backend.ts";
import { MysqlBackend } from "../../src/db/mysql.ts";
import { PostgresqlBackend } from "../../src/db/postgresql.ts";
import { PG_SOCKET_DIR, closeAdmin, createTempPgDb, type TempPgDb } from "./postgresql.ts";
import { PoolStore } from "../../src/db/pool-store.ts";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import { PoolAllocator, poolProblems, poolRow, type PoolClient } from "../../src/server/pools.ts";
import { createTempDb, memoryLog, rootPool, SOCKET, type TempDb } from "./mariadb.ts";

function pool(name: string, range: string, exclude: string[] = []): PoolConfig {
  const span = parseSpan(range) as [number, number];
  return {
    name, path: `config/pools/pool[${name}]`, ranges: [span], exclude: exclude.map((e) => parseSpan(e) as [number, number]),
    mask: "255.255.255.0", router: "198.18.64.1", dns: ["198.18.0.53"], leaseTime: 600, options: [],
  };
}

function pools(...p: PoolConfig[]): PoolsConfig {
  return { pools: p, offerHoldSeconds: 30, declineProbationSeconds: 3600, cacheThresholdPercent: 25 };
}

const client = (n: number, requested: string | null = null): PoolClient => ({
  clientKey: `02000000${n.toString(16).padStart(4, "0")}`,
  mac: `02000000${n.toString(16).padStart(4, "0")}`,
  requested,
});

/** Clients 0..n-1 each offered an address of pool guest and bound to it at `now`; their addresses in order. */
async function bindClients(a: PoolAllocator, n: number, now: number): Promise<string[]> {
  const ips: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = await a.offer("guest", client(i), now);
    if (!o.ok) throw new Error("no offer");
    expect((await a.commit("guest", o.ip, client(i), 600, now)).ok).toBe(true);
    ips.push(o.ip);
  }
  return ips;
}

interface Kind {
  name: string;
  open(): Promise<Backend>;
  /** another connection (pool) to the database `open` made last: a second server */
  reopen(): Promise<Backend>;
  cleanup(): Promise<void>;
}

let dir: string;
let root: Pool | null = null;
const temps: TempDb[] = [];
const pgTemps: TempPgDb[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pdc-pools-"));
});
afterAll(async () => {
  for (const t of temps) await t.drop().catch(() => {});
  for (const t of pgTemps) await t.drop().catch(() => {});
  if (pgTemps.length) await closeAdmin();
  await root?.end();
  rmSync(dir, { recursive: true, force: true });
  // a drop per database made above: seconds on a loaded machine
}, 60_000);

let n = 0;
const KINDS: Kind[] = [
  {
    name: "sqlite",
    open: async () => SqliteBackend.open({ path: join(dir, `p${++n}.sqlite`), timeoutMs: 2000 }, memoryLog()),
    reopen: async () => SqliteBackend.open({ path: join(dir, `p${n}.sqlite`), timeoutMs: 2000 }, memoryLog()),
    cleanup: async () => {},
  },
  {
    name: "mariadb",
    open: async () => {
      root ??= await rootPool();
      const t = await createTempDb(root, "pdpl");
      temps.push(t);
      return KINDS[1]!.reopen();
    },
    reopen: async () => {
      const t = temps.at(-1)!;
      return MysqlBackend.open(
        { host: "localhost", port: 3306, socket: SOCKET, user: t.user, password: t.password, database: t.database, poolSize: 4, lookupBatch: 1, timeoutMs: 5000 },
        memoryLog(),
      );
    },
    cleanup: async () => {},
  },
  {
    name: "postgresql",
    open: async () => {
      const t = await createTempPgDb("pdpl");
      pgTemps.push(t);
      return KINDS[2]!.reopen();
    },
    reopen: async () => {
      const t = pgTemps.at(-1)!;
      return PostgresqlBackend.open(
        { host: "127.0.0.1", port: 5432, socket: PG_SOCKET_DIR, user: t.user, password: t.password, database: t.database, poolSize: 4, lookupBatch: 1, timeoutMs: 5000 },
        memoryLog(),
      );
    },
    cleanup: async () => {},
  },
];

/**
 * The backend, with the names of the pool statements it runs written down
 * (grouped: an `IN (...)` list or several VALUES rows); `before` runs ahead
 * of each statement (another server writing at that moment).
 */
function counting(b: Backend, seen: string[], before?: (name: string, grouped: boolean, params: readonly (string | number | null)[]) => Promise<void>): Backend {
  return new Proxy(b, {
    get(t, k) {
      if (k === "internal") {
        return async (name: string, sql: string, params: readonly (string | number | null)[]) => {
          const grouped = / IN \(|\), \(/.test(sql);
          seen.push(`${name}${grouped ? " (grouped)" : ""}`);
          if (before) await before(name, grouped, params);
          return t.internal(name, sql, params);
        };
      }
      const v = Reflect.get(t, k);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

async function rows(b: Backend) {
  return (
    await b.internal("t", "SELECT pool, ip, client_key, state, expires FROM pydhcp_pool_lease ORDER BY ipnum", [])
  ).rows as { pool: string; ip: string; client_key: string | null; state: string; expires: number | string }[];
}

for (const kind of KINDS) {
  describe(`pool allocator on ${kind.name}`, () => {
    const open = async (cfg: PoolsConfig, serverId = "198.18.0.1", b?: Backend) => {
      const backend = b ?? (await kind.open());
      const log = memoryLog();
      const gauges = new Map<string, [number, number]>();
      const a = new PoolAllocator(cfg, await PoolStore.open(backend), { serverId }, log, { set: (p, size, free) => gauges.set(p, [size, free]), conflict: () => {} });
      return { backend, a, log, gauges };
    };
    const NOW = 1_900_000_000;

    test("50 clients get 50 distinct addresses from the range; each is one row offered to its client", async () => {
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.250", ["198.18.64.100"])));
      const got = await Promise.all(Array.from({ length: 50 }, (_, i) => a.offer("guest", client(i), NOW)));
      const ips = got.map((g) => (g.ok ? g.ip : "none"));
      expect(new Set(ips).size).toBe(50);
      for (const ip of ips) {
        const last = Number(ip.split(".")[3]);
        expect(ip.startsWith("198.18.64.")).toBe(true);
        expect(last >= 10 && last <= 250 && last !== 100).toBe(true);
      }
      const r = await rows(backend);
      expect(r.length).toBe(50);
      expect(r.every((x) => x.state === "offered" && Number(x.expires) === NOW + 30)).toBe(true);
      await backend.close();
    });

    test("lease reuse: a bound lease read by the DISCOVER is reusable with its time left while under <cacheThreshold> percent is used; 0 turns it off", async () => {
      const cfg = pools(pool("guest", "198.18.64.10-198.18.64.20"));
      const { backend, a } = await open(cfg);
      // 600 s lease, 25%: reusable while at least 450 s are left
      expect(a.reusable("guest", NOW + 600, 600, NOW)).toBe(600);
      expect(a.reusable("guest", NOW + 600, 600, NOW + 150)).toBe(450);
      expect(a.reusable("guest", NOW + 600, 600, NOW + 151)).toBeNull();
      // expired, or longer than the lease time the answer now gives (config shortened it): written anew
      expect(a.reusable("guest", NOW, 600, NOW)).toBeNull();
      expect(a.reusable("guest", NOW + 900, 600, NOW)).toBeNull();
      const off = await open({ ...pools(pool("guest", "198.18.64.10-198.18.64.20")), cacheThresholdPercent: 0 });
      expect(off.a.reusable("guest", NOW + 600, 600, NOW)).toBeNull();
      await backend.close();
      await off.backend.close();
    });

    test("commit binds; a second DISCOVER and a renewal keep the address; RELEASE frees it but the client gets it back (affinity)", async () => {
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.20")));
      const o = await a.offer("guest", client(1), NOW);
      if (!o.ok) throw new Error("no offer");
      expect(await a.commit("guest", o.ip, client(1), 600, NOW)).toEqual({ ok: true, how: "renewed" });
      expect((await rows(backend))[0]).toMatchObject({ ip: o.ip, state: "bound", expires: expect.anything() });
      expect(await a.offer("guest", client(1), NOW + 10)).toEqual({ ok: true, ip: o.ip, how: "bound", expires: NOW + 600 });
      expect(await a.commit("guest", o.ip, client(1), 600, NOW + 300)).toEqual({ ok: true, how: "renewed" });
      expect(Number((await rows(backend))[0]!.expires)).toBe(NOW + 900);
      expect(await a.release(client(1), o.ip, NOW + 400)).toBe(true);
      expect((await rows(backend))[0]).toMatchObject({ state: "released" });
      // someone else arrives; the released address is not the first choice while never-used ones remain
      const other = await a.offer("guest", client(2), NOW + 401);
      expect(other.ok && other.ip).not.toBe(o.ip);
      expect(await a.offer("guest", client(1), NOW + 402)).toEqual({ ok: true, ip: o.ip, how: "affinity" });
      await backend.close();
    });

    test("another client cannot commit a held address; a client holding one address cannot commit a second", async () => {
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.20")));
      const o = await a.offer("guest", client(1), NOW);
      if (!o.ok) throw new Error("no offer");
      const c2 = await a.commit("guest", o.ip, client(2), 600, NOW);
      expect(c2.ok).toBe(false);
      expect(await a.commit("guest", "198.18.64.19", client(1), 600, NOW)).toMatchObject({ ok: false });
      expect(await a.commit("guest", "198.18.64.30", client(3), 600, NOW)).toMatchObject({ ok: false, why: "198.18.64.30 is not an address of pool guest" });
      // INIT-REBOOT with no row (the table was lost): a free address becomes the client's
      expect(await a.commit("guest", "198.18.64.15", client(4), 600, NOW)).toEqual({ ok: true, how: "new" });
      await backend.close();
    });

    test("the requested address (option 50) is offered when free", async () => {
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.20")));
      expect(await a.offer("guest", client(1, "198.18.64.17"), NOW)).toEqual({ ok: true, ip: "198.18.64.17", how: "requested" });
      const o = await a.offer("guest", client(2, "198.18.64.17"), NOW);
      expect(o.ok && o.ip).not.toBe("198.18.64.17");
      await backend.close();
    });

    test("exhaustion: no offer, gauge 0, one WARN a minute; an expired lease is reclaimed (oldest first)", async () => {
      const { backend, a, log, gauges } = await open(pools(pool("tiny", "198.18.64.10-198.18.64.12")));
      const ips: string[] = [];
      for (let i = 0; i < 3; i++) {
        const o = await a.offer("tiny", client(i), NOW);
        if (!o.ok) throw new Error("no offer");
        expect((await a.commit("tiny", o.ip, client(i), 100 + i * 1000, NOW)).ok).toBe(true);
        ips.push(o.ip);
      }
      expect(await a.offer("tiny", client(9), NOW + 1)).toEqual({ ok: false, why: "exhausted" });
      expect(await a.offer("tiny", client(9), NOW + 2)).toEqual({ ok: false, why: "exhausted" });
      expect(gauges.get("tiny")).toEqual([3, 0]);
      expect(log.lines.filter((l) => l.level === "warn" && /exhausted/.test(l.msg)).length).toBe(1);
      // client 0's lease (100 s) expires first
      expect(await a.offer("tiny", client(9), NOW + 101)).toEqual({ ok: true, ip: ips[0]!, how: "reclaimed" });
      // the old holder is no longer the address's client: it cannot renew it
      expect((await a.commit("tiny", ips[0]!, client(0), 600, NOW + 102)).ok).toBe(false);
      await a.recount(NOW + 102);
      expect(gauges.get("tiny")).toEqual([3, 0]);
      await backend.close();
    });

    test("DECLINE rests the address for the probation, then it is reclaimed; the decliner gets another", async () => {
      const { backend, a } = await open(pools(pool("tiny", "198.18.64.10-198.18.64.11")));
      const o = await a.offer("tiny", client(1), NOW);
      if (!o.ok) throw new Error("no offer");
      await a.commit("tiny", o.ip, client(1), 600, NOW);
      expect(await a.decline(client(1), o.ip, NOW + 1)).toBe(true);
      expect((await rows(backend)).find((r) => r.ip === o.ip)).toMatchObject({ state: "declined", client_key: null, expires: expect.anything() });
      const again = await a.offer("tiny", client(1), NOW + 2);
      if (!again.ok) throw new Error("no second offer");
      expect(again.ip).not.toBe(o.ip);
      expect((await a.commit("tiny", again.ip, client(1), 86400, NOW + 2)).ok).toBe(true);
      expect(await a.offer("tiny", client(2), NOW + 3)).toEqual({ ok: false, why: "exhausted" });
      // 3600 s later the probation is over
      expect(await a.offer("tiny", client(2), NOW + 3602)).toEqual({ ok: true, ip: o.ip, how: "reclaimed" });
      await backend.close();
    });

    test("read-only (--explain) picks the address it would offer and writes nothing, not even the table", async () => {
      const backend = await kind.open();
      const cfg = pools(pool("guest", "198.18.64.10-198.18.64.20"));
      const fresh = new PoolAllocator(cfg, await PoolStore.open(backend, { readOnly: true }), { serverId: "198.18.0.1", readOnly: true }, memoryLog(), null);
      expect(await fresh.offer("guest", client(1), NOW)).toMatchObject({ ok: true, how: "free" });
      await expect(rows(backend)).rejects.toThrow();
      // with the table and a lease in it: the client's own address, still nothing written
      const rw = new PoolAllocator(cfg, await PoolStore.open(backend), { serverId: "198.18.0.1" }, memoryLog(), null);
      const granted = await rw.offer("guest", client(1), NOW);
      const before = await rows(backend);
      const ro = new PoolAllocator(cfg, await PoolStore.open(backend, { readOnly: true }), { serverId: "198.18.0.1", readOnly: true }, memoryLog(), null);
      expect(await ro.offer("guest", client(1), NOW + 1)).toEqual(granted.ok ? { ok: true, ip: granted.ip, how: "affinity" } : granted);
      const other = await ro.offer("guest", client(2), NOW + 1);
      expect(other.ok && other.ip).not.toBe(granted.ok && granted.ip);
      expect(await rows(backend)).toEqual(before);
      await backend.close();
    });

    test("two servers on one database, 120 clients each DISCOVERing to both at once: every address held once, every client served", async () => {
      const backend1 = await kind.open();
      const cfg = pools(pool("guest", "198.18.64.10-198.18.64.250"));
      const s1 = await open(cfg, "198.18.0.1", backend1);
      // the second server: its own connection (pool) to the same database
      const backend2 = await kind.reopen();
      const s2 = await open(cfg, "198.18.0.2", backend2);
      const acks = new Map<number, string>();
      await Promise.all(
        Array.from({ length: 120 }, async (_, i) => {
          const [o1, o2] = await Promise.all([s1.a.offer("guest", client(i), NOW), s2.a.offer("guest", client(i), NOW)]);
          // the client takes the first offer, the REQUEST goes to that server
          const [srv, o] = o1.ok ? [s1.a, o1] : [s2.a, o2];
          if (!o.ok) throw new Error(`client ${i}: no offer`);
          const c = await srv.commit("guest", o.ip, client(i), 600, NOW);
          if (c.ok) acks.set(i, o.ip);
        }),
      );
      expect(acks.size).toBe(120);
      expect(new Set(acks.values()).size).toBe(120);
      const r = await rows(backend1);
      const bound = r.filter((x) => x.state === "bound");
      expect(bound.length).toBe(120);
      expect(new Set(bound.map((x) => x.ip)).size).toBe(120);
      for (const [i, ip] of acks) expect(bound.find((x) => x.client_key === client(i).clientKey)?.ip).toBe(ip);
      // rebinding: every client's REQUEST reaches both servers at once (renewals grouped on each),
      // and ten clients ask for a neighbour's address in the same turns: those are refused
      const again = await Promise.all(
        Array.from({ length: 120 }, async (_, i) => {
          const ip = acks.get(i)!;
          const [c1, c2] = await Promise.all([s1.a.commit("guest", ip, client(i), 600, NOW + 100), s2.a.commit("guest", ip, client(i), 600, NOW + 100)]);
          const thief = i < 10 ? await Promise.all([s1.a.commit("guest", acks.get(i + 1)!, client(1000 + i), 600, NOW + 100), s2.a.commit("guest", ip, client(2000 + i), 600, NOW + 100)]) : [];
          return { c1, c2, thief };
        }),
      );
      for (const g of again) {
        expect(g.c1).toEqual({ ok: true, how: "renewed" });
        expect(g.c2).toEqual({ ok: true, how: "renewed" });
        for (const t of g.thief) expect(t.ok).toBe(false);
      }
      const after = await rows(backend1);
      expect(after.length).toBe(120);
      expect(new Set(after.map((x) => x.ip)).size).toBe(120);
      for (const [i, ip] of acks) expect(after.find((x) => x.client_key === client(i).clientKey)).toMatchObject({ ip, state: "bound" });
      expect(after.every((x) => Number(x.expires) === NOW + 700)).toBe(true);
      await backend1.close();
      await backend2.close();
    });

    test("renewals of one turn share one UPDATE; one whose address another client holds by now is refused, the others renewed", async () => {
      const plain = await kind.open();
      const seen: string[] = [];
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.250")), "198.18.0.1", counting(plain, seen));
      const ips = await bindClients(a, 20, NOW);
      // all twenty renew in one turn: one statement
      seen.length = 0;
      const ok = await Promise.all(ips.map((ip, i) => a.commit("guest", ip, client(i), 600, NOW + 100)));
      expect(ok.every((c) => c.ok && c.how === "renewed")).toBe(true);
      expect(seen).toEqual(["pydhcp_pool_lease renew (grouped)"]);
      expect((await rows(backend)).every((x) => Number(x.expires) === NOW + 700)).toBe(true);
      // client 0's address went to another client meanwhile (its lease ran out, another server reclaimed it)
      await backend.internal("t", "UPDATE pydhcp_pool_lease SET client_key = ?, mac = ? WHERE ip = ?", ["0200000f0000", "0200000f0000", ips[0]!]);
      seen.length = 0;
      const mixed = await Promise.all(ips.map((ip, i) => a.commit("guest", ip, client(i), 600, NOW + 200)));
      expect(mixed[0]).toMatchObject({ ok: false });
      for (const c of mixed.slice(1)) expect(c).toEqual({ ok: true, how: "renewed" });
      // the grouped statement, then each on its own (the loser also looks at the row and its own)
      expect(seen[0]).toBe("pydhcp_pool_lease renew (grouped)");
      expect(seen.filter((x) => x === "pydhcp_pool_lease renew").length).toBe(20);
      const r = await rows(backend);
      expect(r.find((x) => x.ip === ips[0])?.client_key).toBe("0200000f0000");
      expect(Number(r.find((x) => x.ip === ips[0])!.expires)).toBe(NOW + 700);
      for (let i = 1; i < 20; i++) expect(Number(r.find((x) => x.ip === ips[i])!.expires)).toBe(NOW + 800);
      await plain.close();
    });

    test("DISCOVERs of one turn from new clients share one INSERT; an address and a client another server took meanwhile are each lost alone", async () => {
      const plain = await kind.open();
      const seen: string[] = [];
      // the other server writes between this server's reads and its grouped insert: a row at the
      // third member's address, and a row for the fifth member's client at an address nobody asked for
      let raced = false;
      const thief = client(900).clientKey;
      let stolenIp = -1;
      let movedClient = "";
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.250")), "198.18.0.1", counting(plain, seen, async (name, grouped, params) => {
        if (name !== "pydhcp_pool_lease insert" || !grouped || raced) return;
        raced = true;
        stolenIp = Number(params[2 * 9 + 1]);
        movedClient = String(params[4 * 9 + 3]);
        const ins = "INSERT INTO pydhcp_pool_lease (pool, ipnum, ip, client_key, mac, state, expires, updated, server) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
        const ip = (x: number) => `198.18.64.${x & 255}`;
        await plain.internal("t", ins, ["guest", stolenIp, ip(stolenIp), thief, thief, "offered", NOW + 30, NOW, "198.18.0.2"]);
        const far = (198 * 2 ** 24 + 18 * 2 ** 16 + 64 * 256) + 250;
        await plain.internal("t", ins, ["guest", far, ip(far), movedClient, movedClient, "offered", NOW + 30, NOW, "198.18.0.2"]);
      }));
      // the first client alone: the window is read, one single insert
      expect(await a.offer("guest", client(0), NOW)).toMatchObject({ ok: true, how: "free" });
      expect(seen.filter((x) => x.startsWith("pydhcp_pool_lease insert"))).toEqual(["pydhcp_pool_lease insert"]);
      seen.length = 0;
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => a.offer("guest", client(i + 1), NOW)));
      expect(raced).toBe(true);
      // one read of the ten clients' rows (SQLite: ten), one insert of ten rows, the read-back of its rows;
      // then the two losers on their own (a single insert, a read of the client's own row and its re-offer)
      expect(seen.filter((x) => x.startsWith("pydhcp_pool_lease mine"))[0]).toBe(kind.name === "sqlite" ? "pydhcp_pool_lease mine" : "pydhcp_pool_lease mine (grouped)");
      expect(seen.filter((x) => x.startsWith("pydhcp_pool_lease insert"))).toEqual(["pydhcp_pool_lease insert (grouped)", "pydhcp_pool_lease insert check (grouped)", "pydhcp_pool_lease insert"]);
      expect(got.every((g) => g.ok)).toBe(true);
      const ips = got.map((g) => (g.ok ? g.ip : ""));
      const stolen = `198.18.64.${stolenIp & 255}`;
      expect(ips).not.toContain(stolen);
      // the client another server gave an address gets that one (its own row, re-offered)
      const moved = Array.from({ length: 10 }, (_, i) => client(i + 1).clientKey).indexOf(movedClient);
      expect(got[moved]).toEqual({ ok: true, ip: "198.18.64.250", how: "affinity" });
      got.forEach((g, i) => i !== moved && expect(g).toMatchObject({ ok: true, how: "free" }));
      const r = await rows(backend);
      expect(r.length).toBe(12);
      expect(new Set(r.map((x) => x.ip)).size).toBe(12);
      expect(new Set(r.map((x) => x.client_key)).size).toBe(12);
      expect(r.find((x) => x.ip === stolen)?.client_key).toBe(thief);
      for (let i = 0; i < 10; i++) expect(r.find((x) => x.client_key === client(i + 1).clientKey)).toMatchObject({ ip: ips[i], state: "offered" });
      // and the REQUESTs commit them, the renewals grouped
      const c = await Promise.all(ips.map((ip, i) => a.commit("guest", ip, client(i + 1), 600, NOW + 1)));
      expect(c.every((x) => x.ok && x.how === "renewed")).toBe(true);
      expect((await rows(backend)).filter((x) => x.state === "bound").length).toBe(10);
      await plain.close();
    });

    test("a DISCOVER finding the client's fresh offer (the other server's, a retransmission) offers it without a write; a stale one is extended", async () => {
      const cfg = pools(pool("guest", "198.18.64.10-198.18.64.250"));
      const s1 = await open(cfg, "198.18.0.1");
      const seen: string[] = [];
      const s2 = await open(cfg, "198.18.0.2", counting(await kind.reopen(), seen));
      const o = await s1.a.offer("guest", client(1), NOW);
      if (!o.ok) throw new Error("no offer");
      // the other server's copy of the DISCOVER, and a retransmission 10 s later (hold 30 s: 20 left)
      expect(await s2.a.offer("guest", client(1), NOW)).toEqual({ ok: true, ip: o.ip, how: "affinity" });
      expect(await s2.a.offer("guest", client(1), NOW + 10)).toEqual({ ok: true, ip: o.ip, how: "affinity" });
      expect(seen.filter((x) => !x.startsWith("pydhcp_pool_lease mine") && x !== "pydhcp_pool_lease create" && x !== "pydhcp_pool_lease count")).toEqual([]);
      const row = (await s1.backend.internal("t", "SELECT server, state, expires FROM pydhcp_pool_lease WHERE ip = ?", [o.ip])).rows[0]!;
      expect(row).toMatchObject({ server: "198.18.0.1", state: "offered" });
      expect(Number(row.expires)).toBe(NOW + 30);
      // 20 s in, less than half the hold is left: the offer is written again, from this server
      expect(await s2.a.offer("guest", client(1), NOW + 20)).toEqual({ ok: true, ip: o.ip, how: "affinity" });
      const again = (await s1.backend.internal("t", "SELECT server, state, expires FROM pydhcp_pool_lease WHERE ip = ?", [o.ip])).rows[0]!;
      expect(again).toMatchObject({ server: "198.18.0.2", state: "offered" });
      expect(Number(again.expires)).toBe(NOW + 50);
      // the REQUEST to either server commits it
      expect(await s2.a.commit("guest", o.ip, client(1), 600, NOW + 21)).toEqual({ ok: true, how: "renewed" });
      await s1.backend.close();
      await s2.backend.close();
    });

    test("the gauges count the rows in use of the configured pools only, from the expiry index", async () => {
      const plain = await kind.open();
      const sqls: string[] = [];
      const watched = new Proxy(plain, {
        get(t, k) {
          if (k === "internal") {
            return (name: string, sql: string, params: readonly (string | number | null)[]) => {
              if (name === "pydhcp_pool_lease count") sqls.push(sql);
              return t.internal(name, sql, params);
            };
          }
          const v = Reflect.get(t, k);
          return typeof v === "function" ? v.bind(t) : v;
        },
      });
      const { a, gauges } = await open(pools(pool("guest", "198.18.64.10-198.18.64.20"), pool("staff", "198.18.65.10-198.18.65.20")), "198.18.0.1", watched);
      const ips = await bindClients(a, 4, NOW);
      const o = await a.offer("staff", client(50), NOW);
      expect(o.ok).toBe(true);
      // a pool the config no longer has, and a released (expired) row
      const ins = "INSERT INTO pydhcp_pool_lease (pool, ipnum, ip, client_key, mac, state, expires, updated, server) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
      await plain.internal("t", ins, ["old", 1, "0.0.0.1", "k", "m", "bound", NOW + 9999, NOW, "s"]);
      expect(await a.release(client(3), ips[3]!, NOW)).toBe(true);
      await a.recount(NOW);
      expect(gauges.get("guest")).toEqual([11, 8]);
      expect(gauges.get("staff")).toEqual([11, 10]);
      expect(sqls.length).toBeGreaterThan(0);
      if (kind.name === "mariadb") {
        const plan = (await plain.internal("t", `EXPLAIN ${sqls.at(-1)!}`, ["guest", "staff", NOW])).rows[0]!;
        expect(plan.key).toBe("pydhcp_pool_lease_expires");
      }
      await plain.close();
    });

    test("DISCOVERs of one turn from clients with bound leases: their rows are read together, each gets its own address", async () => {
      const plain = await kind.open();
      const seen: string[] = [];
      const { a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.250")), "198.18.0.1", counting(plain, seen));
      const ips = await bindClients(a, 20, NOW);
      seen.length = 0;
      const got = await Promise.all(ips.map((_, i) => a.offer("guest", client(i), NOW + 10)));
      got.forEach((g, i) => expect(g).toMatchObject({ ok: true, ip: ips[i]!, how: "bound" }));
      // SQLite runs in-process: its reads are not grouped
      expect(seen).toEqual(kind.name === "sqlite" ? Array(20).fill("pydhcp_pool_lease mine") : ["pydhcp_pool_lease mine (grouped)"]);
      await plain.close();
    });
  });
}

/** An allocator on a SQLite file with a 50 ms busy timeout, counting its write conflicts. */
async function busyAllocator(file: string) {
  const path = join(dir, file);
  const backend = SqliteBackend.open({ path, timeoutMs: 50 }, memoryLog());
  const counted = { conflicts: 0 };
  const a = new PoolAllocator(pools(pool("guest", "198.18.64.10-198.18.64.250")), await PoolStore.open(backend), { serverId: "198.18.0.1" }, memoryLog(), {
    set() {},
    conflict: () => void counted.conflicts++,
  });
  return { path, backend, a, counted };
}

test("sqlite: grouped renewals that meet a locked database are retried one by one until it is free; none is lost", async () => {
  const { path, backend, a, counted } = await busyAllocator("busy.sqlite");
  const NOW = 1_900_000_000;
  const ips: string[] = [];
  for (let i = 0; i < 5; i++) {
    const o = await a.offer("guest", client(i), NOW);
    if (!o.ok) throw new Error("no offer");
    expect((await a.commit("guest", o.ip, client(i), 600, NOW)).ok).toBe(true);
    ips.push(o.ip);
  }
  // another process holds the write lock for a while
  const other = new Database(path);
  other.exec("BEGIN IMMEDIATE");
  setTimeout(() => other.exec("COMMIT"), 120);
  const got = await Promise.all(ips.map((ip, i) => a.commit("guest", ip, client(i), 600, NOW + 100)));
  other.close();
  expect(got.every((c) => c.ok && c.how === "renewed")).toBe(true);
  expect(counted.conflicts).toBeGreaterThan(0);
  expect((await rows(backend)).every((x) => x.state === "bound" && Number(x.expires) === NOW + 700)).toBe(true);
  await backend.close();
});

test("sqlite: a grouped insert that meets a locked database is retried one by one until it is free; every client gets its own address", async () => {
  const { path, backend, a, counted } = await busyAllocator("busy-insert.sqlite");
  const NOW = 1_900_000_000;
  // the window is read before the lock
  expect(await a.offer("guest", client(0), NOW)).toMatchObject({ ok: true });
  const other = new Database(path);
  other.exec("BEGIN IMMEDIATE");
  setTimeout(() => other.exec("COMMIT"), 120);
  const got = await Promise.all(Array.from({ length: 8 }, (_, i) => a.offer("guest", client(i + 1), NOW)));
  other.close();
  expect(got.every((g) => g.ok && g.how === "free")).toBe(true);
  expect(counted.conflicts).toBeGreaterThan(0);
  const r = await rows(backend);
  expect(r.length).toBe(9);
  expect(new Set(r.map((x) => x.ip)).size).toBe(9);
  got.forEach((g, i) => expect(r.find((x) => x.client_key === client(i + 1).clientKey)?.ip).toBe(g.ok ? g.ip : ""));
  await backend.close();
});

test("a row's own columns override the pool's; the pool fills the rest", () => {
  const p = { ...pool("guest", "198.18.64.10-198.18.64.20"), options: [[42, "198.18.0.123"], [15, "pool.example"]] as [number, string][] };
  expect(poolRow(p, { pool: "guest", LEASE_TIME: "60", option_15: "row.example", dns: "" }, "198.18.64.11")).toEqual({
    option_42: "198.18.0.123",
    LEASE_TIME: "60",
    option_15: "row.example",
    ip: "198.18.64.11",
  });
});

test("a pool option its type cannot carry is a problem naming the pool (start and --check refuse it)", () => {
  const p = { ...pool("guest", "198.18.64.10-198.18.64.20"), options: [[3, "not-an-address"], [15, "fine.example"]] as [number, string][] };
  const problems = poolProblems([p, pool("ok", "198.18.65.10-198.18.65.20")]);
  expect(problems.length).toBe(1);
  expect(problems[0]).toStartWith("config/pools/pool[guest]: option_3: ");
});
