/**
 * Two running servers on one database (an SQLite file here; MariaDB in
 * test/e2e/leases.test.ts): how long until one acts on a lease the other
 * granted (the sync interval), and SIGHUP keeping no lease the table dropped.
 * Prints the measured sync delay.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { configXml, freeTcpPort, freeUdpPort, makeSqlite, messageType, nextXid } from "./helpers.ts";

const A = "020000ff0001";
const B = "020000ff0002";
const X = "198.18.10.1";
let dir: string;
let c: TestClient;
let s1: RunningServer;
let s2: RunningServer;
let p1: number;
let p2: number;
let m2: number;

async function api(mport: number, path: string): Promise<any> {
  return (await fetch(`http://127.0.0.1:${mport}${path}`)).json();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdsvc-sync-${process.pid}-`));
  makeSqlite(join(dir, "t.db"), [[A, X], [B, "198.18.10.2"]]);
  c = await testClient();
  const db = `<database><sqlite><path>${join(dir, "t.db")}</path></sqlite></database>`;
  p1 = await freeUdpPort();
  p2 = await freeUdpPort();
  m2 = freeTcpPort();
  const extra = "<leases><syncInterval>1</syncInterval></leases>";
  s1 = await startServer({ config: configXml({ port: p1, clientPort: c.port, database: db, metricsPort: freeTcpPort(), rateLimit: false, extra }), ready: /http listening/ });
  s2 = await startServer({ config: configXml({ port: p2, clientPort: c.port, database: db, metricsPort: m2, rateLimit: false, extra }), ready: /http listening/ });
}, 30_000);
afterAll(async () => {
  await s1?.close();
  await s2?.close();
  c?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a lease granted by one server is acted on by the other within the sync interval; SIGHUP drops a lease whose row is gone", async () => {
  // B is now named for X in the table
  const db = new Database(join(dir, "t.db"));
  db.query("update users set ip = ? where mac = ?").run(X, B);
  db.close();
  expect((await api(m2, `/api/explain?mac=${B}`)).result).toBe("OFFER");

  // server 1 grants X to A
  const xid = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac: A, xid }), p1);
  expect(messageType(await c.reply(xid, 2000))).toBe(MessageType.OFFER);
  c.send(buildRequest({ type: MessageType.REQUEST, mac: A, xid, options: [[54, ip("198.18.0.1")], [50, ip(X)]] }), p1);
  expect(messageType(await c.reply(xid, 2000))).toBe(MessageType.ACK);
  const t0 = performance.now();
  // server 2 never saw A; it learns the lease from the table
  let ms = -1;
  for (;;) {
    const e = await api(m2, `/api/explain?mac=${B}`);
    if (e.reason === "address-in-use") {
      ms = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 5000) break;
    await Bun.sleep(20);
  }
  console.log(`[sync] server 2 refuses the address server 1 granted ${ms.toFixed(0)} ms after the ACK (syncInterval 1 s; lease writes every 100 ms)`);
  expect(ms).toBeGreaterThanOrEqual(0);
  expect(ms).toBeLessThan(2500);
  const xid2 = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac: B, xid: xid2 }), p2);
  expect(await c.reply(xid2, 700)).toBeNull();

  // the row goes away by hand; SIGHUP on server 2 reloads leases from the table
  const before = (await api(m2, "/api/counters")).leasesInMemory;
  expect(before).toBeGreaterThanOrEqual(1);
  const w = new Database(join(dir, "t.db"));
  w.query("delete from pydhcp_lease where ip = ?").run(X);
  w.close();
  const from = s2.output().length;
  s2.signal("SIGHUP");
  await s2.waitFor(/lease memory dropped leases the database no longer has leases=1/, 5000, from);
  expect((await api(m2, "/api/counters")).leasesInMemory).toBe(before - 1);
  const xid3 = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac: B, xid: xid3 }), p2);
  expect((await c.reply(xid3, 2000))?.yiaddr).toBe(X);
}, 30_000);
