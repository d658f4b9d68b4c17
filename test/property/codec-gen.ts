/**
 * Seeded generators for codec property tests: a PRNG, packet mutations on
 * real fixtures, random messages, and the checks every input must pass.
 * Shared by test/property/codec.test.ts and test/long/codec-fuzz.test.ts.
 */
import { decode } from "../../src/codec/decode.ts";
import { encode } from "../../src/codec/encode.ts";
import { emptyMessage } from "../../src/codec/header.ts";
import { toHex } from "../../src/codec/hex.ts";
import type { DhcpMessage } from "../../src/codec/message.ts";
import { lengthProblem, OPTIONS } from "../../src/options/table.ts";
import { encodeRelayAgentInfo } from "../../src/option82/parse.ts";
import { loadMalformed, loadPackets } from "../fixtures/load.ts";

/** mulberry32: small, fast, good enough to fuzz with; same seed, same run. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, bytes, pick };
}
export type Rng = ReturnType<typeof prng>;

export function seedFromEnv(): number {
  const s = process.env.PYDHCP_SEED;
  return s !== undefined ? Number(s) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
}

/** Valid packets weigh four times the malformed ones. */
export const corpus = (): Uint8Array[] => {
  const good = loadPackets().map((f) => f.bytes);
  return [...good, ...good, ...good, ...good, ...loadMalformed().map((f) => f.bytes)];
};

/** Offsets of option code bytes in the options field (best effort on any bytes). */
function optionStarts(b: Uint8Array): number[] {
  const out: number[] = [];
  let i = 240;
  while (i + 1 < b.length) {
    const c = b[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c === 255) break;
    out.push(i);
    i += 2 + b[i + 1]!;
  }
  return out;
}

const MUTATIONS: ((r: Rng, b: Uint8Array) => Uint8Array)[] = [
  // bit flip
  (r, b) => {
    if (b.length === 0) return b;
    const c = b.slice();
    c[r.int(c.length)]! ^= 1 << r.int(8);
    return c;
  },
  // truncation, mostly inside the options
  (r, b) => b.slice(0, r.next() < 0.8 ? 240 + r.int(Math.max(1, b.length - 239)) : r.int(b.length + 1)),
  // change a length byte (often by one, sometimes anything)
  (r, b) => {
    const starts = optionStarts(b);
    if (starts.length === 0) return b;
    const c = b.slice();
    const at = r.pick(starts) + 1;
    c[at] = r.next() < 0.5 ? (c[at]! + (r.next() < 0.5 ? 1 : 255)) & 255 : r.int(256);
    return c;
  },
  // insert random bytes
  (r, b) => {
    const at = r.int(b.length + 1);
    const ins = r.bytes(1 + r.int(8));
    const c = new Uint8Array(b.length + ins.length);
    c.set(b.subarray(0, at));
    c.set(ins, at);
    c.set(b.subarray(at), at + ins.length);
    return c;
  },
  // delete bytes
  (r, b) => {
    const at = r.int(b.length + 1);
    const n = 1 + r.int(8);
    const c = new Uint8Array(Math.max(0, b.length - n));
    c.set(b.subarray(0, at).subarray(0, c.length));
    if (at < c.length) c.set(b.subarray(at + n), at);
    return c;
  },
  // random byte overwrite
  (r, b) => {
    if (b.length === 0) return b;
    const c = b.slice();
    c[r.int(c.length)] = r.int(256);
    return c;
  },
  // add an overload option with a random value at the front of the options field
  (r, b) => {
    if (b.length < 240) return b;
    const c = new Uint8Array(b.length + 3);
    c.set(b.subarray(0, 240));
    c.set([52, 1, r.int(5)], 240);
    c.set(b.subarray(240), 243);
    if (r.next() < 0.5) c.set(r.bytes(16), r.next() < 0.5 ? 108 + r.int(112) : 44 + r.int(48));
    return c;
  },
  // duplicate an option (RFC 3396 concatenation paths)
  (r, b) => {
    const starts = optionStarts(b);
    if (starts.length === 0) return b;
    const s = r.pick(starts);
    const opt = b.subarray(s, Math.min(b.length, s + 2 + b[s + 1]!));
    const c = new Uint8Array(b.length + opt.length);
    c.set(b.subarray(0, s));
    c.set(opt, s);
    c.set(b.subarray(s), s + opt.length);
    return c;
  },
];

