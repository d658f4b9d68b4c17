/**
 * Slow-query WARN: once per statement per minute, naming it, when the
 * minute's p99 is above the threshold; the quantile as histogram_quantile().
 */
import { expect, test } from "bun:test";
import { bucketQuantile, LatencyWatch, WINDOW_MS } from "../../../src/server/latency.ts";
import { QUERY_BUCKETS } from "../../../src/service/metrics.ts";

function memLog() {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

test("bucketQuantile interpolates inside the bucket like histogram_quantile", () => {
  // 100 runs: 98 in (0, 1], 2 in (1, 2]
  expect(bucketQuantile([1, 2], [98, 2, 0], 0.99)).toBeCloseTo(1.5, 6);
  expect(bucketQuantile([1, 2], [100, 0, 0], 0.5)).toBeCloseTo(0.5, 6);
  // past the last bound: the last bound
  expect(bucketQuantile([1, 2], [0, 0, 5], 0.99)).toBe(2);
  expect(Number.isNaN(bucketQuantile([1, 2], [0, 0, 0], 0.99))).toBe(true);
});

test("one WARN per query per minute when its p99 is above the threshold, naming the query", () => {
  let now = 1_000_000;
  const log = memLog();
  const w = new LatencyWatch(log, 50, () => now);
  // minute 1: offer_3 slow (2 % of runs at 0.2 s), offer_1 fast
  for (let i = 0; i < 100; i++) {
    w.observe("offer_3", i < 98 ? 0.002 : 0.2);
    w.observe("offer_1", 0.0003);
    now += 100;
  }
  expect(log.lines).toEqual([]);
  now += WINDOW_MS;
  w.observe("offer_3", 0.001);
  w.observe("offer_1", 0.001);
  w.observe("offer_3", 0.001);
  expect(log.lines.length).toBe(1);
  expect(log.lines[0]!.level).toBe("warn");
  expect(log.lines[0]!.msg).toMatch(/^query offer_3 is slow: p99 [0-9.]+ ms over the last minute, above 50 ms$/);
  expect(log.lines[0]!.fields).toMatchObject({ query: "offer_3", runs: 100 });
  expect(Number(log.lines[0]!.fields!.p99Ms)).toBeGreaterThan(100);
  // minute 2 was fast: nothing more
  now += WINDOW_MS;
  w.observe("offer_3", 0.001);
  expect(log.lines.length).toBe(1);
});

test("threshold 0 is off; too few runs say nothing; a reload can change the threshold", () => {
  let now = 0;
  const log = memLog();
  const w = new LatencyWatch(log, 0, () => now);
  for (let i = 0; i < 50; i++) w.observe("history", 1);
  now += WINDOW_MS;
  w.observe("history", 1);
  expect(log.lines).toEqual([]);
  w.setThreshold(10);
  for (let i = 0; i < 5; i++) w.observe("lease_write", 1);
  now += WINDOW_MS;
  w.observe("lease_write", 1);
  expect(log.lines).toEqual([]);
  for (let i = 0; i < 30; i++) w.observe("lease_write", 0.5);
  now += WINDOW_MS;
  w.observe("lease_write", 0.001);
  expect(log.lines.map((l) => l.fields?.query)).toEqual(["lease_write"]);
  expect(QUERY_BUCKETS.at(-1)).toBe(2);
});
