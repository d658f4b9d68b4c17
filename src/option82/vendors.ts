/**
 * Vendor formats of the relay agent's circuit-id (RFC 3046 sub-option 1) and
 * remote-id (sub-option 2). RFC 3046 section 3.1 leaves both opaque, so every
 * switch family invented its own; this table names the common ones so that
 * queries can say {port} and {vlan} instead of counting hex digits.
 *
 * One row per format. `decode` reads the circuit-id only and returns the
 * format's own variables, or null when the bytes do not fit it exactly (a
 * wrong length or a stray byte is "not this format", never a partial answer).
 * profiles.ts adds the variables every profile shares (circuit_id_hex,
 * remote_id_hex, their text, relay_mac from the remote-id).
 *
 * `auto` says whether the row takes part in profile "auto". Several families
 * write byte-identical circuit-ids with different meanings (TP-Link's last two
 * bytes are one port number, D-Link's are module + port, H3C's are port - 1),
 * so only the first of each look-alike group is guessed; the others must be
 * named in the config. ROWS is in auto order: see profiles.ts.
 *
 * Every row carries the example it was written from, with where it comes from;
 * test/unit/option82/vendors.test.ts decodes each one.
 */
import {
  type ProfileVar,
  dec,
  decField,
  isPrintable,
  printable,
  typeZeroLen4,
} from "./fields.ts";

export interface VendorExample {
  /** where the bytes come from */
  source: string;
  /** circuit-id value (sub-option 1 value, without code and length) */
  circuitId: Uint8Array;
  /** remote-id value (sub-option 2 value), when the source gives one */
  remoteId?: Uint8Array;
  /** the variables the row must produce from it (a subset of all it produces) */
  expect: Record<string, string>;
}

