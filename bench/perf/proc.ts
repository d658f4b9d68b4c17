/** CPU time and memory of a process, from /proc. */
import { readFileSync } from "node:fs";

const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"]);
  const n = Number(r.stdout.toString().trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of the whole process (all threads), in seconds; null if gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may hold spaces and parens: fields resume after the last ')'
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

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
export function cpuMeter(pids: Record<string, number | null>) {
  const t0 = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, p ? cpuSeconds(p) : null]));
  return {
    stop(): Record<string, number | null> {
      const wall = (performance.now() - t0) / 1000;
      const out: Record<string, number | null> = {};
      for (const [k, p] of Object.entries(pids)) {
        const a = before[k];
        const b = p ? cpuSeconds(p) : null;
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
