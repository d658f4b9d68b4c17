/**
 * Hostile strings in host name (12), vendor class (60), client identifier
 * (61) and option 82 circuit and remote ids, sent to the running server with
 * SQLite, MariaDB and PostgreSQL (throwaway databases on the shared servers):
 * SQL, quotes, backslashes, NUL, invalid UTF-8, 255-byte values, terminal
 * escapes and forged log lines.
 *
 * Each client's row is keyed by the text the variable yields for those
 * bytes, so the client gets its own address only when the value was bound
 * unchanged; `' OR '1'='1` from a client with no row gets nothing. The
 * history row stores exactly the variables' text; every table is intact;
 * the server's output holds no raw control character and no forged line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { decode } from "../../src/codec/decode.ts";
import { buildRequest } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { createTempDb, rootPool, SOCKET, type TempDb } from "../db/mariadb.ts";
import { closeAdmin, createTempPgDb, PG_SOCKET_DIR, type TempPgDb } from "../db/postgresql.ts";
import { extractVariables } from "../../src/variables/extract.ts";
import { MessageType } from "../../src/codec/message.ts";
import { Relay, freeUdpPort, macOf, option82, replyType, serverConfig, text } from "./support.ts";

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...text(p)] : p)));

const HOSTILE: [name: string, value: Uint8Array][] = [
  ["drop table", text("'); DROP TABLE users; --")],
  ["or 1=1", text("' OR '1'='1")],
  ["backslash quote", text("\\'; DROP TABLE hu; -- \\")],
  ["trailing backslash", text("a\\b\\\\c\\")],
  ["quotes", text(`"double" 'single' \`back\``)],
  ["like wildcards", text("%_%")],
  ["NUL bytes", bytes("a", [0], "b", [0, 0])],
  ["invalid UTF-8", bytes([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80])],
  ["255 bytes", text("';".repeat(127) + "'")],
  ["terminal escapes", bytes([0x1b], "[2J", [0x1b], "[31mred", [0x1b], "]0;title", [7])],
  ["forged log line", text("x\r\n2026-01-01T00:00:00.000Z INFO forged line mac=000000000000")],
  ["valid UTF-8", text("Zürich-☃-𝄞")],
];

type Field = "hostname" | "vendor" | "client-id" | "circuit" | "remote";
const FIELDS: Field[] = ["hostname", "vendor", "client-id", "circuit", "remote"];
/** the variable each field is matched and stored by */
const VARIABLE: Record<Field, string> = {
  hostname: "HostName",
  vendor: "Vendor",
  "client-id": "client_id_hex",
  circuit: "circuit_id_text",
  remote: "remote_id_text",
};
const COLUMN: Record<Field, string> = { hostname: "host", vendor: "vendor", "client-id": "cid", circuit: "circuit", remote: "remote" };

interface Case {
  mac: string;
  field: Field;
  name: string;
  options: [number, Uint8Array][];
  /** the variable's text for these bytes; null = the variable is absent (binds NULL) */
  expected: string | null;
  ip: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const [name, raw] of HOSTILE) {
    for (const field of FIELDS) {
      n++;
      // option 82 holds sub-options 1, 2 and 19 in 255 bytes
      const v = field === "circuit" || field === "remote" ? raw.slice(0, 240) : raw;
      const rai = field === "circuit" ? option82(v) : field === "remote" ? option82(text("c"), v) : option82(text("c"));
      const options: [number, Uint8Array][] = [[82, rai]];
      if (field === "hostname") options.unshift([12, v]);
      if (field === "vendor") options.unshift([60, v]);
      if (field === "client-id") options.unshift([61, v]);
      const mac = macOf(n, 0x0c);
      const d = decode(buildRequest({ type: MessageType.DISCOVER, mac, giaddr: "127.0.0.1", options }));
      if (!d.ok) throw new Error(`case ${name}/${field} does not decode: ${d.error.message}`);
      const expected = extractVariables(d.msg).get(VARIABLE[field]) ?? null;
      out.push({ mac, field, name, options, expected, ip: `198.18.8.${n}` });
    }
  }
  return out;
}

const OFFERS = FIELDS.map((f) => `select ip, mask, router, dns from hu where mac = '{chaddr}' and tag = '{${VARIABLE[f]}}'`);
const HISTORY =
  "insert into hh (mac, ip, host, vendor, cid, circuit, remote) values " +
  "('{chaddr}', '{RequestedIpAddress}', '{HostName}', '{Vendor}', '{client_id_hex}', '{circuit_id_text}', '{remote_id_text}')";