/** A fixture with 1 (mostly) to 4 mutations, or (1 in 20) pure random bytes. */
export function mutated(r: Rng, base: Uint8Array[]): Uint8Array {
  if (r.next() < 0.05) return r.bytes(r.int(700));
  let b = r.pick(base);
  const n = r.next() < 0.7 ? 1 : 2 + r.int(3);
  for (let i = 0; i < n; i++) b = r.pick(MUTATIONS)(r, b);
  return b;
}

const KINDS = new Set(["truncated-header", "bad-hlen", "bad-cookie", "option-overrun", "missing-end", "empty-option", "bad-length", "bad-overload"]);

const sortedOptions = (m: DhcpMessage) => [...m.options].map(([c, v]) => `${c}:${toHex(v)}`).sort();

/**
 * What must hold for any datagram: decode does not throw and returns a
 * well-formed result; a decoded message re-encodes and decodes equal.
 * Returns a description of the violation, or null.
 */
export function checkDecode(b: Uint8Array): string | null {
  const r = decode(b);
  if (!r.ok) {
    if (!KINDS.has(r.error.kind)) return `unexpected kind ${r.error.kind}`;
    if (!(r.error.offset >= 0 && r.error.offset <= b.length)) return `offset ${r.error.offset} outside 0..${b.length}`;
    if (!r.error.message.startsWith("Cannot decode")) return `message "${r.error.message}"`;
    return null;
  }
  const e = encode(r.msg);
  if (!e.ok) return `decoded message does not re-encode: ${e.error.message}`;
  const d = decode(e.bytes);
  if (!d.ok) return `re-encoded message does not decode: ${d.error.message}`;
  const a = sortedOptions(r.msg).join(" ");
  const z = sortedOptions(d.msg).join(" ");
  if (a !== z) return `options differ after re-encoding`;
  for (const k of ["op", "htype", "hlen", "hops", "xid", "secs", "flags", "ciaddr", "yiaddr", "siaddr", "giaddr"] as const) {
    if (r.msg[k] !== d.msg[k]) return `${k} differs after re-encoding`;
  }
  return null;
}

const KNOWN = OPTIONS.map((o) => o.code).filter((c) => c !== 52 && c !== 82);

function optionValue(r: Rng, code: number): Uint8Array {
  for (;;) {
    const roll = r.next();
    const len = roll < 0.1 ? 256 + r.int(700) : roll < 0.2 ? r.int(256) : r.int(24);
    if (lengthProblem(code, len) === null) return r.bytes(len);
  }
}

function randomIp(r: Rng): string {
  return r.next() < 0.3 ? "0.0.0.0" : `${r.int(256)}.${r.int(256)}.${r.int(256)}.${r.int(256)}`;
}

/** A random message: random header, 0..12 options (known and unknown codes, some over 255 bytes), often option 82. */
export function randomMessage(r: Rng): DhcpMessage {
  const m = emptyMessage();
  m.op = 1 + r.int(2);
  m.htype = r.int(256);
  m.hlen = r.int(17);
  m.hops = r.int(256);
  m.xid = r.int(2 ** 32);
  m.secs = r.int(65536);
  m.flags = r.int(65536);
  m.ciaddr = randomIp(r);
  m.yiaddr = randomIp(r);
  m.siaddr = randomIp(r);
  m.giaddr = randomIp(r);
  m.chaddr = r.bytes(16);
  if (r.next() < 0.2) m.sname = r.bytes(64);
  if (r.next() < 0.2) m.file = r.bytes(128);
  m.options.set(53, Uint8Array.of(1 + r.int(8)));
  const n = r.int(13);
  for (let i = 0; i < n; i++) {
    const code = r.next() < 0.6 ? r.pick(KNOWN) : 1 + r.int(254);
    if (code === 52 || code === 82) continue;
    m.options.set(code, optionValue(r, code));
  }
  if (r.next() < 0.5) {
    const subs = new Map<number, Uint8Array>();
    subs.set(1, r.bytes(1 + r.int(20)));
    if (r.next() < 0.7) subs.set(2, r.bytes(1 + r.int(20)));
    if (r.next() < 0.3) subs.set(5, r.bytes(4));
    if (r.next() < 0.3) subs.set(19, r.next() < 0.5 ? new Uint8Array(0) : r.bytes(2));
    const v = encodeRelayAgentInfo(subs);
    if (v.ok) m.options.set(82, v.bytes);
  }
  return m;
}

