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
