/**
 * Hostile variable values through every query of pydhcpdb's reference
 * config, offers and history, on SQLite, MariaDB and PostgreSQL: every value must
 * arrive as data (stored byte for byte, matched literally), every table must
 * stay as it was, and the subscriber must still get the right answer.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { openBackend } from "../../src/db/open.ts";
import { prepareQueries, type PreparedConfig } from "../../src/db/queries.ts";
import { runOfferChain } from "../../src/db/chain.ts";
import type { Backend, Row } from "../../src/db/backend.ts";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import { createTempDb, loadPydhcpSql, memoryLog, rootPool, type TempDb } from "./mariadb.ts";
import { macVars } from "./vars.ts";
import { closeAdmin, createTempPgDb, referencePgXml } from "./postgresql.ts";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";

const REFERENCE_XML = readFileSync(REFERENCE_CONFIG, "utf8");

const HOSTILE: readonly string[] = [
  "'); DROP TABLE users; --",
  "' OR '1'='1",
  "080027059ed0' OR '1'='1",
  "\\' OR 1=1 -- ",
  "\\",
  "\\\\'\\\"",
  "x\0y",
  "\0",
  // invalid UTF-8 in a packet reaches the variables as Latin-1 text; a lone surrogate is invalid UTF-16
  "\x91\xa5\xe0\xa3\xff\xfe",
  "\uD800",
  "{ClientMacAddress}",
  "?",
  // PostgreSQL's own placeholder and quoting forms
  "$1",
  "$$; DROP TABLE users; $$",
  "E'\\''; DROP TABLE users; --",
  "%",
  "_",
  "'".repeat(255),
  "\\".repeat(255),
  "\\'".repeat(127) + "\\",
];

/** What the value reads back as: UTF-8 has no lone surrogates. */
const utf8 = (v: string) => Buffer.from(v, "utf8").toString("utf8");

interface Target {
  name: string;
  /** what a value reads back as */
  stored(v: string): string;
  /** SQL listing the tables, as column name */
  tablesSql: string;
  setup(): Promise<{ config: Config; backend: Backend; sql(q: string): Promise<Row[]>; cleanup(): Promise<void> }>;
}

