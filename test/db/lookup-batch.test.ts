/**
 * Offer lookups grouped into one statement while the pool is busy, against
 * a throwaway MariaDB database and a PostgreSQL one: every lookup gets exactly the rows it would
 * get alone, the server sees fewer statements, and queries that cannot be
 * grouped run alone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Pool } from "mysql2/promise";
import { MysqlBackend } from "../../src/db/mysql.ts";
import { batchable, batchSize, batchSql, LookupBatcher, shareable, splitBySlot, type BatchRunner } from "../../src/db/lookup-batch.ts";
import type { Param, Row } from "../../src/db/backend.ts";
import { createTempDb, memoryLog, rootPool, SOCKET, type TempDb } from "./mariadb.ts";
import { PostgresqlBackend } from "../../src/db/postgresql.ts";
import { adminSql, closeAdmin, createTempPgDb, PG_SOCKET_DIR, type TempPgDb } from "./postgresql.ts";

let root: Pool;
let db: TempDb;
const USERS = 400;
const mac = (i: number) => "02" + i.toString(16).padStart(10, "0");

let userstatBefore = 1;
beforeAll(async () => {
  root = await rootPool();
  const [u] = (await root.query("SELECT @@GLOBAL.userstat AS on_")) as unknown as [{ on_: number }[]];
  userstatBefore = Number(u[0]!.on_);
  if (!userstatBefore) await root.query("SET GLOBAL userstat = 1");
  db = await createTempDb(root, "pdlb");
  await root.query(
    `CREATE TABLE \`${db.database}\`.users (id int auto_increment primary key, ip varchar(50) not null, mask varchar(50) not null, mac varchar(50) not null, port varchar(10) not null, key mac (mac))`,
  );
  const rows = Array.from({ length: USERS }, (_, i) => [`10.7.${i >> 8}.${i & 255}`, "255.255.0.0", mac(i), String(i % 7)]);
  await root.query(`INSERT INTO \`${db.database}\`.users (ip, mask, mac, port) VALUES ?`, [rows]);
  // one MAC with two rows: both must come back to the lookup that asked
  await root.query(`INSERT INTO \`${db.database}\`.users (ip, mask, mac, port) VALUES ('10.8.0.1', '255.0.0.0', ?, '9')`, [mac(5)]);
});
afterAll(async () => {
  await db?.drop();
  if (!userstatBefore) await root?.query("SET GLOBAL userstat = 0");
  await root?.end();
});

async function open(poolSize: number, lookupBatch: number): Promise<MysqlBackend> {
  return MysqlBackend.open(
    { host: "localhost", port: 3306, socket: SOCKET, user: db.user, password: db.password, database: db.database, poolSize, lookupBatch, timeoutMs: 5000 },
    memoryLog(),
  );
}

/**
 * Statements this test's own database user ran (MariaDB's per-user
 * statistics), so other clients of the shared server cannot move the count;
 * grouped or not, each lookup statement is one SELECT.
 */
async function selectCommands(): Promise<number> {
  const [r] = (await root.query("SELECT SELECT_COMMANDS AS n FROM information_schema.USER_STATISTICS WHERE USER = ?", [db.user])) as unknown as [
    { n: number | string }[],
  ];
  return Number(r[0]?.n ?? 0);
}

/**
 * SELECTs this test's user ran. MariaDB counts a statement after it has
 * sent the result, so the client can hold the rows before the count moves:
 * read until two reads 20 ms apart agree.
 */
async function executes(): Promise<number> {
  let n = await selectCommands();
  for (let i = 0; i < 50; i++) {
    await Bun.sleep(20);
    const m = await selectCommands();
    if (m === n) return n;
    n = m;
  }
  return n;
}

const sortRows = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort();

