import { describe, expect, test } from "bun:test";
import { OptionMap } from "../../../src/codec/option-map.ts";
import { decode } from "../../../src/codec/decode.ts";
import { encode } from "../../../src/codec/encode.ts";
import { buildRequest } from "../../support/client.ts";

const v = (...b: number[]) => Uint8Array.from(b);

/** Every step on an OptionMap and on a Map: the same results, the same order. */
describe("OptionMap behaves as a Map", () => {
  test("set, get, has, replace in place, delete, clear, size, order", () => {
    const m = new OptionMap();
    const r = new Map<number, Uint8Array>();
    const steps: [string, number, Uint8Array?][] = [
      ["set", 53, v(1)], ["set", 61, v(1, 2)], ["set", 12, v(104)], ["set", 55, v(1, 3, 6)], ["set", 60, v(9)],
      ["set", 82, v(1, 1, 7)], ["set", 50, v(198, 18, 0, 9)], ["set", 61, v(7, 7)], ["delete", 12], ["delete", 99],
      ["set", 12, v(5)], ["set", 54, v(198, 18, 0, 1)],
    ];
    for (const [op, code, val] of steps) {
      if (op === "set") expect(m.set(code, val!)).toBe(m), r.set(code, val!);
      else expect(m.delete(code)).toBe(r.delete(code));
      expect(m.size).toBe(r.size);
      expect([...m]).toEqual([...r]);
      expect([...m.keys()]).toEqual([...r.keys()]);
      expect([...m.values()]).toEqual([...r.values()]);
      expect([...m.entries()]).toEqual([...r.entries()]);
      for (const c of [53, 61, 12, 99]) expect([m.get(c), m.has(c)]).toEqual([r.get(c), r.has(c)]);
    }
    const seen: [number, Uint8Array][] = [];
    m.forEach((val, code, self) => { expect(self).toBe(m); seen.push([code, val]); });
    expect(seen).toEqual([...r]);
    expect(new Map(m)).toEqual(r);
    expect(Object.fromEntries(m)).toEqual(Object.fromEntries(r));
    expect(JSON.stringify(m)).toBe(JSON.stringify(r)); // "{}" as a Map shows
    expect(m.getOrInsert(53, v(9))).toEqual(v(1));
    expect(m.getOrInsertComputed(77, () => v(4))).toEqual(v(4));
    expect(m.get(77)).toEqual(v(4));
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get(53)).toBeUndefined();
    expect(String(new OptionMap([[1, v(1)]]))).toBe("[object OptionMap]");
  });

  test("decode gives one; encode reads it back to the same bytes", () => {
    const b = buildRequest({ type: 3, mac: "0c0100000001", xid: 7, options: [[61, v(1, 12, 1, 0, 0, 0, 1)], [12, new TextEncoder().encode("host")], [50, v(198, 18, 0, 9)], [55, v(1, 3, 6)]] });
    const d = decode(b);
    if (!d.ok) throw new Error(d.error.message);
    expect(d.msg.options).toBeInstanceOf(OptionMap);
    expect([...d.msg.options.keys()]).toEqual([53, 61, 12, 50, 55]);
    const e = encode(d.msg);
    if (!e.ok) throw new Error(e.error.message);
    const again = decode(e.bytes);
    if (!again.ok) throw new Error(again.error.message);
    expect([...again.msg.options]).toEqual([...d.msg.options]);
  });
});