function config(serverPort: number, database: string): string {
  const xml = serverConfig({ serverPort, clientPort: 68, database, offer: OFFERS[0]!, history: HISTORY, extra: "<log><level>debug</level></log>" });
  // five offers: one per field
  return xml.replace(
    /<offer_count>1<\/offer_count>\s*<offer_1>[^]*?<\/offer_1>/,
    `<offer_count>${OFFERS.length}</offer_count>` + OFFERS.map((q, i) => `<offer_${i + 1}>${q.replaceAll("<", "&lt;")}</offer_${i + 1}>`).join(""),
  );
}

interface Store {
  /** hu rows and canary rows, then run the server */
  rows(table: "hu" | "hh" | "users"): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * `stored`: what the database keeps for a value (PostgreSQL text cannot
 * hold NUL; pydhcp binds U+FFFD in its place).
 */
async function exercise(server: RunningServer, serverPort: number, store: Store, all: Case[], stored = (v: string) => v): Promise<void> {
  const relay = await Relay.open(serverPort);
  try {
    for (const c of all) {
      const silent = c.expected === null || c.expected === "";
      const r = await relay.dora(c.mac, c.options.find(([k]) => k === 82)![1], {
        options: c.options.filter(([k]) => k !== 82),
        timeoutMs: silent ? 400 : 1500,
      });
      if (c.expected === null || c.expected === "") {
        // an absent variable binds NULL and matches nothing
        expect("failed" in r ? r.failed : "answered").toBe("DISCOVER got null");
      } else {
        if ("failed" in r) throw new Error(`${c.name} in ${c.field}: ${r.failed}`);
        expect(r.ack.yiaddr).toBe(c.ip);
      }
    }
    // the injection that would match every row if spliced: no row for this client, no answer
    for (const field of ["hostname", "vendor", "circuit"] as Field[]) {
      const v = text("' OR '1'='1");
      const options: [number, Uint8Array][] = field === "hostname" ? [[12, v]] : field === "vendor" ? [[60, v]] : [];
      const rai = field === "circuit" ? option82(v) : option82(text("c"));
      const reply = await relay.exchange({ type: MessageType.DISCOVER, mac: "0c0000ffffff", giaddr: "127.0.0.1", options: [...options, [82, rai]] }, 400);
      expect(replyType(reply)).toBeNull();
    }
  } finally {
    relay.close();
  }
  // history: an OFFER and an ACK row per answered client, holding the variables' text exactly
  await Bun.sleep(300);
  const hh = await store.rows("hh");
  for (const c of all) {
    const mine = hh.filter((r) => r.mac === c.mac);
    if (c.expected === null || c.expected === "") {
      expect(mine.length).toBe(0);
      continue;
    }
    expect(mine.length).toBe(2);
    for (const r of mine) expect(r[COLUMN[c.field]]).toBe(stored(c.expected));
  }
  const answered = all.filter((c) => c.expected).length;
  console.log(`hostile: ${all.length} cases (${HOSTILE.length} values x ${FIELDS.length} fields): ${answered} answered with their own row, ${all.length - answered} with no text variable (NULL, no answer)`);
  // tables intact
  expect((await store.rows("hu")).length).toBe(all.length);
  expect((await store.rows("users")).map((r) => r.mac)).toEqual(["0c00canary00"]);

  const out = server.output();
  expect(out.length).toBeGreaterThan(1000);
  // no raw control character (other than line ends), no raw replacement char from invalid bytes
  expect(out.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd]/g) ?? []).toEqual([]);
  // the forged line is inside an escaped value, never a line of its own
  expect(out.split("\n").filter((l) => /^\S+ INFO forged line/.test(l))).toEqual([]);
  expect(out).toContain("forged line");
}