describe("grouped offer lookups (MariaDB)", () => {
  test("300 lookups at once on 2 connections: each gets its own rows; far fewer statements", async () => {
    const b = await open(2, 16);
    try {
      const q = await b.prepare("offer_1", "select ip, mask, port from users where mac = ?");
      // known MACs, unknown MACs, a MAC with two rows, and hostile text, all in flight together
      const keys = Array.from({ length: 300 }, (_, i) =>
        i % 10 === 3 ? "ffffffffffff" : i % 37 === 0 ? "x' OR '1'='1" : i % 50 === 7 ? mac(5) : mac(i),
      );
      const alone = new Map<string, Row[]>();
      for (const k of new Set(keys)) alone.set(k, await q.run([k]));
      expect(alone.get(mac(5))!.length).toBe(2);
      expect(alone.get("x' OR '1'='1")).toEqual([]);

      const before = await executes();
      const got = await Promise.all(keys.map((k) => q.run([k])));
      const statements = (await executes()) - before;
      keys.forEach((k, i) => expect(sortRows(got[i]!)).toEqual(sortRows(alone.get(k)!)));
      expect(got.every((rows) => rows.every((r) => !("__pydhcp_slot" in r)))).toBe(true);
      // 300 alone would be 300 statements; grouped by up to 16 while both connections are busy
      expect(statements).toBeLessThan(60);
      const [n] = (await root.query(`SELECT COUNT(*) AS n FROM \`${db.database}\`.users`)) as unknown as [{ n: number }[]];
      expect(Number(n[0]!.n)).toBe(USERS + 1);
    } finally {
      await b.close();
    }
  });

  test("lookups asked for in one turn with connections free go as one statement; one asked alone goes alone", async () => {
    const b = await open(8, 16);
    try {
      const q = await b.prepare("offer_1", "select ip, mask, port from users where mac = ?");
      const keys = [mac(1), mac(2), "ffffffffffff", mac(5), mac(9)];
      const alone = new Map<string, Row[]>();
      for (const k of keys) alone.set(k, await q.run([k]));
      // one at a time, each awaited: every lookup is a turn of its own, one statement each
      let before = await executes();
      for (const k of keys) await q.run([k]);
      expect((await executes()) - before).toBe(keys.length);
      // the five in one turn, eight connections free: one grouped statement
      before = await executes();
      const got = await Promise.all(keys.map((k) => q.run([k])));
      expect((await executes()) - before).toBe(1);
      keys.forEach((k, i) => expect(sortRows(got[i]!)).toEqual(sortRows(alone.get(k)!)));
    } finally {
      await b.close();
    }
  });

  test("lookupBatch 1, ORDER BY, and a query the grouped form refuses: one statement per lookup, same rows", async () => {
    const cases: [number, string][] = [
      [1, "select ip, mask from users where mac = ?"],
      [16, "select ip, mask from users where mac = ? order by ip desc"],
      // two columns named ip: fine alone, a duplicate column inside a derived table
      [16, "select ip, mask, ip from users where mac = ?"],
    ];
    for (const [batch, sql] of cases) {
      const b = await open(2, batch);
      try {
        const q = await b.prepare("offer_1", sql);
        const keys = Array.from({ length: 40 }, (_, i) => mac(i));
        const alone: Row[][] = [];
        for (const k of keys) alone.push(await q.run([k]));
        const before = await executes();
        const got = await Promise.all(keys.map((k) => q.run([k])));
        expect((await executes()) - before).toBe(keys.length);
        // same rows in the same order (ORDER BY decides which answers)
        expect(got).toEqual(alone);
        expect(got[6]![0]).toMatchObject({ ip: "10.7.0.6" });
      } finally {
        await b.close();
      }
    }
  });

  test("a group that times out fails every lookup in it as a timeout naming the query; the pool recovers", async () => {
    const b = await open(1, 16);
    try {
      const q = await b.prepare("offer_1", "select ip, sleep(?) as s from users where mac = ?");
      // the first holds the only connection; the next ones wait and go out as one group
      const all = await Promise.allSettled([q.run(["0.4", mac(1)], 200), ...Array.from({ length: 5 }, (_, i) => q.run(["0.4", mac(i + 2)], 200))]);
      for (const r of all) {
        expect(r.status).toBe("rejected");
        if (r.status === "rejected") expect(r.reason).toMatchObject({ kind: "timeout", query: "offer_1" });
      }
      expect(await q.run(["0", mac(3)])).toEqual([{ ip: "10.7.0.3", s: 0 }]);
    } finally {
      await b.close();
    }
  });
});

