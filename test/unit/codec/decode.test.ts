import { describe, expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { HEADER_FIELDS, decodeHeader, emptyMessage } from "../../../src/codec/header.ts";
import { toHex } from "../../../src/codec/hex.ts";
import { encode } from "../../../src/codec/encode.ts";
import { loadFixture, loadMalformed, loadPackets, PACKETS_DIR } from "../../fixtures/load.ts";
import { join } from "node:path";

const seed = loadFixture(join(PACKETS_DIR, "seed-msft-inform-relayed.hex")).bytes;

describe("seed packet (pydhcpdb's dump)", () => {
  const r = decode(seed);
  if (!r.ok) throw new Error(r.error.message);
  const m = r.msg;
  test("header fields match the dump", () => {
    expect(m.op).toBe(1);
    expect(m.htype).toBe(1);
    expect(m.hlen).toBe(6);
    expect(m.hops).toBe(1);
    expect(m.xid.toString(16)).toBe("3c897d8c");
    expect(m.secs).toBe(768);
    expect(m.flags).toBe(0);
    expect(m.ciaddr).toBe("172.30.128.13");
    expect(m.yiaddr).toBe("0.0.0.0");
    expect(m.siaddr).toBe("0.0.0.0");
    expect(m.giaddr).toBe("172.30.114.25");
    expect(toHex(m.chaddr.subarray(0, m.hlen))).toBe("0025224ad764");
    expect(m.chaddr.length).toBe(16);
    expect(m.sname.length).toBe(64);
    expect(m.file.length).toBe(128);
  });
  test("options in order with the dump's values", () => {
    expect([...m.options.keys()]).toEqual([53, 61, 12, 60, 55, 82]);
    expect(toHex(m.options.get(53)!)).toBe("08");
    expect(toHex(m.options.get(61)!)).toBe("010025224ad764");
    expect(toHex(m.options.get(12)!)).toBe("91a5e0a3a5a92d8f8a");
    expect(new TextDecoder().decode(m.options.get(60)!)).toBe("MSFT 5.0");
    expect(Array.from(m.options.get(55)!)).toEqual([1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43]);
    // option_82_hex of the dump is the length byte then the value
    expect("12" + toHex(m.options.get(82)!)).toBe("12010600040001000602080006001e589eb2ad");
  });
});

test("decodeHeader offsets agree with HEADER_FIELDS", () => {
  // a header whose every byte is its own offset: each field must read its own bytes
  const b = Uint8Array.from({ length: 240 }, (_, i) => i & 0xff);
  const m = decodeHeader(b, new Map()) as unknown as Record<string, unknown>;
  for (const f of HEADER_FIELDS) {
    const bytes = Array.from(b.subarray(f.offset, f.offset + f.size));
    const v = m[f.name];
    if (f.type === "ip") expect(v).toBe(bytes.join("."));
    else if (f.type === "bytes") expect(Array.from(v as Uint8Array)).toEqual(bytes);
    else expect(v).toBe(bytes.reduce((a, x) => a * 256 + x, 0));
  }
  // the table tiles 0..236 with no gap or overlap
  let at = 0;
  for (const f of HEADER_FIELDS) {
    expect(f.offset).toBe(at);
    at += f.size;
  }
  expect(at).toBe(236);
});

describe("malformed fixtures: kind and offset", () => {
  const all = loadMalformed();
  test("every decode error kind has a fixture", () => {
    const kinds = new Set(all.map((f) => f.expect?.kind));
    for (const k of ["truncated-header", "bad-cookie", "option-overrun", "missing-end", "empty-option", "bad-length", "bad-overload"]) {
      expect(kinds.has(k)).toBe(true);
    }
  });
  test.each(all.map((f) => [f.name, f] as const))("%s", (_name, f) => {
    expect(f.expect).toBeDefined();
    const r = decode(f.bytes);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect({ kind: r.error.kind, offset: r.error.offset } as Record<string, unknown>).toEqual({ ...f.expect });
    expect(r.error.message).toStartWith("Cannot decode");
    expect(r.error.message.length).toBeGreaterThan(30);
  });
});

test("error message names the option, the offset and the numbers", () => {
  const r = decode(seed.slice(0, 299));
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.error.message).toBe("Cannot decode option 82 at offset 287: length 18 exceeds 10 remaining bytes");
    expect(r.error.code).toBe(82);
  }
});

