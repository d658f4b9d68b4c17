import { describe, expect, test } from "bun:test";
import { applySlices, parseSlice, pythonSlice } from "../../../src/variables/slices.ts";

const S = "12010600040001000602080006001e589eb2ad";

describe("pythonSlice matches Python 3 str slicing", () => {
  // Expected values printed by python3 for S[start:end].
  test.each([
    [20, 22, "08"],
    [16, 18, "06"],
    [26, 40, "001e589eb2ad"],
    [null, null, S],
    [null, 4, "1201"],
    [30, null, "589eb2ad"],
    [-4, null, "b2ad"],
    [null, -4, "12010600040001000602080006001e589e"],
    [-12, null, "001e589eb2ad"],
    [-100, 3, "120"],
    [5, 2, ""],
    [-2, -4, ""],
    [38, 40, ""],
    [40, 50, ""],
    [-1, null, "d"],
    [0, 0, ""],
    [-38, -36, "12"],
    [-39, 2, "12"],
    [3, -100, ""],
  ] as const)("[%p:%p] -> %p", (start, end, want) => {
    expect(pythonSlice(S, start, end)).toBe(want);
  });

  test("counts code points, as Python 3 does", () => {
    const h = "h\u{1F600}llo"; // Python: len 5, h[1:3] == '\U0001F600l'
    expect(pythonSlice(h, 1, 3)).toBe("\u{1F600}l");
    expect(pythonSlice(h, -4, null)).toBe("\u{1F600}llo");
  });
});

describe("parseSlice", () => {
  test.each([
    ["option_82_hex:sw_port1:20:22", { source: "option_82_hex", name: "sw_port1", start: 20, end: 22 }],
    ["option_82_hex:sw_mac:26:", { source: "option_82_hex", name: "sw_mac", start: 26, end: null }],
    ["ClientMacAddress:oui::6", { source: "ClientMacAddress", name: "oui", start: null, end: 6 }],
    [" chaddr : tail : -4 : ", { source: "chaddr", name: "tail", start: -4, end: null }],
    ["chaddr:x:+2:-0", { source: "chaddr", name: "x", start: 2, end: -0 }],
  ])("%p", (text, want) => {
    expect(parseSlice(text)).toEqual(want);
  });

  test.each([
    ["option_82_hex:sw_port1:20", /4 fields|found 3/],
    ["option_82_hex:sw_port1:20:22:1", /found 5/],
    [":x:1:2", /source/],
    ["a:1x:1:2", /name "1x"/],
    ["a:b c:1:2", /name/],
    ["a:b:1.5:2", /start/],
    ["a:b:1:z", /end/],
  ])("%p is an error", (text, re) => {
    const r = parseSlice(text);
    expect("error" in r && re.test(r.error)).toBe(true);
  });
});

describe("applySlices", () => {
  test("defines names in order, skips missing sources, overwrites existing names", () => {
    const v = new Map([["option_82_hex", S], ["chaddr", "0025224ad764"]]);
    applySlices(v, [
      { source: "option_82_hex", name: "sw_mac", start: 26, end: 40 },
      { source: "sw_mac", name: "sw_oui", start: null, end: 6 },
      { source: "unknown_option_77_hex", name: "uc", start: 2, end: null },
      { source: "chaddr", name: "chaddr", start: -4, end: null },
    ]);
    expect(Object.fromEntries(v)).toEqual({
      option_82_hex: S,
      chaddr: "d764",
      sw_mac: "001e589eb2ad",
      sw_oui: "001e58",
    });
  });
});