describe("grouped offer lookups (PostgreSQL)", () => {
  let pg: TempPgDb;
  beforeAll(async () => {
    pg = await createTempPgDb("pdlb");
    await pg.sql("DELETE FROM users");
    await pg.sql(
      "INSERT INTO users (ip, mask, mac, port) SELECT '10.7.' || (i >> 8) || '.' || (i & 255), '255.255.0.0', '02' || lpad(to_hex(i), 10, '0'), (i % 7)::text FROM generate_series(0, $1::int - 1) AS i",
      [String(USERS)],
    );
    await pg.sql("INSERT INTO users (ip, mask, mac, port) VALUES ('10.8.0.1', '255.0.0.0', $1, '9')", [mac(5)]);
  });
  afterAll(async () => {
    await pg?.drop();
    await closeAdmin();
  });

  const openPg = (poolSize: number, lookupBatch: number) =>
    PostgresqlBackend.open(
      { host: "", port: 5432, socket: PG_SOCKET_DIR, user: pg.user, password: pg.password, database: pg.database, poolSize, lookupBatch, timeoutMs: 5000 },
      memoryLog(),
    );
  /** Statements the database has run: each runs in its own transaction. Exited backends have flushed their counts. */
  const commits = async () => {
    await adminSql().unsafe("SELECT pg_stat_clear_snapshot()");
    return Number((await adminSql().unsafe("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [pg.database]))[0].xact_commit);
  };

  test("300 lookups at once on 2 connections: each gets its own rows; far fewer statements", async () => {
    const keys = Array.from({ length: 300 }, (_, i) =>
      i % 10 === 3 ? "ffffffffffff" : i % 37 === 0 ? "x' OR '1'='1" : i % 50 === 7 ? mac(5) : mac(i),
    );
    const alone = new Map<string, Row[]>();
    const a = await openPg(2, 1);
    const qa = await a.prepare("offer_1", "select ip, mask, port from users where mac = ?");
    for (const k of new Set(keys)) alone.set(k, await qa.run([k]));
    await a.close();
    expect(alone.get(mac(5))!.length).toBe(2);
    expect(alone.get("x' OR '1'='1")).toEqual([]);

    // the same open and prepare without lookups, to count what they cost
    const idle = await openPg(2, 16);
    await idle.prepare("offer_1", "select ip, mask, port from users where mac = ?");
    let before = await commits();
    await idle.close();
    await Bun.sleep(300);
    const overhead = (await commits()) - before;

    before = await commits();
    const b = await openPg(2, 16);
    const q = await b.prepare("offer_1", "select ip, mask, port from users where mac = ?");
    const got = await Promise.all(keys.map((k) => q.run([k])));
    await b.close();
    await Bun.sleep(300);
    const statements = (await commits()) - before - overhead;
    keys.forEach((k, i) => expect(sortRows(got[i]!)).toEqual(sortRows(alone.get(k)!)));
    expect(got.every((rows) => rows.every((r) => !("__pydhcp_slot" in r)))).toBe(true);
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThan(60);
  });

  test("a group that times out fails every lookup in it as a timeout naming the query; the pool recovers", async () => {
    const b = await openPg(1, 16);
    try {
      const q = await b.prepare("offer_1", "select ip, pg_sleep(CAST(? AS float)) as s from users where mac = ?");
      const all = await Promise.allSettled([q.run(["0.4", mac(1)], 200), ...Array.from({ length: 5 }, (_, i) => q.run(["0.4", mac(i + 2)], 200))]);
      for (const r of all) {
        expect(r.status).toBe("rejected");
        if (r.status === "rejected") expect(r.reason).toMatchObject({ kind: "timeout", query: "offer_1" });
      }
      expect(await q.run(["0", mac(3)])).toEqual([{ ip: "10.7.0.3", s: "" }]);
    } finally {
      await b.close();
    }
  });
});

describe("slow rows among grouped lookups (MariaDB)", () => {
  // three subscribers whose row takes 5 s (a lock, a slow view...), the rest answer at once
  const SLOW = [mac(301), mac(302), mac(303)];
  const SQL = "select ip, mask, sleep(if(port = '9', 5, 0)) as s from users where mac = ?";
  beforeAll(async () => {
    for (const m of SLOW) await root.query(`UPDATE \`${db.database}\`.users SET port = '9' WHERE mac = ?`, [m]);
  });

  test("every lookup, waiting or grouped, ends by its own deadline; slow ones do not fail the others", async () => {
    const b = await open(2, 8);
    try {
      const q = await b.prepare("offer_1", SQL);
      const ordinary = Array.from({ length: 20 }, (_, i) => mac(i + 10));
      /** one round as retransmitting clients make it: the slow three first, then twenty ordinary */
      const round = async () => {
        const t0 = performance.now();
        const timed = (k: string) =>
          q.run([k], 1000).then(
            (rows) => ({ ok: rows.length === 1, ms: performance.now() - t0 }),
            (e: unknown) => ({ ok: false, ms: performance.now() - t0, e }),
          );
        const slow = SLOW.map(timed);
        await Bun.sleep(20);
        const rest = ordinary.map(timed);
        return { slow: await Promise.all(slow), ordinary: await Promise.all(rest) };
      };
      const rounds = [];
      for (let r = 0; r < 3; r++) rounds.push(await round());
      // bounded: nothing waits past <timeout> (1 s) from the moment it was asked, give or take scheduling
      for (const r of rounds) for (const x of [...r.slow, ...r.ordinary]) expect(x.ms).toBeLessThan(1700);
      for (const r of rounds) for (const x of r.slow) expect(x.ok).toBe(false);
      // every round, the first one included (while the slow three hold both connections, the spare serves the rest)
      expect(rounds.map((r) => r.ordinary.filter((x) => x.ok).length)).toEqual([20, 20, 20]);
    } finally {
      await b.close();
    }
  }, 30_000);

  test("a group holding one slow lookup is split: the others in it are answered within their time", async () => {
    const b = await open(1, 8);
    try {
      const q = await b.prepare("offer_1", SQL);
      // the only connection is busy for 300 ms; the next eight wait and go out as one group, one of them slow
      const h = await b.prepare("hold", "select sleep(0.3) as s");
      const busy = h.run([], 5000);
      const keys = [mac(40), mac(41), SLOW[0]!, mac(42), mac(43), mac(44), mac(45), mac(46)];
      const got = await Promise.allSettled(keys.map((k) => q.run([k], 3000)));
      await busy;
      got.forEach((r, i) => {
        if (keys[i] === SLOW[0]) expect(r).toMatchObject({ status: "rejected", reason: { kind: "timeout" } });
        else expect(r.status === "fulfilled" && r.value.length).toBe(1);
      });
    } finally {
      await b.close();
    }
  }, 30_000);
});

describe("lookups with the same values share a slot", () => {
  /** A runner whose connection is busy until `free`; it answers each slot with its first value (or "guest"). */
  function rig() {
    const calls: { sql: string; params: readonly Param[] }[] = [];
    let free = false;
    let n = 0;
    const runner: BatchRunner = {
      exec: async (sql, params) => {
        calls.push({ sql, params });
        const slots = sql.split(" UNION ALL ").length;
        const per = params.length / slots;
        if (slots === 1) return [{ v: params[0] ?? "guest", run: ++n }];
        return Array.from({ length: slots }, (_, i) => ({ __pydhcp_slot: i, v: params[i * per] ?? "guest", run: ++n }));
      },
      idle: () => free,
      idleForWaiting: () => free,
      onSpare: () => false,
      budgetMs: () => 1000,
      waiting() {},
      retryAlone: () => true,
      isTimeout: () => false,
      timeout: () => new Error("timeout"),
      takeSlowSlot: () => true,
      releaseSlowSlot() {},
    };
    return { calls, runner, open: () => void (free = true) };
  }

  test("a query without placeholders: the waiting lookups run it once, as the plain query; each gets its own copy of the rows", async () => {
    const r = rig();
    const b = new LookupBatcher("select 'guest' as pool", 16, r.runner);
    const got = Array.from({ length: 5 }, () => b.run([], 1000));
    r.open();
    b.kick();
    const rows = await Promise.all(got);
    expect(r.calls).toEqual([{ sql: "select 'guest' as pool", params: [] }]);
    for (const x of rows) expect(x).toEqual([{ v: "guest", run: 1 }]);
    rows[0]![0]!.v = "changed";
    expect(rows[1]![0]!.v).toBe("guest");
  });

  test("the same values share a slot, other values get theirs: six lookups of three relays are one statement of three slots (padded to four)", async () => {
    const r = rig();
    const b = new LookupBatcher("select pool from relays where giaddr = ?", 16, r.runner);
    const relays = ["198.18.4.1", "198.18.4.1", "198.18.5.1", "198.18.4.1", "198.18.5.1", "198.18.6.1"];
    const got = relays.map((g) => b.run([g], 1000));
    r.open();
    b.kick();
    const rows = await Promise.all(got);
    expect(r.calls.length).toBe(1);
    expect(r.calls[0]!.sql).toBe(batchSql("select pool from relays where giaddr = ?", 4));
    expect(r.calls[0]!.params).toEqual(["198.18.4.1", "198.18.5.1", "198.18.6.1", "198.18.6.1"]);
    rows.forEach((x, i) => expect(x.map((y) => y.v)).toEqual([relays[i]]));
  });

  test("a value of each run's own (RAND(), UUID(), a user variable) keeps a slot per lookup; NULL and empty text are not the same value", async () => {
    for (const sql of ["select rand() as r", "select uuid() as u", "select @n := @n + 1 as n"]) {
      const r = rig();
      const b = new LookupBatcher(sql, 16, r.runner);
      const got = Array.from({ length: 3 }, () => b.run([], 1000));
      r.open();
      b.kick();
      await Promise.all(got);
      expect(r.calls.map((c) => c.sql)).toEqual([batchSql(sql, 4)]);
    }
    expect(shareable("select case when ? = '198.18.4.1' then 'link4' else 'guest' end as pool")).toBe(true);
    expect(shareable("select ip from free_ips where pool = ? and random() < 0.5")).toBe(false);
    const r = rig();
    const b = new LookupBatcher("select pool from t where x = ?", 16, r.runner);
    const got = [b.run([""], 1000), b.run([null], 1000), b.run([""], 1000)];
    r.open();
    b.kick();
    await Promise.all(got);
    expect(r.calls[0]!.params).toEqual(["", null]);
  });
});

describe("grouped statement text (pure)", () => {
  test("batchable: plain SELECTs only, never with ORDER BY or FOR UPDATE", () => {
    expect(batchable("select ip from users where mac = ?")).toBe(true);
    expect(batchable("  SELECT ip FROM users WHERE mac = ? LIMIT 1")).toBe(true);
    expect(batchable("select ip from users where mac = ? order by id")).toBe(false);
    expect(batchable("select ip from users where mac = ? for update")).toBe(false);
    expect(batchable("call lookup(?)")).toBe(false);
    expect(batchable("insert into history values (?)")).toBe(false);
  });

  test("batchSql: one derived table per slot, the slot first, a trailing ; dropped", () => {
    expect(batchSql("select ip from users where mac = ?;", 2)).toBe(
      "SELECT 0 AS __pydhcp_slot, s0.* FROM (select ip from users where mac = ?) AS s0 UNION ALL SELECT 1, s1.* FROM (select ip from users where mac = ?) AS s1",
    );
  });

  test("batchSize pads to a fixed size; splitBySlot hands rows back by slot without the slot column", () => {
    expect([1, 2, 3, 5, 9, 16, 17].map((n) => batchSize(n, 32))).toEqual([2, 2, 4, 8, 16, 16, 32]);
    expect(batchSize(12, 8)).toBe(8);
    const rows = [
      { __pydhcp_slot: 1, ip: "b" },
      { __pydhcp_slot: 0, ip: "a" },
      { __pydhcp_slot: 1, ip: "c" },
      { __pydhcp_slot: "3", ip: "padding" },
      { __pydhcp_slot: 9, ip: "out of range" },
    ];
    expect(splitBySlot(rows, 4)).toEqual([[{ ip: "a" }], [{ ip: "b" }, { ip: "c" }], [], [{ ip: "padding" }]]);
  });
});
