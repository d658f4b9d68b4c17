/**
 * DhcpMessage -> Vars: pydhcpdb's names with pydhcpdb's text, plus the
 * modern names (catalogue.ts describes each). Runs once per packet, so it
 * walks the options once, dispatches through a table indexed by option
 * code, and uses precomputed names and hex digits: no regexes, no JSON.
 */
import { BROADCAST_FLAG, type DhcpMessage } from "../codec/message.ts";
import type { Vars } from "./types.ts";
import { LEGACY_KNOWN_OPTIONS } from "./catalogue.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../option82/parse.ts";
import { formatIPv4Bytes as ipAt } from "../codec/ip.ts";
import { DEC, HEX, hex, hexColons, hostnameText, isPrintableAscii, optionText, pythonBytesRepr, u32At } from "./text.ts";

/** Names built once per code so the hot path never concatenates them. */
const names = (f: (n: number) => string): readonly string[] => Array.from({ length: 256 }, (_, n) => f(n));
const OPT_HEX = names((n) => `opt_${n}_hex`);
const OPTION_N = names((n) => `option${n}`);
const UNKNOWN = names((n) => `unknown_option_${n}`);
const UNKNOWN_HEX = names((n) => `unknown_option_${n}_hex`);
const UNKNOWN_LEN = names((n) => `unknown_option_${n}_len`);
const UNKNOWN_STR = names((n) => `unknown_option_${n}_str`);
const RELAY_SUB_HEX = names((n) => `relay_sub_${n}_hex`);
/** LEGACY_KNOWN_OPTIONS as a flag per code: one index instead of a hash. */
export const LEGACY_KNOWN = Uint8Array.from({ length: 256 }, (_, n) => (LEGACY_KNOWN_OPTIONS.has(n) ? 1 : 0));

/** RFC 2132 9.6, RFC 3203, RFC 4388, RFC 6926, RFC 7724 message type names. */
export const MSG_TYPE: readonly string[] = [
  "", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM",
  "FORCERENEW", "LEASEQUERY", "LEASEUNASSIGNED", "LEASEUNKNOWN", "LEASEACTIVE",
  "BULKLEASEQUERY", "LEASEQUERYDONE", "ACTIVELEASEQUERY", "LEASEQUERYSTATUS", "TLS",
];
/** pydhcpdb named only types 1..8; other values kept its header-op fallback. */
export const LEGACY_OP_MAX = 8;
/** pydhcpdb's `op` before (or without) option 53, by header op. */
export const HEADER_OP: readonly string[] = ["", "DHCPDISCOVER/DHCPREQUEST", "DHCPOFFER/DHCPACK"];

/** Option 55 codes pydhcpdb turned into ReqList* variables, with their value. */
export const REQ_LIST: readonly (readonly [string, string] | undefined)[] = (() => {
  const t: (readonly [string, string] | undefined)[] = new Array(256);
  t[1] = ["ReqListSubnetMask", "True"];
  t[3] = ["ReqListRouter", "True"];
  t[6] = ["ReqListDNS", "True"];
  t[15] = ["ReqListDomainName", "True"];
  t[31] = ["ReqListPerfowmRouterDiscover", "True"];
  t[33] = ["ReqListStaticRoute", "True"];
  t[43] = ["ReqListVendorSpecInfo", "43"];
  return t;
})();

/** `h` is hex(val), computed once per option by the caller. */
type Handler = (v: Vars, val: Uint8Array, h: string) => void;

/** An option carrying one or more IPv4 addresses: name gets the first. */
const firstIp =
  (...keys: string[]): Handler =>
  (v, val) => {
    if (val.length < 4) return;
    const ip = ipAt(val, 0);
    for (const k of keys) v.set(k, ip);
  };

