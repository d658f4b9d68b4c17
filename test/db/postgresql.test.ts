/**
 * The offer chain, history and leases against a real PostgreSQL, as
 * mariadb.test.ts does on MariaDB: pydhcpdb's reference config with its
 * queries unchanged (`upper(mac)=upper('{..}')`, `values (null, now(), ..)`),
 * option 82 matching, timeouts cancelled on the server, one slow query not
 * holding up others, lost connections and a restart.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { openBackend } from "../../src/db/open.ts";
import { prepareQueries, type PreparedConfig } from "../../src/db/queries.ts";
import { runOfferChain } from "../../src/db/chain.ts";
import { compileTemplate } from "../../src/db/template.ts";
import type { Backend, Lease } from "../../src/db/backend.ts";
import { memoryLog } from "./mariadb.ts";
import { macVars, seedVars } from "./vars.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { expectOwnRowsSkipped, expectRestartRecovery, expectUpgradedLeases } from "./scenarios.ts";
import { LEASE_WRITER } from "../../src/db/lease-row.ts";
import { adminSql, closeAdmin, createTempPgDb, referencePgXml, type TempPgDb } from "./postgresql.ts";
import { startPrivatePostgres } from "../support/postgresql.ts";

afterAll(async () => {
  await closeAdmin();
});

function configFrom(xml: string): Config {
  const r = parseConfig(xml, "/tmp/pdc-pg-test-config.xml");
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return r.config;
}

async function prepared(backend: Backend, config: Config): Promise<PreparedConfig> {
  const p = await prepareQueries(backend, config);
  if (!p.ok) throw new Error(p.problems.join("\n"));
  return p.queries;
}

function defaults(c: Config) {
  return { mask: c.server.defaultMask, router: c.server.defaultRouter, dns: c.server.defaultDns };
}

describe("pydhcpdb's reference config on a database made from sql/postgresql.sql", () => {
  let db: TempPgDb;
  let backend: Backend;
  let c: Config;
  let q: PreparedConfig;
  /** a second server on the same database: its sync reads the rows `backend` writes (a server's own it leaves out) */
  let reader: Backend;
  beforeAll(async () => {
    db = await createTempPgDb();
    c = configFrom(referencePgXml(db));
    backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
    reader = await openBackend(c.database, memoryLog(), c.queryTimeoutMs, { leaseWriter: "another-server" });
    q = await prepared(backend, c);
  });
  afterAll(async () => {
    await reader?.close();
    await backend?.close();
    await db?.drop();
  });

  test("the config reads as PostgreSQL over the socket", () => {
    expect(c.database).toMatchObject({ kind: "postgresql", socket: "/var/run/postgresql", user: db.user, database: db.database });
  });

  test("MAC 080027059ed0 gets 192.168.0.19 through the offer chain; an unknown MAC nothing", async () => {
    const r = await runOfferChain(q.offers, macVars("080027059ed0", c.slices), c.queryTimeoutMs, defaults(c));
    expect(r.answer).toEqual({ ip: "192.168.0.19", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"], options: new Map() });
    if (!r.answer) throw new Error("no answer");
    expect(r.query).toBe("offer_3");
    expect(r.tried.map((t) => [t.name, t.rows])).toEqual([["offer_1", 0], ["offer_2", 0], ["offer_3", 1]]);
    const none = await runOfferChain(q.offers, macVars("0800270000ff", c.slices), c.queryTimeoutMs, defaults(c));
    expect(none.answer).toBeNull();
    expect("failure" in none && none.failure).toBeFalsy();
  });

  test("option 82: switch MAC and port from the seed packet select the subscriber", async () => {
    await db.sql("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('192.168.0.50', '', '', '', '001e589eb2ad', '06')");
    const vars = seedVars(c.slices);
    const r = await runOfferChain(q.offers, vars, c.queryTimeoutMs, defaults(c));
    if (!r.answer) throw new Error(`no answer: ${JSON.stringify(r)}`);
    expect(r.query).toBe("offer_2");
    expect(r.tried[0]).toMatchObject({ name: "offer_1", params: ["0006001e589eb2ad", "06"], rows: 0 });
    expect(r.tried[1]).toMatchObject({ name: "offer_2", params: ["001e589eb2ad", "06"], rows: 1 });
    expect(r.answer).toMatchObject({ ip: "192.168.0.50", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"] });
    await db.sql("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('10.1.2.3', '255.255.0.0', '10.1.0.1', '1.1.1.1 9.9.9.9', '0006001E589EB2AD', '06')");
    const r1 = await runOfferChain(q.offers, vars, c.queryTimeoutMs, defaults(c));
    expect(r1.answer).toEqual({ ip: "10.1.2.3", mask: "255.255.0.0", router: "10.1.0.1", dns: ["1.1.1.1", "9.9.9.9"], options: new Map() });
    if (r1.answer) expect(r1.query).toBe("offer_1");
  });

  test("history_sql as pydhcpdb wrote it (id null, now()) stores the row, numbered", async () => {
    const vars = seedVars(c.slices);
    await backend.runBatch([{ query: q.history!.query, params: q.history!.template.bind(vars) }]);
    const rows = await db.sql("SELECT id, mac, ip, comment, extract(epoch from (localtimestamp - dt))::int AS age FROM history ORDER BY id DESC LIMIT 1");
    expect(rows[0]).toMatchObject({ mac: "0025224ad764", ip: "0.0.0.0", comment: "DHCPACK/INFORM" });
    expect(Number(rows[0]!.id)).toBeGreaterThan(0);
    expect(Math.abs(Number(rows[0]!.age))).toBeLessThan(60);
  });

  test("a history batch goes as multi-row INSERTs in one transaction; a failing row leaves none of the batch", async () => {
    const count = async () => Number((await db.sql("SELECT COUNT(*) AS n FROM history"))[0]!.n);
    const h = q.history!;
    const before = await count();
    const good = Array.from({ length: 70 }, (_, i) => ({ query: h.query, params: h.template.bind(new Map([["ClientMacAddress", `02000000${String(i).padStart(4, "0")}`], ["RequestedIpAddress", "198.18.0.9"]])) }));
    await backend.runBatch(good);
    expect(await count()).toBe(before + 70);
    // NULL into a NOT NULL column fails one statement of the batch
    const bad = new Map([["ClientMacAddress", "aabbccddeeff"]]);
    await expect(backend.runBatch([...good, { query: h.query, params: h.template.bind(bad) }])).rejects.toMatchObject({ kind: "query", query: "history_sql" });
    expect(await count()).toBe(before + 70);
  });

  test("leases: upsert, get, byIp, loadActive, deleteExpired; one client twice in a batch: the last wins", async () => {
    const now = Math.floor(Date.now() / 1000);
    const lease = (k: string, ip: string, expires: number): Lease => ({
      clientKey: k, mac: k.slice(-12), ip, option82: "", expires, state: "bound", answer: '{"ip":"' + ip + '"}', updated: now, relay: "", hostname: "",
    });
    await backend.leases.upsert([lease("01aabbccddeeff", "192.0.2.10", now + 600), lease("01aabbccdd0000", "192.0.2.11", now - 10)]);
    expect(await backend.leases.get("01aabbccddeeff")).toEqual(lease("01aabbccddeeff", "192.0.2.10", now + 600));
    expect((await backend.leases.byIp("192.0.2.11"))?.clientKey).toBe("01aabbccdd0000");
    expect((await backend.leases.loadActive(now)).map((l) => l.clientKey)).toEqual(["01aabbccddeeff"]);
    await backend.leases.upsert([
      { ...lease("01aabbccddeeff", "192.0.2.13", now + 700), state: "offered" },
      { ...lease("01aabbccddeeff", "192.0.2.12", now + 900), state: "released" },
    ]);
    expect(await backend.leases.get("01aabbccddeeff")).toMatchObject({ ip: "192.0.2.12", state: "released", expires: now + 900 });
    expect(await backend.leases.deleteExpired(now, 100)).toBe(1);
    expect(await backend.leases.get("01aabbccdd0000")).toBeNull();
  });

  test("two servers on one database see each other's leases", async () => {
    const other = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
    try {
      const now = Math.floor(Date.now() / 1000);
      await other.leases.upsert([{ clientKey: "01020000000077", mac: "020000000077", ip: "192.0.2.77", option82: "0006aabb", expires: now + 600, state: "bound", answer: "{}", updated: now, relay: "", hostname: "" }]);
      expect(await backend.leases.byIp("192.0.2.77")).toMatchObject({ clientKey: "01020000000077", option82: "0006aabb", state: "bound" });
      await backend.leases.upsert([{ clientKey: "01020000000077", mac: "020000000077", ip: "192.0.2.77", option82: "0006aabb", expires: now + 600, state: "released", answer: "{}", updated: now + 1, relay: "", hostname: "" }]);
      expect(await other.leases.get("01020000000077")).toMatchObject({ state: "released", updated: now + 1 });
    } finally {
      await other.close();
    }
  });

  test("lease batches of every size (chunks of 64, 16, 4, 1): every row stored", async () => {
    const now = Math.floor(Date.now() / 1000);
    let n = 0;
    for (let size = 1; size <= 90; size++) {
      const batch: Lease[] = [];
      for (let k = 0; k < size; k++, n++) {
        const mac = n.toString(16).padStart(12, "0");
        batch.push({ clientKey: "01" + mac, mac, ip: `10.9.${n >> 8}.${n & 255}`, option82: "", expires: now + 600, state: "bound", answer: "{}", updated: now, relay: "", hostname: "" });
      }
      await backend.leases.upsert(batch);
    }
    const held = (await backend.leases.loadActive(now)).filter((l) => l.ip.startsWith("10.9."));
    expect(held.length).toBe(n);
    // several slices of rows (leasesFrom): every row once
    expect((await backend.leases.changedSince(now)).filter((l) => l.ip.startsWith("10.9."))).toEqual([]);
    const changed = (await reader.leases.changedSince(now)).filter((l) => l.ip.startsWith("10.9."));
    expect(changed.length).toBe(n);
    expect(new Set(changed.map((l) => l.clientKey)).size).toBe(n);
  });

  test("values are untyped: a macaddr column matches the MAC text, an inet column answers as an address, integers compare as numbers", async () => {
    await db.sql("CREATE TABLE subs (mac macaddr NOT NULL, vlan integer NOT NULL, ip inet NOT NULL, mask inet NOT NULL)");
    await db.sql("INSERT INTO subs VALUES ('08:00:27:05:9e:d1', 6, '198.18.4.9', '255.255.255.0')");
    const t = compileTemplate("offer_1", "select ip, mask from subs where mac = '{ClientMacAddress}' and vlan = '{sw_port2}'", "postgresql");
    if (t.kind !== "template") throw new Error(t.message);
    const offer = { template: t, query: await backend.prepare("offer_1", t.sql) };
    const r = await runOfferChain([offer], new Map([["ClientMacAddress", "080027059ed1"], ["sw_port2", "06"]]), 2000, defaults(c));
    expect(r.answer).toMatchObject({ ip: "198.18.4.9", mask: "255.255.255.0" });
    // a value the column's type cannot take fails that query, naming it
    const bad = await runOfferChain([offer], new Map([["ClientMacAddress", "not-a-mac"], ["sw_port2", "06"]]), 2000, defaults(c));
    expect(bad.answer).toBeNull();
    if (!bad.answer) expect(bad.failure).toMatchObject({ kind: "query", query: "offer_1" });
  });

  test("history retention deletes old rows only", async () => {
    await db.sql("INSERT INTO history (dt, mac, ip, comment) VALUES (localtimestamp - interval '40 days', 'old', '', ''), (localtimestamp - interval '40 days', 'old', '', '')");
    const total = Number((await db.sql("SELECT COUNT(*) AS n FROM history"))[0]!.n);
    expect(await backend.pruneHistory(30, 1)).toBe(1);
    expect(await backend.pruneHistory(30, 100)).toBe(1);
    expect(await backend.pruneHistory(30, 100)).toBe(0);
    expect(Number((await db.sql("SELECT COUNT(*) AS n FROM history"))[0]!.n)).toBe(total - 2);
  });
});

describe("timeouts, slow queries and lost connections", () => {
  let db: TempPgDb;
  beforeAll(async () => {
    db = await createTempPgDb();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const slowChain = (timeout: number, extra: string) =>
    configFrom(referencePgXml(db, { extra }).replace("<offer_count>3</offer_count>", `<offer_count>2</offer_count><timeout>${timeout}</timeout>`)
      .replace(/<offer_1>[^<]*<\/offer_1>/, "<offer_1>select ip from users, pg_sleep(5) where mac = '{ClientMacAddress}'</offer_1>")
      .replace(/<offer_2>[^<]*<\/offer_2>/, "<offer_2>select ip, mask, router, dns from users where mac = '{ClientMacAddress}'</offer_2>")
      .replace(/<offer_3>[^<]*<\/offer_3>/, ""));

  test("a query over its timeout fails as a timeout naming it, is cancelled on the server, and the pool keeps working", async () => {
    const c = slowChain(300, "<poolSize>1</poolSize>");
    const backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const t0 = performance.now();
      const r = await runOfferChain(q.offers, macVars("080027059ed0"), c.queryTimeoutMs, defaults(c));
      const ms = performance.now() - t0;
      expect(r.answer).toBeNull();
      if (r.answer === null) {
        expect(r.failure).toMatchObject({ kind: "timeout", query: "offer_1" });
        expect(r.failure?.message).toContain("offer_1");
      }
      expect(ms).toBeLessThan(3000);
      const rows = await q.offers[1]!.query.run(["080027059ed0"]);
      expect(rows.map((x) => x.ip)).toEqual(["192.168.0.19"]);
      // nothing of ours still sleeps on the server
      await Bun.sleep(200);
      const active = await adminSql().unsafe("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [db.database]);
      expect(active[0].n).toBe(0);
    } finally {
      await backend.close();
    }
  });

  test("a slow lookup does not hold up quick ones (no pipelining behind it)", async () => {
    const c = slowChain(3000, "<poolSize>2</poolSize><lookupBatch>1</lookupBatch>");
    const backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const slow = q.offers[0]!.query.run(["080027059ed0"]).catch((e) => e);
      await Bun.sleep(50);
      const t0 = performance.now();
      const quick = await Promise.all(Array.from({ length: 10 }, () => q.offers[1]!.query.run(["080027059ed0"]).then(() => performance.now() - t0)));
      // all ten ran on the second connection while the first slept
      expect(Math.max(...quick)).toBeLessThan(1500);
      expect(await slow).toMatchObject({ kind: "timeout" });
    } finally {
      await backend.close();
    }
  });

  test("connections terminated by the server are replaced: queries keep working", async () => {
    const c = configFrom(referencePgXml(db, { extra: "<poolSize>2</poolSize>" }));
    const log = memoryLog();
    const backend = await openBackend(c.database, log, c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const offer3 = q.offers[2]!.query;
      expect((await offer3.run(["080027059ed0"])).length).toBe(1);
      const killed = await adminSql().unsafe("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND usename = $1", [db.database]);
      expect(killed[0].n).toBeGreaterThan(0);
      await Bun.sleep(100);
      let ok = false;
      const errors: string[] = [];
      for (let k = 0; k < 50 && !ok; k++) {
        try {
          ok = (await offer3.run(["080027059ed0"])).length === 1;
        } catch (e) {
          errors.push((e as { kind: string }).kind);
          await Bun.sleep(100);
        }
      }
      expect(ok).toBe(true);
      for (const kind of errors) expect(kind).toBe("connect");
      if (errors.length > 0) {
        expect(log.lines.some((l) => l.level === "warn" && l.msg.includes("connection lost"))).toBe(true);
        expect(log.lines.some((l) => l.level === "info" && l.msg.includes("reconnected"))).toBe(true);
      }
    } finally {
      await backend.close();
    }
  });

  test("a network that silently drops everything: lookups time out, the stuck connections are replaced, service resumes", async () => {
    const proxy = new TcpProxy({ host: "127.0.0.1", port: 5432 });
    proxy.start();
    const c = configFrom(referencePgXml(db, { tcp: { host: "127.0.0.1", port: proxy.port }, extra: "<poolSize>2</poolSize>" }).replace("<offer_count>3</offer_count>", "<offer_count>3</offer_count><timeout>300</timeout>"));
    const log = memoryLog();
    const backend = await openBackend(c.database, log, c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const offer3 = q.offers[2]!.query;
      expect((await offer3.run(["080027059ed0"])).length).toBe(1);
      proxy.freeze();
      // both connections get a statement whose answer never comes (cancels are lost too)
      const kinds = await Promise.all([0, 1, 2].map(() => offer3.run(["080027059ed0"]).then(() => "ok", (e) => (e as { kind: string }).kind)));
      expect(kinds.every((k) => k === "timeout" || k === "connect")).toBe(true);
      await Bun.sleep(1500);
      expect(log.lines.some((l) => l.level === "warn" && l.msg.startsWith("a cancelled statement did not end"))).toBe(true);
      proxy.thaw();
      let ok = false;
      const t0 = Date.now();
      const errors: string[] = [];
      // bounded in time, not in tries, so a failure ends here with what the backend said, not in the test's timeout
      while (!ok && Date.now() - t0 < 20_000) {
        ok = await offer3.run(["080027059ed0"]).then(
          (r) => r.length === 1,
          (e) => (errors.push(String((e as Error).message)), false),
        );
        if (!ok) await Bun.sleep(100);
      }
      if (!ok) console.log(`no answer 20 s after the thaw; last errors: ${errors.slice(-3).join(" | ")}\n${log.lines.map((l) => `${l.level} ${l.msg}`).join("\n")}`);
      expect(ok).toBe(true);
    } finally {
      proxy.thaw();
      await backend.close();
      proxy.stop();
    }
  }, 30_000);

  test("the connection drops while the network loses everything: reconnect pings that get no answer do not wedge the pool; service resumes once the network is back", async () => {
    const proxy = new TcpProxy({ host: "127.0.0.1", port: 5432 });
    proxy.start();
    const port = proxy.port;
    const c = configFrom(referencePgXml(db, { tcp: { host: "127.0.0.1", port }, extra: "<poolSize>2</poolSize>" }).replace("<offer_count>3</offer_count>", "<offer_count>3</offer_count><timeout>300</timeout>"));
    const log = memoryLog();
    const backend = await openBackend(c.database, log, c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const offer3 = q.offers[2]!.query;
      expect((await offer3.run(["080027059ed0"])).length).toBe(1);
      // the connections are cut, and what answers on the port from now on swallows every byte
      proxy.freeze();
      proxy.stop();
      proxy.start(port);
      const kind = await offer3.run(["080027059ed0"]).then(() => "ok", (e) => (e as { kind: string }).kind);
      expect(kind).toBe("connect");
      // pings go out into the silence for a while
      await Bun.sleep(2500);
      expect((await offer3.run(["080027059ed0"]).then(() => "ok", (e) => (e as { kind: string }).kind))).not.toBe("ok");
      proxy.thaw();
      const t0 = Date.now();
      let ok = false;
      while (!ok && Date.now() - t0 < 15_000) {
        ok = await offer3.run(["080027059ed0"]).then((r) => r.length === 1, () => false);
        if (!ok) await Bun.sleep(100);
      }
      expect(ok).toBe(true);
      expect(log.lines.some((l) => l.level === "info" && l.msg.startsWith("database reconnected after"))).toBe(true);
    } finally {
      proxy.thaw();
      await backend.close();
      proxy.stop();
    }
  }, 30_000);

  test("database restart (proxy stopped, then started): fail fast while down, reconnect with a log line", async () => {
    const proxy = new TcpProxy({ host: "127.0.0.1", port: 5432 });
    proxy.start();
    const port = proxy.port;
    const c = configFrom(referencePgXml(db, { tcp: { host: "127.0.0.1", port }, extra: "<poolSize>2</poolSize>" }));
    await expectRestartRecovery(c, proxy);
  });
});

describe("password login (scram-sha-256, as a server set up for it asks)", () => {
  test("the right password connects, creates pydhcp_lease and answers; a wrong one is a connect error naming the database", async () => {
    const pg = await startPrivatePostgres({ hostAuth: "scram-sha-256" });
    try {
      await pg.sql("CREATE ROLE dhcp LOGIN PASSWORD 's3cret pass'; CREATE DATABASE isp OWNER dhcp;");
      await pg.sql("SET ROLE dhcp; CREATE TABLE users (ip text, mask text, router text, dns text, mac text); INSERT INTO users VALUES ('198.18.0.7', '', '', '', 'aa');", "isp");
      const config = (password: string) =>
        configFrom(referencePgXml({ user: "dhcp", password, database: "isp" }, { tcp: { host: "127.0.0.1", port: pg.port } }));
      const good = await openBackend(config("s3cret pass").database, memoryLog(), 2000);
      try {
        const q = await good.prepare("offer_1", "select ip from users where mac = ?");
        expect(await q.run(["aa"])).toEqual([{ ip: "198.18.0.7" }]);
        // the database had users only: pydhcp made its lease table, owned by the login
        expect(await pg.sql("select tableowner from pg_tables where tablename = 'pydhcp_lease'", "isp")).toBe("dhcp\n");
      } finally {
        await good.close();
      }
      const err = await openBackend(config("wrong").database, memoryLog(), 2000).then(
        (b) => b.close().then(() => null),
        (e) => e,
      );
      expect(err).toMatchObject({ kind: "connect" });
      expect(String(err.message)).toStartWith(`cannot use PostgreSQL database isp at 127.0.0.1:${pg.port} as dhcp:`);
      expect(String(err.message)).toContain("password");
    } finally {
      await pg.close();
    }
  }, 60_000);
});

describe("pydhcp_lease on PostgreSQL from an older pydhcp", () => {
  test("gains relay, hostname, writer and the (updated, writer)/mac indexes at open; list, changedSince and release work on it", async () => {
    const db = await createTempPgDb();
    try {
      // the table as an older pydhcp made it
      await db.sql("DROP TABLE pydhcp_lease");
      await db.sql(`CREATE TABLE pydhcp_lease (client_key varchar(255) PRIMARY KEY, mac varchar(64) NOT NULL, ip varchar(15) NOT NULL,
        option82 varchar(600) NOT NULL DEFAULT '', expires bigint NOT NULL, state varchar(16) NOT NULL, answer text NOT NULL, updated bigint NOT NULL)`);
      await db.sql("CREATE INDEX pydhcp_lease_updated ON pydhcp_lease (updated)");
      const now = Math.floor(Date.now() / 1000);
      await db.sql(`INSERT INTO pydhcp_lease VALUES ('k1', '020000ee0001', '198.18.9.1', '', ${now + 600}, 'bound', '{}', ${now})`);
      const c = configFrom(referencePgXml(db));
      const backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
      try {
        const idx = (await db.sql("SELECT indexname FROM pg_indexes WHERE tablename = 'pydhcp_lease' ORDER BY indexname")).map((r) => r.indexname);
        // the index on updated alone gave way to (updated, writer)
        expect(idx).toEqual(["pydhcp_lease_expires", "pydhcp_lease_ip", "pydhcp_lease_mac", "pydhcp_lease_pkey", "pydhcp_lease_updated_writer"]);
        await expectUpgradedLeases(backend, now);
        const writers = await db.sql("SELECT client_key, writer FROM pydhcp_lease ORDER BY client_key");
        expect(writers.map((r) => [r.client_key, r.writer])).toEqual([["k1", "release"], ["k2", LEASE_WRITER]]);
      } finally {
        await backend.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe("lease sync on PostgreSQL without this server's own rows", () => {
  test("changedSince leaves out the rows this writer upserted, reads another's and releases", async () => {
    const db = await createTempPgDb();
    const c = configFrom(referencePgXml(db));
    const a = await openBackend(c.database, memoryLog(), c.queryTimeoutMs, { leaseWriter: "server-a" });
    const b = await openBackend(c.database, memoryLog(), c.queryTimeoutMs, { leaseWriter: "server-b" });
    try {
      await expectOwnRowsSkipped(a, b, Math.floor(Date.now() / 1000));
      const rows = await db.sql("SELECT writer FROM pydhcp_lease ORDER BY client_key");
      expect(rows.map((r) => r.writer)).toEqual(["server-a", "server-b", "release", "server-b"]);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
