/** Shared test helpers for the codec. */
import { expect } from "bun:test";
import type { DhcpMessage } from "../../../src/codec/message.ts";
import { decode } from "../../../src/codec/decode.ts";
import { encode, encodingLength, type EncodeOptions } from "../../../src/codec/encode.ts";
import { toHex } from "../../../src/codec/hex.ts";

/** A comparable plain form: bytes as hex, options as [code, hex] pairs in order. */
export function plain(m: Partial<DhcpMessage>, opts: { fields?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === "options") out[k] = [...(v as Map<number, Uint8Array>)].map(([c, b]) => [c, toHex(b)]);
    else if (v instanceof Uint8Array) {
      if (opts.fields !== false) out[k] = toHex(v);
    } else out[k] = v;
  }
  return out;
}

/** Options as a sorted list, for comparisons where order may change (82 moves last). */
export const optionSet = (m: DhcpMessage) =>
  [...m.options].map(([c, b]) => [c, toHex(b)] as const).sort((a, b) => a[0] - b[0]);

/**
 * dns-packet's round-trip check: encode, decode, compare, encode again and
 * compare bytes, check encodingLength. Returns the first encoding.
 */
export function roundTrip(msg: DhcpMessage, opts?: EncodeOptions): Uint8Array {
  const e1 = encode(msg, opts);
  if (!e1.ok) throw new Error(e1.error.message);
  expect(encodingLength(msg, opts)).toBe(e1.bytes.length);
  const d = decode(e1.bytes);
  if (!d.ok) throw new Error(d.error.message);
  expect(optionSet(d.msg)).toEqual(optionSet(msg));
  const { options: _a, sname: _s, file: _f, ...h1 } = d.msg;
  const { options: _b, sname: _s2, file: _f2, ...h2 } = msg;
  expect(plain(h1)).toEqual(plain({ ...h2, chaddr: padTo(msg.chaddr, 16) }));
  if (e1.overload === 0) {
    expect(toHex(d.msg.sname)).toBe(toHex(padTo(msg.sname, 64)));
    expect(toHex(d.msg.file)).toBe(toHex(padTo(msg.file, 128)));
  }
  // fields that carried options are not a boot file or server name: clear them to re-encode
  if (e1.overload & 1) d.msg.file = new Uint8Array(128);
  if (e1.overload & 2) d.msg.sname = new Uint8Array(64);
  const e2 = encode(d.msg, opts);
  if (!e2.ok) throw new Error(e2.error.message);
  expect(toHex(e2.bytes)).toBe(toHex(e1.bytes));
  return e1.bytes;
}

export function padTo(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(b.subarray(0, n));
  return out;
}
