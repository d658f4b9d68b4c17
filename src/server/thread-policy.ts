/**
 * Threads that only do housekeeping give way to the serving thread: they run
 * under SCHED_IDLE (Linux), on CPU time nothing else wants, and a packet that
 * wakes the serving thread takes the CPU back from them at once.
 *
 * `perf sched` on the serving thread at 10,000 DORA/s (server on one core,
 * perfdhcp on the other, 5 s): of its waits for a CPU longer than 1 ms,
 * 11-20 were behind mimalloc's purge thread (up to 4.4 ms each) and 3-7
 * behind the SQLite worker. With both under SCHED_IDLE there were none
 * behind either; what was left was the kernel's own threads. A nice value
 * does not do it: with nice 19 the purge thread still held the CPU 14 times,
 * since the scheduler lets a running thread finish its slice whatever its
 * weight, and only an idle-policy thread gives way on a wakeup.
 *
 * What it costs: when every CPU is busy with other work, these threads wait.
 * The allocator then returns freed memory later (the resident size stays
 * near its peak); history rows wait in the journal and leases in memory, as
 * they do while the database is away. At 13,000 DORA/s on two saturated
 * cores the writer still kept up (no backlog at the end of the step).
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { readdirSync, readFileSync } from "node:fs";

/** thread name (/proc/self/task/N/comm) -> what it does */
export const HOUSEKEEPING_THREADS: Readonly<Record<string, string>> = {
  "mi-scavenger": "the allocator returning freed memory to the system",
  // Bun names every worker thread so; pydhcp's are sqlite-writer.ts and sqlite-checkpoint.ts
  Worker: "SQLite history and lease writes, lease sync reads, WAL checkpoints",
};

const SCHED_IDLE = 5;

export interface IdleResult {
  /** threads moved to SCHED_IDLE now, as `name/tid` */
  moved: string[];
  /** why a thread could not be moved, or the platform cannot; null when all went */
  problem: string | null;
}

let libc: ReturnType<typeof openLibc> | null | undefined;
function openLibc() {
  return dlopen("libc.so.6", {
    sched_getscheduler: { args: [FFIType.i32], returns: FFIType.i32 },
    sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

/** sched_param with sched_priority 0, the only priority SCHED_IDLE takes */
const PARAM = new Int32Array(1);

/**
 * Moves this process's housekeeping threads (HOUSEKEEPING_THREADS) that are
 * not there yet to SCHED_IDLE. Threads start late (the allocator's on its
 * first purge, workers when the database opens), so callers repeat it.
 * Never throws.
 */
export function idleHousekeeping(): IdleResult {
  if (process.platform !== "linux") return { moved: [], problem: null }; // SCHED_IDLE is Linux's
  if (libc === undefined) {
    try {
      libc = openLibc();
    } catch (e) {
      libc = null;
      return { moved: [], problem: `libc: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  if (libc === null) return { moved: [], problem: "libc could not be loaded" };
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch (e) {
    return { moved: [], problem: `/proc/self/task: ${e instanceof Error ? e.message : String(e)}` };
  }
  const moved: string[] = [];
  let problem: string | null = null;
  for (const t of tids) {
    let name: string;
    try {
      name = readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    if (!Object.hasOwn(HOUSEKEEPING_THREADS, name)) continue;
    const tid = Number(t);
    const now = libc.sched_getscheduler(tid);
    if (now === SCHED_IDLE || now < 0) continue; // there already, or gone
    if (libc.sched_setscheduler(tid, SCHED_IDLE, ptr(PARAM)) === 0) moved.push(`${name}/${tid}`);
    else problem = `${name}/${tid}: sched_setscheduler failed, errno ${read.i32(libc.__errno_location()!, 0)}`;
  }
  return { moved, problem };
}
