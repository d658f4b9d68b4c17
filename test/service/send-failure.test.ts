/**
 * A reply the socket refuses is reported as not sent, once: one WARN line
 * naming the exchange (rate-limited per destination and error), one
 * send_error per failed reply, and the exchange in /api/exchanges as
 * "OFFER not sent". A real kernel refusal: the server's socket is bound to
 * 127.0.0.1, which cannot send to a relay at 198.19.255.254 (EINVAL).
 * test/e2e/send-failure.test.ts does the same with ENETUNREACH in a
 * namespace with no route.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { openUdp, type Udp } from "../support/udp.ts";
import { configXml, freeTcpPort, freeUdpPort, ipOf, macOf, makeSqlite, nextXid, scrape, sqliteDatabase } from "./helpers.ts";

const TOKEN = "t0ken-" + "s".repeat(26);
const RELAY = "198.19.255.254";

let dir: string;
let server: RunningServer;
let relay: Udp;
let port: number;
let mport: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdsvc-sendfail-${process.pid}-`));
  makeSqlite(join(dir, "t.db"), [1, 2, 3].map((i) => [macOf(i), ipOf(i)]));
  relay = await openUdp();
  port = await freeUdpPort();
  mport = freeTcpPort();
  const cfg = configXml({ port, clientPort: relay.port, database: sqliteDatabase(), rateLimit: false }).replace(
    "</config>",
    `<metrics><host>127.0.0.1</host><port>${mport}</port><token>${TOKEN}</token></metrics></config>`,
  );
  server = await startServer({ config: cfg, dir, ready: /http listening/ });
}, 30_000);
afterAll(async () => {
  await server?.close();
  relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function exchanges(): Promise<any[]> {
  const r = await fetch(`http://127.0.0.1:${mport}/api/exchanges?limit=50`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await r.json()) as { exchanges: any[] }).exchanges;
}

test("three relayed OFFERs the kernel refuses: one WARN line naming an exchange, send_error 3, each exchange 'OFFER not sent'", async () => {
  const before = await scrape(mport);
  const from = server.output().length;
  const xids = [1, 2, 3].map(() => nextXid());
  // relayed (giaddr): the reply goes to the relay, 198.19.255.254:67
  for (let i = 0; i < 3; i++) relay.send(buildRequest({ type: MessageType.DISCOVER, mac: macOf(i + 1), xid: xids[i], giaddr: RELAY }), port);
  const deadline = Date.now() + 5000;
  let list: any[] = [];
  while (Date.now() < deadline && (list = await exchanges()).length < 3) await Bun.sleep(20);
  expect(list.length).toBe(3);
  for (const x of list) {
    const i = xids.indexOf(parseInt(x.xid, 16));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(x.result).toBe("OFFER not sent");
    expect(x.ip).toBe(ipOf(i + 1));
    expect(x.reason).toBe("send-error");
    expect(x.sendError).toMatch(/EINVAL/);
    expect(x.explanation).toContain("reply not sent: EINVAL");
  }
  const m = await scrape(mport);
  expect((m.get('pydhcp_dropped_total{reason="send_error"}') ?? 0) - (before.get('pydhcp_dropped_total{reason="send_error"}') ?? 0)).toBe(3);
  expect(m.get('pydhcp_replies_sent_total{type="OFFER"}') ?? 0).toBe(before.get('pydhcp_replies_sent_total{type="OFFER"}') ?? 0);

  await Bun.sleep(200);
  const out = server.output().slice(from);
  const lines = out.split("\n").filter((l) => l.includes("DISCOVER") || l.includes("socket error"));
  // the same destination and error three times in a row: one line, the other two suppressed
  expect(lines.length).toBe(1);
  const line = lines[0]!;
  const m1 = /WARN DISCOVER -> OFFER (\S+) not sent mac=(\w+) xid=(\w+) relay=198\.19\.255\.254 query=offer_1 to=198\.19\.255\.254:67 iface=any error="?EINVAL[^"]*"? ms=/.exec(line);
  expect(m1, line).not.toBeNull();
  const i = xids.indexOf(parseInt(m1![3]!, 16));
  expect(i).toBeGreaterThanOrEqual(0);
  expect(m1![2]).toBe(macOf(i + 1));
  expect(m1![1]).toBe(ipOf(i + 1));
});