/** One handler per option code pydhcpdb knew, plus modern extras. */
const HANDLERS: (Handler | undefined)[] = new Array(256);
HANDLERS[1] = firstIp("SubnetMask");
HANDLERS[3] = firstIp("Router");
HANDLERS[6] = firstIp("DNS");
HANDLERS[42] = firstIp("NTPS");
HANDLERS[50] = firstIp("RequestedIpAddress", "requested_ip");
HANDLERS[54] = firstIp("DHCPServerIP", "server_id");
HANDLERS[12] = (v, val) => {
  const t = optionText(val);
  v.set("hostname", t);
  v.set("hostname_text", hostnameText(val));
  if (t.length > 0) v.set("HostName", t);
};
HANDLERS[60] = (v, val) => {
  const t = optionText(val);
  v.set("Vendor", t);
  v.set("vendor_class", t);
};
HANDLERS[51] = (v, val) => {
  if (val.length < 4) return;
  const s = String(u32At(val, 0));
  v.set("DHCPLeaseTime", s);
  v.set("lease_time", s);
};
HANDLERS[53] = (v, val) => {
  if (val.length < 1) return;
  const t = val[0]!;
  v.set("msg_type", MSG_TYPE[t] || "UNKNOWN_" + t);
  if (t >= 1 && t <= LEGACY_OP_MAX) v.set("op", "DHCP" + MSG_TYPE[t]);
};
HANDLERS[55] = (v, val) => {
  let list = "";
  for (let i = 0; i < val.length; i++) {
    const c = val[i]!;
    list += i === 0 ? DEC[c] : "," + DEC[c];
    const r = REQ_LIST[c];
    if (r) v.set(r[0], r[1]);
  }
  v.set("param_list", list);
};
HANDLERS[61] = (v, val, h) => {
  v.set("client_id_hex", h);
  // RFC 2132 9.14: type byte, then the identifier (for type 1, the MAC).
  if (val.length < 2) return;
  v.set("HType", val[0] === 1 ? "Ethernet" : "unknown");
  const id = h.slice(2);
  v.set("ClientMacAddress", id);
  v.set("ClientMacAddressByte", id);
};
HANDLERS[116] = (v) => {
  v.set("DHCPAUTO", "True");
};
HANDLERS[82] = (v, val, h) => relayAgentInfo(v, val, h);

/** The length byte pydhcpdb put first; >255 only after RFC 3396 concatenation. */
export function lengthByteValue(n: number): number {
  return n > 255 ? 255 : n;
}
function lengthByte(n: number): string {
  return HEX[lengthByteValue(n)]!;
}

/** Option 82 (RFC 3046): legacy option_82_* and the modern relay names. */
function relayAgentInfo(v: Vars, val: Uint8Array, h: string, parsed: RelayAgentInfoResult = parseRelayAgentInfo(val)): void {
  const withLen = lengthByte(val.length) + h;
  v.set("option82", "82");
  v.set("option_82_len", String(val.length));
  v.set("option_82_hex", withLen);
  v.set("option_82_byte", withLen);
  v.set("option_82_str", pythonBytesRepr(val, lengthByteValue(val.length)));
  // A malformed option 82 (overrun, duplicate or mis-sized sub-option) keeps
  // option_82_hex for slices but defines no sub-option names.
  if (!parsed.ok) return;
  const subs = parsed.subs;
  // Sub-option values are views of `val`: their hex is a substring of h.
  const subHex = (sub: Uint8Array) => {
    const at = (sub.byteOffset - val.byteOffset) * 2;
    return h.slice(at, at + sub.length * 2);
  };
  for (const [code, sub] of subs) v.set(RELAY_SUB_HEX[code]!, subHex(sub));
  const circuit = subs.get(1);
  if (circuit) {
    const ch = subHex(circuit);
    v.set("option_82_AgentCircuitId_len", DEC[circuit.length]!);
    v.set("option_82_AgentCircuitId_hex", ch);
    if (circuit.length > 0) v.set("option_82_AgentCircuitId_port_hex", ch.slice(-2));
    v.set("circuit_id_hex", ch);
    if (isPrintableAscii(circuit)) v.set("circuit_id_text", optionText(circuit));
  }
  const remote = subs.get(2);
  if (remote) {
    const rh = subHex(remote);
    v.set("option_82_AgentRemoteId_len", DEC[remote.length]!);
    v.set("option_82_AgentRemoteId_hex", rh);
    v.set("remote_id_hex", rh);
    if (isPrintableAscii(remote)) v.set("remote_id_text", optionText(remote));
  }
  const link = subs.get(5);
  if (link && link.length === 4) v.set("link_selection", ipAt(link, 0));
  const subscriber = subs.get(6);
  if (subscriber) v.set("subscriber_id", optionText(subscriber));
  const override = subs.get(11);
  if (override && override.length === 4) v.set("server_id_override", ipAt(override, 0));
  const port = subs.get(19);
  if (port && port.length === 2) v.set("relay_port", String((port[0]! << 8) | port[1]!));
}

