/**
 * The offer chain, history and leases against a real MariaDB: pydhcpdb's
 * reference config and database, option 82 matching, hostile values,
 * timeouts and lost connections.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Pool } from "mysql2/promise";
import { loadConfig, parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { openBackend } from "../../src/db/open.ts";
import { prepareQueries, type PreparedConfig } from "../../src/db/queries.ts";
import { runOfferChain } from "../../src/db/chain.ts";
import type { Backend, Lease } from "../../src/db/backend.ts";
import { createTempDb, ensureReferenceDb, loadPydhcpSql, memoryLog, rootPool, type TempDb } from "./mariadb.ts";
import { macVars, seedVars } from "./vars.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { expectOwnRowsSkipped, expectRestartRecovery, expectUpgradedLeases } from "./scenarios.ts";
import { LEASE_WRITER } from "../../src/db/lease-row.ts";
import { SYNC_SQL } from "../../src/db/mysql/leases.ts";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";

const REFERENCE = REFERENCE_CONFIG;

let root: Pool;
beforeAll(async () => {
  root = await rootPool();
});
afterAll(async () => {
  await root.end();
});

/** pydhcpdb's config.xml pointed at a throwaway database (TCP). */
function referenceConfigFor(db: TempDb, edit: (xml: string) => string = (x) => x): Config {
  const xml = readFileSync(REFERENCE, "utf8")
    .replace("<host>localhost</host>", "<host>127.0.0.1</host>")
    .replace("<username>test</username>", `<username>${db.user}</username>`)
    .replace("<password>test</password>", `<password>${db.password}</password>`)
    .replace("<basename>pydhcp</basename>", `<basename>${db.database}</basename>`);
  const r = parseConfig(edit(xml), "/tmp/pdc-test-config.xml");
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

describe("pydhcpdb reference setup (database pydhcp, user test/test, via localhost = socket)", () => {
  test("MAC 080027059ed0 gets 192.168.0.19 through the offer chain", async () => {
    await ensureReferenceDb(root);
    const loaded = loadConfig(REFERENCE);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const c = loaded.config;
    expect(c.database).toMatchObject({ kind: "mysql", socket: "/run/mysqld/mysqld.sock", user: "test", database: "pydhcp" });
    const backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const r = await runOfferChain(q.offers, macVars("080027059ed0", c.slices), c.queryTimeoutMs, defaults(c));
      expect(r.answer).toEqual({ ip: "192.168.0.19", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"], options: new Map() });
      if (!r.answer) throw new Error("no answer");
      expect(r.query).toBe("offer_3");
      expect(r.tried.map((t) => [t.name, t.rows])).toEqual([["offer_1", 0], ["offer_2", 0], ["offer_3", 1]]);
      // an unknown MAC gets nothing, and no failure
      const none = await runOfferChain(q.offers, macVars("0800270000ff", c.slices), c.queryTimeoutMs, defaults(c));
      expect(none.answer).toBeNull();
      expect("failure" in none && none.failure).toBeFalsy();
    } finally {
      await backend.close();
    }
  });
});

describe("throwaway database loaded from pydhcp.sql", () => {
  let db: TempDb;
  let backend: Backend;
  let c: Config;
  let q: PreparedConfig;
  /** a second server on the same database: its sync reads the rows `backend` writes (a server's own it leaves out) */
  let reader: Backend;
  beforeAll(async () => {
    db = await createTempDb(root);
    await loadPydhcpSql(root, db.database);
    c = referenceConfigFor(db);
    backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
    reader = await openBackend(c.database, memoryLog(), c.queryTimeoutMs, { leaseWriter: "another-server" });
    q = await prepared(backend, c);
  });
  afterAll(async () => {
    await reader?.close();
    await backend?.close();
    await db?.drop();
  });

  test("option 82: switch MAC and port from the seed packet select the subscriber", async () => {
    await root.query(`INSERT INTO \`${db.database}\`.users (ip, mask, router, dns, mac, port) VALUES ('192.168.0.50', '', '', '', '001e589eb2ad', '06')`);
    const vars = seedVars(c.slices);
    const r = await runOfferChain(q.offers, vars, c.queryTimeoutMs, defaults(c));
    if (!r.answer) throw new Error(`no answer: ${JSON.stringify(r)}`);
    // offer_1 compares the whole remote id (type 0, length 6, MAC) and finds nothing; offer_2's slices match
    expect(r.query).toBe("offer_2");
    expect(r.tried[0]).toMatchObject({ name: "offer_1", params: ["0006001e589eb2ad", "06"], rows: 0 });
    expect(r.tried[1]).toMatchObject({ name: "offer_2", params: ["001e589eb2ad", "06"], rows: 1 });
    // empty mask/router/dns columns take the config defaults
    expect(r.answer).toMatchObject({ ip: "192.168.0.50", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"] });

    // a row keyed by the full remote id (upper case) now wins through offer_1
    await root.query(`INSERT INTO \`${db.database}\`.users (ip, mask, router, dns, mac, port) VALUES ('10.1.2.3', '255.255.0.0', '10.1.0.1', '1.1.1.1 9.9.9.9', '0006001E589EB2AD', '06')`);
    const r1 = await runOfferChain(q.offers, vars, c.queryTimeoutMs, defaults(c));
    expect(r1.answer).toEqual({ ip: "10.1.2.3", mask: "255.255.0.0", router: "10.1.0.1", dns: ["1.1.1.1", "9.9.9.9"], options: new Map() });
    if (r1.answer) expect(r1.query).toBe("offer_1");
  });

  test("history_sql writes the row pydhcpdb wrote", async () => {
    const vars = seedVars(c.slices);
    await backend.runBatch([{ query: q.history!.query, params: q.history!.template.bind(vars) }]);
    const [rows] = (await root.query(
      `SELECT mac, ip, comment, TIMESTAMPDIFF(SECOND, dt, NOW()) AS age FROM \`${db.database}\`.history ORDER BY id DESC LIMIT 1`,
    )) as unknown as [{ mac: string; ip: string; comment: string; age: number }[]];
    expect(rows[0]).toMatchObject({ mac: "0025224ad764", ip: "0.0.0.0", comment: "DHCPACK/INFORM" });
    expect(Math.abs(Number(rows[0]!.age))).toBeLessThan(60);
  });

  test("runBatch is one transaction: a failing statement leaves no row of the batch", async () => {
    const count = async () => {
      const [r] = (await root.query(`SELECT COUNT(*) AS n FROM \`${db.database}\`.history`)) as unknown as [{ n: number }[]];
      return Number(r[0]!.n);
    };
    const before = await count();
    const h = q.history!;
    // NULL into a NOT NULL column fails the second statement
    const bad = new Map([["ClientMacAddress", "aabbccddeeff"]]);
    await expect(backend.runBatch([
      { query: h.query, params: h.template.bind(seedVars(c.slices)) },
      { query: h.query, params: h.template.bind(bad) },
    ])).rejects.toMatchObject({ kind: "query", query: "history_sql" });
    expect(await count()).toBe(before);
  });

  test("leases: upsert, get, byIp, loadActive, deleteExpired", async () => {
    const now = Math.floor(Date.now() / 1000);
    const lease = (k: string, ip: string, expires: number): Lease => ({
      clientKey: k, mac: k.slice(-12), ip, option82: "", expires, state: "bound", answer: '{"ip":"' + ip + '"}', updated: now, relay: "", hostname: "",
    });
    await backend.leases.upsert([lease("01aabbccddeeff", "192.0.2.10", now + 600), lease("01aabbccdd0000", "192.0.2.11", now - 10)]);
    expect(await backend.leases.get("01aabbccddeeff")).toEqual(lease("01aabbccddeeff", "192.0.2.10", now + 600));
    expect((await backend.leases.byIp("192.0.2.11"))?.clientKey).toBe("01aabbccdd0000");
    expect((await backend.leases.loadActive(now)).map((l) => l.clientKey)).toEqual(["01aabbccddeeff"]);
    await backend.leases.upsert([{ ...lease("01aabbccddeeff", "192.0.2.12", now + 900), state: "released" }]);
    expect(await backend.leases.get("01aabbccddeeff")).toMatchObject({ ip: "192.0.2.12", state: "released", expires: now + 900 });
    expect(await backend.leases.deleteExpired(now, 100)).toBe(1);
    expect(await backend.leases.get("01aabbccdd0000")).toBeNull();
  });

  test("a sync of rows from several seconds: every row changed since, once; older rows not", async () => {
    const now = Math.floor(Date.now() / 1000) + 100;
    const rows: Lease[] = Array.from({ length: 2600 }, (_, i) => {
      const mac = (0xbb0000 + i).toString(16).padStart(12, "0");
      return { clientKey: "02" + mac, mac, ip: `10.8.${i >> 8}.${i & 255}`, option82: "", expires: now + 600, state: "bound", answer: "{}", updated: now - 2 + (i % 4), relay: "", hostname: "" };
    });
    for (let i = 0; i < rows.length; i += 500) await backend.leases.upsert(rows.slice(i, i + 500));
    expect((await backend.leases.changedSince(now - 1)).filter((l) => l.ip.startsWith("10.8."))).toEqual([]);
    const got = (await reader.leases.changedSince(now - 1)).filter((l) => l.ip.startsWith("10.8."));
    const want = rows.filter((l) => l.updated >= now - 1).map((l) => l.clientKey).sort();
    expect(got.map((l) => l.clientKey).sort()).toEqual(want);
    expect(want.length).toBe(1950);
  });

  test("lease batches of every size leave a few prepared statements on the server, and every row", async () => {
    const now = Math.floor(Date.now() / 1000);
    const stmtCount = async () =>
      Number(((await root.query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")) as unknown as [{ Value: string }[]])[0][0]!.Value);
    const before = await stmtCount();
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
    // several slices of rows (leasesFrom): every row once, whole
    const changed = (await reader.leases.changedSince(now)).filter((l) => l.ip.startsWith("10.9."));
    expect(changed.length).toBe(n);
    expect(new Set(changed.map((l) => l.clientKey)).size).toBe(n);
    expect(changed.find((l) => l.clientKey === "01" + (n - 1).toString(16).padStart(12, "0"))).toMatchObject({ state: "bound", expires: now + 600, updated: now });
    // one statement per fixed chunk size (64, 16, 4, 1) per pooled connection, not one per batch size
    expect((await stmtCount()) - before).toBeLessThanOrEqual(4 * 10);
  });
});

describe("timeouts and lost connections", () => {
  let db: TempDb;
  beforeAll(async () => {
    db = await createTempDb(root);
    await loadPydhcpSql(root, db.database);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a query over its timeout fails as a timeout naming it; the pool keeps working", async () => {
    const c = referenceConfigFor(db, (x) =>
      x
        .replace("<offer_count>3</offer_count>", "<offer_count>2</offer_count><timeout>300</timeout>")
        .replace(/<offer_1>[^<]*<\/offer_1>/, "<offer_1>select sleep(5) as ip from users where mac = '{ClientMacAddress}'</offer_1>")
        .replace(/<offer_2>[^<]*<\/offer_2>/, "<offer_2>select ip, mask, router, dns from users where mac = '{ClientMacAddress}'</offer_2>")
        .replace(/<offer_3>[^<]*<\/offer_3>/, "")
        .replace("</mysql>", "<poolSize>1</poolSize></mysql>"),
    );
    expect(c.queryTimeoutMs).toBe(300);
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
      // the one pooled connection was busy sleeping; the next query gets a fresh one
      const rows = await q.offers[1]!.query.run(["080027059ed0"]);
      expect(rows.map((x) => x.ip)).toEqual(["192.168.0.19"]);
      // and the server-side sleep was killed rather than left running
      await Bun.sleep(200);
      const [procs] = (await root.query("SELECT COUNT(*) AS n FROM information_schema.processlist WHERE user = ? AND info LIKE 'select sleep%'", [db.user])) as unknown as [{ n: number }[]];
      expect(Number(procs[0]!.n)).toBe(0);
    } finally {
      await backend.close();
    }
  });

  test("connections killed by the server are replaced: queries keep working", async () => {
    const c = referenceConfigFor(db, (x) => x.replace("</mysql>", "<poolSize>2</poolSize></mysql>"));
    const log = memoryLog();
    const backend = await openBackend(c.database, log, c.queryTimeoutMs);
    try {
      const q = await prepared(backend, c);
      const offer3 = q.offers[2]!.query;
      expect((await offer3.run(["080027059ed0"])).length).toBe(1);
      const [ids] = (await root.query("SELECT id FROM information_schema.processlist WHERE user = ?", [db.user])) as unknown as [{ id: number }[]];
      expect(ids.length).toBeGreaterThan(0);
      for (const { id } of ids) await root.query(`KILL CONNECTION ${Number(id)}`);
      await Bun.sleep(100);
      // within a few seconds queries work again (mysql2 drops dead pooled connections; the loop re-pings)
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

  test("database restart (proxy stopped, then started): fail fast while down, reconnect with a log line", async () => {
    const proxy = new TcpProxy({ host: "127.0.0.1", port: 3306 });
    proxy.start();
    const port = proxy.port;
    const c = referenceConfigFor(db, (x) => x.replace("</mysql>", `<port>${port}</port><poolSize>2</poolSize></mysql>`));
    await expectRestartRecovery(c, proxy);
  });
});

describe("pydhcp_lease from an older pydhcp", () => {
  test("gains relay, hostname, writer and the (updated, writer)/mac indexes at open; list, changedSince and release work on it", async () => {
    const db = await createTempDb(root);
    try {
      await root.query(`CREATE TABLE \`${db.database}\`.pydhcp_lease (
        client_key varchar(255) NOT NULL, mac varchar(64) NOT NULL, ip varchar(15) NOT NULL, option82 varchar(600) NOT NULL DEFAULT '',
        expires bigint NOT NULL, state varchar(16) NOT NULL, answer text NOT NULL, updated bigint NOT NULL,
        PRIMARY KEY (client_key), KEY pydhcp_lease_ip (ip), KEY pydhcp_lease_expires (expires), KEY pydhcp_lease_updated (updated)) ENGINE=InnoDB`);
      const now = Math.floor(Date.now() / 1000);
      await root.query(`INSERT INTO \`${db.database}\`.pydhcp_lease VALUES ('k1', '020000ee0001', '198.18.9.1', '', ?, 'bound', '{}', ?)`, [now + 600, now]);
      const c = referenceConfigFor(db);
      const backend = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
      try {
        const [keys] = (await root.query(
          "SELECT DISTINCT index_name AS k FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'pydhcp_lease'",
          [db.database],
        )) as unknown as [{ k: string }[]];
        // the index on updated alone gave way to (updated, writer)
        expect(keys.map((r) => r.k).sort()).toEqual(["PRIMARY", "pydhcp_lease_expires", "pydhcp_lease_ip", "pydhcp_lease_mac", "pydhcp_lease_updated_writer"]);
        await expectUpgradedLeases(backend, now);
        const [writers] = (await root.query(`SELECT client_key, writer FROM \`${db.database}\`.pydhcp_lease ORDER BY client_key`)) as unknown as [{ client_key: string; writer: string }[]];
        expect(writers.map((r) => [r.client_key, r.writer])).toEqual([["k1", "release"], ["k2", LEASE_WRITER]]);
      } finally {
        await backend.close();
      }
      // a second open finds nothing to add
      const again = await openBackend(c.database, memoryLog(), c.queryTimeoutMs);
      await again.close();
    } finally {
      await db.drop();
    }
  });
});

describe("lease sync without this server's own rows", () => {
  test("changedSince leaves out the rows this writer upserted, reads another's and releases; through the (updated, writer) index", async () => {
    const db = await createTempDb(root);
    const c = referenceConfigFor(db);
    const a = await openBackend(c.database, memoryLog(), c.queryTimeoutMs, { leaseWriter: "server-a" });
    const b = await openBackend(c.database, memoryLog(), c.queryTimeoutMs, { leaseWriter: "server-b" });
    try {
      const now = Math.floor(Date.now() / 1000);
      await expectOwnRowsSkipped(a, b, now);
      const [rows] = (await root.query(`SELECT client_key, writer FROM \`${db.database}\`.pydhcp_lease ORDER BY client_key`)) as unknown as [{ client_key: string; writer: string }[]];
      expect(rows.map((r) => r.writer)).toEqual(["server-a", "server-b", "release", "server-b"]);
      // 5,000 older rows and 2,000 of a's in the window (where MariaDB on its own would scan the
      // whole table): the sync reads the window through the index, a's rows skipped in it
      await root.query(
        `INSERT INTO \`${db.database}\`.pydhcp_lease (client_key, mac, ip, expires, state, answer, updated, writer)
         SELECT CONCAT('old', seq), '020000000000', '198.18.7.1', ?, 'bound', '{}', IF(seq <= 2000, ?, ?), 'server-a' FROM \`${db.database}\`.seq_1_to_7000`,
        [now + 600, now, now - 3600],
      );
      expect(await a.leases.changedSince(now - 2)).toHaveLength(3);
      expect(await b.leases.changedSince(now - 2)).toHaveLength(2002);
      const conn = await root.getConnection();
      try {
        await conn.query(`USE \`${db.database}\``);
        await conn.query("ANALYZE TABLE pydhcp_lease");
        const [plan] = (await conn.query(`ANALYZE FORMAT=JSON ${SYNC_SQL}`, [now - 2, "server-a"])) as unknown as [Record<string, string>[]];
        const table = JSON.parse(Object.values(plan[0]!)[0]!).query_block.nested_loop[0].table;
        expect(table).toMatchObject({ access_type: "range", key: "pydhcp_lease_updated_writer", r_rows: 3 });
        expect(String(table.index_condition)).toContain("writer");
        // the index dropped by hand while the servers run: the sync still works, unforced
        await conn.query("ALTER TABLE pydhcp_lease DROP INDEX pydhcp_lease_updated_writer");
        expect(await a.leases.changedSince(now - 2)).toHaveLength(3);
      } finally {
        conn.release();
      }
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
