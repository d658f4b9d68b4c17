/**
 * Slow rows on MariaDB with grouped lookups, against the running server:
 * poolSize 2, three subscribers whose row takes 5 s (sleep(5)), twenty
 * ordinary ones, clients retransmitting as real ones do. Every ordinary
 * client is answered; and SIGTERM while slow lookups are in flight exits 0
 * within the shutdown bound.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Pool } from "mysql2/promise";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, testClient, type TestClient } from "../support/client.ts";
import { startServer } from "../support/server.ts";
import { createTempDb, loadPydhcpSql, rootPool, type TempDb } from "../db/mariadb.ts";
import { configXml, freeUdpPort, macOf, messageType, nextXid } from "./helpers.ts";

let root: Pool;
let db: TempDb;
let client: TestClient;
const SLOW = [0, 1, 2].map((i) => macOf(i, 0x0a));
const ORDINARY = Array.from({ length: 20 }, (_, i) => macOf(i, 0x0c));
const OFFER = "select ip, mask, router, dns, sleep(if(port = 'slow', 5, 0)) as s from users where mac = '{ClientMacAddress}'";

beforeAll(async () => {
  root = await rootPool();
  db = await createTempDb(root, `pdslow${process.pid}`);
  await loadPydhcpSql(root, db.database);
  const rows = [...SLOW.map((m, i) => [`198.18.9.${10 + i}`, m, "slow"]), ...ORDINARY.map((m, i) => [`198.18.8.${10 + i}`, m, "1"])];
  await root.query(`INSERT INTO \`${db.database}\`.users (ip, mask, router, dns, mac, port) VALUES ${rows.map(() => "(?, '', '', '', ?, ?)").join(", ")}`, rows.flat());
  client = await testClient();
});
afterAll(async () => {
  client?.close();
  await db?.drop();
  await root?.end();
});

const config = (port: number, timeoutMs: number) =>
  configXml({
    port,
    clientPort: client.port,
    database: `<database><mysql><host>127.0.0.1</host><port>3306</port><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database><poolSize>2</poolSize><lookupBatch>8</lookupBatch></mysql></database>`,
    offers: [OFFER],
    history: null,
    threadLimit: 32,
    query: `<timeout>${timeoutMs}</timeout>`,
    rateLimit: false,
  });

/** A client's DISCOVER, retransmitted every second (same xid) until an OFFER comes or time runs out. */
async function dhcpDiscover(port: number, mac: string, forMs: number): Promise<boolean> {
  const xid = nextXid();
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    client.send(buildRequest({ type: MessageType.DISCOVER, mac, xid }), port);
    const r = await client.reply(xid, 1000);
    if (r && messageType(r) === MessageType.OFFER) return true;
  }
  return false;
}

describe("slow rows among grouped MySQL lookups", () => {
  test("three sleep(5) rows, then twenty ordinary DISCOVERs sent once: all twenty answered within <timeout>", async () => {
    const port = await freeUdpPort();
    const server = await startServer({ config: config(port, 2000) });
    try {
      const once = (mac: string) => {
        const xid = nextXid();
        client.send(buildRequest({ type: MessageType.DISCOVER, mac, xid }), port);
        return client.reply(xid, 2500).then((r) => messageType(r) === MessageType.OFFER);
      };
      const slow = SLOW.map(once);
      await Bun.sleep(50);
      const ordinary = await Promise.all(ORDINARY.map(once));
      expect(ordinary.filter(Boolean).length).toBe(20);
      expect((await Promise.all(slow)).filter(Boolean).length).toBe(0);
    } finally {
      await server.close();
    }
  }, 30_000);

  test("clients retransmitting while the slow three retransmit too: every ordinary client answered", async () => {
    const port = await freeUdpPort();
    const server = await startServer({ config: config(port, 1000) });
    try {
      const slow = SLOW.map((m) => dhcpDiscover(port, m, 6000));
      await Bun.sleep(50);
      const ordinary = await Promise.all(ORDINARY.map((m) => dhcpDiscover(port, m, 6000)));
      expect(ordinary.filter(Boolean).length).toBe(20);
      expect((await Promise.all(slow)).filter(Boolean).length).toBe(0);
    } finally {
      await server.close();
    }
  }, 30_000);

  test("SIGTERM with slow grouped lookups in flight exits 0 within its bound", async () => {
    const port = await freeUdpPort();
    const server = await startServer({ config: config(port, 3000) });
    try {
      for (const m of [...SLOW, ...ORDINARY, ...SLOW]) client.send(buildRequest({ type: MessageType.DISCOVER, mac: m, xid: nextXid() }), port);
      await Bun.sleep(300);
      const t0 = performance.now();
      server.signal("SIGTERM");
      const code = await server.proc.exited;
      const ms = performance.now() - t0;
      expect({ code, bounded: ms < 4500 }).toEqual({ code: 0, bounded: true });
      expect(server.output()).not.toContain("shutdown took too long");
    } finally {
      await server.close();
    }
  }, 30_000);
});
