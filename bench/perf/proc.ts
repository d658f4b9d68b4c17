/** CPU time and memory of a process, from /proc. */
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"]);
  const n = Number(r.stdout.toString().trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of the whole process (all threads), in seconds; null if gone. */
export function cpuSeconds(pid: number): number | null {
  return statCpu(`/proc/${pid}/stat`);
}

/** utime + stime of a process's first thread alone (a Bun server's serving thread: workers are other threads), seconds. */
export function mainThreadCpuSeconds(pid: number): number | null {
  return statCpu(`/proc/${pid}/task/${pid}/stat`);
}

function statCpu(path: string): number | null {
  try {
    const stat = readFileSync(path, "utf8");
    // comm may hold spaces and parens: fields resume after the last ')'
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * CPU seconds of a process and its children: for PostgreSQL's postmaster,
 * which runs a process per connection. Running children are read from
 * /proc; children that have exited are in the parent's cutime/cstime.
 */
export function treeCpuSeconds(pid: number): number | null {
  let total: number;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime, cstime: fields 14-17
    total = (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / CLK_TCK;
  } catch {
    return null;
  }
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // field 4: parent pid
      if (Number(rest[1]) === pid) total += (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    } catch {
      // exited while listing
    }
  }
  return total;
}

/** A process to meter: a pid (the process alone) or a reading of CPU seconds. */
export type CpuSource = number | (() => number | null) | null;

/** VmRSS and VmHWM (peak) in kB; null if gone. */
export function memoryKb(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: get("VmRSS"), hwm: get("VmHWM") };
  } catch {
    return null;
  }
}

/** A CPU meter over several processes: start(), then stop() gives % of one core each. */
export function cpuMeter(pids: Record<string, CpuSource>) {
  const t0 = performance.now();
  const read = (p: CpuSource) => (typeof p === "function" ? p() : p ? cpuSeconds(p) : null);
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, read(p)]));
  return {
    stop(): Record<string, number | null> {
      const wall = (performance.now() - t0) / 1000;
      const out: Record<string, number | null> = {};
      for (const [k, p] of Object.entries(pids)) {
        const a = before[k];
        const b = read(p);
        out[k] = a == null || b == null || wall <= 0 ? null : ((b - a) / wall) * 100;
      }
      return out;
    },
  };
}

/** Total µs some task waited for a CPU (PSI), null without /proc/pressure. */
export function cpuPressureMicros(): number | null {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync("/proc/pressure/cpu", "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