export interface VendorFormat {
  id: string;
  description: string;
  /** tried by profile "auto" (false for look-alikes of an earlier row) */
  auto: boolean;
  /** the format's own variables, or null when the circuit-id is not this format */
  decode(circuitId: Uint8Array): ProfileVar[] | null;
  example: VendorExample;
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** 802.1Q VID is 12 bits; a 16-bit field above 4095 means we misread the format. */
const vid = (n: number): boolean => n <= 4095;

/** 00 04 VLAN(2) MODULE(1) PORT(1): D-Link's default and its many copies. */
function vlanModulePort(circuitId: Uint8Array): ProfileVar[] | null {
  const v = typeZeroLen4(circuitId);
  if (v === null) return null;
  const vlan = v.getUint16(0);
  const port = v.getUint8(3);
  // Port numbers start at 1 in every manual that documents this layout.
  if (!vid(vlan) || port === 0) return null;
  return [["vlan", dec(vlan)], ["module", dec(v.getUint8(2))], ["port", dec(port)]];
}

// --- text formats ---------------------------------------------------------

/**
 * Junos: (fe|ge|xe|et|mge)-fpc/pic/port[.unit][:vlan | :svlan-vlan | :vlan-name],
 * optionally after a "prefix:" (host-name, logical system, routing instance).
 */
const JUNIPER = /^(?:(.+):)?((?:fe|ge|xe|et|mge)-(\d+)\/(\d+)\/(\d+)(?:\.(\d+))?)(?::([^\s:]+))?$/;

function juniper(circuitId: Uint8Array): ProfileVar[] | null {
  const text = printable(circuitId);
  const m = text === null ? null : JUNIPER.exec(text);
  if (m === null) return null;
  const [, prefix, iface, fpc, pic, port, unit, tail] = m;
  const out: ProfileVar[] = [["interface", iface!], ["slot", fpc!], ["subslot", pic!], ["port", port!]];
  if (unit !== undefined) out.push(["unit", unit]);
  if (prefix !== undefined) out.push(["relay_hostname", prefix]);
  if (tail !== undefined) {
    const dual = /^(\d{1,4})-(\d{1,4})$/.exec(tail);
    if (dual !== null) out.push(["svlan", dual[1]!], ["cvlan", dual[2]!]);
    else if (/^\d{1,4}$/.test(tail)) out.push(["vlan", tail]);
    else out.push(["vlan_name", tail]);
  }
  return out;
}

/**
 * Huawei default / common CID: "<if>slot/subslot/port:svlan.cvlan <host>/0/0/0/0/0"
 * (interface word optional, host part optional).
 */
const HUAWEI_TEXT = /^((?:[A-Za-z][A-Za-z-]*)? ?(\d+)\/(\d+)\/(\d+)):(\d+)\.(\d+)(?: (\S.*))?$/;

/** The access-node name without the trailing rack/frame/slot/subslot/port numbers. */
function huaweiHost(rest: string): string {
  const slashed = /^([^/]+)\/\d+(?:\/\d+){4,5}$/.exec(rest);
  if (slashed !== null) return slashed[1]!;
  const glued = /^(.*\D)0\/0\/0\/0\/0$/.exec(rest); // "common": "Quidway0/0/0/0/0"
  return glued !== null ? glued[1]! : rest;
}

function huaweiText(circuitId: Uint8Array): ProfileVar[] | null {
  const text = printable(circuitId);
  const m = text === null ? null : HUAWEI_TEXT.exec(text);
  if (m === null) return null;
  const [, iface, slot, subslot, port, svlan, cvlan, rest] = m;
  const out: ProfileVar[] = [
    ["interface", iface!.trim()],
    ["slot", slot!],
    ["subslot", subslot!],
    ["port", port!],
    ["svlan", svlan!],
    ["cvlan", cvlan!],
  ];
  // cvlan 0 = no inner tag: then the outer tag is the client's one VLAN.
  if (Number(cvlan) === 0) out.push(["vlan", svlan!]);
  if (rest !== undefined) out.push(["relay_hostname", huaweiHost(rest)]);
  return out;
}

/**
 * Broadband Forum TR-101 R-124 (and its copies by Edge-Core, H3C, Eltex,
 * D-Link): "<access-node-id> eth slot/port[:vlan]" or
 * "<access-node-id> atm slot/port:vpi.vci"; some put unit or chassis first.
 */
const TR101 = /^(\S+) (eth|atm) (\d+(?:\/\d+){1,3})(?::(\d+)(?:\.(\d+))?)?$/;

function tr101(circuitId: Uint8Array, parts?: number): ProfileVar[] | null {
  const text = printable(circuitId);
  const m = text === null ? null : TR101.exec(text);
  if (m === null) return null;
  const [, node, kind, path, a, b] = m;
  const nums = path!.split("/");
  if (parts !== undefined && nums.length !== parts) return null;
  // Eth carries one VLAN; ATM carries vpi.vci. Anything else is another format.
  if (kind === "eth" && b !== undefined) return null;
  if (kind === "atm" && (a === undefined || b === undefined)) return null;
  const names: Record<number, string[]> = {
    2: ["slot", "port"],
    3: ["module", "slot", "port"],
    4: ["module", "slot", "subslot", "port"],
  };
  const out: ProfileVar[] = [["relay_hostname", node!], ["interface", `${kind} ${path}`]];
  names[nums.length]!.forEach((n, i) => out.push([n, String(decField(nums[i]) ?? nums[i])]));
  if (kind === "eth" && a !== undefined) out.push(["vlan", a]);
  if (kind === "atm") out.push(["vpi", a!], ["vci", b!]);
  return out;
}

// --- binary formats without the 00 04 header --------------------------------

/** ZyXEL: SLOT(1) PORT(1) VLAN(2) [system name], no type/length header. */
function zyxel(circuitId: Uint8Array): ProfileVar[] | null {
  if (circuitId.length < 4) return null;
  const v = new DataView(circuitId.buffer, circuitId.byteOffset, circuitId.byteLength);
  const port = v.getUint8(1);
  const vlan = v.getUint16(2);
  if (port === 0 || !vid(vlan)) return null;
  const out: ProfileVar[] = [["slot", dec(v.getUint8(0))], ["port", dec(port)], ["vlan", dec(vlan)]];
  if (circuitId.length > 4) {
    // Optional name, which some firmware ends with a NUL terminator.
    let tail = circuitId.subarray(4);
    if (tail[tail.length - 1] === 0) tail = tail.subarray(0, tail.length - 1);
    if (!isPrintable(tail)) return null;
    out.push(["relay_hostname", String.fromCharCode(...tail)]);
  }
  return out;
}

export const ROWS: readonly VendorFormat[] = [
  {
    id: "juniper",
    description: "Juniper Junos: ge-fpc/pic/port[.unit]:vlan text (fpc -> slot, pic -> subslot)",
    auto: true,
    decode: juniper,
    example: {
      // Junos "relay-option-82 circuit-id" statement: (fe|ge)-fpc/pic/port:vlan-id,
      // example format of the operator's Junos DHCP relay (ge-1/0/1, logical unit 0, VLAN 43).
      source: "Junos DHCP relay circuit-id, forwarding-options dhcp-relay relay-option-82 circuit-id",
      circuitId: ascii("ge-1/0/1.0:43"),
      expect: { interface: "ge-1/0/1.0", slot: "1", subslot: "0", port: "1", unit: "0", vlan: "43" },
    },
  },
  {
    id: "huawei-text",
    description: "Huawei default/common text: [if]slot/subslot/port:svlan.cvlan host/0/0/0/0/0",
    auto: true,
    decode: huaweiText,
    example: {
      // Huawei "dhcp option82 format" command reference, default: "CID format:
      // interface name:svlan.cvlan host name/0/0/0/0/0, in ASCII". Written from
      // that template for Eth0/0/5, S-VLAN 100, no C-VLAN, sysname HUAWEI.
      source: "Huawei CloudEngine/S command reference, dhcp option82 format (default CID)",
      circuitId: ascii("Eth0/0/5:100.0 HUAWEI/0/0/0/0/0"),
      expect: {
        interface: "Eth0/0/5", slot: "0", subslot: "0", port: "5",
        svlan: "100", cvlan: "0", vlan: "100", relay_hostname: "HUAWEI",
      },
    },
  },
  {
    id: "eltex-tr101",
    description: "Eltex MES TR-101 text: hostname eth stack/slot/port:vlan",
    auto: false, // a TR-101 string: "auto" reports it as tr101 with the same variables
    decode: (c) => tr101(c, 3),
    example: {
      // Eltex MES1000/2000/3000 manual, Table "Option 82 field format according
      // to the TR-101 recommendations": "device hostname" then
      // "eth <stacked/slotid/interfaceid>:<vlan>".
      source: "Eltex MES1000/MES2000/MES3000 user manual, ip dhcp information option suboption type tr101",
      circuitId: ascii("mes-sw1 eth 1/0/5:100"),
      expect: { relay_hostname: "mes-sw1", module: "1", slot: "0", port: "5", vlan: "100" },
    },
  },
  {
    id: "tr101",
    description: "Broadband Forum TR-101 text: node-id eth slot/port[:vlan] | node-id atm slot/port:vpi.vci",
    auto: true,
    decode: (c) => tr101(c),
    example: {
      // Edge-Core ECS4100 CLI reference, ip dhcp snooping information option
      // circuit-id: TR101 format "<IP> eth <SID>/<PORT>[:<VLAN>]", SID always 0.
      source: "Edge-Core ECS4100/ECS4120 CLI reference, ip dhcp snooping information option circuit-id tr101",
      circuitId: ascii("198.18.0.2 eth 0/7:120"),
      expect: { relay_hostname: "198.18.0.2", interface: "eth 0/7", slot: "0", port: "7", vlan: "120" },
    },
  },
  {
    id: "dlink",
    description: "D-Link DES/DGS default: 00 04 VLAN(2) MODULE(1) PORT(1); remote-id 00 06 MAC",
    auto: true,
    decode: vlanModulePort,
    example: {
      // The seed packet (pydhcpdb article's -d dump), relayed by a D-Link:
      // option 82 = 01 06 00 04 00 01 00 06 02 08 00 06 00 1e 58 9e b2 ad.
      // Layout: D-Link DES-3200/DES-3528/DGS-3120 manuals, "Circuit ID sub-option
      // format": 1 6 0 4 VLAN(2) Module(1) Port(1); remote-id 2 8 0 6 MAC.
      source: "pydhcpdb seed dump; D-Link xStack DES-3200/DES-3528 user manual, DHCP relay option 82",
      circuitId: bytes(0x00, 0x04, 0x00, 0x01, 0x00, 0x06),
      remoteId: bytes(0x00, 0x06, 0x00, 0x1e, 0x58, 0x9e, 0xb2, 0xad),
      expect: { vlan: "1", module: "0", port: "6", relay_mac: "00:1e:58:9e:b2:ad", relay_mac_hex: "001e589eb2ad" },
    },
  },
  {
    id: "cisco",
    description: "Cisco Catalyst DHCP snooping default: 00 04 VLAN(2) MODULE(1) PORT(1); remote-id 00 06 MAC",
    auto: false, // same bytes as dlink
    decode: vlanModulePort,
    example: {
      // Catalyst 2975/3750-X/IE-2000 configuration guides, "Suboption Packet
      // Formats": 1 6 0 4 VLAN(2) Module(1) Port(1). Real value from the Splynx
      // DHCP option 82 guide: "Cisco (switch): Agent-Circuit-Id = 0x000400640001"
      // = VLAN 100, port 1. Note: on some Catalyst models the port field starts
      // at 3 for Gi1/0/1 (3750-E guide), so {port} is the field, not the label.
      source: "Cisco Catalyst software configuration guide (DHCP snooping option-82); splynx/docs dhcp_option_82.md",
      circuitId: bytes(0x00, 0x04, 0x00, 0x64, 0x00, 0x01),
      expect: { vlan: "100", module: "0", port: "1" },
    },
  },
  {
    id: "eltex",
    description: "Eltex MES custom: 00 04 VLAN(2) MODULE(1) PORT(1); remote-id 00 06 MAC",
    auto: false, // same bytes as dlink
    decode: vlanModulePort,
    example: {
      // Eltex MES manual, Table "Option 82 field format in custom mode":
      // type, length, VLAN (2 bytes), module number (1), port number (1).
      // Bytes written from that table: VLAN 10, module 1, port 12.
      source: "Eltex MES1000/MES2000/MES3000 user manual, ip dhcp information option suboption type custom",
      circuitId: bytes(0x00, 0x04, 0x00, 0x0a, 0x01, 0x0c),
      remoteId: bytes(0x00, 0x06, 0xa8, 0xf9, 0x4b, 0x10, 0x20, 0x30),
      expect: { vlan: "10", module: "1", port: "12", relay_mac: "a8:f9:4b:10:20:30" },
    },
  },
  {
    id: "edgecore",
    description: "Edge-Core ECS default: 00 04 VLAN(2) UNIT(1) PORT(1); remote-id 00 06 MAC",
    auto: false, // same bytes as dlink
    decode: vlanModulePort,
    example: {
      // ECS4100 CLI reference: circuit-id default "VLAN-Unit-Port"; Edge-Core
      // knowledge base: default circuit-id "Vlan-id, module, port number
      // information (8 bytes = 4+2+1+1)". Bytes written from that: VLAN 10, unit 1, port 3.
      source: "Edge-Core ECS4100 CLI reference R07; accton.kf5.com article 1336865",
      circuitId: bytes(0x00, 0x04, 0x00, 0x0a, 0x01, 0x03),
      expect: { vlan: "10", module: "1", port: "3" },
    },
  },
  {
    id: "tplink",
    description: "TP-Link JetStream default: 00 04 VLAN(2) PORT(2); remote-id 00 06 MAC",
    auto: false, // same bytes as dlink when the unit is 0
    decode(circuitId) {
      const v = typeZeroLen4(circuitId);
      if (v === null) return null;
      const vlan = v.getUint16(0);
      const port = v.getUint16(2);
      if (!vid(vlan) || port === 0) return null;
      return [["vlan", dec(vlan)], ["port", dec(port)]];
    },
    example: {
      // TP-Link T1600G/T1500G user guide, "Default circuit ID: A 4-byte value
      // which consists of 2-byte VLAN ID and 2-byte Port ID ... port 1/0/1 in
      // VLAN 2, this field is 00:02:00:01"; Type 00, Length 04 in "Normal" format.
      source: "TP-Link JetStream T1600G-28PS user guide, Configuring DHCP Service, Table 1-1",
      circuitId: bytes(0x00, 0x04, 0x00, 0x02, 0x00, 0x01),
      expect: { vlan: "2", port: "1" },
    },
  },
  {
    id: "h3c",
    description: "H3C / HPE Comware normal (hex): 00 04 VLAN(2) PORT-INDEX(2), port = index + 1",
    auto: false, // same bytes as dlink, different port meaning
    decode(circuitId) {
      const v = typeZeroLen4(circuitId);
      if (v === null) return null;
      const vlan = v.getUint16(0);
      if (!vid(vlan)) return null;
      // "padded with the port index (smaller than the physical port number by 1)"
      return [["vlan", dec(vlan)], ["port", dec(v.getUint16(2) + 1)]];
    },
    example: {
      // H3C S3100-EI operation manual, DHCP snooping, "Padding content and frame
      // format of Option 82": circuit-id padded with the port index (physical
      // port - 1) and VLAN ID, extended format with type 0 (hex) and length.
      // Bytes written from that: VLAN 10, port index 4 = port 5.
      source: "H3C S3100/S5600 operation manual, DHCP snooping Option 82 (normal padding, hex)",
      circuitId: bytes(0x00, 0x04, 0x00, 0x0a, 0x00, 0x04),
      expect: { vlan: "10", port: "5" },
    },
  },
  {
    id: "huawei-extend",
    description: "Huawei extend: 00 04 SVLAN(2) SLOT(5 bits)|SUBSLOT(3 bits) PORT(1)",
    auto: false, // same bytes as dlink, different meaning of byte 3
    decode(circuitId) {
      const v = typeZeroLen4(circuitId);
      if (v === null) return null;
      const svlan = v.getUint16(0);
      if (!vid(svlan)) return null;
      const slotByte = v.getUint8(2);
      return [
        ["vlan", dec(svlan)],
        ["svlan", dec(svlan)],
        ["slot", dec(slotByte >> 3)],
        ["subslot", dec(slotByte & 7)],
        ["port", dec(v.getUint8(3))],
      ];
    },
    example: {
      // Huawei "dhcp option82 format" reference, extend: "circuit-id type (0) +
      // length (4) + S-VLAN ID (2 bytes) + slot ID (5 bits) + subslot ID (3 bits)
      // + port (1 byte)"; RID "type (0) + length (6) + MAC". Bytes written from
      // that: S-VLAN 100, slot 1, subslot 2 (0x0a), port 5.
      source: "Huawei CloudEngine/S command reference, dhcp option82 format extend",
      circuitId: bytes(0x00, 0x04, 0x00, 0x64, 0x0a, 0x05),
      remoteId: bytes(0x00, 0x06, 0x00, 0xe0, 0xfc, 0x12, 0x34, 0x56),
      expect: { vlan: "100", svlan: "100", slot: "1", subslot: "2", port: "5", relay_mac: "00:e0:fc:12:34:56" },
    },
  },
  {
    id: "zyxel",
    description: "ZyXEL: SLOT(1) PORT(1) VLAN(2) [system name], no type/length header",
    auto: false, // no header to recognise it by: any 4 bytes would "match"
    decode: zyxel,
    example: {
      // ZyXEL XGS-4526/4528F/4728F user's guide, Table 132 "Relay Agent
      // Information": Slot ID (1 byte, 0 on stand-alone switches), Port ID
      // (1 byte), VLAN ID (2 bytes), System Name (optional). Bytes written from
      // that: slot 0, port 7, VLAN 123, system name "XGS".
      source: "ZyXEL XGS-4526/XGS4600 user's guide, DHCP relay agent information",
      circuitId: Uint8Array.of(0x00, 0x07, 0x00, 0x7b, ...ascii("XGS")),
      expect: { slot: "0", port: "7", vlan: "123", relay_hostname: "XGS" },
    },
  },
];

/** Rows by id; also the list of names the config accepts (besides "auto" and "none"). */
export const ROW_BY_ID: ReadonlyMap<string, VendorFormat> = new Map(ROWS.map((r) => [r.id, r]));
