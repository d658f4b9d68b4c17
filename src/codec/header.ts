/**
 * The fixed BOOTP header (RFC 2131 section 2, figure 1; RFC 951), as a field
 * table. Offsets are the single source for decode, encode and the fixture
 * annotations.
 */
import type { DhcpMessage } from "./message.ts";
import { formatIPv4Bytes, ipv4ToBytes, parseIPv4 } from "./ip.ts";

export type HeaderFieldType = "u8" | "u16" | "u32" | "ip" | "bytes";
export type HeaderFieldName = Exclude<keyof DhcpMessage, "options">;

export interface HeaderField {
  name: HeaderFieldName;
  offset: number;
  size: number;
  type: HeaderFieldType;
  doc: string;
}

export const HEADER_FIELDS: readonly HeaderField[] = [
  { name: "op", offset: 0, size: 1, type: "u8", doc: "1 BOOTREQUEST, 2 BOOTREPLY" },
  { name: "htype", offset: 1, size: 1, type: "u8", doc: "hardware type, 1 Ethernet" },
  { name: "hlen", offset: 2, size: 1, type: "u8", doc: "hardware address length" },
  { name: "hops", offset: 3, size: 1, type: "u8", doc: "relay hops" },
  { name: "xid", offset: 4, size: 4, type: "u32", doc: "transaction id" },
  { name: "secs", offset: 8, size: 2, type: "u16", doc: "seconds since the client began" },
  { name: "flags", offset: 10, size: 2, type: "u16", doc: "bit 15 BROADCAST" },
  { name: "ciaddr", offset: 12, size: 4, type: "ip", doc: "client address (BOUND, RENEW, REBIND, INFORM)" },
  { name: "yiaddr", offset: 16, size: 4, type: "ip", doc: "'your' address" },
  { name: "siaddr", offset: 20, size: 4, type: "ip", doc: "next server" },
  { name: "giaddr", offset: 24, size: 4, type: "ip", doc: "relay agent address" },
  { name: "chaddr", offset: 28, size: 16, type: "bytes", doc: "client hardware address" },
  { name: "sname", offset: 44, size: 64, type: "bytes", doc: "server host name" },
  { name: "file", offset: 108, size: 128, type: "bytes", doc: "boot file name" },
];

export const HEADER_LENGTH = 236;
export const COOKIE_OFFSET = 236;
export const OPTIONS_OFFSET = 240;
/** RFC 2131 3: 99.130.83.99 */
export const MAGIC_COOKIE = 0x63825363;
/** RFC 1542 2.1: BOOTP relays may drop shorter packets; pad replies to it */
export const BOOTP_MIN_LENGTH = 300;
export const SNAME_OFFSET = 44;
export const SNAME_LENGTH = 64;
export const FILE_OFFSET = 108;
export const FILE_LENGTH = 128;

/**
 * Decode the header. The caller has checked b.length >= 236. Written as one
 * object literal (not a loop over the table) so every message has the same
 * shape, which keeps the hot path monomorphic; the offsets match HEADER_FIELDS
 * (a unit test checks).
 */
export function decodeHeader(b: Uint8Array, options: Map<number, Uint8Array>): DhcpMessage {
  return {
    op: b[0]!,
    htype: b[1]!,
    hlen: b[2]!,
    hops: b[3]!,
    xid: ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0,
    secs: (b[8]! << 8) | b[9]!,
    flags: (b[10]! << 8) | b[11]!,
    ciaddr: formatIPv4Bytes(b, 12),
    yiaddr: formatIPv4Bytes(b, 16),
    siaddr: formatIPv4Bytes(b, 20),
    giaddr: formatIPv4Bytes(b, 24),
    chaddr: b.subarray(28, 44),
    sname: b.subarray(44, 108),
    file: b.subarray(108, 236),
    options,
  };
}

/** An unsigned integer that fits in `max`. */
function isUint(v: unknown, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
}

function putIp(v: unknown, out: Uint8Array, offset: number): boolean {
  // most reply addresses are zero (ciaddr, siaddr, giaddr unless relayed): skip the parse
  if (v === "0.0.0.0") {
    out[offset] = out[offset + 1] = out[offset + 2] = out[offset + 3] = 0;
    return true;
  }
  const a = typeof v === "string" ? parseIPv4(v) : null;
  if (a === null) return false;
  ipv4ToBytes(a, out, offset);
  return true;
}

function putBytes(v: unknown, size: number, out: Uint8Array, offset: number): boolean {
  if (!(v instanceof Uint8Array) || v.length > size) return false;
  out.set(v, offset);
  return true;
}

/**
 * Write the header fields into out[0..236). Returns the name of the first
 * field that cannot be written (an address that is not a dotted quad, a
 * number out of range, bytes longer than the field), or null. Written field
 * by field in HEADER_FIELDS order, like decodeHeader and for the same reason;
 * the codec round-trip tests hold the two to the same offsets.
 */
export function encodeHeader(msg: DhcpMessage, out: Uint8Array): HeaderFieldName | null {
  const { op, htype, hlen, hops, xid, secs, flags } = msg;
  if (!isUint(op, 0xff)) return "op";
  out[0] = op;
  if (!isUint(htype, 0xff)) return "htype";
  out[1] = htype;
  if (!isUint(hlen, 0xff)) return "hlen";
  out[2] = hlen;
  if (!isUint(hops, 0xff)) return "hops";
  out[3] = hops;
  if (!isUint(xid, 0xffffffff)) return "xid";
  out[4] = xid >>> 24;
  out[5] = (xid >>> 16) & 0xff;
  out[6] = (xid >>> 8) & 0xff;
  out[7] = xid & 0xff;
  if (!isUint(secs, 0xffff)) return "secs";
  out[8] = secs >>> 8;
  out[9] = secs & 0xff;
  if (!isUint(flags, 0xffff)) return "flags";
  out[10] = flags >>> 8;
  out[11] = flags & 0xff;
  if (!putIp(msg.ciaddr, out, 12)) return "ciaddr";
  if (!putIp(msg.yiaddr, out, 16)) return "yiaddr";
  if (!putIp(msg.siaddr, out, 20)) return "siaddr";
  if (!putIp(msg.giaddr, out, 24)) return "giaddr";
  if (!putBytes(msg.chaddr, 16, out, 28)) return "chaddr";
  if (!putBytes(msg.sname, 64, out, 44)) return "sname";
  if (!putBytes(msg.file, 128, out, 108)) return "file";
  return null;
}

/** A message with every header field zero and no options: a base for builders and tests. */
export function emptyMessage(): DhcpMessage {
  return {
    op: 0,
    htype: 0,
    hlen: 0,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: new Uint8Array(16),
    sname: new Uint8Array(64),
    file: new Uint8Array(128),
    options: new Map(),
  };
}