/**
 * Round-trip a generated message, unlimited or under a random client max
 * message size. Returns a violation or null. "too-big" is accepted only when
 * the options cannot fit by a simple size bound.
 */
export function checkRoundTrip(r: Rng, m: DhcpMessage, note: (outcome: string) => void = () => {}): string | null {
  const mms = r.next() < 0.5 ? undefined : 576 + r.int(1000);
  const e = encode(m, mms === undefined ? undefined : { maxMessageSize: mms });
  note(e.ok ? (e.overload ? "overload" : "plain") : e.error.kind);
  if (!e.ok) {
    if (e.error.kind !== "too-big" || mms === undefined) return `encode failed: ${e.error.message}`;
    let total = 1;
    for (const v of m.options.values()) total += v.length === 0 ? 2 : v.length + 2 * Math.ceil(v.length / 255);
    if (240 + total <= mms - 28) return `too-big but ${240 + total} bytes fit ${mms - 28}`;
    return null;
  }
  if (mms !== undefined && e.bytes.length > mms - 28) return `encoded ${e.bytes.length} bytes over the limit ${mms - 28}`;
  if (e.bytes.length < 300) return `encoded ${e.bytes.length} bytes, under 300`;
  const d = decode(e.bytes);
  if (!d.ok) return `does not decode: ${d.error.message}`;
  if (sortedOptions(d.msg).join(" ") !== sortedOptions(m).join(" ")) return "options differ";
  const keys = [...d.msg.options.keys()];
  if (m.options.has(82) && keys[keys.length - 1] !== 82 && e.overload === 0) return "option 82 is not last";
  for (const k of ["op", "htype", "hlen", "hops", "xid", "secs", "flags", "ciaddr", "yiaddr", "siaddr", "giaddr"] as const) {
    if (d.msg[k] !== m[k]) return `${k} differs`;
  }
  if (toHex(d.msg.chaddr) !== toHex(m.chaddr)) return "chaddr differs";
  if (e.overload === 0 && (toHex(d.msg.sname) !== toHex(m.sname) || toHex(d.msg.file) !== toHex(m.file))) return "sname/file differ";
  return null;
}

export interface PropertyStats {
  /** decode outcomes of the mutated inputs: "ok" or the error kind */
  outcomes: Record<string, number>;
  /** encode outcomes of generated messages: "plain", "overload" or "too-big" */
  encodes: Record<string, number>;
}

/** Run both properties; throws with the seed, the iteration and the input on the first violation. */
export function runProperties(seed: number, mutations: number, messages: number): PropertyStats {
  const r = prng(seed);
  const base = corpus();
  const stats: PropertyStats = { outcomes: {}, encodes: {} };
  const count = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
  for (let i = 0; i < mutations; i++) {
    const b = mutated(r, base);
    const d = decode(b);
    count(stats.outcomes, d.ok ? "ok" : d.error.kind);
    let why: string | null;
    try {
      why = checkDecode(b);
    } catch (err) {
      why = `threw ${String(err)}`;
    }
    if (why !== null) throw new Error(`decode property failed (PYDHCP_SEED=${seed}, iteration ${i}): ${why}\ninput ${toHex(b)}`);
  }
  for (let i = 0; i < messages; i++) {
    const m = randomMessage(r);
    let why: string | null;
    try {
      why = checkRoundTrip(r, m, (k) => count(stats.encodes, k));
    } catch (err) {
      why = `threw ${String(err)}`;
    }
    if (why !== null) throw new Error(`round-trip property failed (PYDHCP_SEED=${seed}, message ${i}): ${why}`);
  }
  return stats;
}