test("partial holds the header and the options read before the error", () => {
  const r = decode(seed.slice(0, 299));
  if (r.ok) throw new Error("expected an error");
  expect(r.partial.xid).toBe(0x3c897d8c);
  expect(r.partial.giaddr).toBe("172.30.114.25");
  expect([...r.partial.options!.keys()]).toEqual([53, 61, 12, 60, 55]);
  const t = decode(seed.slice(0, 100));
  if (t.ok) throw new Error("expected an error");
  expect(t.partial).toEqual({});
});

test("overload: options come from the options field, then file, then sname", () => {
  const f = loadFixture(join(PACKETS_DIR, "synthetic-overload-both.hex"));
  const r = decode(f.bytes);
  if (!r.ok) throw new Error(r.error.message);
  expect([...r.msg.options.keys()]).toEqual([53, 82, 61, 12, 60, 55]);
  expect(r.msg.options.has(52)).toBe(false);
  // same values as the seed
  const s = decode(seed);
  if (!s.ok) throw new Error(s.error.message);
  for (const [code, v] of s.msg.options) expect(toHex(r.msg.options.get(code)!)).toBe(toHex(v));
  // sname and file are kept raw
  expect(r.msg.file[0]).toBe(61);
  expect(r.msg.sname[0]).toBe(55);
});

test("RFC 3396: repeated options are concatenated in order", () => {
  const r = decode(loadFixture(join(PACKETS_DIR, "synthetic-rfc3396-split.hex")).bytes);
  if (!r.ok) throw new Error(r.error.message);
  const v43 = r.msg.options.get(43)!;
  expect(v43.length).toBe(300);
  expect(Array.from(v43)).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));
  expect(toHex(r.msg.options.get(6)!)).toBe("c6120001c6120002");
  expect([...r.msg.options.keys()]).toEqual([53, 6, 43, 82]);
});

test("Pad bytes are skipped anywhere; bytes after End are ignored", () => {
  const m = emptyMessage();
  m.op = 1;
  m.options.set(53, Uint8Array.of(1));
  const e = encode(m);
  if (!e.ok) throw new Error(e.error.message);
  const b = new Uint8Array(320);
  b.set(e.bytes.subarray(0, 240));
  b.set([0, 0, 53, 1, 1, 0, 255, 99, 1, 2, 3], 240);
  const r = decode(b);
  if (!r.ok) throw new Error(r.error.message);
  expect([...r.msg.options].map(([c, v]) => [c, toHex(v)])).toEqual([[53, "01"]]);
});

test("unknown options and zero-length options without a rule are kept", () => {
  const r = decode(loadPackets().find((f) => f.name === "dhcpcd-discover")!.bytes);
  if (!r.ok) throw new Error(r.error.message);
  expect(r.msg.options.get(80)!.length).toBe(0); // rapid commit (RFC 4039) is empty by design
  expect(toHex(r.msg.options.get(145)!)).toBe("01");
});

test("every packet fixture decodes", () => {
  const all = loadPackets();
  expect(all.length).toBeGreaterThanOrEqual(11);
  for (const f of all) {
    const r = decode(f.bytes);
    if (!r.ok) throw new Error(`${f.name}: ${r.error.message}`);
    expect(r.msg.options.has(53)).toBe(true);
  }
});

describe("hlen (RFC 2131 2: chaddr is 16 octets)", () => {
  const withHeader = (htype: number, hlen: number) => {
    const b = seed.slice();
    b[1] = htype;
    b[2] = hlen;
    return b;
  };
  test.each([
    [1, 255],
    [1, 17],
    [32, 20],
  ])("htype %d, hlen %d: a decode error, the hardware address is not in the packet", (htype, hlen) => {
    const r = decode(withHeader(htype, hlen));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe("bad-hlen");
    expect(r.error.offset).toBe(2);
    expect(r.error.message).toBe(`Cannot decode BOOTP header: hlen ${hlen} exceeds the 16 bytes of chaddr`);
  });
  test.each([
    [1, 16],
    [1, 0],
    // RFC 4390: InfiniBand leaves chaddr empty and names itself in option 61
    [32, 0],
  ])("htype %d, hlen %d: decoded", (htype, hlen) => {
    const r = decode(withHeader(htype, hlen));
    expect(r.ok && [r.msg.htype, r.msg.hlen]).toEqual([htype, hlen]);
  });
});
