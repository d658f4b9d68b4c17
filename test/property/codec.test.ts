/**
 * Codec properties on 100,000 mutated real packets and 20,000 generated
 * messages. The seed changes every run and is printed on failure; replay
 * with PYDHCP_SEED=<seed> bun test test/property/codec.test.ts.
 */
import { expect, test } from "bun:test";
import { runProperties, seedFromEnv } from "./codec-gen.ts";

test("decode never throws on 100,000 mutated packets; what decodes re-encodes equal; generated messages round-trip", () => {
  const seed = seedFromEnv();
  let stats;
  try {
    stats = runProperties(seed, 100_000, 20_000);
  } catch (e) {
    console.error(`codec property seed: ${seed}`);
    throw e;
  }
  // the mutations must reach both clean decodes and every error kind,
  // and the generated messages every encode outcome
  expect(stats.outcomes.ok ?? 0).toBeGreaterThan(10_000);
  for (const k of ["truncated-header", "bad-cookie", "option-overrun", "missing-end", "empty-option", "bad-length", "bad-overload"]) {
    expect(stats.outcomes[k] ?? 0).toBeGreaterThan(10);
  }
  for (const k of ["plain", "overload", "too-big"]) expect(stats.encodes[k] ?? 0).toBeGreaterThan(10);
}, 60_000);
