/**
 * A private MariaDB server for tests that stop and start the database
 * (outage, /health): its own data directory, TCP port and socket, so the
 * machine's shared MariaDB is never touched. Removed on close().
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort } from "./ports.ts";

export interface PrivateMariaDb {
  readonly port: number;
  readonly socket: string;
  readonly dir: string;
  /** runs SQL as root through the mariadb client */
  sql(text: string): Promise<string>;
  start(): Promise<void>;
  /** SIGTERM and wait for exit */
  stop(): Promise<void>;
  close(): Promise<void>;
}

const MARIADBD = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"].find((p) => existsSync(p)) ?? "mariadbd";

async function run(cmd: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}


export async function startPrivateMariaDb(): Promise<PrivateMariaDb> {
  const dir = mkdtempSync(join(tmpdir(), "pydhcp-mariadb-"));
  const data = join(dir, "data");
  const socket = join(dir, "sock");
  const pidFile = join(dir, "pid");
  const init = await run([
    "mariadb-install-db",
    "--no-defaults",
    `--datadir=${data}`,
    "--user=root",
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
  ]);
  if (init.code !== 0) throw new Error(`mariadb-install-db failed: ${init.err}`);
  const port = freeTcpPort();
  let proc: ReturnType<typeof Bun.spawn> | null = null;

  const sql = async (text: string): Promise<string> => {
    const r = await run(["mariadb", "--no-defaults", `--socket=${socket}`, "-uroot", "-N", "-B"], text);
    if (r.code !== 0) throw new Error(`mariadb: ${r.err.trim()}`);
    return r.out;
  };

  const start = async (): Promise<void> => {
    proc = Bun.spawn(
      [
        MARIADBD,
        "--no-defaults",
        `--datadir=${data}`,
        `--socket=${socket}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--user=root",
        `--pid-file=${pidFile}`,
        `--log-error=${join(dir, "error.log")}`,
        "--skip-log-bin",
        "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=16M",
        "--max-connections=500",
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    for (let i = 0; i < 200; i++) {
      try {
        await sql("select 1");
        return;
      } catch {
        await Bun.sleep(50);
      }
    }
    const log = existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8").slice(-2000) : "";
    throw new Error(`private MariaDB did not start:\n${log}`);
  };

  const stop = async (): Promise<void> => {
    if (!proc) return;
    proc.kill("SIGTERM");
    await proc.exited;
    proc = null;
  };

  await start();
  return {
    port,
    socket,
    dir,
    sql,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
