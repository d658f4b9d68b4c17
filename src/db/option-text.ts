/**
 * Option values written as text in a result column -> wire bytes, by the
 * option's type from options/table.ts. `0x...` is always raw hex. Errors are
 * returned as text naming the value.
 */

import { optionType, type OptionType } from "../options/table.ts";
import { parseIpv4 } from "../config/ipv4.ts";

const enc = new TextEncoder();

function ips(text: string): Uint8Array | string {
  const items = text.split(/[\s,]+/).filter((s) => s !== "");
  if (items.length === 0) return "no address";
  const out = new Uint8Array(items.length * 4);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let k = 0; k < items.length; k++) {
    const n = parseIpv4(items[k]!);
    if (n === null) return `"${items[k]}" is not an IPv4 address`;
    dv.setUint32(k * 4, n);
  }
  return out;
}

function uint(text: string, bytes: 1 | 2 | 4, signed = false): Uint8Array | string {
  if (!/^-?[0-9]{1,10}$/.test(text)) return `"${text}" is not a whole number`;
  const n = Number(text);
  const min = signed ? -(2 ** (bytes * 8 - 1)) : 0;
  const max = signed ? 2 ** (bytes * 8 - 1) - 1 : 2 ** (bytes * 8) - 1;
  if (n < min || n > max) return `${n} is out of range ${min}..${max}`;
  const out = new Uint8Array(bytes);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (bytes === 1) dv.setUint8(0, n & 255);
  else if (bytes === 2) dv.setUint16(0, n);
  else if (signed) dv.setInt32(0, n);
  else dv.setUint32(0, n);
  return out;
}

/**
 * RFC 3442 classless static routes from "10.0.0.0/8 198.18.0.1, 0.0.0.0/0 192.168.0.1":
 * each route is prefix length, the significant octets of the destination,
 * then the router.
 */
export function encodeRoutes(text: string): Uint8Array | string {
  const out: number[] = [];
  for (const item of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const m = /^([0-9.]+)\/([0-9]{1,2})\s+([0-9.]+)$/.exec(item);
    if (!m) return `"${item}" is not "network/prefix router"`;
    const dest = parseIpv4(m[1]!);
    const len = Number(m[2]);
    const router = parseIpv4(m[3]!);
    if (dest === null) return `"${m[1]}" is not an IPv4 address`;
    if (router === null) return `"${m[3]}" is not an IPv4 address`;
    if (len > 32) return `prefix /${len} is longer than 32`;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if (((dest & ~mask) >>> 0) !== 0) return `${m[1]}/${len} has host bits set`;
    out.push(len);
    for (let k = 0; k < Math.ceil(len / 8); k++) out.push((dest >>> (24 - 8 * k)) & 255);
    out.push((router >>> 24) & 255, (router >>> 16) & 255, (router >>> 8) & 255, router & 255);
  }
  if (out.length === 0) return "no route";
  return Uint8Array.from(out);
}

/** Encoders by option type; types not listed take the text as UTF-8 bytes. */
const BY_TYPE: Partial<Record<OptionType, (t: string) => Uint8Array | string>> = {
  ip: (t) => {
    const r = ips(t);
    return typeof r === "string" || r.length === 4 ? r : "expects exactly one address";
  },
  ips,
  ipPairs: (t) => {
    const r = ips(t);
    return typeof r === "string" || r.length % 8 === 0 ? r : "expects address pairs";
  },
  u8: (t) => uint(t, 1),
  u16: (t) => uint(t, 2),
  u32: (t) => uint(t, 4),
  i32: (t) => uint(t, 4, true),
  bool: (t) => (t === "1" || t === "true" ? Uint8Array.of(1) : t === "0" || t === "false" ? Uint8Array.of(0) : `"${t}" is not 0/1`),
  routes121: encodeRoutes,
};

export function encodeOptionText(code: number, text: string): Uint8Array | string {
  if (/^0x/i.test(text)) {
    const hex = text.slice(2).replace(/[\s:]/g, "");
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return `"${text}" is not hex`;
    return Uint8Array.from(Buffer.from(hex, "hex"));
  }
  const f = BY_TYPE[optionType(code)];
  return f ? f(text) : enc.encode(text);
}
