import { describe, expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { encode, encodingLength } from "../../../src/codec/encode.ts";
import { emptyMessage } from "../../../src/codec/header.ts";
import { toHex } from "../../../src/codec/hex.ts";
import type { DhcpMessage } from "../../../src/codec/message.ts";
import { loadPackets } from "../../fixtures/load.ts";
import { optionSet, plain, roundTrip } from "./helpers.ts";

const packets = loadPackets();
const real = packets.filter((f) => !f.name.startsWith("synthetic-"));

function decoded(bytes: Uint8Array): DhcpMessage {
  const r = decode(bytes);
  if (!r.ok) throw new Error(r.error.message);
  return r.msg;
}

function reply(opts: [number, Uint8Array][]): DhcpMessage {
  const m = emptyMessage();
  m.op = 2;
  m.htype = 1;
  m.hlen = 6;
  m.xid = 0x3c897d8c;
  m.yiaddr = "198.18.10.100";
  m.chaddr = Uint8Array.of(0, 0x25, 0x22, 0x4a, 0xd7, 0x64);
  for (const [c, v] of opts) m.options.set(c, v);
  return m;
}

describe("real captures and the seed re-encode byte for byte", () => {
  test.each(real.map((f) => [f.name, f] as const))("%s", (_n, f) => {
    const m = decoded(f.bytes);
    const e = encode(m);
    if (!e.ok) throw new Error(e.error.message);
    expect(toHex(e.bytes)).toBe(toHex(f.bytes));
    expect(encodingLength(m)).toBe(f.bytes.length);
  });
});

describe("fixture round-trips: decode -> encode -> decode is equal", () => {
  test.each(packets.map((f) => [f.name, f] as const))("%s", (_n, f) => {
    const m = decoded(f.bytes);
    const e = encode(m, { maxMessageSize: 1500 });
    if (!e.ok) throw new Error(e.error.message);
    const again = decoded(e.bytes);
    // option 82 may move last; everything else is equal
    expect(optionSet(again)).toEqual(optionSet(m));
    const { options: _a, ...h1 } = again;
    const { options: _b, ...h2 } = m;
    expect(plain(h1)).toEqual(plain(h2));
  });
});

test("option 82 is written last whatever the map order (RFC 3046 2.1)", () => {
  const m = reply([
    [82, Uint8Array.of(1, 1, 9)],
    [53, Uint8Array.of(5)],
    [54, Uint8Array.of(198, 18, 10, 1)],
  ]);
  const bytes = roundTrip(m);
  expect(toHex(bytes.subarray(240, 240 + 14))).toBe("350105" + "3604c6120a01" + "5203010109" + "ff".slice(0, 0));
  expect(bytes[240 + 14]).toBe(255);
  expect([...decoded(bytes).options.keys()]).toEqual([53, 54, 82]);
});

test("a value over 255 bytes is split into consecutive options (RFC 3396)", () => {
  const v = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) & 0xff);
  const m = reply([
    [53, Uint8Array.of(5)],
    [43, v],
  ]);
  const bytes = roundTrip(m);
  // 43 255 .. 43 255 .. 43 90 ..
  expect([bytes[243], bytes[244]]).toEqual([43, 255]);
  expect([bytes[243 + 257], bytes[244 + 257]]).toEqual([43, 255]);
  expect([bytes[243 + 514], bytes[244 + 514]]).toEqual([43, 90]);
  expect(bytes[243 + 514 + 92]).toBe(255);
  expect(bytes.length).toBe(243 + 514 + 92 + 1);
});

test("empty values are written as code, 0; short packets pad to 300 bytes", () => {
  const m = reply([
    [53, Uint8Array.of(5)],
    [80, new Uint8Array(0)],
  ]);
  const bytes = roundTrip(m);
  expect(bytes.length).toBe(300);
  expect(toHex(bytes.subarray(240, 246))).toBe("3501055000ff");
  expect(bytes.subarray(246).every((x) => x === 0)).toBe(true);
});

