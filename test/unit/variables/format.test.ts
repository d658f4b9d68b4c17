import { describe, expect, test } from "bun:test";
import { displayValue, formatVars, formatVarsJson } from "../../../src/variables/format.ts";

/** No C0, DEL, C1, separators or bidi controls: what a terminal would act on. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ufeff]/;

describe("formatVars", () => {
  test("sorted by code unit (upper case first, like pprint), aligned", () => {
    const v = new Map([["op", "DHCPINFORM"], ["ClientMacAddress", "0025224ad764"], ["chaddr", "0025224ad764"]]);
    expect(formatVars(v)).toBe(
      "ClientMacAddress = 0025224ad764\n" + "chaddr           = 0025224ad764\n" + "op               = DHCPINFORM\n",
    );
  });

  test.each([
    ["plain", "MSFT 5.0", "MSFT 5.0"],
    ["empty", "", '""'],
    ["ESC sequence", "\x1b[2J\x1b]0;pwned\x07", '"\\x1b[2J\\x1b]0;pwned\\x07"'],
    ["newline and CR", "a\nb\rc", '"a\\nb\\rc"'],
    ["C1 and DEL", "\x9b31m\x7f", '"\\x9b31m\\x7f"'],
    ["bidi override", "abc\u202edef", '"abc\\u202edef"'],
    ["backslash", "a\\b", '"a\\\\b"'],
    ["leading quote", '"x', '"\\"x"'],
    ["edge spaces", " x ", '" x "'],
    ["lone surrogate", "a\ud800b", '"a\\ud800b"'],
    ["emoji kept", "h\u{1F600}", "h\u{1F600}"],
    ["Cyrillic kept", "Сергей-ПК", "Сергей-ПК"],
  ])("%s", (_, value, want) => {
    expect(displayValue(value)).toBe(want);
    expect(UNSAFE.test(displayValue(value))).toBe(false);
  });

  test("hostile names are escaped too, and every byte value renders safely", () => {
    const v = new Map<string, string>();
    for (let c = 0; c < 0x10000; c += 1) v.set("k" + c, String.fromCharCode(c));
    v.set("\x1b[31m", "x");
    const text = formatVars(v);
    expect(text.split("\n").length).toBe(v.size + 1);
    for (const line of text.split("\n")) expect(UNSAFE.test(line)).toBe(false);
  });
});

describe("formatVarsJson", () => {
  test("sorted keys, parses back to the same map, no unsafe character printed", () => {
    const v = new Map([["b", "\x1b\u2028\x9b"], ["a", "1"]]);
    const out = formatVarsJson(v);
    expect(UNSAFE.test(out.replace(/\n/g, ""))).toBe(false);
    expect(Object.keys(JSON.parse(out))).toEqual(["a", "b"]);
    expect(JSON.parse(out)).toEqual({ a: "1", b: "\x1b\u2028\x9b" });
  });
});

describe("isValidUtf8 agrees with a fatal TextDecoder", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const ok = (b: Uint8Array) => {
    try {
      fatal.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  test("on edge sequences and 20000 random short byte strings", async () => {
    const { isValidUtf8 } = await import("../../../src/variables/text.ts");
    const edges = [
      [0xc2, 0x80], [0xc1, 0xbf], [0xe0, 0xa0, 0x80], [0xe0, 0x9f, 0xbf], [0xed, 0x9f, 0xbf], [0xed, 0xa0, 0x80],
      [0xf0, 0x90, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xe2], [0x80], [0xd0, 0xa1, 0xd0], [0xef, 0xbb, 0xbf],
    ].map((a) => Uint8Array.from(a));
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const random = Array.from({ length: 20000 }, () => {
      const n = rnd() % 7;
      // bias toward the lead/continuation ranges so valid strings occur too
      return Uint8Array.from({ length: n }, () => (rnd() & 1 ? 0x80 | (rnd() & 0x7f) : rnd()));
    });
    for (const b of [...edges, ...random]) expect([Array.from(b), isValidUtf8(b)]).toEqual([Array.from(b), ok(b)]);
  });
});
