// decodeOption82Profile beyond each row's own example: more real shapes,
// malformed input (null, never a throw), and selectProfile's precedence.
import { describe, expect, test } from "bun:test";
import {
  PROFILE_IDS,
  PROFILE_VARIABLES,
  type ProfileRule,
  decodeOption82Profile,
  remoteIdMac,
  selectProfile,
} from "../../../src/option82/profiles.ts";
import { ROWS } from "../../../src/option82/vendors.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const hexb = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const vars = (profile: string, cid: Uint8Array | undefined, rid?: Uint8Array) => {
  const r = decodeOption82Profile(profile, cid, rid, "198.18.0.1");
  return r === null ? null : { profile: r.profile, ...Object.fromEntries(r.vars) };
};

describe("auto on further real shapes", () => {
  const cases: [string, Uint8Array, Uint8Array | undefined, Record<string, string | undefined>][] = [
    // Junos docs: FPC 4, PIC 1, port 1, S-VLAN 122, VLAN 500.
    ["juniper svlan-vlan", ascii("ge-4/1/1:122-500"), undefined,
      { profile: "juniper", slot: "4", subslot: "1", port: "1", svlan: "122", cvlan: "500", vlan: undefined }],
    // EX series default interface-name:vlan-name (dnsmasq gist by jeremyschulman).
    ["juniper EX vlan name", ascii("ge-0/0/10.0:staging"), undefined,
      { profile: "juniper", port: "10", unit: "0", vlan_name: "staging", vlan: undefined }],
    ["juniper with prefix", ascii("bras1:ge-1/0/1.0:43"), undefined,
      { profile: "juniper", relay_hostname: "bras1", vlan: "43" }],
    // Huawei "common": {eth|trunk}slot/subcard/port:svlan.cvlan hostname0/0/0/0/0.
    ["huawei common", ascii("eth 0/1/7:200.300 Quidway0/0/0/0/0"), undefined,
      { profile: "huawei-text", interface: "eth 0/1/7", slot: "0", subslot: "1", port: "7", svlan: "200", cvlan: "300", vlan: undefined, relay_hostname: "Quidway" }],
    // H3C cn-telecom parse example: ge 1/0/1:4096.2345 guangzhou001/1/31/63/31/127.
    ["cn-telecom", ascii("ge 1/0/1:4096.2345 guangzhou001/1/31/63/31/127"), undefined,
      { profile: "huawei-text", slot: "1", port: "1", svlan: "4096", cvlan: "2345", relay_hostname: "guangzhou001" }],
    // TR-101 ATM, ZyXEL VES example "SYSNAME atm 0/10:0.33".
    ["tr101 atm", ascii("SYSNAME atm 0/10:0.33"), undefined,
      { profile: "tr101", relay_hostname: "SYSNAME", slot: "0", port: "10", vpi: "0", vci: "33", vlan: undefined }],
    ["tr101 four numbers (chassis/slot/subslot/port)", ascii("0015-e9aa-bb01 eth 1/0/0/5:100"), undefined,
      { profile: "tr101", module: "1", slot: "0", subslot: "0", port: "5", vlan: "100" }],
    ["tr101 without vlan", ascii("sw eth 0/3"), undefined, { profile: "tr101", port: "3", vlan: undefined }],
    // D-Link user-configured remote-id: 01 N string (DES-3528 manual).
    ["dlink with user remote-id", hexb("000400010006"), Uint8Array.of(1, 4, ...ascii("sw12")),
      { profile: "dlink", port: "6", remote_id_hex: "010473773132", remote_id_text: undefined, relay_mac: undefined }],
    ["bare 6-byte remote-id MAC", hexb("000400010006"), hexb("001e589eb2ad"),
      { relay_mac: "00:1e:58:9e:b2:ad", relay_mac_hex: "001e589eb2ad" }],
    ["remote-id MAC as text", hexb("000400010006"), ascii("001E.589E.B2AD"),
      { relay_mac_hex: "001e589eb2ad", remote_id_text: "001E.589E.B2AD" }],
    ["remote-id MAC as a typed string (01 len text)", hexb("000400010006"), Uint8Array.of(1, 17, ...ascii("00:1e:58:9e:b2:ad")),
      { relay_mac: "00:1e:58:9e:b2:ad", remote_id_text: undefined }],
    ["Cisco user circuit-id 01 N string is kept as text only", Uint8Array.of(1, 5, ...ascii("Gi0/1")), undefined, {}],
  ];
  for (const [name, cid, rid, want] of cases) {
    test(name, () => {
      const got = vars("auto", cid, rid);
      if (Object.keys(want).length === 0) {
        expect(got).toBeNull();
        return;
      }
      expect(got).not.toBeNull();
      for (const [k, v] of Object.entries(want)) expect((got as Record<string, string>)[k]).toBe(v as string);
    });
  }
});

