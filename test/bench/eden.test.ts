/**
 * bench/eden.ts runs the packet path at two subscriber counts, each in a
 * child of its own, and prints one eden-collection line per count. Only
 * that it runs and reports is checked here: how long the collections take
 * is the benchmark's to say, not a test's.
 */
import { expect, test } from "bun:test";
import { resolve } from "node:path";

test("bench/eden.ts reports the eden collection per subscriber count", () => {
  const r = Bun.spawnSync([process.execPath, resolve(import.meta.dir, "../../bench/eden.ts"), "--users", "300,1200", "--rounds", "12", "--batch", "50", "--ttl", "1"], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  expect(r.exitCode, r.stderr.toString().slice(-2000)).toBe(0);
  expect(out).toContain("12 rounds, answer cache ttl 1 s");
  const rows = [...out.matchAll(/^ +(\d+) subscribers: eden collection p50 ([\d.]+) ms, p90 ([\d.]+) ms, max ([\d.]+) ms$/gm)];
  expect(rows.map((m) => Number(m[1]))).toEqual([300, 1200]);
  for (const m of rows) {
    const [p50, p90, max] = [Number(m[2]), Number(m[3]), Number(m[4])];
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThanOrEqual(p90);
    expect(p90).toBeLessThanOrEqual(max);
  }
}, 120_000);
