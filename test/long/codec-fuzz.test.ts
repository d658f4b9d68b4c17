/**
 * Long codec fuzz: 1,000,000 mutated packets and 200,000 generated messages.
 * Runs only with PYDHCP_LONG=1 (npm run test:long); a plain `bun test` skips it.
 * Replay a failure with PYDHCP_SEED=<seed>.
 */
import { expect, test } from "bun:test";
import { runProperties, seedFromEnv } from "../property/codec-gen.ts";

const LONG = process.env.PYDHCP_LONG === "1";

test.skipIf(!LONG)("codec fuzz: 1,000,000 mutated packets, 200,000 generated messages", () => {
  const seed = seedFromEnv();
  console.log(`codec fuzz seed: ${seed}`);
  const stats = runProperties(seed, 1_000_000, 200_000);
  console.log(JSON.stringify(stats));
  expect(stats.outcomes.ok ?? 0).toBeGreaterThan(100_000);
}, 600_000);
