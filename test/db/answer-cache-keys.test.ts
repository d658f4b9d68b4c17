/**
 * Invalidation by value reads the bound values from the entry's key, their
 * JSON (server/answer-cache.ts keyHolds): it must drop exactly the entries
 * one of whose values equals the value, whatever characters either holds.
 */
import { describe, expect, test } from "bun:test";
import type { Param } from "../../src/db/backend.ts";
import { AnswerCache, keyHolds } from "../../src/server/answer-cache.ts";

const holds = (params: Param[], value: string, from = 0) => keyHolds(JSON.stringify(params), value, JSON.stringify(value), from);

describe("keyHolds: an element of the key, never a piece of one", () => {
  test("equal elements, first, middle and last", () => {
    expect(holds(["a", "b", "c"], "a")).toBe(true);
    expect(holds(["a", "b", "c"], "b")).toBe(true);
    expect(holds(["a", "b", "c"], "c")).toBe(true);
    expect(holds([null, "a", null], "a")).toBe(true);
    expect(holds([""], "")).toBe(true);
  });

  test("a value that is a substring, prefix or suffix of an element is not held", () => {
    expect(holds(["0c0100000001"], "0c01")).toBe(false);
    expect(holds(["0c0100000001"], "00000001")).toBe(false);
    expect(holds(["x0c0100000001y"], "0c0100000001")).toBe(false);
    expect(holds(["a", "b"], "")).toBe(false);
    expect(holds([null], "null")).toBe(false);
  });

  test("quotes, backslashes and commas in values and elements", () => {
    const odd = ['it"s', "back\\slash", 'tail\\', '"', "\\", ",", '","', "\\\"", "line\nbreak", "é ☃"];
    for (const v of odd) {
      expect(holds(["x", v, "y"], v)).toBe(true);
      expect(holds([v], v)).toBe(true);
      for (const other of odd) if (other !== v) expect(holds(["x", other, "y"], v)).toBe(false);
    }
    // the escaped quote of 'a"' does not end the element: "a" is not held
    expect(holds(['a"', "b"], "a")).toBe(false);
    expect(holds(['x","a'], "a")).toBe(false);
    expect(holds(['x","a","y'], "a")).toBe(false);
  });

  test("the value's text spanning two elements is not the value", () => {
    // ["a,",",b"]: `,` + "," + `,` is the end of one element, the separator and the start of the next
    expect(JSON.stringify(["a,", ",b"]).includes(',",",')).toBe(true);
    expect(holds(["a,", ",b"], ",")).toBe(false);
    expect(holds(["x[", "]y"], "[")).toBe(false);
    expect(holds(["a,", ",b", ","], ",")).toBe(true);
  });

  test("from: elements before it do not count", () => {
    expect(holds(["offer_1", "select 1", "a"], "offer_1", 2)).toBe(false);
    expect(holds(["offer_1", "select 1", "offer_1"], "offer_1", 2)).toBe(true);
  });
});

describe("AnswerCache.invalidate(value)", () => {
  const chain = (ip: string) => ({
    answer: { ip, mask: "255.255.255.0", router: null, dns: [], options: new Map() },
    query: "offer_1",
    rows: 1,
    tried: [],
  });

  test("drops the entries whose bound values hold the value exactly, and no other", () => {
    const cache = new AnswerCache({ ttlSeconds: 60, maxEntries: 100 });
    const sets: Param[][] = [
      ["1", "0c0100000001"],
      ["1", "0c01000000011"],
      ["1", 'port "7"'],
      ["1", "a,"],
      ["1", ",b"],
      ["2", "a,", ",b"],
      ["1", null],
    ];
    for (const [i, p] of sets.entries()) cache.set(cache.key(p), chain(`198.18.0.${i + 1}`));
    expect(cache.size).toBe(sets.length);
    expect(cache.invalidate("0c0100000001")).toBe(1);
    expect(cache.get(cache.key(sets[1]!))?.answer?.ip).toBe("198.18.0.2");
    expect(cache.invalidate("0c01")).toBe(0);
    expect(cache.invalidate("port ")).toBe(0);
    expect(cache.invalidate('port "7"')).toBe(1);
    expect(cache.invalidate(",")).toBe(0);
    expect(cache.invalidate("null")).toBe(0);
    // the values' counts are bound values too, as they always were
    expect(cache.invalidate("2")).toBe(1);
    expect(cache.invalidate(",b")).toBe(1);
    expect(cache.invalidate("1")).toBe(3);
    expect(cache.size).toBe(0);
  });

  test("single queries' runs: by their bound values, not by the query's name or text", () => {
    const cache = new AnswerCache({ ttlSeconds: 60, maxEntries: 100 });
    const memo = cache.memo()!;
    const run = (params: Param[]) => ({ name: "offer_1", sql: "select 'x\"'", names: [], params, rows: 0, result: [], ms: 1 });
    memo.remember("offer_1", "select 'x\"'", ["a"], run(["a"]));
    memo.remember("offer_1", "select 'x\"'", ['x"', "b"], run(['x"', "b"]));
    expect(cache.queriesRemembered).toBe(2);
    cache.invalidate("offer_1");
    cache.invalidate("select 'x\"'");
    cache.invalidate("x");
    expect(cache.queriesRemembered).toBe(2);
    cache.invalidate('x"');
    expect(cache.queriesRemembered).toBe(1);
    expect(cache.memo()!.seen("offer_1", "select 'x\"'", ["a"])?.cached).toBe(true);
    cache.invalidate("a");
    expect(cache.queriesRemembered).toBe(0);
  });
});