const sqliteTarget: Target = {
  name: "SQLite",
  stored: utf8,
  tablesSql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), "pdc-inj-"));
    const path = join(dir, "pydhcp.db");
    const xml = REFERENCE_XML.replace(/<mysql>[\s\S]*<\/mysql>/, `<database><sqlite><path>${path}</path></sqlite></database>`);
    const r = parseConfig(xml, join(dir, "config.xml"));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const backend = await openBackend(r.config.database, memoryLog());
    const raw = backend as SqliteBackend;
    raw.exec("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('192.168.0.19', '255.255.255.0', '192.168.0.1', '8.8.8.8', '080027059ed0', '')");
    return {
      config: r.config,
      backend,
      sql: async (q) => raw.exec(q),
      cleanup: async () => {
        await backend.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

let root: Pool | null = null;
const mariadbTarget: Target = {
  name: "MariaDB",
  stored: utf8,
  tablesSql: "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name",
  async setup() {
    root ??= await rootPool();
    const pool = root;
    const db: TempDb = await createTempDb(pool, "pdcinj");
    await loadPydhcpSql(pool, db.database);
    // room for the 255-character values, in full Unicode
    await pool.query(`ALTER TABLE \`${db.database}\`.history CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, MODIFY mac varchar(300) NOT NULL, MODIFY ip varchar(300) NOT NULL`);
    const xml = REFERENCE_XML.replace("<host>localhost</host>", "<host>127.0.0.1</host>")
      .replace("<username>test</username>", `<username>${db.user}</username>`)
      .replace("<password>test</password>", `<password>${db.password}</password>`)
      .replace("<basename>pydhcp</basename>", `<basename>${db.database}</basename>`);
    const r = parseConfig(xml, "/tmp/pdc-inj.xml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const backend = await openBackend(r.config.database, memoryLog());
    return {
      config: r.config,
      backend,
      sql: async (q) => ((await pool.query(`USE \`${db.database}\`; ${q}`)) as unknown as [unknown[], unknown])[0][1] as Row[],
      cleanup: async () => {
        await backend.close();
        await db.drop();
      },
    };
  },
};

const postgresqlTarget: Target = {
  name: "PostgreSQL",
  // text cannot hold NUL: pydhcp binds U+FFFD in its place
  stored: (v) => utf8(v.replaceAll("\0", "\uFFFD")),
  tablesSql: "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  async setup() {
    const db = await createTempPgDb("pdcinj");
    await db.sql("ALTER TABLE history ALTER mac TYPE varchar(300), ALTER ip TYPE varchar(300)");
    const r = parseConfig(referencePgXml(db), "/tmp/pdc-inj-pg.xml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const backend = await openBackend(r.config.database, memoryLog());
    return {
      config: r.config,
      backend,
      sql: async (q) => (await db.sql(q)) as Row[],
      cleanup: async () => {
        await backend.close();
        await db.drop();
      },
    };
  },
};

afterAll(async () => {
  await root?.end();
  await closeAdmin();
});

for (const target of [sqliteTarget, mariadbTarget, postgresqlTarget]) {
  describe(`hostile values on ${target.name}`, () => {
    let env: Awaited<ReturnType<Target["setup"]>>;
    let q: PreparedConfig;
    beforeAll(async () => {
      env = await target.setup();
      const p = await prepareQueries(env.backend, env.config);
      if (!p.ok) throw new Error(p.problems.join("\n"));
      q = p.queries;
    });
    afterAll(async () => {
      await env?.cleanup();
    });

    const defaults = () => ({ mask: env.config.server.defaultMask, router: env.config.server.defaultRouter, dns: env.config.server.defaultDns });
    const tables = async () => (await env.sql(target.tablesSql)).map((r) => String(r.name ?? r.NAME));

    test("every value is data: answers stay right, history stores it exactly, tables intact", async () => {
      const tablesBefore = await tables();
      expect(tablesBefore).toEqual(["history", "pydhcp_history_mark", "pydhcp_lease", "users"]);
      for (const v of HOSTILE) {
        // option 82 variables, the slices and RequestedIpAddress hostile; the MAC is the subscriber's
        const vars = macVars("080027059ed0", env.config.slices);
        for (const name of ["option_82_AgentRemoteId_hex", "option_82_AgentCircuitId_port_hex", "sw_mac", "sw_port2", "RequestedIpAddress", "HostName"]) vars.set(name, v);
        const r = await runOfferChain(q.offers, vars, 2000, defaults());
        expect(r.answer?.ip).toBe("192.168.0.19");
        expect(r.tried.map((t) => [t.name, t.rows, t.error])).toEqual([["offer_1", 0, undefined], ["offer_2", 0, undefined], ["offer_3", 1, undefined]]);
        expect(r.tried[0]!.params).toEqual([v, v]);

        // the hostile value as the MAC itself matches nobody and breaks nothing
        const asMac = macVars("080027059ed0", env.config.slices);
        asMac.set("ClientMacAddress", v);
        const none = await runOfferChain(q.offers, asMac, 2000, defaults());
        expect(none.answer).toBeNull();
        expect("failure" in none ? none.failure : undefined).toBeUndefined();

        await env.backend.runBatch([{ query: q.history!.query, params: q.history!.template.bind(asMac.set("RequestedIpAddress", v)) }]);
        const [row] = await env.sql("SELECT mac, ip, comment FROM history ORDER BY id DESC LIMIT 1");
        expect(row).toEqual({ mac: target.stored(v), ip: target.stored(v), comment: "DHCPACK/INFORM" });
      }
      expect(await tables()).toEqual(tablesBefore);
      const [users] = await env.sql("SELECT COUNT(*) AS n FROM users");
      expect(Number(users!.n)).toBe(1);
      const [history] = await env.sql("SELECT COUNT(*) AS n FROM history");
      expect(Number(history!.n)).toBe(HOSTILE.length);
    });
  });
}
