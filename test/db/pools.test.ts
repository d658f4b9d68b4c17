/**
 * The pool allocator against real databases (SQLite file, MariaDB): what the
 * table holds after each step, affinity, renew, release, decline probation,
 * expiry, exhaustion, and two allocators (two servers) racing on one database.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  return { pools: p, offerHoldSeconds: 30, declineProbationSeconds: 3600 };
}

const client = (n: number, requested: string | null = null): PoolClient => ({
  clientKey: `02000000${n.toString(16).padStart(4, "0")}`,
  mac: `02000000${n.toString(16).padStart(4, "0")}`,
  requested,
});

interface Kind {
  name: string;
  open(): Promise<Backend>;
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
});

let n = 0;
const KINDS: Kind[] = [
  {
    name: "sqlite",
    open: async () => SqliteBackend.open({ path: join(dir, `p${++n}.sqlite`), timeoutMs: 2000 }, memoryLog()),
    cleanup: async () => {},
  },
  {
    name: "mariadb",
    open: async () => {
      root ??= await rootPool();
      const t = await createTempDb(root, "pdpl");
      temps.push(t);
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
      return PostgresqlBackend.open(
        { host: "127.0.0.1", port: 5432, socket: PG_SOCKET_DIR, user: t.user, password: t.password, database: t.database, poolSize: 4, lookupBatch: 1, timeoutMs: 5000 },
        memoryLog(),
      );
    },
    cleanup: async () => {},
  },
];

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

    test("commit binds; a second DISCOVER and a renewal keep the address; RELEASE frees it but the client gets it back (affinity)", async () => {
      const { backend, a } = await open(pools(pool("guest", "198.18.64.10-198.18.64.20")));
      const o = await a.offer("guest", client(1), NOW);
      if (!o.ok) throw new Error("no offer");
      expect(await a.commit("guest", o.ip, client(1), 600, NOW)).toEqual({ ok: true, how: "renewed" });
      expect((await rows(backend))[0]).toMatchObject({ ip: o.ip, state: "bound", expires: expect.anything() });
      expect(await a.offer("guest", client(1), NOW + 10)).toEqual({ ok: true, ip: o.ip, how: "bound" });
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
      const fresh = new PoolAllocator(cfg, await PoolStore.open(backend, true), { serverId: "198.18.0.1", readOnly: true }, memoryLog(), null);
      expect(await fresh.offer("guest", client(1), NOW)).toMatchObject({ ok: true, how: "free" });
      await expect(rows(backend)).rejects.toThrow();
      // with the table and a lease in it: the client's own address, still nothing written
      const rw = new PoolAllocator(cfg, await PoolStore.open(backend), { serverId: "198.18.0.1" }, memoryLog(), null);
      const granted = await rw.offer("guest", client(1), NOW);
      const before = await rows(backend);
      const ro = new PoolAllocator(cfg, await PoolStore.open(backend, true), { serverId: "198.18.0.1", readOnly: true }, memoryLog(), null);
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
      const backend2 = kind.name === "sqlite" ? SqliteBackend.open({ path: join(dir, `p${n}.sqlite`), timeoutMs: 2000 }, memoryLog()) : null;
      const s2 = backend2 ? await open(cfg, "198.18.0.2", backend2) : await open(cfg, "198.18.0.2", backend1);
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
      await backend1.close();
      await backend2?.close();
    });
  });
}

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
