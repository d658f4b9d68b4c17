import { describe, expect, test } from "bun:test";
import {
  bytesToIPv4,
  formatIPv4,
  formatIPv4Bytes,
  ipv4ToBytes,
  isContiguousMask,
  maskToPrefix,
  parseCidr,
  parseIPv4,
  prefixToMask,
} from "../../../src/codec/ip.ts";

describe("parseIPv4", () => {
  test.each([
    ["198.18.0.1", 0xc6120001],
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["172.30.114.25", 0xac1e7219],
  ])("%s", (text, n) => expect(parseIPv4(text)).toBe(n));

  test.each(["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", " 1.2.3.4", "1.2.3.4 ", "1..3.4", "a.b.c.d", "1.2.3.", ".1.2.3", "1.2.3.-4", "1.2.3.4/24", "1000.1.1.1"])(
    "rejects %p",
    (text) => expect(parseIPv4(text)).toBeNull(),
  );
});

test("formatIPv4 and bytes round-trip", () => {
  for (const n of [0, 1, 0xc6120001, 0xffffffff, 0x7f000001]) {
    expect(parseIPv4(formatIPv4(n))).toBe(n);
    const b = ipv4ToBytes(n);
    expect(bytesToIPv4(b)).toBe(n);
    expect(formatIPv4Bytes(b)).toBe(formatIPv4(n));
  }
  expect(Array.from(ipv4ToBytes(0xc6120001))).toEqual([198, 18, 0, 1]);
  expect(formatIPv4Bytes(Uint8Array.of(9, 172, 30, 114, 25), 1)).toBe("172.30.114.25");
});

describe("masks", () => {
  test.each([
    ["255.255.255.0", true, 24],
    ["255.255.240.0", true, 20],
    ["0.0.0.0", true, 0],
    ["255.255.255.255", true, 32],
    ["255.0.255.0", false, -1],
    ["255.255.255.1", false, -1],
    ["0.255.255.255", false, -1],
  ])("%s contiguous=%p prefix=%p", (text, contiguous, prefix) => {
    const m = parseIPv4(text)!;
    expect(isContiguousMask(m)).toBe(contiguous);
    expect(maskToPrefix(m)).toBe(prefix);
    if (prefix >= 0) expect(prefixToMask(prefix)).toBe(m);
  });
  test("prefixToMask bounds", () => {
    expect(prefixToMask(33)).toBeNull();
    expect(prefixToMask(-1)).toBeNull();
    expect(prefixToMask(1.5)).toBeNull();
  });
  test("parseCidr", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ address: 0x0a000000, prefix: 8 });
    expect(parseCidr("10.0.0.0/33")).toBeNull();
    expect(parseCidr("10.0.0.0/08")).toBeNull();
    expect(parseCidr("10.0.0.0")).toBeNull();
  });
});
