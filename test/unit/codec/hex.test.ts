import { describe, expect, test } from "bun:test";
import { HEX, toHex } from "../../../src/codec/hex.ts";

/** Two table digits per byte: the plain definition toHex must match. */
function tableHex(b: Uint8Array, start = 0, end = b.length): string {
  let s = "";
  for (let i = start; i < end; i++) s += HEX[b[i]!];
  return s;
}

describe("toHex", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);

  test("every byte value, lower case", () => {
    expect(toHex(all)).toBe(tableHex(all));
    expect(toHex(Uint8Array.of(0xab, 0x0f, 0x00))).toBe("ab0f00");
  });

  test("ranges, views into a larger buffer, empty", () => {
    for (const [s, e] of [[0, 0], [0, 1], [5, 6], [10, 17], [250, 256], [0, 256], [7, 3]] as const) {
      expect(toHex(all, s, e)).toBe(tableHex(all, s, e));
    }
    const view = all.subarray(100, 120);
    expect(toHex(view)).toBe(tableHex(view));
    expect(toHex(view, 1)).toBe(tableHex(view, 1));
    expect(toHex(view, 2, 9)).toBe(tableHex(view, 2, 9));
    expect(toHex(new Uint8Array(0))).toBe("");
    expect(toHex(Buffer.from([1, 2, 3]))).toBe("010203");
  });
});
