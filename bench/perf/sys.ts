/**
 * Processes and the cleanup stack. Everything the benchmark creates
 * (namespaces, links, processes, databases, temp dirs) registers an undo
 * here the moment it exists; the stack unwinds on normal exit, on error and
 * on SIGINT/SIGTERM, newest first.
 */
import type { Subprocess } from "bun";

type Undo = { what: string; fn: () => void | Promise<void> };
const undos: Undo[] = [];
let unwinding: Promise<void> | null = null;
/** set by a signal: whatever gets created from now on is undone at once */
let stopping = false;

export class Interrupted extends Error {}

export function onCleanup(what: string, fn: () => void | Promise<void>): void {
  if (stopping) {
    // created after the signal: undo now, and stop the caller
    void Promise.resolve().then(fn).catch(() => {});
    throw new Interrupted(`interrupted (undid ${what})`);
  }
  undos.push({ what, fn });
}

export function cleanupAll(): Promise<void> {
  unwinding ??= (async () => {
    while (undos.length) {
      const u = undos.pop()!;
      try {
        await u.fn();
      } catch (e) {
        console.error(`cleanup: ${u.what}: ${(e as Error).message}`);
      }
    }
  })();
  return unwinding;
}

/** Current depth of the stack, to unwind one scope with cleanupTo(). */
export function cleanupDepth(): number {
  return undos.length;
}

/** Undo everything registered since depth (newest first). */
export async function cleanupTo(depth: number): Promise<void> {
  while (undos.length > depth) {
    const u = undos.pop()!;
    try {
      await u.fn();
    } catch (e) {
      console.error(`cleanup: ${u.what}: ${(e as Error).message}`);
    }
  }
}

export function installSignalCleanup(): void {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${sig}: cleaning up`);
      void cleanupAll().then(() => process.exit(130));
    });
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** user + system CPU of the child, seconds (async runs only) */
  cpuSeconds?: number;
}

/** Run to completion; throws with stderr when the exit code is not 0 (unless allowed). */
export function run(argv: string[], opts: { input?: string; allow?: number[]; env?: Record<string, string> } = {}): RunResult {
  const r = Bun.spawnSync(argv, {
    stdin: opts.input !== undefined ? Buffer.from(opts.input) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  const res = { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  if (res.code !== 0 && !(opts.allow ?? []).includes(res.code)) {
    throw new Error(`${argv.join(" ")} exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res;
}

/** Async run that a Ctrl-C can interrupt (the child is killed by pid). */
export async function runAsync(argv: string[], allow: number[] = []): Promise<RunResult> {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const undo = () => killPid(p);
  onCleanup(`kill ${argv[0]} ${p.pid}`, undo);
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  forget(undo);
  const ru = p.resourceUsage();
  const cpuSeconds = ru ? Number(ru.cpuTime.total) / 1e6 : undefined;
  if (code !== 0 && !allow.includes(code)) {
    throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim() || stdout.trim().slice(-500)}`);
  }
  return { code, stdout, stderr, ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) };
}

function forget(fn: () => unknown): void {
  const i = undos.findIndex((u) => u.fn === fn);
  if (i >= 0) undos.splice(i, 1);
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the process is gone. */
export async function killPid(p: Subprocess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill("SIGTERM");
  const done = await Promise.race([p.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!done) {
    p.kill("SIGKILL");
    await p.exited;
  }
}

/**
 * A long-running child (a server) with its output kept in a log file
 * (stderr in `<logFile>.err`). `onStderr` also sees each chunk of stderr
 * as it is read (probe.ts stamps JSC's collector log with it).
 */
export function spawnDaemon(argv: string[], logFile: string, env: Record<string, string> = {}, onStderr?: (text: string) => void): {
  proc: Subprocess;
  stop: () => Promise<void>;
} {
  const proc = Bun.spawn(argv, {
    stdout: Bun.file(logFile),
    stderr: onStderr ? "pipe" : Bun.file(logFile + ".err"),
    stdin: "ignore",
    env: { ...process.env, ...env },
  });
  if (onStderr && proc.stderr instanceof ReadableStream) {
    const err = proc.stderr;
    void (async () => {
      const file = Bun.file(logFile + ".err").writer();
      const dec = new TextDecoder();
      for await (const chunk of err) {
        file.write(chunk);
        onStderr(dec.decode(chunk, { stream: true }));
      }
      await file.end();
    })();
  }
  const stop = async () => {
    forget(stop);
    await killPid(proc);
  };
  onCleanup(`stop ${argv.join(" ")} (pid ${proc.pid})`, stop);
  return { proc, stop };
}
