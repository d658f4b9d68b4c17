import { describe, expect, test } from "bun:test";
import { toHex } from "../../../src/codec/hex.ts";
import { OPTIONS, lengthProblem, optionByName, optionDef } from "../../../src/options/table.ts";
import { decodeOptionValue, encodeOptionValue, formatOptionValue } from "../../../src/options/types.ts";

const enc = (code: number, v: unknown) => {
  const r = encodeOptionValue(code, v);
  if (!r.ok) throw new Error(r.error.message);
  return toHex(r.bytes);
};
const dec = (code: number, hex: string) => {
  const r = decodeOptionValue(code, Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16)));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const h = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (x) => parseInt(x, 16));

test("the table has one row per code and name, and the options the server needs", () => {
  expect(new Set(OPTIONS.map((o) => o.code)).size).toBe(OPTIONS.length);
  expect(new Set(OPTIONS.map((o) => o.name)).size).toBe(OPTIONS.length);
  for (const c of [1, 3, 6, 12, 15, 28, 42, 50, 51, 53, 54, 55, 57, 58, 59, 60, 61, 66, 67, 82, 116, 118, 119, 121, 249]) {
    expect(optionDef(c)).toBeDefined();
  }
  expect(optionByName("domain-name-servers")?.code).toBe(6);
});

test("length rules", () => {
  expect(lengthProblem(53, 1)).toBeNull();
  expect(lengthProblem(53, 2)).toBe("bad");
  expect(lengthProblem(53, 0)).toBe("empty");
  expect(lengthProblem(6, 8)).toBeNull();
  expect(lengthProblem(6, 6)).toBe("bad");
  expect(lengthProblem(33, 8)).toBeNull();
  expect(lengthProblem(33, 4)).toBe("bad");
  expect(lengthProblem(61, 1)).toBe("bad");
  expect(lengthProblem(12, 0)).toBeNull(); // an empty host name is kept
  expect(lengthProblem(200, 0)).toBeNull(); // unknown codes have no rule
});

describe("encodeOptionValue from text (configs, SQL rows) and typed values", () => {
  test.each([
    [1, "255.255.255.0", "ffffff00"],
    [3, "198.18.0.1", "c6120001"],
    [6, "198.18.0.1, 198.18.0.2", "c6120001c6120002"],
    [6, ["198.18.0.1", "198.18.0.2"], "c6120001c6120002"],
    [6, "198.18.0.1 198.18.0.2;198.18.0.3", "c6120001c6120002c6120003"],
    [51, "86400", "00015180"],
    [51, 86400, "00015180"],
    [57, 1500, "05dc"],
    [53, 5, "05"],
    [2, -3600, "fffff1f0"],
    [19, true, "01"],
    [12, "host-1", "686f73742d31"],
    [15, "example.net", "6578616d706c652e6e6574"],
    [60, "MSFT 5.0", "4d53465420352e30"],
    [43, "01:04:c6:12:00:01", "0104c6120001"],
    [55, [1, 3, 6], "010306"],
    [55, "1,3,6,121", "01030679"],
    [61, { type: 1, id: h("0025224ad764") }, "010025224ad764"],
    [61, "01:00:25:22:4a:d7:64", "010025224ad764"],
    [121, "10.0.0.0/8 198.18.0.1, 0.0.0.0/0 198.18.0.1", "080ac6120001" + "00c6120001"],
    [249, "192.168.128.0/17 198.18.0.1", "11c0a880c6120001"],
    [121, "198.18.4.0/24 via 198.18.0.1", "18c61204c6120001"],
    [121, "198.18.4.5/32 198.18.0.1", "20c6120405c6120001"],
    [119, "example.com, eng.example.com", "076578616d706c6503636f6d0003656e67076578616d706c6503636f6d00"],
    [250, "0102", "0102"],
  ] as const)("option %p %p", (code, value, hex) => {
    expect(enc(code, value)).toBe(hex);
  });

  test.each([
    [1, "255.255.255"],
    [1, "198.18.0.1, 198.18.0.2"],
    [6, ""],
    [6, "198.18.0.1, nope"],
    [51, "-1"],
    [51, 2 ** 32],
    [53, 256],
    [57, "15OO"],
    [121, "10.0.0.0/8"],
    [121, "10.0.0.1/8 198.18.0.1"],
    [121, "10.0.0.0/33 198.18.0.1"],
    [121, ""],
    [43, "xyz"],
    [55, [0]],
    [119, "bad..name"],
  ] as const)("rejects option %p %p", (code, value) => {
    const r = encodeOptionValue(code, value);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.kind).toBe("bad-option");
      expect(r.error.message).toStartWith(`Cannot encode option ${code}`);
    }
  });
});

