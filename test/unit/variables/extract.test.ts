import { describe, expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { parseHexText } from "../../../src/cli/dump.ts";
import { variableRow } from "../../../src/variables/catalogue.ts";
import { extractVariables } from "../../../src/variables/extract.ts";
import { applySlices, parseSlice } from "../../../src/variables/slices.ts";
import type { Slice } from "../../../src/config/types.ts";
import { SEED_LEGACY, SEED_OPTION_82, fromHex, message, seedHexText, seedMessage } from "./packets.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const b = (...x: number[]) => Uint8Array.from(x);
const legacyOf = (v: Map<string, string>) =>
  Object.fromEntries([...v].filter(([k]) => variableRow(k)?.legacy === true));

/** The <options> of pydhcpdb's reference config.xml. */
const REFERENCE_SLICES: Slice[] = [
  "option_82_hex:sw_port1:20:22",
  "option_82_hex:sw_port2:16:18",
  "option_82_hex:sw_mac:26:40",
].map((t) => {
  const s = parseSlice(t);
  if ("error" in s) throw new Error(s.error);
  return s;
});

describe("reference packet (pydhcpdb's -d dump)", () => {
  test("every legacy name has exactly pydhcpdb's value, and no other legacy name appears", () => {
    expect(legacyOf(extractVariables(seedMessage()))).toEqual(SEED_LEGACY);
  });

  test("through decode: the annotated capture gives the same map as the hand-built message", () => {
    const hex = parseHexText(seedHexText());
    if (!hex.ok) throw new Error(hex.error);
    expect(hex.bytes.length).toBe(307);
    const r = decode(hex.bytes);
    if (!r.ok) throw new Error(r.error.message);
    const got = extractVariables(r.msg);
    expect(legacyOf(got)).toEqual(SEED_LEGACY);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(extractVariables(seedMessage())));
  });

  test("the reference config's slices give what Python gives", () => {
    const v = extractVariables(seedMessage());
    applySlices(v, REFERENCE_SLICES);
    // Python: '12010600040001000602080006001e589eb2ad'[20:22] == '08'
    expect(v.get("sw_port1")).toBe("08");
    expect(v.get("sw_port2")).toBe("06");
    expect(v.get("sw_mac")).toBe("001e589eb2ad");
  });

  test("modern names", () => {
    const v = extractVariables(seedMessage());
    expect(v.get("msg_type")).toBe("INFORM");
    expect(v.get("mac")).toBe("00:25:22:4a:d7:64");
    expect(v.get("mac_hex")).toBe("0025224ad764");
    expect(v.get("client_id_hex")).toBe("010025224ad764");
    expect(v.get("vendor_class")).toBe("MSFT 5.0");
    expect(v.get("relay_ip")).toBe("172.30.114.25");
    expect(v.get("circuit_id_hex")).toBe("000400010006");
    expect(v.get("remote_id_hex")).toBe("0006001e589eb2ad");
    expect(v.has("circuit_id_text")).toBe(false);
    expect(v.has("remote_id_text")).toBe(false);
    expect(v.get("param_list")).toBe("1,15,3,6,44,46,47,31,33,249,43");
    expect(v.get("opt_82_hex")).toBe("010600040001000602080006001e589eb2ad");
    expect(v.get("opt_60_hex")).toBe("4d53465420352e30");
    expect(v.get("relay_sub_1_hex")).toBe("000400010006");
    expect(v.get("xid")).toBe("3c897d8c");
    expect(v.get("broadcast_flag")).toBe("0");
    expect(v.has("requested_ip")).toBe(false);
    expect(v.has("hostname")).toBe(true);
  });
});

