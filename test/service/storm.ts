/**
 * A DISCOVER storm with REQUESTs behind it, for the overload tests: the
 * DISCOVERs come from a client socket, the REQUESTs from a second socket
 * posing as a relay (RFC 8357 relay source port), so their ACKs are not
 * lost among the OFFERs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { decode } from "../../src/codec/decode.ts";
import { buildRequest, ip } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { openUdp, type Udp } from "../support/udp.ts";
import { configXml, freeTcpPort, freeUdpPort, ipOf, macOf, makeSqlite, scrape, sqliteDatabase } from "./helpers.ts";

export const RELAY = "127.0.0.2";

/** the offer by MAC, made to count to 1,000 first: about a millisecond of SQLite per lookup */
export const SLOW_OFFER =
  "select ip,mask,router,dns from users where mac='{ClientMacAddress}' and (with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000) select count(*) from c) > 0";

/** The relay's socket and the ACKs it has received, by xid, with when each came. */
export async function openRelay(): Promise<{ relay: Udp; acks: Map<number, { yiaddr: string; at: number }> }> {
  const acks = new Map<number, { yiaddr: string; at: number }>();
  const relay = await openUdp({
    hostname: RELAY,
    onData(buf) {
      const d = decode(new Uint8Array(buf));
      if (d.ok && d.msg.options.get(53)?.[0] === MessageType.ACK) acks.set(d.msg.xid, { yiaddr: d.msg.yiaddr, at: performance.now() });
    },
  });
  return { relay, acks };
}

/** A server on SQLite with `rows` clients (macOf/ipOf), the slow offer (or `offer`), `maxWaitMs`, /metrics; a client socket and the relay. */
export interface StormServer {
  clients: Udp;
  relay: Udp;
  /** the server's DHCP port and its /metrics port */
  port: number;
  mport: number;
  acks: Map<number, { yiaddr: string; at: number }>;
  /** the server's log so far */
  output(): string;
  close(): Promise<void>;
}

export async function startStormServer(name: string, rows: number, maxWaitMs: number, offer = SLOW_OFFER): Promise<StormServer> {
  const dir = mkdtempSync(join(tmpdir(), `pdsvc-${name}-${process.pid}-`));
  makeSqlite(join(dir, "t.db"), Array.from({ length: rows }, (_, i) => [macOf(i), ipOf(i)] as const));
  const clients = await openUdp({});
  const { relay, acks } = await openRelay();
  const port = await freeUdpPort();
  const mport = freeTcpPort();
  const free = () => {
    clients.close();
    relay.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let server: RunningServer;
  try {
    server = await startServer({
      config: configXml({
        port,
        clientPort: clients.port,
        database: sqliteDatabase(),
        metricsPort: mport,
        server: `<maxWait>${maxWaitMs}</maxWait>`,
        rateLimit: false,
        offers: [offer],
      }),
      dir,
    });
  } catch (e) {
    free();
    throw e;
  }
  return {
    clients,
    relay,
    port,
    mport,
    acks,
    output: () => server.output(),
    async close() {
      await server.close();
      free();
    },
  };
}

/** DISCOVERs for clients first..first+count-1 (macOf), xids from xid0, sent to the server in sendmmsg batches. */
export function sendDiscovers(clients: Udp, port: number, first: number, count: number, xid0: number): void {
  const packets: (Uint8Array | number | string)[] = [];
  for (let i = 0; i < count; i++) packets.push(buildRequest({ type: MessageType.DISCOVER, mac: macOf(first + i), xid: xid0 + i }), port, "127.0.0.1");
  // one sendmmsg takes at most 1,024 datagrams
  for (let i = 0; i < packets.length; i += 3 * 512) clients.sendMany(packets.slice(i, i + 3 * 512));
}

/** Relayed REQUESTs for clients first..first+count-1, each for its own row's address (ipOf), xids from xid0. */
export function sendRequests(relay: Udp, port: number, first: number, count: number, xid0: number): void {
  const requests: (Uint8Array | number | string)[] = [];
  for (let i = 0; i < count; i++) {
    const k = first + i;
    requests.push(
      buildRequest({
        type: MessageType.REQUEST,
        mac: macOf(k),
        xid: xid0 + i,
        giaddr: RELAY,
        options: [[50, ip(ipOf(k))], [54, ip("198.18.0.1")], [82, Uint8Array.of(19, 0)]],
      }),
      port,
      "127.0.0.1",
    );
  }
  relay.sendMany(requests);
}

/** Waits until `n` ACKs came (at most 10 s), then half a second more for stragglers. */
export async function awaitAcks(acks: Map<number, unknown>, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (acks.size < n && Date.now() < deadline) await Bun.sleep(50);
  await Bun.sleep(500);
}

/** What the server did with the storm, from /metrics: DISCOVERs read, OFFERs and ACKs sent, stale drops, since `before`. */
export async function stormCounts(metricsPort: number, before: Map<string, number>): Promise<{ received: number; offers: number; acks: number; stale: number }> {
  const m = await scrape(metricsPort);
  const d = (k: string) => (m.get(k) ?? 0) - (before.get(k) ?? 0);
  const c = {
    received: d('pydhcp_packets_received_total{type="DISCOVER"}'),
    offers: d('pydhcp_replies_sent_total{type="OFFER"}'),
    acks: d('pydhcp_replies_sent_total{type="ACK"}'),
    stale: d('pydhcp_dropped_total{reason="stale"}'),
  };
  console.log(`DISCOVERs read ${c.received}, answered ${c.offers}, stale ${c.stale}`);
  return c;
}
