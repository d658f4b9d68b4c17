import { describe, expect, test } from "bun:test";
import { toHex } from "../../../src/codec/hex.ts";
import { encodeRelayAgentInfo, parseRelayAgentInfo } from "../../../src/option82/parse.ts";
import { SUBOPTIONS } from "../../../src/option82/suboptions.ts";
import { decode } from "../../../src/codec/decode.ts";
import { loadPackets } from "../../fixtures/load.ts";

const h = (hex: string) => Uint8Array.from(hex.replace(/\s/g, "").match(/../g) ?? [], (x) => parseInt(x, 16));

test("the seed's option 82: circuit-id and remote-id", () => {
  const r = parseRelayAgentInfo(h("01 06 00 04 00 01 00 06 02 08 00 06 00 1e 58 9e b2 ad"));
  if (!r.ok) throw new Error(r.error.message);
  expect([...r.subs.keys()]).toEqual([1, 2]);
  expect(toHex(r.subs.get(1)!)).toBe("000400010006");
  expect(toHex(r.subs.get(2)!)).toBe("0006001e589eb2ad");
});

test("dhcrelay -a from the capture: circuit-id is the interface name", () => {
  const f = loadPackets().find((p) => p.name === "relayed-udhcpc-discover")!;
  const d = decode(f.bytes);
  if (!d.ok) throw new Error(d.error.message);
  const r = parseRelayAgentInfo(d.msg.options.get(82)!);
  if (!r.ok) throw new Error(r.error.message);
  expect(new TextDecoder().decode(r.subs.get(1)!)).toBe("pdcc-r1");
});

test("link-selection, server-id-override, relay-source-port and unknown codes", () => {
  const r = parseRelayAgentInfo(h("05 04 c6 12 0b 00  0b 04 c6 12 0b 01  13 00  99 03 aa bb cc"));
  if (!r.ok) throw new Error(r.error.message);
  expect(toHex(r.subs.get(5)!)).toBe("c6120b00");
  expect(toHex(r.subs.get(11)!)).toBe("c6120b01");
  expect(r.subs.get(19)!.length).toBe(0);
  expect(toHex(r.subs.get(0x99)!)).toBe("aabbcc");
  const port = parseRelayAgentInfo(h("1302 0043"));
  expect(port.ok && toHex(port.subs.get(19)!)).toBe("0043");
});

describe("a wrong length is an error, never a desync", () => {
  test.each([
    ["01 09 00 04 00 01", "option-overrun", 0, "Cannot decode option 82: sub-option 1 length 9 exceeds 4 remaining bytes"],
    ["01 02 00 04 02", "option-overrun", 4, "no length byte"],
    ["01 00", "empty-option", 0, "sub-option 1 (circuit-id) length 0 must be at least 1"],
    ["01 01 07 05 03 c6 12 0b", "bad-length", 3, "sub-option 5 (link-selection) length 3 must be 4"],
    ["0b 05 c6 12 0b 01 00", "bad-length", 0, "must be 4"],
    ["13 01 43", "bad-length", 0, "must be 0 or 2"],
    ["01 01 07 01 01 08", "duplicate-suboption", 3, "appears twice"],
    ["", "empty-option", 0, "empty"],
  ] as const)("%s", (hex, kind, offset, text) => {
    const r = parseRelayAgentInfo(h(hex));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe(kind);
    expect(r.error.offset).toBe(offset);
    expect(r.error.message).toContain(text);
  });
  test("baseOffset makes offsets point into the datagram", () => {
    const r = parseRelayAgentInfo(h("01 09 00"), 289);
    expect(!r.ok && r.error.offset).toBe(289);
  });
});

test("encodeRelayAgentInfo writes sub-options in map order and round-trips", () => {
  const subs = new Map([
    [1, h("000400010006")],
    [2, h("0006001e589eb2ad")],
    [19, new Uint8Array(0)],
  ]);
  const e = encodeRelayAgentInfo(subs);
  if (!e.ok) throw new Error(e.error.message);
  expect(toHex(e.bytes)).toBe("010600040001000602080006001e589eb2ad1300");
  const p = parseRelayAgentInfo(e.bytes);
  expect(p.ok && [...p.subs].map(([c, v]) => [c, toHex(v)])).toEqual([...subs].map(([c, v]) => [c, toHex(v)]));
  const bad = encodeRelayAgentInfo(new Map([[5, h("c612")]]));
  expect(!bad.ok && bad.error.kind).toBe("bad-option");
  const long = encodeRelayAgentInfo(new Map([[1, new Uint8Array(256)]]));
  expect(long.ok).toBe(false);
});

test("sub-option table rows are unique", () => {
  expect(new Set(SUBOPTIONS.map((s) => s.code)).size).toBe(SUBOPTIONS.length);
});