describe("legacy rules", () => {
  test("defaults for a bare BOOTREQUEST: no option 53, 61, 12, 50, 82", () => {
    const v = extractVariables(message());
    expect(v.get("op")).toBe("DHCPDISCOVER/DHCPREQUEST");
    expect(v.get("HostName")).toBe("unknown");
    expect(v.get("RequestedIpAddress")).toBe("0.0.0.0");
    expect(v.get("option82")).toBe("none");
    expect(v.get("ClientMacAddress")).toBe("02005e102030");
    expect(v.has("HType")).toBe(false);
    expect(v.has("msg_type")).toBe(false);
    expect(v.has("option_82_hex")).toBe(false);
    expect(v.has("hostname")).toBe(false);
    expect(v.has("relay_ip")).toBe(false);
    expect(extractVariables(message([], { op: 2 })).get("op")).toBe("DHCPOFFER/DHCPACK");
  });

  test.each([
    [1, "DHCPDISCOVER", "DISCOVER"],
    [3, "DHCPREQUEST", "REQUEST"],
    [4, "DHCPDECLINE", "DECLINE"],
    [6, "DHCPNAK", "NAK"],
    [7, "DHCPRELEASE", "RELEASE"],
    [8, "DHCPINFORM", "INFORM"],
    [10, "DHCPDISCOVER/DHCPREQUEST", "LEASEQUERY"],
    [200, "DHCPDISCOVER/DHCPREQUEST", "UNKNOWN_200"],
  ])("message type %d: op %s, msg_type %s", (t, op, name) => {
    const v = extractVariables(message([[53, b(t)]]));
    expect(v.get("op")).toBe(op);
    expect(v.get("msg_type")).toBe(name);
    expect(v.get("option53")).toBe("53");
  });

  test("option 61: type byte dropped, HType by type", () => {
    const eth = extractVariables(message([[61, fromHex("01aabbccddeeff")]]));
    expect(eth.get("ClientMacAddress")).toBe("aabbccddeeff");
    expect(eth.get("HType")).toBe("Ethernet");
    const other = extractVariables(message([[61, fromHex("ff0000000100010203")]]));
    expect(other.get("ClientMacAddress")).toBe("0000000100010203");
    expect(other.get("HType")).toBe("unknown");
    expect(other.get("client_id_hex")).toBe("ff0000000100010203");
    // a lone type byte identifies nothing: chaddr stays
    const short = extractVariables(message([[61, b(1)]]));
    expect(short.get("ClientMacAddress")).toBe("02005e102030");
    expect(short.has("HType")).toBe(false);
  });

  test("addresses, lease time as unsigned 32-bit, flags as 4 hex digits", () => {
    const v = extractVariables(
      message(
        [
          [50, b(198, 18, 0, 9)],
          [54, b(198, 18, 0, 1)],
          [51, b(0xff, 0xff, 0xff, 0xfe)],
          [1, b(255, 255, 255, 0)],
          [3, b(198, 18, 0, 1, 198, 18, 0, 2)],
          [6, b(8, 8, 8, 8, 1, 1, 1, 1)],
          [42, b(198, 18, 0, 3)],
        ],
        { flags: 0x8000 },
      ),
    );
    expect(v.get("RequestedIpAddress")).toBe("198.18.0.9");
    expect(v.get("requested_ip")).toBe("198.18.0.9");
    expect(v.get("DHCPServerIP")).toBe("198.18.0.1");
    expect(v.get("server_id")).toBe("198.18.0.1");
    expect(v.get("DHCPLeaseTime")).toBe("4294967294");
    expect(v.get("lease_time")).toBe("4294967294");
    expect(v.get("SubnetMask")).toBe("255.255.255.0");
    expect(v.get("Router")).toBe("198.18.0.1");
    expect(v.get("DNS")).toBe("8.8.8.8");
    expect(v.get("NTPS")).toBe("198.18.0.3");
    expect(v.get("flags")).toBe("8000");
    expect(v.get("broadcast_flag")).toBe("1");
    for (const n of [1, 3, 6, 42, 50, 51, 54]) expect(v.get(`option${n}`)).toBe(String(n));
  });

  test("text rule: UTF-8 when valid, Latin-1 otherwise, trailing NULs dropped", () => {
    const utf8 = extractVariables(message([[12, ascii("Сергей-ПК")]]));
    expect(utf8.get("HostName")).toBe("Сергей-ПК");
    const nul = extractVariables(message([[12, ascii("laptop\0\0")], [60, ascii("udhcp 1.36.1")]]));
    expect(nul.get("HostName")).toBe("laptop");
    expect(nul.get("Vendor")).toBe("udhcp 1.36.1");
    const bad = extractVariables(message([[12, b(0x61, 0xff, 0x62)]]));
    expect(bad.get("HostName")).toBe("a\xffb");
    expect(bad.get("opt_12_hex")).toBe("61ff62");
    const empty = extractVariables(message([[12, b(0)]]));
    expect(empty.get("HostName")).toBe("unknown");
    expect(empty.get("hostname")).toBe("");
  });

  test("option 55: ReqList names, ReqListVendorSpecInfo is 43, DHCPAUTO from option 116", () => {
    const v = extractVariables(message([[55, b(1, 3, 43)], [116, b(1)]]));
    expect(v.get("ReqListSubnetMask")).toBe("True");
    expect(v.get("ReqListRouter")).toBe("True");
    expect(v.get("ReqListVendorSpecInfo")).toBe("43");
    expect(v.has("ReqListDNS")).toBe(false);
    expect(v.get("param_list")).toBe("1,3,43");
    expect(v.get("DHCPAUTO")).toBe("True");
    expect(v.get("option116")).toBe("116");
  });

  test("unknown options: length byte first, Python repr in _str", () => {
    const v = extractVariables(message([[77, ascii("a'b")], [43, b(1, 2, 3, 4)]]));
    expect(v.get("unknown_option_77_hex")).toBe("03612762");
    expect(v.get("unknown_option_77")).toBe("03612762");
    expect(v.get("unknown_option_77_len")).toBe("3");
    expect(v.get("unknown_option_77_str")).toBe(`b"\\x03a'b"`);
    expect(v.get("unknown_option_43_hex")).toBe("0401020304");
    expect(v.get("unknown_option_43_str")).toBe("b'\\x04\\x01\\x02\\x03\\x04'");
    expect(v.get("opt_77_hex")).toBe("612762");
    expect(v.has("option77")).toBe(false);
  });

  test("option 82 sub-options are read by code, in any order", () => {
    const v = extractVariables(message([[82, fromHex("0206aabbccddeeff0103657468")]]));
    expect(v.get("option_82_hex")).toBe("0d0206aabbccddeeff0103657468");
    expect(v.get("option_82_AgentCircuitId_hex")).toBe("657468");
    expect(v.get("option_82_AgentCircuitId_port_hex")).toBe("68");
    expect(v.get("option_82_AgentRemoteId_hex")).toBe("aabbccddeeff");
    expect(v.get("circuit_id_text")).toBe("eth");
    expect(v.has("remote_id_text")).toBe(false);
  });

  test("option 82 with a sub-option overrunning it keeps option_82_hex for slices, nothing else", () => {
    const v = extractVariables(message([[82, fromHex("0109000400010006")]]));
    expect(v.get("option_82_hex")).toBe("080109000400010006");
    expect(v.get("option_82_len")).toBe("8");
    expect(v.has("option_82_AgentCircuitId_hex")).toBe(false);
    expect(v.has("circuit_id_hex")).toBe(false);
    // a repeated sub-option is malformed too (RFC 3046 gives each one meaning once)
    const dup = extractVariables(message([[82, fromHex("010161010162")]]));
    expect(dup.get("option_82_hex")).toBe("06010161010162");
    expect(dup.has("option_82_AgentCircuitId_hex")).toBe(false);
  });

  test("modern relay names: link selection, subscriber id, server id override, relay port", () => {
    const v = extractVariables(
      message(
        [
          [
            82,
            fromHex("010b6574682f312f333a313030" + "0209" + "6f6c742d332e6c6162" + "0504c6120000" + "0609637573742d30303432" + "0b04c6120001" + "130218ef"),
          ],
        ],
        { giaddr: "198.18.0.254" },
      ),
    );
    expect(v.get("circuit_id_text")).toBe("eth/1/3:100");
    expect(v.get("remote_id_text")).toBe("olt-3.lab");
    expect(v.get("link_selection")).toBe("198.18.0.0");
    expect(v.get("subscriber_id")).toBe("cust-0042");
    expect(v.get("server_id_override")).toBe("198.18.0.1");
    expect(v.get("relay_port")).toBe("6383");
    expect(v.get("relay_ip")).toBe("198.18.0.254");
    expect(v.get("relay_sub_19_hex")).toBe("18ef");
  });

  test("mac follows hlen", () => {
    const v = extractVariables(message([], { hlen: 8, htype: 6 }));
    expect(v.get("mac")).toBe("02:00:5e:10:20:30:00:00");
    expect(v.get("mac_hex")).toBe("02005e1020300000");
    expect(v.get("chaddr")).toBe("02005e102030");
    expect(v.has("htype")).toBe(false);
    expect(extractVariables(message([], { hlen: 0 })).has("mac")).toBe(false);
  });

  test("every name produced is in the catalogue", () => {
    const msgs = [
      seedMessage(),
      message(),
      message([[77, b(1)], [82, SEED_OPTION_82], [55, b(1, 3, 6, 15, 31, 33, 43)], [116, b(1)], [50, b(1, 2, 3, 4)]]),
      message([[82, fromHex("0504c61200000602616213021234ff00")]]),
    ];
    for (const m of msgs) {
      for (const name of extractVariables(m).keys()) expect([name, variableRow(name) !== undefined]).toEqual([name, true]);
    }
  });
});

