/**
 * Option value codecs, driven by the type column of table.ts:
 *   decodeOptionValue(code, bytes) -> typed value | DecodeError
 *   encodeOptionValue(code, value) -> bytes | EncodeError
 *   formatOptionValue(code, bytes) -> text (for logs, dumps, variables)
 * encodeOptionValue also takes text as configs and SQL rows give it:
 * "198.18.0.1, 198.18.0.2" for ips, "86400" for u32,
 * "10.0.0.0/8 198.18.0.1, 0.0.0.0/0 198.18.0.1" for routes121, hex for bytes.
 */
import type { DecodeError, EncodeError } from "../codec/errors.ts";
import { decodeError } from "../codec/errors.ts";
import { bytesToIPv4, formatIPv4, ipv4ToBytes, parseIPv4, unusableAddress } from "../codec/ip.ts";
import { fromHex, toHex } from "../codec/hex.ts";
import { type OptionType, lengthProblem, lengthRuleText, optionDef, optionType } from "./table.ts";
import { decodeRoutes, encodeRoutes, formatRoutes, parseRoutes, type Route } from "./routes.ts";
import { decodeDomains, encodeDomains } from "./domains.ts";

export type { Route } from "./routes.ts";

export interface ClientId {
  /** hardware type (1 Ethernet) or 0 for a non-hardware identifier, 255 for RFC 4361 */
  type: number;
  id: Uint8Array;
}

export type OptionValue = number | boolean | string | string[] | number[] | Uint8Array | Route[] | ClientId;

export type ValueDecodeResult = { ok: true; value: OptionValue } | { ok: false; error: DecodeError };
export type ValueEncodeResult = { ok: true; bytes: Uint8Array } | { ok: false; error: EncodeError };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8enc = new TextEncoder();

/** One char per byte (code = byte); TextDecoder("latin1") is really windows-1252. */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** UTF-8 when the bytes are valid UTF-8, else Latin-1 (one char per byte) so nothing is lost. */
export function bytesToText(b: Uint8Array): string {
  for (let i = 0; i < b.length; i++) {
    if (b[i]! >= 0x80) {
      try {
        return utf8.decode(b);
      } catch {
        return latin1(b);
      }
    }
  }
  return latin1(b);
}

const u32be = (b: Uint8Array) => bytesToIPv4(b, 0);

interface Codec {
  decode(b: Uint8Array, code: number): OptionValue | string;
  encode(v: unknown, code: number): Uint8Array | string;
  format(b: Uint8Array): string;
}

/** Split "a, b c;d" lists. */
const items = (s: string) => s.split(/[\s,;]+/).filter((x) => x.length > 0);

function ipsFrom(v: unknown, n?: number): Uint8Array | string {
  const list = typeof v === "string" ? items(v) : Array.isArray(v) ? v : [v];
  if (list.length === 0) return "no address";
  if (n !== undefined && list.length !== n) return `${list.length} addresses, needs ${n}`;
  const out = new Uint8Array(4 * list.length);
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    const a = typeof x === "number" ? x : typeof x === "string" ? parseIPv4(x) : null;
    if (a === null || a < 0 || a > 0xffffffff || !Number.isInteger(a)) return `"${String(x)}" is not an IPv4 address`;
    ipv4ToBytes(a, out, 4 * i);
  }
  return out;
}

function ipsOf(b: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(formatIPv4(bytesToIPv4(b, i)));
  return out;
}

function uintFrom(v: unknown, size: 1 | 2 | 4, signed = false): Uint8Array | string {
  const n = typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : typeof v === "boolean" ? Number(v) : v;
  const min = signed ? -(2 ** 31) : 0;
  const max = signed ? 2 ** 31 - 1 : 2 ** (8 * size) - 1;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) return `${JSON.stringify(v)} is not an integer ${min}..${max}`;
  const u = n < 0 ? n + 2 ** 32 : n;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(u / 2 ** (8 * (size - 1 - i))) & 0xff;
  return out;
}

const uintOf = (b: Uint8Array) => (b.length === 1 ? b[0]! : b.length === 2 ? (b[0]! << 8) | b[1]! : u32be(b));

function bytesFrom(v: unknown): Uint8Array | string {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return fromHex(v) ?? `"${v}" is not hex`;
  return "needs bytes or hex text";
}

function textFrom(v: unknown): Uint8Array | string {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return utf8enc.encode(v);
  return "needs text";
}

