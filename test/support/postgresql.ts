/**
 * A private PostgreSQL server for tests that stop and start the database
 * (outage): its own cluster in a temporary directory, run as the
 * `postgres` user (PostgreSQL refuses root), its own TCP port on
 * 127.0.0.1 and its socket in that directory, so the machine's shared
 * server is never touched. Removed on close().
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PrivateMariaDb } from "./mariadb.ts";
import { freeTcpPort } from "./ports.ts";

/** Same shape as the private MariaDB; `socket` is the socket directory. */
export type PrivatePostgres = Omit<PrivateMariaDb, "sql"> & {
  /** runs SQL as postgres through psql (tab-separated rows) in `database` */
  sql(text: string, database?: string): Promise<string>;
};

function bindir(): string {
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort() : [];
  const v = versions.at(-1);
  if (!v) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)");
  return `/usr/lib/postgresql/${v}/bin`;
}

async function run(cmd: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}


/** `hostAuth`: how TCP logins are checked (the socket always trusts). */
export async function startPrivatePostgres(opts: { hostAuth?: "trust" | "scram-sha-256" } = {}): Promise<PrivatePostgres> {
  const bin = bindir();
  const dir = mkdtempSync(join(tmpdir(), `pydhcp-pg-${process.pid}-`));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const pw = Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim();
  const gr = Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim();
  chownSync(dir, Number(pw), Number(gr));
  const as = (cmd: string[]) => ["runuser", "-u", "postgres", "--", ...cmd];
  const init = await run(as([
    `${bin}/initdb`, "-D", data, "--auth-local=trust", `--auth-host=${opts.hostAuth ?? "trust"}`, "-U", "postgres", "--no-sync", "-E", "UTF8",
  ]));
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.err}`);
  }
  const port = freeTcpPort();
  const sql = async (text: string, database = "postgres"): Promise<string> => {
    const r = await run(["psql", "-h", dir, "-p", String(port), "-U", "postgres", "-d", database, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"], text);
    if (r.code !== 0) throw new Error(`psql: ${r.err.trim()}`);
    return r.out;
  };
  const start = async (): Promise<void> => {
    const opts = `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c shared_buffers=32MB`;
    const r = await run(as([`${bin}/pg_ctl`, "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"]));
    if (r.code !== 0) throw new Error(`private PostgreSQL did not start: ${r.err}\n${existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : ""}`);
  };
  const stop = async (): Promise<void> => {
    if (!existsSync(join(data, "postmaster.pid"))) return;
    await run(as([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "-t", "60", "stop"]));
  };
  await start();
  return {
    port,
    socket: dir,
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
