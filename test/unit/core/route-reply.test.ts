/**
 * route() (RFC 2131 4.1, RFC 3046 2.2, RFC 8357 5) and buildReply() (RFC 2131
 * 4.3, table 3) as tables: inputs in, one destination / one header out.
 */
import { describe, expect, test } from "bun:test";
import { emptyMessage } from "../../../src/codec/header.ts";
import { MessageType, type DhcpMessage } from "../../../src/codec/message.ts";
import type { Answer } from "../../../src/core/answer.ts";
import { buildReply } from "../../../src/core/reply.ts";
import { route, type Destination, type RouteInput } from "../../../src/core/route.ts";

const CFG = { broadcast: "198.18.255.255", relayPort: 67, clientPort: 68 };
const { OFFER, ACK, NAK, REQUEST, INFORM, DISCOVER } = MessageType;
const base: RouteInput = { giaddr: "0.0.0.0", ciaddr: "0.0.0.0", flags: 0, replyType: OFFER, requestType: DISCOVER, sourcePort: 68, relaySourcePort: false };

describe("route: RFC 2131 4.1", () => {
  const ROWS: [name: string, input: Partial<RouteInput>, dest: [string, number, boolean, Destination["why"]]][] = [
    ["relayed: to giaddr, server port", { giaddr: "198.18.20.1" }, ["198.18.20.1", 67, false, "relay"]],
    ["relayed with relay-source-port: to the port it came from", { giaddr: "198.18.20.1", relaySourcePort: true, sourcePort: 4067 }, ["198.18.20.1", 4067, false, "relay-source-port"]],
    ["relayed NAK: to giaddr with the BROADCAST bit", { giaddr: "198.18.20.1", replyType: NAK, requestType: REQUEST }, ["198.18.20.1", 67, true, "relay"]],
    ["NAK not relayed: broadcast", { replyType: NAK, requestType: REQUEST, ciaddr: "198.18.5.10" }, ["198.18.255.255", 68, false, "nak-broadcast"]],
    ["ciaddr set: unicast to ciaddr", { replyType: ACK, requestType: REQUEST, ciaddr: "198.18.5.10" }, ["198.18.5.10", 68, false, "ciaddr"]],
    ["INFORM ACK: unicast to ciaddr", { replyType: ACK, requestType: INFORM, ciaddr: "198.18.5.10" }, ["198.18.5.10", 68, false, "ciaddr"]],
    ["BROADCAST bit: broadcast", { flags: 0x8000 }, ["198.18.255.255", 68, false, "broadcast-flag"]],
    ["neither: broadcast (no ARP entry can be made)", {}, ["198.18.255.255", 68, false, "broadcast-fallback"]],
  ];
  for (const [name, input, [address, port, flag, why]] of ROWS) {
    test(name, () => {
      expect(route({ ...base, ...input }, CFG)).toEqual({ address, port, setBroadcastFlag: flag, why });
    });
  }
});

describe("buildReply: RFC 2131 4.3 table 3", () => {
  const chaddr = new Uint8Array(16);
  chaddr.set([2, 0, 0, 0, 0, 1]);
  const req: DhcpMessage = { ...emptyMessage(), op: 1, htype: 1, hlen: 6, xid: 99, flags: 0x8000, ciaddr: "198.18.5.10", giaddr: "198.18.20.1", chaddr, options: new Map([[55, Uint8Array.of(1, 3, 15)], [61, Uint8Array.of(1, 2, 0, 0, 0, 0, 1)], [82, Uint8Array.of(1, 1, 6)]]) };
  const a: Answer = { ip: "198.18.5.10", mask: "255.255.255.0", router: "198.18.5.1", dns: [], leaseTime: 600, nextServer: "198.18.0.5", options: new Map([[15, Uint8Array.of(0x61)], [42, Uint8Array.of(198, 18, 0, 1)]]) };
  const S = { serverId: "198.18.0.1", leaseTime: 3600 };
  const ROWS: [name: string, type: 2 | 5 | 6, inform: boolean, yiaddr: string, ciaddr: string, siaddr: string, has: number[], lacks: number[]][] = [
    ["OFFER: yiaddr, lease times, siaddr, asked-for extras only", OFFER, false, "198.18.5.10", "198.18.5.10", "198.18.0.5", [1, 3, 15, 51, 53, 54, 58, 59, 61, 82], [42, 56]],
    ["ACK to INFORM: no yiaddr, no lease times (4.3.5)", ACK, true, "0.0.0.0", "198.18.5.10", "198.18.0.5", [1, 3, 54], [51, 58, 59]],
    ["NAK: no address, no configuration, message and echoes only", NAK, false, "0.0.0.0", "0.0.0.0", "0.0.0.0", [53, 54, 56, 61, 82], [1, 3, 15, 51]],
  ];
  for (const [name, type, inform, yiaddr, ciaddr, siaddr, has, lacks] of ROWS) {
    test(name, () => {
      const r = buildReply({ request: req, type, answer: type === NAK ? null : a, inform, message: "no" }, S);
      expect([r.op, r.xid, r.yiaddr, r.ciaddr, r.siaddr, r.giaddr, r.flags]).toEqual([2, 99, yiaddr, ciaddr, siaddr, "198.18.20.1", 0x8000]);
      for (const c of has) expect([c, r.options.has(c)]).toEqual([c, true]);
      for (const c of lacks) expect([c, r.options.has(c)]).toEqual([c, false]);
      if (r.options.has(51)) expect([...r.options.get(51)!]).toEqual([0, 0, 2, 88]);
    });
  }
});
