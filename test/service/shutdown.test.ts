/**
 * SIGTERM under load, against the built binary, with SQLite, MariaDB and PostgreSQL:
 * exit 0 within 5 s, and the history table holds exactly one row per OFFER
 * and ACK the client received (history_sql runs on OFFER and ACK, as in
 * pydhcpdb), nothing for a reply that never left, and no spool left over.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { MessageType, type DhcpMessage } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { ROOT, startServer } from "../support/server.ts";
import { createTempDb, rootPool, type TempDb } from "../db/mariadb.ts";
import { closeAdmin, createTempPgDb, PG_SOCKET_DIR, type TempPgDb } from "../db/postgresql.ts";
import { configXml, freeUdpPort, ipOf, macOf, makeSqlite, messageType, nextXid, sqliteDatabase, sqliteRows } from "./helpers.ts";

const CLIENTS = 3000;
const WINDOW = 64;

interface Burst {
  /** `DHCPDISCOVER/xid` for each OFFER received, `DHCPREQUEST/xid` for each ACK */
  received: string[];
  code: number;
  exitMs: number;
  output: string;
}

const hex8 = (x: number) => x.toString(16).padStart(8, "0");

/**
 * Runs DORA for CLIENTS MACs, WINDOW exchanges at a time; SIGTERM once a third
 * have completed. Returns every reply the client received.
 */
async function burst(config: string, dir: string, c: TestClient, port: number): Promise<Burst> {
  const server = await startServer({ config, dir });
  const received: string[] = [];
  let done = 0;
  let termAt = 0;
  let exited = false;
  let exitAt = 0;
  const exit = server.proc.exited.then((code) => {
    exited = true;
    exitAt = performance.now();
    return code;
  });
  // after the server exits, sends meet ICMP port-unreachable: the exchange just ends
  const send = (b: Uint8Array): boolean => {
    try {
      c.send(b, port);
      return true;
    } catch {
      return false;
    }
  };
  const one = async (i: number) => {
    const mac = macOf(i);
    const dx = nextXid();
    if (!send(buildRequest({ type: MessageType.DISCOVER, mac, xid: dx }))) return;
    const offer = await c.reply(dx, 1500);
    if (!offer) return;
    if (messageType(offer) === MessageType.OFFER) received.push(`DHCPDISCOVER/${hex8(dx)}`);
    const rx = dx; // the REQUEST repeats the OFFER's xid (RFC 2131 4.4.1)
    if (!send(buildRequest({ type: MessageType.REQUEST, mac, xid: rx, options: [[54, ip("198.18.0.1")], [50, ip(offer.yiaddr)]] }))) return;
    const ack = await c.reply(rx, 1500);
    if (messageType(ack) === MessageType.ACK) received.push(`DHCPREQUEST/${hex8(rx)}`);
    if (++done === Math.floor(CLIENTS / 3)) {
      termAt = performance.now();
      server.signal("SIGTERM");
    }
  };
  let next = 0;
  const workers = Array.from({ length: WINDOW }, async () => {
    while (next < CLIENTS && !exited) await one(next++);
  });
  await Promise.all(workers);
  const code = await Promise.race([exit, Bun.sleep(10_000).then(() => -1)]);
  const exitMs = exitAt - termAt;
  // late replies that found no waiter
  await Bun.sleep(200);
  for (const m of c.drain() as DhcpMessage[]) {
    throw new Error(`reply with no waiter: xid ${hex8(m.xid)} type ${messageType(m)}`);
  }
  const output = server.output();
  await server.close();
  return { received, code, exitMs, output };
}

function expectHistoryMatches(rows: string[], b: Burst): void {
  const sorted = (a: string[]) => [...a].sort();
  expect(b.received.length).toBeGreaterThan(CLIENTS / 3);
  // one row per reply received, and no row for a reply the client never got
  const dup = rows.filter((r, i) => rows.indexOf(r) !== i);
  expect(dup).toEqual([]);
  const missing = b.received.filter((r) => !rows.includes(r));
  const extra = rows.filter((r) => !b.received.includes(r));
  expect({ missing, extra }).toEqual({ missing: [], extra: [] });
  expect(sorted(rows)).toEqual(sorted(b.received));
}