/**
 * Every variable for one decoded message. `relay` is its Option 82 already
 * parsed (by whoever saw the packet first); absent, it is parsed here.
 */
export function extractVariables(msg: DhcpMessage, relay?: RelayAgentInfoResult): Vars {
  const v: Vars = new Map();
  const ch = msg.chaddr;

  // Header (RFC 2131 2, figure 1), as pydhcpdb rendered it.
  const op = HEADER_OP[msg.op];
  if (op) v.set("op", op);
  if (msg.htype === 1) v.set("htype", "MAC");
  v.set("hlen", DEC[msg.hlen & 0xff]!);
  v.set("hops", DEC[msg.hops & 0xff]!);
  v.set("secs", String(msg.secs));
  const x = msg.xid;
  const xid = HEX[(x >>> 24) & 0xff]! + HEX[(x >>> 16) & 0xff]! + HEX[(x >>> 8) & 0xff]! + HEX[x & 0xff]!;
  v.set("xidhex", xid);
  v.set("xidbyte", xid);
  v.set("xid", xid);
  v.set("flags", HEX[(msg.flags >>> 8) & 0xff]! + HEX[msg.flags & 0xff]!);
  v.set("broadcast_flag", msg.flags & BROADCAST_FLAG ? "1" : "0");
  v.set("ciaddr", msg.ciaddr);
  v.set("yiaddr", msg.yiaddr);
  v.set("siaddr", msg.siaddr);
  v.set("giaddr", msg.giaddr);
  if (msg.giaddr !== "0.0.0.0") v.set("relay_ip", msg.giaddr);
  const ch6 = hex(ch, 0, Math.min(6, ch.length));
  v.set("chaddr", ch6);
  v.set("magic_cookie", "63825363");
  const hlen = Math.min(msg.hlen, ch.length);
  if (hlen > 0) {
    v.set("mac", hexColons(ch, 0, hlen));
    v.set("mac_hex", hlen === 6 ? ch6 : hex(ch, 0, hlen));
  }

  // pydhcpdb's defaults, overwritten by the options below when present.
  v.set("HostName", "unknown");
  v.set("ClientMacAddress", ch6);
  v.set("ClientMacAddressByte", ch6);
  v.set("RequestedIpAddress", "0.0.0.0");
  v.set("option82", "none");

  const options = msg.options;
  for (const code of options.keys()) {
    const val = options.get(code)!;
    const h = hex(val);
    v.set(OPT_HEX[code]!, h);
    if (LEGACY_KNOWN[code] === 1) {
      if (code !== 82) v.set(OPTION_N[code]!, DEC[code]!);
    } else {
      const lh = lengthByte(val.length) + h;
      v.set(UNKNOWN_HEX[code]!, lh);
      v.set(UNKNOWN[code]!, lh);
      v.set(UNKNOWN_LEN[code]!, String(val.length));
      v.set(UNKNOWN_STR[code]!, pythonBytesRepr(val, lengthByteValue(val.length)));
    }
    if (code === 82 && relay) relayAgentInfo(v, val, h, relay);
    else HANDLERS[code]?.(v, val, h);
  }
  return v;
}
