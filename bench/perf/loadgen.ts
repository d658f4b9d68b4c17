/**
 * The load generator a run drives: bench/perf/loadgen.c (the default), a
 * one-thread C relay that speaks perfdhcp's command line and report, or
 * perfdhcp itself. On two cores perfdhcp takes a core and more from about
 * 10,000 DORA/s and stops near 13,000/s; loadgen does 20,000/s in about
 * 60% of one (docs/benchmark.md, "The generator").
 */
import { join, resolve } from "node:path";
import { run } from "./sys.ts";

export type Generator = "loadgen" | "perfdhcp";
export const GENERATORS: readonly Generator[] = ["loadgen", "perfdhcp"];

export const LOADGEN_SOURCE = resolve(import.meta.dir, "loadgen.c");

/** null when a C compiler is on PATH; else why not */
export function loadgenMissing(): string | null {
  return Bun.which("cc") ? null : "no C compiler (cc) on PATH to build bench/perf/loadgen.c (or run with --generator perfdhcp)";
}

/** Compiles loadgen.c into dir; returns the binary's path. */
export function compileLoadgen(dir: string): string {
  const bin = join(dir, "loadgen");
  run(["cc", "-O2", "-o", bin, LOADGEN_SOURCE, "-lm"]);
  return bin;
}

/** The program to run for `g`: perfdhcp from PATH, or loadgen compiled into dir. */
export function generatorProgram(g: Generator, dir: string): string {
  if (g === "perfdhcp") return "perfdhcp";
  const missing = loadgenMissing();
  if (missing) throw new Error(missing);
  return compileLoadgen(dir);
}

export function parseGenerator(v: string): Generator {
  if (!(GENERATORS as readonly string[]).includes(v)) throw new Error(`generator is ${GENERATORS.join(" or ")}, not "${v}"`);
  return v as Generator;
}