describe("property: any message", () => {
  test("3000 random messages: never throws, every name is catalogued, every value is a string", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => rnd(256));
    for (let i = 0; i < 3000; i++) {
      const opts: [number, Uint8Array][] = [];
      const count = rnd(12);
      for (let k = 0; k < count; k++) {
        // favour the codes with handlers, include empty and over-255 values
        const code = rnd(3) === 0 ? [1, 3, 6, 12, 42, 50, 51, 53, 54, 55, 60, 61, 82, 116][rnd(14)]! : 1 + rnd(254);
        const len = rnd(10) === 0 ? 256 + rnd(300) : rnd(3) === 0 ? rnd(5) : rnd(40);
        opts.push([code, bytes(len)]);
      }
      const m = message(opts, { op: rnd(4), htype: rnd(3), hlen: rnd(40), hops: rnd(256), xid: rnd(2 ** 31) * 2, secs: rnd(65536), flags: rnd(65536) });
      const v = extractVariables(m);
      for (const [name, value] of v) {
        expect([name, variableRow(name) !== undefined, typeof value]).toEqual([name, true, "string"]);
      }
      expect(v.get("flags")!.length).toBe(4);
      expect(v.get("xidhex")!.length).toBe(8);
      const o82 = m.options.get(82);
      if (o82) expect(v.get("option_82_hex")!.length).toBe(2 + o82.length * 2);
    }
  });
});
