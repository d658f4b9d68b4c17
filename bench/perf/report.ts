/** BenchResult -> Markdown. Pure. */
import type { BenchResult, ServerResult, TailResult } from "./results.ts";
import type { Generator } from "./loadgen.ts";
import { firstFailing, limitOf, SATURATED } from "./limit.ts";
import { medianIndex } from "./stats.ts";

/** how the report names the load generator */
const GENERATOR_TEXT: Record<Generator, string> = {
  loadgen: "bench/perf/loadgen.c (perfdhcp's packets and command line, one thread)",
  perfdhcp: "perfdhcp",
};

/** 12345.6 -> "12,346"; by hand, since the first Intl call loads ICU data
 * and once stalled a report for seconds on a loaded machine */
function n(v: number | null | undefined, digits = 0): string {
  if (v == null || !Number.isFinite(v)) return "-";
  const [whole, frac] = Math.abs(v).toFixed(digits).split(".");
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const sign = v < 0 && Number(whole + "." + (frac ?? "0")) !== 0 ? "-" : "";
  return sign + grouped + (frac === undefined ? "" : "." + frac);
}

function mb(kb: number | null | undefined): string {
  return kb == null ? "-" : `${(kb / 1024).toFixed(1)}`;
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** reference rows (the ceiling) are marked so nobody reads them as a server */
function mark(s: ServerResult): string {
  return s.family === "reference" ? " (reference)" : "";
}

function label(s: ServerResult): string {
  return s.name + mark(s);
}

function statusLine(s: ServerResult): string {
  if (s.status === "ok") return "";
  return `${s.status}: ${s.reason ?? ""}`;
}

export function markdownReport(r: BenchResult): string {
  const ok = r.servers.filter((s) => s.status === "ok");
  const main = table(
    ["server", "DORA/s max", "step", "loss %", "DO avg ms", "DO max ms", "RA avg ms", "RA max ms", "server CPU %", "DB CPU %", "generator CPU %", "CPU pressure %", "RSS MB", "peak RSS MB", "limited by"],
    ok.map((s) => {
      const m = s.summary!;
      // the same run as the other columns (summarize's median run)
      const run = s.runs[medianIndex(s.runs.map((x) => x.best?.achieved ?? 0))];
      return [
        `**${s.name}**${mark(s)}`, n(m.doraPerSec), n(m.stepRate), n(m.loss, 2), n(m.doAvgMs, 2), n(m.doMaxMs, 1), n(m.raAvgMs, 2),
        n(m.raMaxMs, 1), n(m.cpuServer), n(m.cpuDb), n(m.cpuPerfdhcp), n(m.cpuPressure), mb(m.rssKb), mb(m.hwmKb),
        run ? limitOf(run, r.machine.cores) : "-",
      ];
    }),
  );
  // % of one core at N DORA/s -> CPU milliseconds per exchange
  const perDora = (cpu: number | null | undefined, dora: number | null | undefined) => (cpu == null || !dora ? null : (cpu * 10) / dora);
  const cpuPer = table(
    ["server", "DORA/s", "server CPU ms per DORA", "DB CPU ms per DORA", "together"],
    ok.filter((s) => s.family !== "reference").map((s) => {
      const m = s.summary!;
      const a = perDora(m.cpuServer, m.doraPerSec);
      const b = perDora(m.cpuDb, m.doraPerSec);
      return [label(s), n(m.doraPerSec), n(a, 3), n(b, 3), n(a === null ? null : a + (b ?? 0), 3)];
    }),
  );
  const runs = table(
    ["server", ...Array.from({ length: r.runsPerServer }, (_, i) => `run ${i + 1} DORA/s (step)`), "first failing step", "limited by"],
    ok.map((s) => [
      label(s),
      ...s.runs.map((x) => (x.best ? `${n(x.best.achieved)} (${x.best.rate})` : "none")),
      ...[s.runs.map((x) => {
        const last = firstFailing(x);
        if (!last) return "top of ladder";
        const tries = x.steps.filter((t) => t.rate === last.rate);
        const lost = tries.map((t) => `${(t.loss * 100).toFixed(1)}%`).join(", ");
        const psi = tries.map((t) => t.cpuPressure).filter((v): v is number => typeof v === "number");
        return `${last.rate}: ${lost} lost${psi.length ? ` (CPU pressure ${psi.map((v) => v.toFixed(0)).join(", ")}%)` : ""}${last.died ? ", server died" : ""}`;
      }).join("; "), s.runs.map((x) => limitOf(x, r.machine.cores)).join("; ")],
    ]),
  );
  // results from before the windows have one
  const tailWindows = Math.max(1, ...ok.map((s) => s.tail?.windows?.length ?? 1));
  // since 2026-12-07 the capture has a window of its own (results.ts TailResult.captured); before, each window had one
  const separate = ok.some((s) => s.tail?.captured);
  const perWindow = (t: TailResult): string => {
    const win = t.windows ?? [];
    if (!win.length) return "-";
    const gen = win.map((x) => n(x.doP99Ms, 2)).join(", ");
    if (t.captured) return `${gen}; ${n(t.captured.doP99Ms, 2)}; ${t.captured.wire ? n(t.captured.wire.doP99Ms, 2) : "-"}`;
    return separate ? gen : `${gen}; ${win.map((x) => (x.wire ? n(x.wire.doP99Ms, 2) : "-")).join(", ")}`;
  };
  const tails = table(
    ["server", "rate (80% of max)", "exchanges", "loss %", "DO p50 ms", "DO p99 ms", "DO max ms", "RA p50 ms", "RA p99 ms", "RA max ms", "wire DO / RA p99 ms", "wire over 5 ms %", "wire longest stall ms",
      separate ? "DO p99 ms per window; captured window: generator; wire" : "DO p99 per window ms: generator; wire"],
    ok.filter((s) => s.tail).map((s) => {
      const t = s.tail!;
      const w = t.wire;
      return [
        label(s), n(t.rate), n(t.samples), n(t.loss * 100, 2), n(t.doP50Ms, 2), n(t.doP99Ms, 2), n(t.doMaxMs, 1), n(t.raP50Ms, 2), n(t.raP99Ms, 2), n(t.raMaxMs, 1),
        w ? `${n(w.doP99Ms, 2)} / ${n(w.raP99Ms, 2)}` : "-", w ? n(w.over5 * 100, 2) : "-", w ? n(w.longestStallMs, 1) : "-",
        perWindow(t),
      ];
    }),
  );
  const ratios = r.ratios.length
    ? table(
        ["pydhcp row", "Kea row", "DORA/s ratio", "DO avg ratio", "RA avg ratio", "CPU per DORA ratio"],
        r.ratios.map((x) => [x.pydhcp, x.kea, n(x.dora, 2), n(x.doAvg, 2), n(x.raAvg, 2), n(x.cpuPerDora, 2)]),
      )
    : "No pydhcp row ran in this run, so there are no ratios.";
  const overload = ok.filter((s) => s.unthrottled);
  const unthrottled = overload.length
    ? table(
        ["server", "offered DORA/s", "goodput DORA/s", "share of its max", "loss %", "CPU server %", "CPU db %"],
        overload.map((s) => {
          const u = s.unthrottled!;
          return [label(s), n(u.rate), n(u.achieved), u.share === null ? "-" : `${n(u.share * 100, 0)}%`, n(u.loss * 100, 1), n(u.cpuServer, 0), n(u.cpuDb, 0)];
        }),
      )
    : "";
  const soaks = ok.filter((s) => s.soak);
  const soak = soaks.length
    ? table(
        ["server", "rate", "seconds", "DORA/s", "loss %", "RSS at start MB", "RSS at end MB", "RSS max MB", "drift MB (2nd half - 1st half)"],
        soaks.map((s) => {
          const k = s.soak!;
          return [s.name, n(k.rate), n(k.seconds), n(k.achieved), n(k.loss * 100, 2), mb(k.rssFirstKb), mb(k.rssLastKb), mb(k.rssMaxKb), mb(k.driftKb)];
        }),
      )
    : "";
  const verify = table(
    ["server", "leases checked", "distinct clients", "wrong address", "rows after the runs"],
    r.servers.filter((s) => s.verify).map((s) => [
      s.name, n(s.verify!.leases), n(s.verify!.distinctClients), n(s.verify!.mismatches),
      s.counts ? Object.entries(s.counts).map(([k, v]) => `${k} ${n(v)}`).join(", ") : "-",
    ]),
  );
  const skipped = r.servers.filter((s) => s.status !== "ok").map((s) => `- ${s.name}: ${statusLine(s)}`);
  const gen = r.generator ?? "perfdhcp";
  const versions = Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(", ");
  return `# DHCPv4 load benchmark: ${r.date} on ${r.host}${r.mode === "quick" ? " (quick mode)" : ""}

Machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${(r.machine.memTotalKb / 1048576).toFixed(1)} GiB, Linux ${r.machine.kernel}; load average at start ${r.machine.loadAvgAtStart}${r.machine.loadAvgAtEnd ? `, at end ${r.machine.loadAvgAtEnd}` : ""}.
Versions: ${versions}.

${GENERATOR_TEXT[gen]} runs full DORA exchanges as a relay (giaddr 198.18.0.2, port 67) from its own network namespace to the server's
namespace over a veth pair; ${r.scenario === "pool"
    ? `${n(r.clients)} clients nobody knows (MACs from \`-b mac=${r.baseMac} -R ${r.clients}\`), each drawing an address from one /16 pool (198.19.0.10 - 198.19.255.250), the same pool on every server; no reservations.`
    : `${n(r.clients)} known clients (MACs from \`-b mac=${r.baseMac} -R ${r.clients}\`), all reserved.`}
Rate ladder (DORA/s): ${r.ladder.join(", ")}; ${r.stepSeconds} s per step; a step passes with under ${r.lossThreshold * 100}% of
exchanges lost (DISCOVERs sent minus ACKs received). Each server: ${r.runsPerServer} run(s), median reported.

## Highest rate with under 1% lost

${main}

DORA/s max: completed exchanges per second measured by ${gen} at the highest passing step (median of the runs);
the other columns are from that run's step. CPU is % of one core over the step (${r.machine.cores} cores = ${r.machine.cores * 100}%).
DB CPU is the whole MariaDB server, or the whole PostgreSQL server with its per-connection processes (shared with anything else running on the machine). CPU pressure: share of
the step during which some task waited for a CPU (Linux PSI); high values mean a contended machine.
Limited by: what was saturated in that run's first failing step (bench/perf/limit.ts): the server's process, the database or
the generator at ${SATURATED}% of a core or more, or all three at ${SATURATED}% of the machine; "waiting" when none was, so the
exchanges were lost to queues, pauses or timeouts rather than to a full core.

### CPU per exchange (at that step)

${cpuPer}

## pydhcp over Kea

${ratios}

## Runs

${runs}

## Latency at 80% of the max rate

${tailWindows > 1 ? `After one settling step, ${tailWindows} windows of the step length at that rate: the slow exchanges come in episodes
that one window catches or misses. Each row is the median window by the generator's DO p99; the last column
gives every window's DO p99, ${separate ? `then those of one more window measured with dumpcap recording the server's interface,
the generator's and the wire's. The wire columns are that window's. dumpcap shares the cores with the server and the
generator, so its window is not one the row's p99 is taken from.` : "the generator's and the wire's."}` : "One window of the step length after one settling step."}

${tails}

${unthrottled ? `## Unthrottled

Each server once more at the top of the ladder, far above what it sustains: the exchanges it still completes
(goodput) as a share of its own maximum. Under 100% means overload costs it answers it could give.

${unthrottled}

` : ""}${soak ? `## Memory at the maximum rate

Each pydhcp row runs once more at its maximum rate (the passing step of the median run) for the
time below, with the server's RSS read every 5 s.

${soak}

` : ""}${r.scenario === "pool" ? `## Lease check

Each server first runs a short load with ${gen} printing every lease; every address handed out must be in the pool,
and no address may go to two clients.` : `## Reservation check

Each server first runs a short load with ${gen} printing every lease; every address handed out must be the one
reserved for that client's MAC.`}

${verify}
${skipped.length ? `\n## Not measured\n\n${skipped.join("\n")}\n` : ""}${r.notes.length ? `\n## Notes\n\n${r.notes.map((x) => `- ${x}`).join("\n")}\n` : ""}`;
}