describe("decodeOptionValue", () => {
  test("typed values", () => {
    expect(dec(1, "ffffff00")).toBe("255.255.255.0");
    expect(dec(6, "c6120001c6120002")).toEqual(["198.18.0.1", "198.18.0.2"]);
    expect(dec(51, "00015180")).toBe(86400);
    expect(dec(51, "ffffffff")).toBe(0xffffffff);
    expect(dec(2, "fffff1f0")).toBe(-3600);
    expect(dec(57, "05c0")).toBe(1472);
    expect(dec(55, "010f03")).toEqual([1, 15, 3]);
    expect(dec(60, "4d53465420352e30")).toBe("MSFT 5.0");
    expect(dec(121, "080ac612000100c6120001")).toEqual([
      { destination: "10.0.0.0", prefix: 8, router: "198.18.0.1" },
      { destination: "0.0.0.0", prefix: 0, router: "198.18.0.1" },
    ]);
    expect(dec(119, "076578616d706c6503636f6d0003656e67c000")).toEqual(["example.com", "eng.example.com"]);
    const cid = dec(61, "010025224ad764") as { type: number; id: Uint8Array };
    expect(cid.type).toBe(1);
    expect(toHex(cid.id)).toBe("0025224ad764");
  });
  test("a host name that is not UTF-8 keeps one char per byte", () => {
    const s = dec(12, "91a5e0a3a5a92d8f8a") as string;
    expect(s.length).toBe(9);
    expect(Array.from(s, (c) => c.charCodeAt(0))).toEqual([0x91, 0xa5, 0xe0, 0xa3, 0xa5, 0xa9, 0x2d, 0x8f, 0x8a]);
    expect(dec(12, "d0bfd0ba2d31")).toBe("пк-1");
  });
  test.each([
    [53, "0808", "bad-length"],
    [54, "", "empty-option"],
    [121, "21c6120001c6120001", "bad-value"], // prefix 33
    [121, "18c61204c612", "bad-value"], // cut short
    [119, "076578616d706c65", "bad-value"], // no terminating label
    [119, "c000", "bad-value"], // pointer to itself
    [19, "02", "bad-value"],
  ])("option %p %p is %p", (code, hex, kind) => {
    const r = decodeOptionValue(code, h(hex));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind as string).toBe(kind);
  });
  test("encode then decode gives the value back", () => {
    const routes = "10.0.0.0/8 198.18.0.1, 172.16.0.0/12 198.18.0.1, 0.0.0.0/0 198.18.0.254";
    const b = encodeOptionValue(121, routes);
    if (!b.ok) throw new Error(b.error.message);
    expect(formatOptionValue(121, b.bytes)).toBe(routes);
  });
});

test("formatOptionValue gives readable text, and hex for what does not decode", () => {
  expect(formatOptionValue(6, h("c6120001c6120002"))).toBe("198.18.0.1, 198.18.0.2");
  expect(formatOptionValue(55, h("01030679"))).toBe("1,3,6,121");
  expect(formatOptionValue(82, h("010100"))).toBe("010100");
  expect(formatOptionValue(6, h("c61200"))).toBe("c61200");
  expect(formatOptionValue(121, h("21"))).toBe("21");
});
