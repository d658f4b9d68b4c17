/**
 * A million hostile packets at the running server. Runs with PYDHCP_LONG=1;
 * the always-on 50,000-packet version is test/robust/server-fuzz.test.ts.
 */
import { expect, test } from "bun:test";
import { describeFuzz, rssGrowthKiB, runFuzz } from "../robust/fuzz-run.ts";

const LONG = process.env.PYDHCP_LONG === "1";
const PACKETS = Number(process.env.PYDHCP_FUZZ_PACKETS ?? 1_000_000);

test.skipIf(!LONG)(`${PACKETS} fuzzed packets: the server stays up, memory flat, clients served`, async () => {
  // warn level: a million info lines would measure the log pipe, not the server
  const r = await runFuzz({ packets: PACKETS, batch: 500, logLevel: "warn" });
  console.log(describeFuzz(r));
  expect(r.aliveAtEnd).toBe(true);
  expect(r.exitCode).toBe(0);
  expect(r.packets).toBe(PACKETS);
  expect(r.probesAnswered).toBe(r.probes);
  expect(r.dorasCompleted).toBe(r.doras);
  expect(rssGrowthKiB(r)).toBeLessThan(32 * 1024);
  expect(r.rawControls).toBe(0);
}, 1_800_000);
