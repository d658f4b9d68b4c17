/**
 * TurnBatch (db/pool-batch.ts): what one event-loop turn gathers goes to
 * `run` together, one call per key and at most GROUP_MAX members; each
 * member gets its own answer or its own failure.
 */
import { expect, test } from "bun:test";
import { GROUP_MAX, groupSize, padded, TurnBatch } from "../../src/db/pool-batch.ts";

test("statement sizes: the smallest that holds the group; padding repeats the last member", () => {
  expect([1, 2, 3, 5, 16, 17, 32].map(groupSize)).toEqual([2, 2, 4, 8, 16, 32, 32]);
  expect(padded(["a", "b", "c"], 4)).toEqual(["a", "b", "c", "c"]);
  expect(padded(["a", "b"], 2)).toEqual(["a", "b"]);
});

test("calls of one turn go together, one group per key, at most GROUP_MAX each; the next turn is a new group", async () => {
  const runs: string[][] = [];
  const b = new TurnBatch<string, string>(
    (s) => s[0]!,
    (items) => {
      runs.push(items);
      return items.map((x) => Promise.resolve(x.toUpperCase()));
    },
  );
  const names = [...Array.from({ length: GROUP_MAX + 3 }, (_, i) => `a${i}`), "b1", "b2"];
  const got = await Promise.all(names.map((x) => b.add(x)));
  expect(got).toEqual(names.map((x) => x.toUpperCase()));
  expect(runs.map((r) => r.length)).toEqual([GROUP_MAX, 3, 2]);
  expect(runs[0]![0]).toBe("a0");
  expect(runs[2]).toEqual(["b1", "b2"]);
  await b.add("a-later");
  expect(runs.at(-1)).toEqual(["a-later"]);
});

test("a member's failure is its own; a run that throws fails its group only", async () => {
  const b = new TurnBatch<number, number>(
    (n) => (n < 100 ? "small" : "large"),
    (items) => {
      if (items[0]! >= 100) throw new Error("large ones fail");
      return items.map((n) => (n === 2 ? Promise.reject(new Error("two")) : Promise.resolve(n * 10)));
    },
  );
  const got = await Promise.allSettled([b.add(1), b.add(2), b.add(3), b.add(100)]);
  expect(got.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual([10, "two", 30, "large ones fail"]);
});
