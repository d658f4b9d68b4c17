/**
 * Overload: a burst far beyond what the lookups can take. Requests that
 * waited longer than <maxWait> are dropped unanswered and counted
 * (pydhcp_dropped_total{reason="stale"}), the queue stays near maxWait of
 * work (the rest counted as queue_full), and what is answered is answered
 * in time. MariaDB with a query that takes 50 ms, one lookup at a time.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, testClient, type TestClient } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { createTempDb, loadPydhcpSql, rootPool, type TempDb } from "../db/mariadb.ts";
import { configXml, freeTcpPort, freeUdpPort, ipOf, macOf, messageType, nextXid, scrape } from "./helpers.ts";

const BURST = 60;
const MAX_WAIT_MS = 200;
const QUERY_MS = 50;

let root: Pool;
let db: TempDb;
let dir: string;
let server: RunningServer;
let c: TestClient;
let port: number;
let mport: number;

beforeAll(async () => {
  root = await rootPool();
  db = await createTempDb(root, "pdcovl");
  await loadPydhcpSql(root, db.database);
  const values = Array.from({ length: BURST }, (_, i) => `(${i + 2}, '${ipOf(i)}', '255.255.0.0', '198.18.0.1', '198.18.0.53', '${macOf(i)}', '')`).join(",");
  await root.query(`INSERT INTO \`${db.database}\`.users (id, ip, mask, router, dns, mac, port) VALUES ${values}`);
  dir = mkdtempSync(join(tmpdir(), `pdsvc-overload-${process.pid}-`));
  c = await testClient();
  port = await freeUdpPort();
  mport = freeTcpPort();
  const database = `<database><mysql><host>127.0.0.1</host><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database><poolSize>1</poolSize><lookupBatch>1</lookupBatch></mysql></database>`;
  server = await startServer({
    config: configXml({
      port,
      clientPort: c.port,
      database,
      metricsPort: mport,
      threadLimit: 1,
      server: `<maxWait>${MAX_WAIT_MS}</maxWait>`,
      offers: [`select ip,mask,router,dns from users where mac='{ClientMacAddress}' and sleep(${QUERY_MS / 1000}) = 0`],
    }),
    dir,
  });
}, 30_000);
afterAll(async () => {
  await server?.close();
  c?.close();
  rmSync(dir, { recursive: true, force: true });
  await db?.drop();
  await root?.end();
});

test("a burst: stale requests are dropped and counted in /metrics, no more than maxWait of work answered", async () => {
  const sentAt = new Map<number, number>();
  for (let i = 0; i < BURST; i++) {
    const xid = nextXid();
    sentAt.set(xid, performance.now());
    c.send(buildRequest({ type: MessageType.DISCOVER, mac: macOf(i), xid }), port);
  }
  // everything the server will do with the burst is done well within this
  await Bun.sleep(MAX_WAIT_MS + 16 * QUERY_MS + 1500);
  const replies = c.drain().filter((m) => sentAt.has(m.xid));
  expect(replies.every((m) => messageType(m) === MessageType.OFFER)).toBe(true);

  const m = await scrape(mport);
  const stale = m.get('pydhcp_dropped_total{reason="stale"}') ?? 0;
  const full = m.get('pydhcp_dropped_total{reason="queue_full"}') ?? 0;
  expect(m.get('pydhcp_packets_received_total{type="DISCOVER"}')).toBe(BURST);
  expect(stale).toBeGreaterThan(0);
  // every request is accounted for: answered, too old, or no room
  expect(replies.length + stale + full).toBe(BURST);
  expect(m.get('pydhcp_replies_sent_total{type="OFFER"}')).toBe(replies.length);
  // one lookup at a time at 50 ms: little more than maxWait's worth gets answered
  expect(replies.length).toBeLessThanOrEqual(Math.ceil(MAX_WAIT_MS / QUERY_MS) + 2);
  expect(replies.length).toBeGreaterThanOrEqual(1);
  expect(m.get("pydhcp_queue_depth")).toBe(0);
});
