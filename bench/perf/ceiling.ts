/**
 * The `ceiling` reference row: bench/perf/ceiling.c, a canned-answer C
 * responder (not a DHCP server) that costs almost nothing per exchange, so
 * its maximum is the highest rate the harness can measure on the machine.
 */
import { join, resolve } from "node:path";
import type { Prepared, ServerContext } from "./servers.ts";
import { run } from "./sys.ts";

/** the paragraph a run that measured the ceiling adds to the report's notes */
export const CEILING_NOTE =
  "The ceiling row is not a DHCP server: bench/perf/ceiling.c answers each DISCOVER and REQUEST with a canned OFFER or ACK " +
  "carrying the reserved address, at almost no CPU per exchange. Its maximum is the highest rate this harness can measure on " +
  "this machine (perfdhcp, the veth path and the shared cores are the limit), so no server can be measured above it here; " +
  "its p99 at 80% of its maximum is the tail the harness and the shared cores add by themselves.";

export const CEILING_SOURCE = resolve(import.meta.dir, "ceiling.c");

/** null when a C compiler is on PATH; else why not */
export function ceilingMissing(): string | null {
  return Bun.which("cc") ? null : "no C compiler (cc) on PATH to build bench/perf/ceiling.c";
}

/** Compiles ceiling.c into dir; returns the binary's path. */
export function compileCeiling(dir: string): string {
  const bin = join(dir, "ceiling");
  run(["cc", "-O2", "-o", bin, CEILING_SOURCE]);
  return bin;
}

/** `burnUs` > 0: the ceiling-burn row, spinning that much CPU per answered packet */
export async function setupCeiling(ctx: ServerContext, burnUs = 0): Promise<Prepared> {
  const bin = compileCeiling(ctx.dir);
  const addr = ctx.netns.serverAddr;
  return {
    argv: burnUs > 0 ? [bin, addr, "67", addr, String(burnUs)] : [bin, addr, "67", addr],
    env: {},
    // no config: the binary's path is what finds the process (probe.ts: pgrep -f)
    configFile: bin,
    usesMariadb: false,
  };
}
