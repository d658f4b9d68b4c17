/**
 * 50,000 hostile packets at the running server (the long version in
 * test/long/server-fuzz.test.ts sends a million): it never exits, its
 * memory stays flat, a normal client is served during and after, and its
 * log carries no raw control character.
 */
import { expect, test } from "bun:test";
import { describeFuzz, rssGrowthKiB, runFuzz } from "./fuzz-run.ts";
import { FUZZ_KINDS } from "./fuzz.ts";

test("50,000 fuzzed packets: the server stays up, memory flat, clients served", async () => {
  const r = await runFuzz({ packets: 50_000 });
  console.log(describeFuzz(r));
  expect(r.aliveAtEnd).toBe(true);
  expect(r.exitCode).toBe(0);
  expect(r.packets).toBe(50_000);
  for (const k of FUZZ_KINDS) expect(r.byKind[k] ?? 0).toBeGreaterThan(1000);
  expect(r.probesAnswered).toBe(r.probes);
  expect(r.doras).toBeGreaterThan(0);
  expect(r.dorasCompleted).toBe(r.doras);
  // after warm-up (JIT, caches, lease memory) growth stays modest; GC swings are not growth
  expect(rssGrowthKiB(r)).toBeLessThan(32 * 1024);
  expect(r.rawControls).toBe(0);
}, 120_000);
