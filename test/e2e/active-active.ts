/**
 * Shared by the active-active tests (one MariaDB, and Galera): the servers'
 * config and the load: every client DISCOVERs to both servers, takes one
 * offer, REQUESTs it; what came back, counted.
 */
import { MSG, msgType, type WirePacket } from "./dhcpwire.ts";
import { serverIdOf } from "./pools.ts";
import { discoverB, requestB } from "./twoservers.ts";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The SQL picks the pool by relay (giaddr): clients behind 198.18.4.1 draw
 * from link4, everyone else from guest. No rate limit per circuit: a hundred
 * clients behind one relay port arrive at once here.
 */
export function activeActiveConfig(serverId: string, dbXml: string): string {
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>0.0.0.0</host><broadcast>255.255.255.255</broadcast>
    <DHCPServer>${serverId}</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>8</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.1.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  ${dbXml}
  <query>
    <offer_count>1</offer_count>
    <offer_1>${esc("select case when '{giaddr}' = '198.18.4.1' then 'link4' else 'guest' end as pool")}</offer_1>
  </query>
  <pools>
    <pool name="guest"><range>198.18.1.100-198.18.1.249</range><router>198.18.1.1</router><leaseTime>120</leaseTime></pool>
    <pool name="link4"><range>198.18.4.100-198.18.4.199</range><router>198.18.4.1</router><leaseTime>12</leaseTime></pool>
  </pools>
  <rateLimit><perCircuit>0</perCircuit></rateLimit>
  <metrics><host>127.0.0.1</host><port>9167</port></metrics>
</config>
`;
}

export interface LoadResult {
  /** clients both servers offered to */
  bothOffered: number;
  /** clients that got an ACK */
  served: number;
  /** most ACKs one client got */
  acksPerClientMax: number;
  /** addresses ACKed to more than one client */
  duplicateAcked: number;
  /** clients whose two offers named different addresses */
  splitOffers: number;
  naks: number;
  granted: Map<string, { ip: string; server: string }>;
  summary: string;
}

/** listen up to 20 s: the exchange ends as soon as every reply is in, the margin is for a loaded machine */
type Send = (packets: Uint8Array[], expect: number | undefined, listenMs: number) => Promise<WirePacket[]>;

/** n clients (MACs 02:00:5e:<batch>:..), DISCOVER to both, REQUEST the offer of server (i mod 2). */
export async function runLoad(send: Send, n: number, batch: number, serverIps: readonly string[]): Promise<LoadResult> {
  const clients = Array.from({ length: n }, (_, i) => ({
    mac: `02005e${batch.toString(16).padStart(2, "0")}${(i >> 8).toString(16).padStart(2, "0")}${(i & 255).toString(16).padStart(2, "0")}`,
    xid: (batch << 24) + i,
  }));
  const offers = (await send(clients.map(discoverB), 2 * n, 20_000)).filter((p) => msgType(p) === MSG.OFFER);
  const byClient = new Map<string, WirePacket[]>();
  for (const o of offers) byClient.set(o.chaddr, [...(byClient.get(o.chaddr) ?? []), o]);
  let bothOffered = 0;
  let splitOffers = 0;
  const reqs: Uint8Array[] = [];
  clients.forEach((c, i) => {
    const os = byClient.get(c.mac) ?? [];
    if (new Set(os.map(serverIdOf)).size === 2) bothOffered++;
    if (new Set(os.map((o) => o.yiaddr)).size > 1) splitOffers++;
    // alternate the server taken, so both carry load
    const want = serverIps[i % serverIps.length];
    const o = os.find((x) => serverIdOf(x) === want) ?? os[0];
    if (o) reqs.push(requestB(c, o.yiaddr, serverIdOf(o)!));
  });
  const replies = await send(reqs, reqs.length, 20_000);
  const acks = replies.filter((p) => msgType(p) === MSG.ACK);
  const naks = replies.filter((p) => msgType(p) === MSG.NAK).length;
  const perClient = new Map<string, number>();
  const holders = new Map<string, Set<string>>();
  const granted = new Map<string, { ip: string; server: string }>();
  for (const a of acks) {
    perClient.set(a.chaddr, (perClient.get(a.chaddr) ?? 0) + 1);
    holders.set(a.yiaddr, (holders.get(a.yiaddr) ?? new Set()).add(a.chaddr));
    granted.set(a.chaddr, { ip: a.yiaddr, server: serverIdOf(a) ?? "" });
  }
  const duplicateAcked = [...holders.values()].filter((s) => s.size > 1).length;
  const acksPerClientMax = Math.max(0, ...perClient.values());
  const r = { bothOffered, served: perClient.size, acksPerClientMax, duplicateAcked, splitOffers, naks, granted };
  return { ...r, summary: `${n} clients, offered by both ${bothOffered}, split offers ${splitOffers}, served ${r.served}, NAKs ${naks}, most ACKs per client ${acksPerClientMax}, addresses ACKed to two clients ${duplicateAcked}` };
}
