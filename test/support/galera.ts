/**
 * A three-node MariaDB Galera cluster on this machine for a test: each node
 * its own data directory, socket, SQL port and Galera ports on 127.0.0.1
 * (all derived from the process id, so parallel runs do not meet), the
 * first bootstrapped with --wsrep-new-cluster. stop() ends the nodes it
 * started, by pid, last first, and removes the directories.
 *
 * Needs galera-4, mariadb-server (mariadbd, mariadb-install-db) and rsync.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";

export interface GaleraNode {
  index: number;
  dir: string;
  socket: string;
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
}

export interface GaleraCluster {
  nodes: GaleraNode[];
  dir: string;
  /** wsrep_cluster_size and state as each node sees it */
  status(): Promise<{ size: number; state: string }[]>;
  stop(): Promise<void>;
}

export const GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so";

async function query(socket: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = await mysql.createConnection({ socketPath: socket, user: "root", connectTimeout: 2000 });
  try {
    const [rows] = await c.query(sql);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end().catch(() => {});
  }
}

async function nodeStatus(socket: string): Promise<{ size: number; state: string } | null> {
  try {
    const rows = await query(socket, "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_local_state_comment')");
    const v = new Map(rows.map((r) => [String(r.Variable_name), String(r.Value)]));
    return { size: Number(v.get("wsrep_cluster_size") ?? 0), state: v.get("wsrep_local_state_comment") ?? "" };
  } catch {
    return null;
  }
}

async function until(what: string, f: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await Bun.sleep(500);
  }
  throw new Error(`galera: timed out after ${ms} ms waiting for ${what}`);
}

/** Whether 127.0.0.1 ports base+1000+i .. base+6000+i (i = 1..3) can all be bound now. */
async function blockFree(base: number): Promise<boolean> {
  for (const off of [1000, 4000, 5000, 6000]) {
    for (const i of [1, 2, 3]) {
      const ok = await new Promise<boolean>((resolve) => {
        const srv = createServer();
        srv.once("error", () => resolve(false));
        srv.listen(base + off + i, "127.0.0.1", () => srv.close(() => resolve(true)));
      });
      if (!ok) return false;
    }
  }
  return true;
}

export async function startGalera(): Promise<GaleraCluster> {
  const dir = mkdtempSync(join(tmpdir(), `pdgalera-${process.pid}-`));
  chmodSync(dir, 0o755);
  // ports: SQL 3x, Galera replication 4x, IST 5x, SST 6x (x = node), in a block per process
  // a block with every port free: other services live in this range (RabbitMQ's 25672)
  let base = 20000 + (process.pid % 400) * 10;
  for (let k = 0; k < 400 && !(await blockFree(base)); k++) base = 20000 + ((base - 20000 + 10) % 4000);
  const gport = (i: number) => base + 4000 + i;
  const nodes: GaleraNode[] = [];
  const cluster: GaleraCluster = {
    nodes,
    dir,
    status: async () => Promise.all(nodes.map(async (n) => (await nodeStatus(n.socket)) ?? { size: 0, state: "down" })),
    stop: async () => {
      for (const n of [...nodes].reverse()) {
        if (n.proc.exitCode !== null) continue;
        n.proc.kill("SIGTERM");
        const t = setTimeout(() => n.proc.kill("SIGKILL"), 30_000);
        await n.proc.exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const i of [1, 2, 3]) {
      const d = join(dir, `n${i}`);
      mkdirSync(join(d, "data"), { recursive: true });
      const cnf = join(d, "my.cnf");
      writeFileSync(
        cnf,
        `[mysqld]
user=mysql
datadir=${d}/data
socket=${d}/sock
port=${base + 1000 + i}
bind-address=127.0.0.1
pid-file=${d}/pid
log-error=${d}/err.log
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
skip-name-resolve
wsrep_on=ON
wsrep_provider=${GALERA_PROVIDER}
wsrep_cluster_name=pydhcp${process.pid}
wsrep_cluster_address=gcomm://127.0.0.1:${gport(1)},127.0.0.1:${gport(2)},127.0.0.1:${gport(3)}
wsrep_node_address=127.0.0.1
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${gport(i)};ist.recv_addr=127.0.0.1:${base + 5000 + i};gcache.size=32M"
wsrep_sst_receive_address=127.0.0.1:${base + 6000 + i}
wsrep_sst_method=rsync
`,
      );
      const own = Bun.spawnSync(["chown", "-R", "mysql:mysql", d]);
      if (own.exitCode !== 0) throw new Error(`galera: chown failed: ${own.stderr}`);
      const inst = Bun.spawnSync(["mariadb-install-db", `--defaults-file=${cnf}`, "--user=mysql", "--skip-test-db"], { stdout: "pipe", stderr: "pipe" });
      if (inst.exitCode !== 0) throw new Error(`galera: mariadb-install-db failed for node ${i}: ${inst.stderr.toString()}`);
    }
    const start = (i: number, first: boolean) => {
      const d = join(dir, `n${i}`);
      const proc = Bun.spawn(["mariadbd", `--defaults-file=${join(d, "my.cnf")}`, ...(first ? ["--wsrep-new-cluster"] : [])], { stdout: "ignore", stderr: "ignore" });
      nodes.push({ index: i, dir: d, socket: join(d, "sock"), port: base + 1000 + i, proc });
    };
    start(1, true);
    await until("node 1 to be Synced", async () => (await nodeStatus(nodes[0]!.socket))?.state === "Synced", 60_000);
    start(2, false);
    await until("node 2 to join", async () => (await nodeStatus(nodes[1]!.socket))?.state === "Synced", 90_000);
    start(3, false);
    await until("three Synced nodes", async () => {
      const s = await cluster.status();
      return s.every((x) => x.size === 3 && x.state === "Synced");
    }, 90_000);
  } catch (e) {
    const logs = nodes.map((n) => {
      try {
        return `--- node ${n.index} ---\n${readFileSync(join(n.dir, "err.log"), "utf8").slice(-2000)}`;
      } catch {
        return "";
      }
    });
    await cluster.stop();
    throw new Error(`${(e as Error).message}\n${logs.join("\n")}`);
  }
  return cluster;
}

/**
 * Cuts node `i` (0-based) off from the others (gmcast.isolate), so it leaves
 * the primary component, or lets it back; waits until it is out (or synced
 * again).
 */
export async function isolate(c: GaleraCluster, i: number, on: boolean): Promise<void> {
  await query(c.nodes[i]!.socket, `SET GLOBAL wsrep_provider_options='gmcast.isolate=${on ? 1 : 0}'`);
  await until(on ? `node ${i + 1} to leave the primary component` : `node ${i + 1} to rejoin`, async () => {
    const s = await c.status();
    return on ? s[i]!.size === 1 : s.every((x) => x.size === 3 && x.state === "Synced");
  }, 60_000);
}
