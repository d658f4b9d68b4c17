/**
 * Runs pydhcp as operators do, for tests: the built binary (dist/pydhcp)
 * when present, else the sources under bun, with a config written to a temp
 * directory. Collects its output and lets tests wait for log lines.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/pydhcp");
export const BUN = join(ROOT, "node_modules/.bin/bun");

/** The command that runs pydhcp: PYDHCP_BIN (as test/e2e does; a path that does not exist means the sources), else the built binary, else bun on the sources. */
export function pydhcpCommand(): string[] {
  const bin = process.env.PYDHCP_BIN ?? BINARY;
  return existsSync(bin) ? [bin] : [BUN, join(ROOT, "src/cli/main.ts")];
}

export interface RunningServer {
  readonly dir: string;
  readonly configPath: string;
  readonly proc: ReturnType<typeof Bun.spawn>;
  /** everything written to stdout and stderr so far */
  output(): string;
  /** resolves with the first output line matching, after `from` characters */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (default) and the exit code */
  stop(sig?: NodeJS.Signals, timeoutMs?: number): Promise<number>;
  /** stop if running and remove the temp dir */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** config XML text; `{dir}` is replaced with the temp dir */
  config: string;
  args?: string[];
  /** command prefix, e.g. ["ip", "netns", "exec", "ns1"] */
  prefix?: string[];
  /** wait for this line before resolving (default /listening/) */
  ready?: RegExp | null;
  dir?: string;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "pydhcp-test-"));
  const configPath = join(dir, "config.xml");
  writeFileSync(configPath, o.config.replaceAll("{dir}", dir));
  const proc = Bun.spawn([...(o.prefix ?? []), ...pydhcpCommand(), "-c", configPath, ...(o.args ?? [])], {
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const waiters: { re: RegExp; from: number; resolve: (l: string) => void }[] = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      const lines = text.slice(w.from).split("\n");
      const hit = lines.find((l) => w.re.test(l));
      if (hit !== undefined) {
        waiters.splice(i, 1);
        w.resolve(hit);
      }
    }
  };
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      text += dec.decode(chunk, { stream: true });
      check();
    }
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  let exited: number | null = null;
  void proc.exited.then((c) => (exited = c));

  const server: RunningServer = {
    dir,
    configPath,
    proc,
    output: () => text,
    waitFor(re, timeoutMs = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in pydhcp output:\n${text.slice(-3000)}`)), timeoutMs);
        waiters.push({
          re,
          from,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        check();
      });
    },
    signal(sig) {
      proc.kill(sig);
    },
    async stop(sig = "SIGTERM", timeoutMs = 8000) {
      if (exited !== null) return exited;
      proc.kill(sig);
      const t = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await proc.exited;
      clearTimeout(t);
      return code;
    },
    async close() {
      await server.stop();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  const ready = o.ready === undefined ? /listening/ : o.ready;
  if (ready) {
    try {
      await Promise.race([
        server.waitFor(ready, 15_000),
        proc.exited.then((c) => {
          throw new Error(`pydhcp exited with ${c} before it was ready:\n${text}`);
        }),
      ]);
    } catch (e) {
      await server.close();
      throw e;
    }
  }
  return server;
}
