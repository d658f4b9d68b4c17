/**
 * A retransmission that arrives while its request is still in flight is
 * answered once. "In flight" lasts until the reply has left: with SQLite an
 * exchange finishes within the turn that read it, and its reply leaves at
 * the end of that turn (server/outbox.ts); copies read in between are
 * duplicates too. A copy read after the reply left is answered again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { decode } from "../../src/codec/decode.ts";
import { buildRequest } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { openUdp, type Udp } from "../support/udp.ts";
import { configXml, freeTcpPort, freeUdpPort, ipOf, macOf, makeSqlite, nextXid, scrape, sqliteDatabase } from "./helpers.ts";

let dir: string;
let server: RunningServer;
let client: Udp;
let port: number;
let mport: number;
const offers: { xid: number; yiaddr: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdsvc-dup-${process.pid}-`));
  makeSqlite(join(dir, "t.db"), [[macOf(1), ipOf(1)]]);
  client = await openUdp({
    onData(buf) {
      const d = decode(new Uint8Array(buf));
      if (d.ok && d.msg.options.get(53)?.[0] === MessageType.OFFER) offers.push({ xid: d.msg.xid, yiaddr: d.msg.yiaddr });
    },
  });
  port = await freeUdpPort();
  mport = freeTcpPort();
  server = await startServer({
    config: configXml({ port, clientPort: client.port, database: sqliteDatabase(), metricsPort: mport, rateLimit: false }),
    dir,
  });
}, 30_000);
afterAll(async () => {
  await server?.close();
  client?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function settle(n: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (offers.length < n && Date.now() < deadline) await Bun.sleep(20);
  await Bun.sleep(300);
}

test("three copies of one DISCOVER in one read: one OFFER, two counted as duplicates; a copy after the OFFER is answered", async () => {
  const xid = nextXid();
  const d = buildRequest({ type: MessageType.DISCOVER, mac: macOf(1), xid });
  const before = await scrape(mport);
  // stopped while the copies arrive, so one read takes all three (else the first may be read alone)
  server.signal("SIGSTOP");
  try {
    expect(client.sendMany([d, port, "127.0.0.1", d, port, "127.0.0.1", d, port, "127.0.0.1"])).toBe(3);
    await Bun.sleep(50);
  } finally {
    server.signal("SIGCONT");
  }
  await settle(1);
  expect(offers).toEqual([{ xid, yiaddr: ipOf(1) }]);
  const m = await scrape(mport);
  const delta = (k: string) => (m.get(k) ?? 0) - (before.get(k) ?? 0);
  expect(delta('pydhcp_packets_received_total{type="DISCOVER"}')).toBe(3);
  expect(delta('pydhcp_dropped_total{reason="duplicate"}')).toBe(2);
  // the client retransmits after the OFFER left: a new exchange, answered
  client.send(d, port);
  await settle(2);
  expect(offers.map((o) => o.xid)).toEqual([xid, xid]);
});