function expectNoSpool(dir: string): void {
  const spool = join(dir, "pydhcp-history.spool");
  if (existsSync(spool)) expect(statSync(spool).size).toBe(0);
}

describe("SIGTERM under load", () => {
  let c: TestClient;
  beforeEach(async () => {
    c = await testClient();
  });
  afterEach(() => c.close());

  test("SQLite: exit 0 within 5 s, one history row per OFFER and ACK received", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdsvc-term-"));
    try {
      makeSqlite(join(dir, "t.db"), Array.from({ length: CLIENTS }, (_, i) => [macOf(i), ipOf(i)] as const));
      const port = await freeUdpPort();
      const b = await burst(configXml({ port, clientPort: c.port, database: sqliteDatabase() }), dir, c, port);
      console.log(`SQLite: ${b.received.length} replies received, exit ${b.code} after ${b.exitMs.toFixed(0)} ms`);
      expect(b.code).toBe(0);
      expect(b.exitMs).toBeLessThan(5000);
      expect(b.output).toMatch(/stopped/);
      const rows = sqliteRows<{ comment: string }>(join(dir, "t.db"), "select comment from history").map((r) => r.comment);
      expectHistoryMatches(rows, b);
      expectNoSpool(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  describe("MariaDB", () => {
    let root: Pool;
    let db: TempDb;
    beforeAll(async () => {
      root = await rootPool();
      db = await createTempDb(root, "pdsvc");
      const conn = await root.getConnection();
      try {
        await conn.query(`USE \`${db.database}\``);
        await conn.query(readFileSync(join(ROOT, "sql/mysql.sql"), "utf8"));
        const values = Array.from({ length: CLIENTS }, (_, i) => [ipOf(i), "", "", "", macOf(i), ""]);
        await conn.query("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ?", [values]);
      } finally {
        conn.release();
      }
    });
    afterAll(async () => {
      await db?.drop();
      await root?.end();
    });

    test("MariaDB: exit 0 within 5 s, one history row per OFFER and ACK received", async () => {
      const dir = mkdtempSync(join(tmpdir(), "pdsvc-term-"));
      try {
        const port = await freeUdpPort();
        const database = `<database><mysql><host>127.0.0.1</host><port>3306</port><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></mysql></database>`;
        const b = await burst(configXml({ port, clientPort: c.port, database, threadLimit: 16 }), dir, c, port);
        console.log(`MariaDB: ${b.received.length} replies received, exit ${b.code} after ${b.exitMs.toFixed(0)} ms`);
        expect(b.code).toBe(0);
        expect(b.exitMs).toBeLessThan(5000);
        const [rows] = (await root.query(`SELECT comment FROM \`${db.database}\`.history`)) as unknown as [{ comment: string }[]];
        expectHistoryMatches(
          rows.map((r) => r.comment),
          b,
        );
        expectNoSpool(dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });

  describe("PostgreSQL", () => {
    let db: TempPgDb;
    beforeAll(async () => {
      db = await createTempPgDb("pdsvc");
      await db.sql("delete from users");
      await db.sql(
        "insert into users (ip, mask, router, dns, mac, port) select ips, '', '', '', macs, '' from unnest($1::text[], $2::text[]) as u(ips, macs)",
        [Array.from({ length: CLIENTS }, (_, i) => ipOf(i)), Array.from({ length: CLIENTS }, (_, i) => macOf(i))],
      );
    });
    afterAll(async () => {
      await db?.drop();
      await closeAdmin();
    });

    test("PostgreSQL: exit 0 within 5 s, one history row per OFFER and ACK received", async () => {
      const dir = mkdtempSync(join(tmpdir(), "pdsvc-term-"));
      try {
        const port = await freeUdpPort();
        const database = `<database><postgresql><socket>${PG_SOCKET_DIR}</socket><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></postgresql></database>`;
        const b = await burst(configXml({ port, clientPort: c.port, database, threadLimit: 16 }), dir, c, port);
        console.log(`PostgreSQL: ${b.received.length} replies received, exit ${b.code} after ${b.exitMs.toFixed(0)} ms`);
        expect(b.code).toBe(0);
        expect(b.exitMs).toBeLessThan(5000);
        const rows = (await db.sql("SELECT comment FROM history")) as { comment: string }[];
        expectHistoryMatches(
          rows.map((r) => r.comment),
          b,
        );
        expectNoSpool(dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
});