describe("SQLite", () => {
  let dir: string;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  test("hostile strings are bound, stored as their text, logged escaped; tables intact", async () => {
    dir = mkdtempSync(join(tmpdir(), "pdr-hostile-"));
    const all = cases();
    const path = join(dir, "t.db");
    const db = new Database(path);
    db.run("create table hu (mac text not null, tag text not null, ip text, mask text, router text, dns text)");
    db.run("create table hh (id integer primary key, mac text, ip text, host text, vendor text, cid text, circuit text, remote text)");
    db.run("create table users (id integer primary key, ip text, mask text, router text, dns text, mac text, port text)");
    db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.9', '', '', '', '0c00canary00', '')");
    const add = db.prepare("insert into hu values (?, ?, ?, '255.255.255.0', '198.18.8.254', '198.18.0.53')");
    for (const c of all) add.run(c.mac, c.expected ?? "", c.ip);
    db.close();
    const serverPort = await freeUdpPort();
    server = await startServer({ config: config(serverPort, `<sqlite><path>${path}</path></sqlite>`), dir });
    const store: Store = {
      async rows(table) {
        const d = new Database(path, { readonly: true });
        try {
          return d.query(`select * from ${table} order by rowid`).all() as Record<string, unknown>[];
        } finally {
          d.close();
        }
      },
      async close() {},
    };
    await exercise(server, serverPort, store, all);
  }, 60_000);
});

describe("MariaDB", () => {
  let root: Pool | undefined;
  let db: TempDb | undefined;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    await db?.drop();
    await root?.end();
  });
  test("hostile strings are bound, stored as their text, logged escaped; tables intact", async () => {
    root = await rootPool();
    db = await createTempDb(root, "pdr");
    const q = (sql: string, values: unknown[] = []) => root!.query(sql.replaceAll("DB", `\`${db!.database}\``), values);
    await q("create table DB.hu (mac varchar(64) not null, tag varchar(1000) not null, ip varchar(50), mask varchar(50), router varchar(50), dns varchar(100)) character set utf8mb4 collate utf8mb4_bin");
    await q("create table DB.hh (id int auto_increment primary key, mac varchar(64), ip varchar(50), host varchar(1000), vendor varchar(1000), cid varchar(1000), circuit varchar(1000), remote varchar(1000)) character set utf8mb4 collate utf8mb4_bin");
    await q("create table DB.users (id int auto_increment primary key, ip varchar(50), mask varchar(50), router varchar(50), dns varchar(100), mac varchar(50), port varchar(10))");
    await q("insert into DB.users (ip, mask, router, dns, mac, port) values ('198.18.0.9', '', '', '', '0c00canary00', '')");
    const all = cases();
    for (const c of all) await q("insert into DB.hu values (?, ?, ?, '255.255.255.0', '198.18.8.254', '198.18.0.53')", [c.mac, c.expected ?? "", c.ip]);
    const serverPort = await freeUdpPort();
    server = await startServer({
      config: config(
        serverPort,
        `<mysql><host>localhost</host><socket>${SOCKET}</socket><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></mysql>`,
      ),
    });
    const store: Store = {
      async rows(table) {
        const [r] = (await q(`select * from DB.${table} order by ${table === "hu" ? "mac" : "id"}`)) as unknown as [Record<string, unknown>[]];
        return r.map((row) => ({ ...row }));
      },
      async close() {},
    };
    await exercise(server, serverPort, store, all);
  }, 60_000);
});

describe("PostgreSQL", () => {
  let db: TempPgDb | undefined;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    await db?.drop();
    await closeAdmin();
  });
  test("hostile strings are bound, stored as their text (NUL as U+FFFD), logged escaped; tables intact", async () => {
    db = await createTempPgDb("pdr");
    const nul = (v: string) => v.replaceAll("\0", "\uFFFD");
    await db.sql("delete from users");
    await db.sql("create table hu (mac varchar(64) not null, tag varchar(1000) not null, ip varchar(50), mask varchar(50), router varchar(50), dns varchar(100))");
    await db.sql("create table hh (id serial primary key, mac varchar(64), ip varchar(50), host varchar(1000), vendor varchar(1000), cid varchar(1000), circuit varchar(1000), remote varchar(1000))");
    await db.sql("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.9', '', '', '', '0c00canary00', '')");
    const all = cases();
    for (const c of all) await db.sql("insert into hu values ($1, $2, $3, '255.255.255.0', '198.18.8.254', '198.18.0.53')", [c.mac, nul(c.expected ?? ""), c.ip]);
    const serverPort = await freeUdpPort();
    server = await startServer({
      config: config(
        serverPort,
        `<postgresql><socket>${PG_SOCKET_DIR}</socket><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></postgresql>`,
      ),
    });
    const pg = db;
    const store: Store = {
      async rows(table) {
        return pg.sql(`select * from ${table} order by ${table === "hu" ? "mac" : "id"}`);
      },
      async close() {},
    };
    await exercise(server, serverPort, store, all, nul);
  }, 60_000);
});