describe("max message size (option 57)", () => {
  const big = () =>
    reply([
      [53, Uint8Array.of(5)],
      [54, Uint8Array.of(198, 18, 10, 1)],
      [43, new Uint8Array(200).fill(0xaa)],
      [125, new Uint8Array(100).fill(0xbb)],
      [82, Uint8Array.of(1, 2, 0, 6)],
    ]);

  test("fits unlimited and at 1500 without overload", () => {
    const e = encode(big(), { maxMessageSize: 1500 });
    expect(e.ok && e.overload).toBe(0);
  });

  test("at 576 the options spill into file (option 52 = 1) and still decode equal", () => {
    const m = big();
    const e = encode(m, { maxMessageSize: 576 });
    if (!e.ok) throw new Error(e.error.message);
    expect(e.bytes.length).toBeLessThanOrEqual(576 - 28);
    expect(e.overload).toBe(1);
    expect(toHex(e.bytes.subarray(240, 243))).toBe("340101");
    const d = decoded(e.bytes);
    expect(optionSet(d)).toEqual(optionSet(m));
    roundTrip(m, { maxMessageSize: 576 });
  });

  test("values below 576 are raised to 576 (RFC 2132 9.10 minimum)", () => {
    expect(encodingLength(big(), { maxMessageSize: 100 })).toBe(encodingLength(big(), { maxMessageSize: 576 }));
  });

  test("file then sname: overload 3 when both are needed", () => {
    const m = reply([
      [53, Uint8Array.of(5)],
      [43, new Uint8Array(255).fill(1)],
      [125, new Uint8Array(40).fill(2)],
      [120, new Uint8Array(100).fill(3)],
      [77, new Uint8Array(50).fill(4)],
    ]);
    const e = encode(m, { maxMessageSize: 576 });
    if (!e.ok) throw new Error(e.error.message);
    expect(e.overload).toBe(3);
    expect(optionSet(decoded(e.bytes))).toEqual(optionSet(m));
  });

  test("too big even with file and sname: a typed error, no packet", () => {
    const m = reply([[43, new Uint8Array(1000)]]);
    const e = encode(m, { maxMessageSize: 576 });
    expect(e.ok).toBe(false);
    if (!e.ok) {
      expect(e.error.kind).toBe("too-big");
      expect(e.error.message).toContain("548");
    }
    expect(encodingLength(m, { maxMessageSize: 576 })).toBe(-1);
  });

  test("file and sname in use (boot file, server name) block overload: too-big", () => {
    const m = big();
    m.file = new TextEncoder().encode("pxelinux.0");
    m.sname = new TextEncoder().encode("boot.example");
    const e = encode(m, { maxMessageSize: 576 });
    expect(e.ok).toBe(false);
    if (!e.ok) expect(e.error.message).toContain("file and sname are in use");
  });

  test("sname in use: file alone carries the rest", () => {
    const m = big();
    m.sname = new TextEncoder().encode("boot.example");
    const e = encode(m, { maxMessageSize: 576 });
    if (!e.ok) throw new Error(e.error.message);
    expect(e.overload).toBe(1);
    const d = decoded(e.bytes);
    expect(new TextDecoder().decode(d.sname).replace(/\0+$/, "")).toBe("boot.example");
  });
});

describe("bad input is an error value", () => {
  test.each([
    ["ciaddr", (m: DhcpMessage): void => {
      m.ciaddr = "198.18.0";
    }],
    ["giaddr", (m: DhcpMessage): void => {
      m.giaddr = "not an address";
    }],
    ["xid", (m: DhcpMessage): void => {
      m.xid = 2 ** 32;
    }],
    ["secs", (m: DhcpMessage): void => {
      m.secs = -1;
    }],
    ["chaddr", (m: DhcpMessage): void => {
      m.chaddr = new Uint8Array(17);
    }],
    ["sname", (m: DhcpMessage): void => {
      m.sname = new Uint8Array(65);
    }],
  ] as const)("%s", (field, spoil) => {
    const m = reply([[53, Uint8Array.of(5)]]);
    spoil(m);
    const e = encode(m);
    expect(e.ok).toBe(false);
    if (!e.ok) {
      expect(e.error.kind).toBe("bad-field");
      expect(e.error.field).toBe(field);
    }
  });
  test.each([0, 255, 256, -1])("option code %p", (code) => {
    const m = reply([[code, Uint8Array.of(1)]]);
    const e = encode(m);
    expect(e.ok).toBe(false);
    if (!e.ok) expect(e.error.kind).toBe("bad-option");
  });
  test("option 52 in the map is ignored: the encoder owns overload", () => {
    const m = reply([
      [53, Uint8Array.of(5)],
      [52, Uint8Array.of(3)],
    ]);
    const e = encode(m);
    if (!e.ok) throw new Error(e.error.message);
    expect(decoded(e.bytes).options.has(52)).toBe(false);
  });
});

test("xid and flags survive their full range", () => {
  const m = reply([[53, Uint8Array.of(2)]]);
  m.xid = 0xffffffff;
  m.flags = 0x8000;
  m.secs = 0xffff;
  const d = decoded(roundTrip(m));
  expect(d.xid).toBe(0xffffffff);
  expect(d.flags).toBe(0x8000);
  expect(d.secs).toBe(0xffff);
});
