/**
 * bench/perf/heap-census.ts, preloaded into a program that keeps objects
 * alive past eden collections and then drops them: the census file shows
 * the live heap after the full collection, and the growth since, with the
 * kept type counted.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "pydhcp-census-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("heap-census reports the live heap after a full collection and what is promoted since", async () => {
  const out = join(dir, "census.txt");
  const program = join(dir, "keep.ts");
  // 2,000 Maps a tick, kept 1.5 s: old-generation garbage, as the server makes
  writeFileSync(
    program,
    `import { fullGC } from "bun:jsc";
     fullGC();
     const kept: Map<number, number>[][] = [];
     const t = setInterval(() => { kept.push(Array.from({ length: 2000 }, (_, i) => new Map([[i, i]]))); if (kept.length > 30) kept.shift(); }, 50);
     setTimeout(() => { clearInterval(t); kept.length = 0; fullGC(); }, 2500);
     setTimeout(() => process.exit(0), 4200);`,
  );
  const p = Bun.spawn([process.execPath, "--preload", resolve(import.meta.dir, "../../bench/perf/heap-census.ts"), program], {
    env: { ...process.env, HEAP_CENSUS_OUT: out },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await p.exited).toBe(0);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  const live = lines.filter((l) => l.includes("live after a full collection:"));
  const promoted = lines.filter((l) => l.includes("promoted since:"));
  // the first census, and the full collection at 2.5 s
  expect(live.length).toBeGreaterThanOrEqual(2);
  expect(live[0]).toMatch(/live after a full collection: \d+ objects, [\d.]+ MB: \w/);
  expect(promoted.length).toBeGreaterThan(0);
  // while the program keeps its maps, they are what grows
  const growth = promoted.find((l) => /(?:: |, )Map \d+/.test(l));
  expect(growth).toBeDefined();
  const perSecond = Number(/(?:: |, )Map (\d+)/.exec(growth!)![1]);
  expect(perSecond).toBeGreaterThan(1000);
}, 20_000);
