/**
 * What limits a row: the resources saturated in the first step it failed,
 * read from that step's CPU figures. Saturated means at least 90% of one
 * core for a single process (the generator is one thread, and so is each
 * server's serving thread), or at least 90% of the machine for all of them
 * together. A step that failed with nothing saturated was lost to waiting
 * (queues, pauses, timeouts), and says so with its figures: a database
 * driven one query at a time (pydhcpdb's ThreadLimit 1, Kea MySQL) reads
 * so at 68-82% of a core (measured), the round trips taking the rest.
 */
import type { RunResult, StepResult } from "./results.ts";

/** % of one core at which one thread counts as saturated */
export const SATURATED = 90;

interface Rule {
  name: string;
  /** the reading as "N%" when saturated, else null */
  reading(s: StepResult, cores: number): string | null;
}

const pct = (v: number) => `${Math.round(v)}%`;
const over = (v: number | null | undefined, at: number): v is number => typeof v === "number" && v >= at;

const RULES: readonly Rule[] = [
  { name: "server CPU", reading: (s) => (over(s.cpuServer, SATURATED) ? pct(s.cpuServer) : null) },
  { name: "database CPU", reading: (s) => (over(s.cpuDb, SATURATED) ? pct(s.cpuDb) : null) },
  { name: "generator CPU", reading: (s) => (over(s.cpuPerfdhcp, SATURATED) ? pct(s.cpuPerfdhcp) : null) },
  {
    name: "the machine",
    reading: (s, cores) => {
      const all = (s.cpuServer ?? 0) + (s.cpuDb ?? 0) + (s.cpuPerfdhcp ?? 0);
      return all >= cores * SATURATED ? `${pct(all)} of ${cores * 100}%` : null;
    },
  },
];

/**
 * The run's first failing step: the last one it ran, unless that one is at
 * or below the best (the ladder's top passed). By rate, not identity: a
 * result read back from JSON holds the best step as a copy.
 */
export function firstFailing(run: RunResult): StepResult | null {
  const last = run.steps[run.steps.length - 1];
  return !last || (run.best !== null && last.rate <= run.best.rate) ? null : last;
}

/** What limited one run, in words, from its first failing step. */
export function limitOf(run: RunResult, cores: number): string {
  const s = firstFailing(run);
  if (!s) return run.best ? "nothing: passed the ladder's top" : "no step ran";
  if (s.died) return `the server died at ${s.rate}/s`;
  const hit = RULES.map((r) => ({ r, v: r.reading(s, cores) })).filter((x) => x.v !== null).map((x) => `${x.r.name} ${x.v}`);
  if (hit.length) return hit.join(", ");
  const fig = (label: string, v: number | null | undefined) => (typeof v === "number" ? `${label} ${pct(v)}` : null);
  const figures = [fig("server", s.cpuServer), fig("database", s.cpuDb), fig("generator", s.cpuPerfdhcp)].filter(Boolean).join(", ");
  return `waiting, no CPU saturated${figures ? ` (${figures})` : ""}`;
}
