/**
 * /metrics of the running binary against what a test client sent: packets
 * received by type, replies by type, no-match, drops by reason, the gauges,
 * and the query histogram counting every offer query run.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { configXml, discover, freeTcpPort, freeUdpPort, ipOf, macOf, makeSqlite, messageType, nextXid, request, scrape, sqliteDatabase } from "./helpers.ts";

const KNOWN = 20;
const UNKNOWN = 7;

describe("/metrics counts what the client sent", () => {
  let dir: string;
  let server: RunningServer;
  let c: TestClient;
  let port: number;
  let mport: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pdsvc-metrics-"));
    makeSqlite(join(dir, "t.db"), Array.from({ length: KNOWN }, (_, i) => [macOf(i), ipOf(i)] as const));
    c = await testClient();
    port = await freeUdpPort();
    mport = freeTcpPort();
    // offer_1 never matches, so every lookup runs both queries
    const offers = [
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}' and port='nowhere'",
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}'",
    ];
    server = await startServer({ config: configXml({ port, clientPort: c.port, database: sqliteDatabase(), metricsPort: mport, offers }), dir });
  });
  afterAll(async () => {
    await server?.close();
    c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("counters, gauges and the query histogram match the traffic", async () => {
    const before = await scrape(mport);
    expect(before.get('pydhcp_packets_received_total{type="DISCOVER"}')).toBe(0);
    expect(before.has("pydhcp_queue_depth")).toBe(true);
    expect(before.has("pydhcp_lookups_in_flight")).toBe(true);

    let queries = 0;
    // KNOWN full DORA exchanges: the REQUEST reuses its OFFER's lookup
    for (let i = 0; i < KNOWN; i++) {
      const o = await discover(c, port, macOf(i));
      expect(messageType(o)).toBe(MessageType.OFFER);
      const a = await request(c, port, macOf(i), o!.yiaddr, o!.xid); // same xid (RFC 2131 4.4.1)
      expect(messageType(a)).toBe(MessageType.ACK);
      queries += 2;
    }
    // UNKNOWN MACs: no reply, both queries run
    for (let i = 0; i < UNKNOWN; i++) {
      expect(await discover(c, port, macOf(i, 0x0a), 300)).toBeNull();
      queries += 2;
    }
    // the first unknown again, within the answer cache's TTL: its no-match is remembered, no query runs
    expect(await discover(c, port, macOf(0, 0x0a), 300)).toBeNull();
    // a REQUEST (INIT-REBOOT) for an address the database does not give: NAK, the answer from the cache
    const nx = nextXid();
    c.send(buildRequest({ type: MessageType.REQUEST, mac: macOf(0), xid: nx, options: [[50, ip("198.18.77.77")]] }), port);
    expect(messageType(await c.reply(nx))).toBe(MessageType.NAK);
    // an INFORM from a known client: ACK without an address, unicast to ciaddr (RFC 2131 4.3.5); cached too
    const ix = nextXid();
    c.send(buildRequest({ type: MessageType.INFORM, mac: macOf(1), xid: ix, ciaddr: "127.0.0.1" }), port);
    expect(messageType(await c.reply(ix))).toBe(MessageType.ACK);
    // a REQUEST naming another server: not for us, no lookup
    const ox = nextXid();
    c.send(buildRequest({ type: MessageType.REQUEST, mac: macOf(2), xid: ox, options: [[54, ip("198.18.0.2")], [50, ip(ipOf(2))]] }), port);
    // malformed: a truncated header, and options running past the end
    c.send(new Uint8Array(100), port);
    const good = buildRequest({ type: MessageType.DISCOVER, mac: macOf(3), xid: nextXid() });
    const cut = good.slice();
    expect(cut[240]).toBe(53); // first option after the magic cookie
    cut[241] = 200;
    c.send(cut, port);
    // a BOOTREPLY sent to the server
    const reply = buildRequest({ type: MessageType.OFFER, mac: macOf(4), xid: nextXid() });
    reply[0] = 2;
    c.send(reply, port);
    await Bun.sleep(400);
    expect(c.drain()).toEqual([]);

    const m = await scrape(mport);
    const got = (k: string) => m.get(k);
    expect({
      discover: got('pydhcp_packets_received_total{type="DISCOVER"}'),
      request: got('pydhcp_packets_received_total{type="REQUEST"}'),
      inform: got('pydhcp_packets_received_total{type="INFORM"}'),
      offerIn: got('pydhcp_packets_received_total{type="OFFER"}'),
      other: got('pydhcp_packets_received_total{type="other"}'),
    }).toEqual({ discover: KNOWN + UNKNOWN + 1, request: KNOWN + 2, inform: 1, offerIn: 1, other: 2 });
    expect({
      offer: got('pydhcp_replies_sent_total{type="OFFER"}'),
      ack: got('pydhcp_replies_sent_total{type="ACK"}'),
      nak: got('pydhcp_replies_sent_total{type="NAK"}'),
    }).toEqual({ offer: KNOWN, ack: KNOWN + 1, nak: 1 });
    // every reply sent has its time in the server, by type; each took under a second here
    expect({
      offer: got('pydhcp_reply_seconds_count{type="OFFER"}'),
      ack: got('pydhcp_reply_seconds_count{type="ACK"}'),
      nak: got('pydhcp_reply_seconds_count{type="NAK"}'),
    }).toEqual({ offer: KNOWN, ack: KNOWN + 1, nak: 1 });
    expect(got('pydhcp_reply_seconds_bucket{type="ACK",le="1"}')).toBe(KNOWN + 1);
    expect(got('pydhcp_reply_seconds_sum{type="OFFER"}')).toBeGreaterThan(0);
    expect(got('pydhcp_reply_seconds_sum{type="OFFER"}')).toBeLessThan(KNOWN);
    expect(got("pydhcp_no_match_total")).toBe(UNKNOWN + 1);
    expect({
      hit: got('pydhcp_answer_cache_lookups_total{result="hit"}'),
      negative: got('pydhcp_answer_cache_lookups_total{result="negative_hit"}'),
      miss: got('pydhcp_answer_cache_lookups_total{result="miss"}'),
    }).toEqual({ hit: 2, negative: 1, miss: KNOWN + UNKNOWN });
    expect(got("pydhcp_answer_cache_entries")).toBe(KNOWN + UNKNOWN);
    // history batches and lease writes have their series beside the offer queries
    expect(got('pydhcp_query_duration_seconds_count{query="history"}')).toBeGreaterThan(0);
    expect(got('pydhcp_query_duration_seconds_count{query="lease_write"}')).toBeGreaterThan(0);
    expect({
      decode: got('pydhcp_dropped_total{reason="decode_error"}'),
      notRequest: got('pydhcp_dropped_total{reason="not_request"}'),
      notForUs: got('pydhcp_dropped_total{reason="not_for_us"}'),
      queueFull: got('pydhcp_dropped_total{reason="queue_full"}'),
      dbError: got('pydhcp_dropped_total{reason="db_error"}'),
    }).toEqual({ decode: 2, notRequest: 1, notForUs: 1, queueFull: 0, dbError: 0 });
    expect(got("pydhcp_queue_depth")).toBe(0);
    expect(got("pydhcp_lookups_in_flight")).toBe(0);
    const q1 = got('pydhcp_query_duration_seconds_count{query="offer_1"}') ?? 0;
    const q2 = got('pydhcp_query_duration_seconds_count{query="offer_2"}') ?? 0;
    expect(q1 + q2).toBe(queries);
    expect(q1).toBe(queries / 2);
    expect(got('pydhcp_query_duration_seconds_bucket{query="offer_1",le="+Inf"}')).toBe(q1);
    expect(got('pydhcp_db_errors_total{kind="query"}')).toBe(0);
    expect(got("pydhcp_start_time_seconds")).toBeGreaterThan(Date.now() / 1000 - 600);
  });
});
