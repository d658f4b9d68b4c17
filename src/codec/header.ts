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

/**
 * Write the header fields into out[0..236). Returns the name of the first
 * field that cannot be written (an address that is not a dotted quad, a
 * number out of range, bytes longer than the field), or null.
 */
export function encodeHeader(msg: DhcpMessage, out: Uint8Array): HeaderFieldName | null {
  for (const f of HEADER_FIELDS) {
    const v = msg[f.name];
    switch (f.type) {
      case "u8":
      case "u16":
      case "u32": {
        const max = f.size === 1 ? 0xff : f.size === 2 ? 0xffff : 0xffffffff;
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) return f.name;
        for (let i = 0; i < f.size; i++) out[f.offset + i] = (v / 2 ** (8 * (f.size - 1 - i))) & 0xff;
        break;
      }
      case "ip": {
        const a = typeof v === "string" ? parseIPv4(v) : null;
        if (a === null) return f.name;
        ipv4ToBytes(a, out, f.offset);
        break;
      }
      case "bytes": {
        if (!(v instanceof Uint8Array) || v.length > f.size) return f.name;
        out.set(v, f.offset);
        break;
      }
    }
  }
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