describe("malformed input gives null, never a throw", () => {
  const bad: [string, string, Uint8Array | undefined][] = [
    ["no circuit-id", "auto", undefined],
    ["empty circuit-id", "dlink", new Uint8Array(0)],
    ["short circuit-id", "dlink", hexb("0004000100")],
    ["long circuit-id", "dlink", hexb("00040001000600")],
    ["wrong type byte", "dlink", hexb("010400010006")],
    ["wrong inner length", "dlink", hexb("000500010006")],
    ["port 0", "dlink", hexb("000400010000")],
    ["VLAN above 4095", "dlink", hexb("00041000 0006".replace(" ", ""))],
    ["non-printable text for juniper", "juniper", Uint8Array.of(0x67, 0x65, 0x2d, 0x01, 0x2f)],
    ["non-printable text for tr101", "tr101", Uint8Array.of(...ascii("sw eth 0/3"), 0)],
    ["juniper text that is not an interface", "juniper", ascii("hello world")],
    ["huawei text with no VLAN part", "huawei-text", ascii("Eth0/0/5 HUAWEI")],
    ["tr101 eth with vpi.vci", "tr101", ascii("sw eth 0/3:1.2")],
    ["tr101 atm without vpi.vci", "tr101", ascii("sw atm 0/3")],
    ["eltex-tr101 needs three numbers", "eltex-tr101", ascii("sw eth 0/3:5")],
    ["zyxel too short", "zyxel", hexb("000700")],
    ["zyxel binary tail", "zyxel", hexb("0007007b01")],
    ["unknown profile", "no-such-vendor", hexb("000400010006")],
    ["auto on binary junk", "auto", hexb("ff00ff00")],
  ];
  for (const [name, profile, cid] of bad) {
    test(name, () => expect(decodeOption82Profile(profile, cid, undefined, "198.18.0.1")).toBeNull());
  }

  test("random bytes through every profile: no throw, only known names, decimal numbers", () => {
    let seed = 0x2f6b1d3;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 255;
    const numeric = new Set(["vlan", "svlan", "cvlan", "module", "unit", "slot", "subslot", "port", "vpi", "vci"]);
    const ids = [...ROWS.map((r) => r.id), "auto"];
    let decoded = 0;
    for (let i = 0; i < 4000; i++) {
      const len = rnd() % 12;
      // Half the time start like a typed circuit-id so the binary rows are exercised.
      const b = Uint8Array.from({ length: len }, (_, j) => (i % 2 === 0 && j < 2 ? [0, 4][j]! : rnd()));
      const rid = i % 3 === 0 ? Uint8Array.from({ length: rnd() % 10 }, rnd) : undefined;
      for (const id of ids) {
        const r = decodeOption82Profile(id, b, rid, "198.18.0.1");
        if (r === null) continue;
        decoded++;
        for (const [n, v] of r.vars) {
          expect(PROFILE_VARIABLES.has(n)).toBe(true);
          if (numeric.has(n)) expect(v).toMatch(/^\d+$/);
        }
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });
});

describe("PROFILE_VARIABLES and PROFILE_IDS", () => {
  test("every variable any example produces is declared", () => {
    for (const row of ROWS) {
      const r = decodeOption82Profile(row.id, row.example.circuitId, row.example.remoteId, "0.0.0.0")!;
      for (const [n] of r.vars) expect(PROFILE_VARIABLES.has(n)).toBe(true);
    }
  });
  test("ids are the rows plus auto and none", () => {
    expect([...PROFILE_IDS].sort()).toEqual([...ROWS.map((r) => r.id), "auto", "none"].sort());
  });
});

describe("remoteIdMac", () => {
  test("forms", () => {
    expect(remoteIdMac(hexb("0006001e589eb2ad"))).toBe("001e589eb2ad");
    expect(remoteIdMac(hexb("001e589eb2ad"))).toBe("001e589eb2ad");
    expect(remoteIdMac(ascii("00:1E:58:9E:B2:AD"))).toBe("001e589eb2ad");
    expect(remoteIdMac(Uint8Array.of(1, 12, ...ascii("001e589eb2ad")))).toBe("001e589eb2ad");
    expect(remoteIdMac(hexb("0007001e589eb2ad"))).toBeNull();
    expect(remoteIdMac(ascii("sw-12"))).toBeNull();
    expect(remoteIdMac(ascii("00:1e:58-9e:b2:ad"))).toBeNull(); // mixed separators
    expect(remoteIdMac(undefined)).toBeNull();
  });
});

describe("selectProfile", () => {
  const rules: ProfileRule[] = [
    { kind: "default", profile: "auto" },
    { kind: "giaddr", network: 0xc6120000, prefix: 24, profile: "dlink" }, // 198.18.0.0/24
    { kind: "giaddr", network: 0xc6120080, prefix: 25, profile: "h3c" }, // 198.18.0.128/25
    { kind: "giaddr", network: 0xc6120105, prefix: 32, profile: null }, // 198.18.1.5 none
    { kind: "remote_id", mac: "001e589eb2ad", profile: "cisco" },
  ];
  test("giaddr inside a subnet", () => expect(selectProfile(rules, "198.18.0.7", null)).toBe("dlink"));
  test("longest prefix wins", () => expect(selectProfile(rules, "198.18.0.200", null)).toBe("h3c"));
  test("a /32 rule with none", () => expect(selectProfile(rules, "198.18.1.5", null)).toBeNull());
  test("remote-id MAC beats giaddr, any spelling", () => {
    expect(selectProfile(rules, "198.18.0.7", "00:1e:58:9e:b2:ad")).toBe("cisco");
    expect(selectProfile(rules, "198.18.0.7", "001E.589E.B2AD")).toBe("cisco");
  });
  test("unknown MAC falls back to giaddr", () => expect(selectProfile(rules, "198.18.0.7", "001e589eb2ae")).toBe("dlink"));
  test("outside every subnet: default", () => expect(selectProfile(rules, "198.19.0.1", null)).toBe("auto"));
  test("not relayed (0.0.0.0): default", () => expect(selectProfile(rules, "0.0.0.0", null)).toBe("auto"));
  test("no default: null", () => expect(selectProfile(rules.slice(1), "198.19.0.1", null)).toBeNull());
  test("no rules: null", () => expect(selectProfile([], "198.18.0.1", "001e589eb2ad")).toBeNull());
  test("/0 matches everything", () =>
    expect(selectProfile([{ kind: "giaddr", network: 0, prefix: 0, profile: "tr101" }], "203.0.113.9", null)).toBe("tr101"));
});
