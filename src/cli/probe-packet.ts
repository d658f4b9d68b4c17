/**
 * The packets `pydhcp probe` sends and how it reads a reply. Pure: settings
 * in, DhcpMessage values out (the codec encodes and decodes them).
 *
 * As a relay (RFC 3046 2.0): giaddr set, hops 1, option 82 when a circuit or
 * remote id is given, sub-option 19 (RFC 8357) when listening on a port
 * other than 67. As a client: giaddr 0 and the BROADCAST flag, so a server
 * answers a client that has no address yet (RFC 2131 4.1).
 */
import { emptyMessage } from "../codec/header.ts";
import { formatIPv4Bytes, ipv4ToBytes, parseIPv4 } from "../codec/ip.ts";
import { BOOTREPLY, BOOTREQUEST, BROADCAST_FLAG, MessageType, type DhcpMessage } from "../codec/message.ts";
import { encodeRelayAgentInfo } from "../option82/parse.ts";
import { SUBOPTION } from "../option82/suboptions.ts";
import { optionDef } from "../options/table.ts";
import { formatOptionValue } from "../options/types.ts";

export interface ProbeIdentity {
  /** 6 bytes */
  mac: Uint8Array;
  xid: number;
  /** relay address, "0.0.0.0" as a client */
  giaddr: string;
  /** option 82 value, when acting as a relay that adds one */
  option82: Uint8Array | null;
}

/** RFC 2132 9.8: what a typical client asks for. */
const PARAMETER_LIST = Uint8Array.of(1, 3, 6, 15, 51, 54, 58, 59);

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k]));

export function messageTypeName(code: number | undefined): string {
  return code === undefined ? "BOOTREPLY (no option 53)" : (NAMES[code] ?? `type ${code}`);
}

/** "aa:bb:cc:dd:ee:ff", "aabb.ccdd.eeff", "aabbccddeeff" -> 6 bytes, or null. */
export function parseMac(text: string): Uint8Array | null {
  const h = text.replace(/[:.-]/g, "");
  if (!/^[0-9a-fA-F]{12}$/.test(h)) return null;
  return Uint8Array.from(Buffer.from(h, "hex"));
}

/** "0x0004..." or "aa:bb:.." is hex; anything else is the text's bytes. Null for "0x" with bad hex. */
export function hexOrText(s: string): Uint8Array | null {
  if (s.startsWith("0x")) {
    const h = s.slice(2);
    return /^([0-9a-fA-F]{2})+$/.test(h) ? Uint8Array.from(Buffer.from(h, "hex")) : null;
  }
  if (/^([0-9a-f]{2}[:-]){1,}[0-9a-f]{2}$/i.test(s)) return Uint8Array.from(Buffer.from(s.replace(/[:-]/g, ""), "hex"));
  return new TextEncoder().encode(s);
}

/** Option 82 value for a relay, or a reason it cannot be built. */
export function relayAgentInfo(circuitId: Uint8Array | null, remoteId: Uint8Array | null, sourcePort: boolean): Uint8Array | null | string {
  const subs = new Map<number, Uint8Array>();
  if (circuitId) subs.set(SUBOPTION.CIRCUIT_ID, circuitId);
  if (remoteId) subs.set(SUBOPTION.REMOTE_ID, remoteId);
  if (sourcePort) subs.set(SUBOPTION.RELAY_SOURCE_PORT, new Uint8Array(0));
  if (subs.size === 0) return null;
  const r = encodeRelayAgentInfo(subs);
  return r.ok ? r.bytes : r.error.message;
}

function base(id: ProbeIdentity, type: number): DhcpMessage {
  const chaddr = new Uint8Array(16);
  chaddr.set(id.mac);
  const relayed = id.giaddr !== "0.0.0.0";
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(type)]]);
  return {
    ...emptyMessage(),
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: relayed ? 1 : 0,
    xid: id.xid,
    flags: relayed ? 0 : BROADCAST_FLAG,
    giaddr: id.giaddr,
    chaddr,
    options,
  };
}

function withRelayInfo(id: ProbeIdentity, m: DhcpMessage): DhcpMessage {
  if (id.option82) m.options.set(82, id.option82);
  return m;
}

export function discover(id: ProbeIdentity): DhcpMessage {
  const m = base(id, MessageType.DISCOVER);
  m.options.set(55, PARAMETER_LIST);
  return withRelayInfo(id, m);
}

/** RFC 2131 4.3.2 SELECTING: requested address and server identifier from the OFFER. */
export function request(id: ProbeIdentity, offer: DhcpMessage): DhcpMessage {
  const m = base(id, MessageType.REQUEST);
  const yi = parseIPv4(offer.yiaddr) ?? 0;
  m.options.set(50, ipv4ToBytes(yi));
  const sid = offer.options.get(54);
  if (sid) m.options.set(54, sid);
  m.options.set(55, PARAMETER_LIST);
  return withRelayInfo(id, m);
}

/** RFC 2131 4.3.2 INIT-REBOOT: a client that remembers an address asks to keep it; no server identifier. */
export function rebootRequest(id: ProbeIdentity, address: string): DhcpMessage {
  const m = base(id, MessageType.REQUEST);
  m.options.set(50, ipv4ToBytes(parseIPv4(address) ?? 0));
  m.options.set(55, PARAMETER_LIST);
  return withRelayInfo(id, m);
}

/** RFC 2131 4.4.6: ciaddr is the address given back; option 54 names the server. */
export function release(id: ProbeIdentity, ack: DhcpMessage): DhcpMessage {
  const m = base(id, MessageType.RELEASE);
  m.flags = 0;
  m.ciaddr = ack.yiaddr;
  const sid = ack.options.get(54);
  if (sid) m.options.set(54, sid);
  return withRelayInfo(id, m);
}

/** A reply is ours when it is a BOOTREPLY with our xid and our hardware address. */
export function isReplyTo(id: ProbeIdentity, m: DhcpMessage): boolean {
  if (m.op !== BOOTREPLY || m.xid !== id.xid || m.hlen !== 6) return false;
  for (let i = 0; i < 6; i++) if (m.chaddr[i] !== id.mac[i]) return false;
  return true;
}

export interface ReplySummary {
  type: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  flags: number;
  /** "<code> <name>" -> decoded text, in the reply's order */
  options: [string, string][];
}

export function summarize(m: DhcpMessage): ReplySummary {
  const t = m.options.get(53);
  const options: [string, string][] = [];
  for (const [code, value] of m.options) {
    if (code === 53) continue;
    const name = optionDef(code)?.name ?? "unknown";
    options.push([`${code} ${name}`, formatOptionValue(code, value)]);
  }
  return {
    type: messageTypeName(t && t.length === 1 ? t[0] : undefined),
    yiaddr: m.yiaddr,
    siaddr: m.siaddr,
    giaddr: m.giaddr,
    flags: m.flags,
    options,
  };
}

/** The server identifier (option 54) as text, when the reply has one. */
export function serverId(m: DhcpMessage): string | null {
  const v = m.options.get(54);
  return v && v.length === 4 ? formatIPv4Bytes(v) : null;
}