const CODECS: Record<OptionType, Codec> = {
  ip: { decode: (b) => formatIPv4(u32be(b)), encode: (v) => ipsFrom(v, 1), format: (b) => formatIPv4(u32be(b)) },
  ips: { decode: ipsOf, encode: (v) => ipsFrom(v), format: (b) => ipsOf(b).join(", ") },
  ipPairs: {
    decode: ipsOf,
    encode: (v) => {
      const r = ipsFrom(v);
      return typeof r === "string" || r.length % 8 === 0 ? r : "needs pairs of addresses";
    },
    format: (b) => ipsOf(b).join(", "),
  },
  u8: { decode: uintOf, encode: (v) => uintFrom(v, 1), format: (b) => String(uintOf(b)) },
  u16: { decode: uintOf, encode: (v) => uintFrom(v, 2), format: (b) => String(uintOf(b)) },
  u32: { decode: uintOf, encode: (v) => uintFrom(v, 4), format: (b) => String(uintOf(b)) },
  i32: { decode: (b) => u32be(b) | 0, encode: (v) => uintFrom(v, 4, true), format: (b) => String(u32be(b) | 0) },
  bool: {
    decode: (b) => (b[0]! > 1 ? `value ${b[0]}, must be 0 or 1` : b[0] === 1),
    encode: (v) => uintFrom(v === "true" ? 1 : v === "false" ? 0 : v, 1),
    format: (b) => String(b[0]),
  },
  string: { decode: bytesToText, encode: textFrom, format: bytesToText },
  bytes: { decode: (b) => b, encode: bytesFrom, format: toHex },
  routes121: {
    decode: (b) => decodeRoutes(b),
    encode: (v) => (typeof v === "string" ? parseRoutesText(v) : Array.isArray(v) ? encodeRoutes(v as Route[]) : "needs routes"),
    format: (b) => {
      const r = decodeRoutes(b);
      return typeof r === "string" ? toHex(b) : formatRoutes(r);
    },
  },
  clientId: {
    decode: (b) => ({ type: b[0]!, id: b.subarray(1) }),
    encode: (v) => {
      if (v instanceof Uint8Array || typeof v === "string") return bytesFrom(v);
      const c = v as ClientId;
      if (typeof c?.type !== "number" || !(c.id instanceof Uint8Array)) return "needs {type, id}";
      const out = new Uint8Array(1 + c.id.length);
      out[0] = c.type;
      out.set(c.id, 1);
      return out;
    },
    format: toHex,
  },
  paramList: {
    decode: (b) => Array.from(b),
    encode: (v) => {
      const list = typeof v === "string" ? items(v).map(Number) : v;
      if (!Array.isArray(list) || !list.every((x) => Number.isInteger(x) && x >= 1 && x <= 254)) return "needs option codes 1..254";
      return Uint8Array.from(list as number[]);
    },
    format: (b) => Array.from(b).join(","),
  },
  relayAgentInfo: { decode: (b) => b, encode: bytesFrom, format: toHex },
  domains: {
    decode: (b) => decodeDomains(b),
    encode: (v) => encodeDomains(typeof v === "string" ? items(v) : Array.isArray(v) ? (v as string[]) : []),
    format: (b) => {
      const r = decodeDomains(b);
      return typeof r === "string" ? toHex(b) : r.join(", ");
    },
  },
};

function parseRoutesText(text: string): Uint8Array | string {
  const r = parseRoutes(text);
  return typeof r === "string" ? r : encodeRoutes(r);
}

/** Typed value of an option, or why its bytes are not a valid value. */
export function decodeOptionValue(code: number, bytes: Uint8Array): ValueDecodeResult {
  const p = lengthProblem(code, bytes.length);
  if (p !== null) {
    return {
      ok: false,
      error: decodeError(
        p === "empty" ? "empty-option" : "bad-length",
        0,
        `Cannot decode option ${code}: length ${bytes.length}, must be ${lengthRuleText(code)}`,
        code,
      ),
    };
  }
  const type = optionType(code);
  const v = CODECS[type].decode(bytes, code);
  if (typeof v === "string" && type !== "string" && type !== "ip") {
    return { ok: false, error: decodeError("bad-value", 0, `Cannot decode option ${code}: ${v}`, code) };
  }
  return { ok: true, value: v };
}

/** Wire bytes of a value (typed, or text as in configs and SQL rows). */
export function encodeOptionValue(code: number, value: unknown): ValueEncodeResult {
  const r = CODECS[optionType(code)].encode(value, code);
  if (typeof r === "string") {
    return { ok: false, error: { kind: "bad-option", code, message: `Cannot encode option ${code}: ${r}` } };
  }
  return { ok: true, bytes: r };
}

/** Text form of an option's bytes for logs and dumps; hex when the bytes do not decode. */
export function formatOptionValue(code: number, bytes: Uint8Array): string {
  if (lengthProblem(code, bytes.length) !== null) return toHex(bytes);
  return CODECS[optionType(code)].format(bytes);
}

/**
 * Wire bytes of an option value written as text in a config or a result
 * column: `0x...` is raw hex for any option, anything else is read by the
 * option's type. The bytes are then held to the same rules whatever column
 * they came from (optionProblem). Errors come back as text naming the value.
 */
export function encodeOptionText(code: number, text: string): Uint8Array | string {
  let bytes: Uint8Array | string;
  if (/^0x/i.test(text)) {
    const hex = text.slice(2).replace(/[\s:]/g, "");
    bytes = hex.length > 0 && hex.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(hex) ? fromHex(hex)! : `"${text}" is not hex`;
  } else {
    bytes = CODECS[optionType(code)].encode(text, code);
  }
  if (typeof bytes === "string") return bytes;
  const p = optionProblem(code, bytes);
  return p === null ? bytes : p;
}

/**
 * Why these bytes must not be sent as the option's value, or null: a length
 * the type cannot hold, or (routers, servers) an address no host can have.
 */
export function optionProblem(code: number, bytes: Uint8Array): string | null {
  const lp = lengthProblem(code, bytes.length);
  if (lp !== null) return `${bytes.length} bytes, must be ${lengthRuleText(code)}`;
  if (optionDef(code)?.hosts) {
    for (let i = 0; i + 4 <= bytes.length; i += 4) {
      const n = bytesToIPv4(bytes, i);
      const why = unusableAddress(n);
      if (why !== null) return `"${formatIPv4(n)}" is ${why}`;
    }
  }
  return null;
}
