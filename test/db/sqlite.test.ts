/**
 * The SQLite backend: first start creates the schema and says how to add a
 * subscriber; pydhcpdb's reference queries run unchanged (now() rewritten);
 * option 82 matching; history in one transaction; leases.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { openBackend } from "../../src/db/open.ts";
import { prepareQueries, type PreparedConfig } from "../../src/db/queries.ts";
import { runOfferChain } from "../../src/db/chain.ts";
import type { Lease } from "../../src/db/backend.ts";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import { memoryLog } from "./mariadb.ts";
import { macVars, seedVars } from "./vars.ts";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";

const REFERENCE_XML = readFileSync(REFERENCE_CONFIG, "utf8");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pdc-sqlite-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sqliteConfig(path: string): Config {
  const xml = REFERENCE_XML.replace(/<mysql>[\s\S]*<\/mysql>/, `<database><sqlite><path>${path}</path></sqlite></database>`);
  const r = parseConfig(xml, join(dir, "config.xml"));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

describe("SQLite backend with pydhcpdb's reference queries", () => {
  let backend: SqliteBackend;
  let c: Config;
  let q: PreparedConfig;
  const log = memoryLog();
  beforeAll(async () => {
    c = sqliteConfig("pydhcp.db");
    expect(c.database).toEqual({ kind: "sqlite", path: join(dir, "pydhcp.db") });
    expect(existsSync(join(dir, "pydhcp.db"))).toBe(false);
    backend = (await openBackend(c.database, log)) as SqliteBackend;
    const p = await prepareQueries(backend, c);
    if (!p.ok) throw new Error(p.problems.join("\n"));
    q = p.queries;
  });
  afterAll(async () => {
    await backend?.close();
  });

  test("first start creates users, history, pydhcp_lease in WAL mode and logs how to add a subscriber", () => {
    const names = backend.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").map((r) => r.name);
    expect(names).toEqual(["history", "pydhcp_history_mark", "pydhcp_lease", "users"]);
    expect(backend.exec("PRAGMA journal_mode")[0]).toEqual({ journal_mode: "wal" });
    // subscribers' MACs and addresses: owner only, the WAL too
    expect(statSync(join(dir, "pydhcp.db")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "pydhcp.db-wal")).mode & 0o777).toBe(0o600);
    const created = log.lines.find((l) => l.msg.includes("created a new SQLite database"));
    expect(String(created?.fields?.hint)).toContain("insert into users");
    // history has pydhcpdb's columns
    expect(backend.exec("PRAGMA table_info(history)").map((r) => r.name)).toEqual(["id", "dt", "mac", "ip", "comment"]);
  });

  test("MAC 080027059ed0 gets 192.168.0.19; the switch MAC + port of the seed packet gets its row", async () => {
    backend.exec("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('192.168.0.19', '255.255.255.0', '192.168.0.1', '8.8.8.8', '080027059ed0', '')");
    backend.exec("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('192.168.0.50', '255.255.255.0', '192.168.0.1', '8.8.4.4, 1.1.1.1', '001e589eb2ad', '06')");
    const d = { mask: c.server.defaultMask, router: c.server.defaultRouter, dns: c.server.defaultDns };
    const byMac = await runOfferChain(q.offers, macVars("080027059ed0", c.slices), 2000, d);
    expect(byMac.answer).toEqual({ ip: "192.168.0.19", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"], options: new Map() });
    if (byMac.answer) expect(byMac.query).toBe("offer_3");
    const by82 = await runOfferChain(q.offers, seedVars(c.slices), 2000, d);
    expect(by82.answer).toMatchObject({ ip: "192.168.0.50", dns: ["8.8.4.4", "1.1.1.1"] });
    if (by82.answer) expect(by82.query).toBe("offer_2");
  });

  test("history_sql's now() becomes the bound event time (local, as MySQL's NOW()); runBatch is one transaction", async () => {
    const h = q.history!;
    expect(h.template.sql).not.toContain("now");
    const at = Date.now() - 60_000;
    await backend.runBatch([{ query: h.query, params: h.template.bind(seedVars(c.slices), at) }]);
    const [row] = backend.exec("SELECT dt, mac, ip, comment FROM history ORDER BY id DESC LIMIT 1");
    expect(row).toMatchObject({ mac: "0025224ad764", ip: "0.0.0.0", comment: "DHCPACK/INFORM" });
    const dt = new Date(String(row!.dt).replace(" ", "T"));
    expect(Math.abs(dt.getTime() - at)).toBeLessThan(1000);
    const before = backend.exec("SELECT COUNT(*) AS n FROM history")[0]!.n;
    // the second statement binds NULL into NOT NULL mac: the whole batch rolls back
    await expect(backend.runBatch([
      { query: h.query, params: h.template.bind(seedVars(c.slices)) },
      { query: h.query, params: h.template.bind(new Map()) },
    ])).rejects.toMatchObject({ kind: "query", query: "history_sql" });
    expect(backend.exec("SELECT COUNT(*) AS n FROM history")[0]!.n).toBe(before);
  });

  test("a statement SQLite cannot prepare is a prepare error naming the query", async () => {
    await expect(backend.prepare("offer_9", "select ip from no_such_table where mac = ?")).rejects.toMatchObject({ kind: "prepare", query: "offer_9" });
  });

  test("leases: upsert, get, byIp prefers the current lease, loadActive, deleteExpired with a limit", async () => {
    const now = Math.floor(Date.now() / 1000);
    const lease = (k: string, ip: string, expires: number): Lease => ({
      clientKey: k, mac: k.slice(-12), ip, option82: "0102", expires, state: "bound", answer: "{}", updated: now, relay: "", hostname: "",
    });
    await backend.leases.upsert([lease("a1", "192.0.2.10", now - 5), lease("a2", "192.0.2.10", now + 600), lease("a3", "192.0.2.11", now - 1)]);
    expect((await backend.leases.byIp("192.0.2.10"))?.clientKey).toBe("a2");
    expect(await backend.leases.get("a2")).toEqual(lease("a2", "192.0.2.10", now + 600));
    expect((await backend.leases.loadActive(now)).map((l) => l.clientKey)).toEqual(["a2"]);
    await backend.leases.upsert([{ ...lease("a2", "192.0.2.12", now + 700), state: "released" }]);
    expect(await backend.leases.get("a2")).toMatchObject({ ip: "192.0.2.12", state: "released" });
    expect(await backend.leases.deleteExpired(now, 1)).toBe(1);
    expect(await backend.leases.deleteExpired(now, 10)).toBe(1);
    expect(await backend.leases.get("a1")).toBeNull();
    expect(await backend.leases.get("a3")).toBeNull();
  });

  test("leases: a set larger than one write transaction is written whole, in order, the last write of a client winning", async () => {
    const now = Math.floor(Date.now() / 1000);
    const lease = (i: number, expires: number): Lease => ({
      clientKey: `big${i}`, mac: `0c0200${String(i).padStart(6, "0")}`, ip: `198.18.9.${i % 250}`, option82: "", expires, state: "bound", answer: "{}", updated: now, relay: "", hostname: "",
    });
    // 230 leases (several transactions of 50) and, last, a second write of the first client
    const set = Array.from({ length: 230 }, (_, i) => lease(i, now + 600 + i));
    set.push({ ...lease(0, now + 9999) });
    await backend.leases.upsert(set);
    const stored = backend.exec("SELECT client_key, expires FROM pydhcp_lease WHERE client_key LIKE 'big%'") as { client_key: string; expires: number }[];
    expect(stored.length).toBe(230);
    expect(stored.find((r) => r.client_key === "big0")?.expires).toBe(now + 9999);
    expect(stored.find((r) => r.client_key === "big229")?.expires).toBe(now + 600 + 229);
  });
});

test("an existing database without pydhcp_lease gets it; users and history are left alone", async () => {
  const path = join(dir, "existing.db");
  const db = new Database(path, { create: true });
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, ip TEXT, mask TEXT, router TEXT, dns TEXT, mac TEXT, port TEXT)");
  db.exec("INSERT INTO users (ip, mac) VALUES ('198.18.0.9', 'aabbccddeeff')");
  db.close();
  const log = memoryLog();
  const b = (await openBackend({ kind: "sqlite", path }, log)) as SqliteBackend;
  try {
    expect(b.exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map((r) => r.name)).toEqual(["pydhcp_history_mark", "pydhcp_lease", "users"]);
    expect(b.exec("SELECT ip FROM users")).toEqual([{ ip: "198.18.0.9" }]);
    expect(log.lines.some((l) => l.msg.includes("created a new"))).toBe(false);
  } finally {
    await b.close();
  }
});

test("an unopenable path is a connect error", async () => {
  await expect(openBackend({ kind: "sqlite", path: "/nonexistent-pdc-dir/x/pydhcp.db" }, memoryLog())).rejects.toMatchObject({ kind: "connect" });
});
