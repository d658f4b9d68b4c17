/**
 * The packets `pydhcp probe` sends, on the wire: encoded by the codec and
 * decoded again, field by field.
 */
import { describe, expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { encode } from "../../../src/codec/encode.ts";
import type { DhcpMessage } from "../../../src/codec/message.ts";
import { parseRelayAgentInfo } from "../../../src/option82/parse.ts";
import {
  discover, hexOrText, isReplyTo, parseMac, rebootRequest, relayAgentInfo, release, request, summarize, type ProbeIdentity,
} from "../../../src/cli/probe-packet.ts";

const mac = parseMac("02:00:5e:10:00:01")!;
const relayId: ProbeIdentity = { mac, xid: 0x01020304, giaddr: "198.18.1.1", option82: relayAgentInfo(new TextEncoder().encode("sw1-port7"), Uint8Array.of(0, 6, 1, 2, 3, 4, 5, 6), true) as Uint8Array };
const clientId: ProbeIdentity = { mac, xid: 0x0a0b0c0d, giaddr: "0.0.0.0", option82: null };

function wire(m: DhcpMessage): DhcpMessage {
  const e = encode(m);
  if (!e.ok) throw new Error(e.error.message);
  const d = decode(e.bytes);
  if (!d.ok) throw new Error(d.error.message);
  return d.msg;
}

describe("probe packets", () => {
  test("relay DISCOVER: giaddr, hops 1, unicast flags, option 82 with circuit, remote and RFC 8357 sub-options", () => {
    const m = wire(discover(relayId));
    expect([m.op, m.htype, m.hlen, m.hops, m.xid, m.flags, m.giaddr]).toEqual([1, 1, 6, 1, 0x01020304, 0, "198.18.1.1"]);
    expect([...m.chaddr.subarray(0, 6)]).toEqual([2, 0, 0x5e, 0x10, 0, 1]);
    expect(m.options.get(53)).toEqual(Uint8Array.of(1));
    const subs = parseRelayAgentInfo(m.options.get(82)!);
    if (!subs.ok) throw new Error("option 82 does not parse");
    expect(new TextDecoder().decode(subs.subs.get(1))).toBe("sw1-port7");
    expect([...subs.subs.get(2)!]).toEqual([0, 6, 1, 2, 3, 4, 5, 6]);
    expect(subs.subs.get(19)?.length).toBe(0);
  });

  test("client DISCOVER: no giaddr, hops 0, BROADCAST flag, no option 82", () => {
    const m = wire(discover(clientId));
    expect([m.hops, m.flags, m.giaddr, m.options.has(82)]).toEqual([0, 0x8000, "0.0.0.0", false]);
  });

  test("REQUEST after an OFFER names the offered address (50) and the server (54); INIT-REBOOT has no 54", () => {
    const offer = wire({ ...discover(clientId), op: 2, yiaddr: "198.18.0.70", options: new Map([[53, Uint8Array.of(2)], [54, Uint8Array.of(198, 18, 0, 1)]]) });
    const r = wire(request(clientId, offer));
    expect(r.options.get(53)).toEqual(Uint8Array.of(3));
    expect([...r.options.get(50)!]).toEqual([198, 18, 0, 70]);
    expect([...r.options.get(54)!]).toEqual([198, 18, 0, 1]);
    const ir = wire(rebootRequest(relayId, "198.18.1.50"));
    expect([...ir.options.get(50)!]).toEqual([198, 18, 1, 50]);
    expect(ir.options.has(54)).toBe(false);
    expect(ir.options.has(82)).toBe(true);
    const rel = wire(release(clientId, { ...offer, options: new Map([[54, Uint8Array.of(198, 18, 0, 1)]]) }));
    expect([rel.options.get(53)![0], rel.ciaddr, rel.flags]).toEqual([7, "198.18.0.70", 0]);
  });

  test("a reply is ours only with our xid and hardware address; summaries decode options by name", () => {
    const base = discover(clientId);
    const reply: DhcpMessage = { ...base, op: 2, yiaddr: "198.18.0.70", options: new Map([[53, Uint8Array.of(5)], [1, Uint8Array.of(255, 255, 255, 0)], [51, Uint8Array.of(0, 0, 2, 88)]]) };
    expect(isReplyTo(clientId, reply)).toBe(true);
    expect(isReplyTo(clientId, { ...reply, xid: 1 })).toBe(false);
    expect(isReplyTo(clientId, { ...reply, op: 1 })).toBe(false);
    const other = new Uint8Array(16);
    other.set([2, 0, 0x5e, 0x10, 0, 2]);
    expect(isReplyTo(clientId, { ...reply, chaddr: other })).toBe(false);
    const s = summarize(reply);
    expect(s.type).toBe("ACK");
    expect(s.options).toEqual([["1 subnet-mask", "255.255.255.0"], ["51 dhcp-lease-time", "600"]]);
  });

  test("MAC and id parsing", () => {
    expect(parseMac("0200.5e10.0001")).toEqual(mac);
    expect(parseMac("02:00:5e:10:00")).toBeNull();
    expect(hexOrText("0x000400010006")).toEqual(Uint8Array.of(0, 4, 0, 1, 0, 6));
    expect(hexOrText("0xabc")).toBeNull();
    expect(hexOrText("aa:bb")).toEqual(Uint8Array.of(0xaa, 0xbb));
    expect(hexOrText("eth0")).toEqual(new TextEncoder().encode("eth0"));
    expect(relayAgentInfo(null, null, false)).toBeNull();
    expect(typeof relayAgentInfo(new Uint8Array(256), null, false)).toBe("string");
  });
});
