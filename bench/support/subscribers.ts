/**
 * The setup the heap benchmarks share (bench/alloc.ts, retained.ts,
 * promoted.ts): 10,000 subscribers on SQLite behind D-Link-style switches of
 * 48 ports, pydhcpdb's three <options> slices and offer queries (by remote
 * id and port, by slices, by MAC) with `--check`'s equality form, history,
 * and each client's relayed DISCOVER and REQUEST with Option 82.
 */
import { Database } from "bun:sqlite";
import { buildRequest, ip } from "../../test/support/client.ts";

export const USERS = 10_000;
export const PORTS = 48;

const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const mac = (i: number) => "0c01" + i.toString(16).padStart(8, "0");
const switchMac = (i: number) => "001e58" + Math.floor(i / PORTS).toString(16).padStart(6, "0");
const port = (i: number) => (i % PORTS) + 1;
const addr = (i: number) => `198.18.${128 + (i >> 8)}.${i & 255}`;

/** The config: SQLite at `<dir>/h.db`; `history` false leaves history_sql out; `extra` is XML added at the end. */
export function benchConfigXml(dir: string, o: { history?: boolean; extra?: string } = {}): string {
  const history = o.history === false
    ? ""
    : `\n    <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>`;
  return `<?xml version="1.0"?>
<config>
  <dhcpserver><host>127.0.0.1</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>16</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database><sqlite><path>${dir}/h.db</path></sqlite></database>
  <log><level>info</level></log>
  <options>
    <option>option_82_hex:sw_port1:20:22</option>
    <option>option_82_hex:sw_port2:16:18</option>
    <option>option_82_hex:sw_mac:26:40</option>
  </options>
  <query><offer_count>3</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac='{option_82_AgentRemoteId_hex}' and port='{option_82_AgentCircuitId_port_hex}'</offer_1>
    <offer_2>select ip,mask,router,dns from users where mac='{sw_mac}' and port='{sw_port2}'</offer_2>
    <offer_3>select ip,mask,router,dns from users where mac='{ClientMacAddress}'</offer_3>${history}
  </query>${o.extra ?? ""}
</config>`;
}

/** Adds `users` subscribers to the users table of the SQLite file the server has created. */
export function fillUsers(dbPath: string, users = USERS): void {
  const db = new Database(dbPath);
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '', '', '', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < users; i++) ins.run(addr(i), "0006" + switchMac(i), hex2(port(i)));
  })();
  db.close();
}

/** RFC 3046 option 82: circuit id 00 04 vlan(2) module port, remote id 00 06 switch MAC. */
const option82 = (i: number) =>
  Uint8Array.from(Buffer.from("0106" + "0004" + "0001" + "00" + hex2(port(i)) + "0208" + "0006" + switchMac(i), "hex"));
const common = (i: number): [number, Uint8Array][] => [
  [61, Uint8Array.from(Buffer.from("01" + mac(i), "hex"))],
  [12, new TextEncoder().encode(`host-${i}`)],
  [60, new TextEncoder().encode("udhcp 1.36.1")],
  [55, Uint8Array.of(1, 3, 6, 12, 15, 28, 42)],
];

/** Subscriber i's DISCOVER through the relay 198.18.0.2. */
export const discover = (i: number): Uint8Array =>
  buildRequest({ type: 1, mac: mac(i), xid: i + 1, giaddr: "198.18.0.2", options: [...common(i), [82, option82(i)]] });

/** Subscriber i's REQUEST for its address, after an OFFER from 198.18.0.1. */
export const request = (i: number): Uint8Array =>
  buildRequest({ type: 3, mac: mac(i), xid: i + 1, giaddr: "198.18.0.2", options: [...common(i), [50, ip(addr(i))], [54, ip("198.18.0.1")], [82, option82(i)]] });
