/**
 * pydhcp as the server under test: a generated config.xml, a database it
 * reads (SQLite file, or a MariaDB or PostgreSQL database made for the
 * test and dropped after), and the server process in the server namespace. The built binary
 * (PYDHCP_BIN, or dist/pydhcp) is used when present, else `bun src/cli/main.ts`.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Daemon, type Topology, nsRun, spawnIn, waitFor } from "./netns.ts";

export const REPO = resolve(import.meta.dir, "../..");
export const MYSQL_SOCKET = "/run/mysqld/mysqld.sock";

/** PYDHCP_BIN (a built binary), else dist/pydhcp when built, else the sources under bun. */
export function pydhcpCommand(configPath: string): string[] {
  const bin = process.env.PYDHCP_BIN ?? join(REPO, "dist/pydhcp");
  if (existsSync(bin)) return [bin, "-c", configPath];
  return [process.execPath, join(REPO, "src/cli/main.ts"), "-c", configPath];
}

export interface UserRow {
  ip: string;
  mask: string;
  router: string;
  dns: string;
  /** 12 lower-case hex digits */
  mac: string;
  /** "" for direct clients; the circuit id text (dhcrelay: its interface name) for relayed ones */
  port: string;
}

export interface HistoryRow {
  mac: string;
  ip: string;
  comment: string;
}

/** The database side of a test: seeded users, readable history, editable rows. */
export interface TestDb {
  kind: "sqlite" | "mysql" | "postgresql";
  /** the <database> element for config.xml */
  xml: string;
  /** SQL for "now" in this dialect */
  now: string;
  setUserIp(mac: string, port: string, ip: string): Promise<void>;
  /** runs one statement with bound values (tests that edit pydhcp_lease by hand) */
  run(sql: string, params: (string | number)[]): Promise<void>;
  history(): Promise<HistoryRow[]>;
  drop(): Promise<void>;
}

export async function sqliteDb(dir: string, users: readonly UserRow[]): Promise<TestDb> {
  const path = join(dir, "pydhcp.sqlite");
  const db = new Database(path, { create: true });
  db.exec(readFileSync(join(REPO, "sql/sqlite.sql"), "utf8"));
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)");
  for (const u of users) ins.run(u.ip, u.mask, u.router, u.dns, u.mac, u.port);
  db.close();
  // the running server writes too (leases, journal replay): wait for its lock as an operator's sqlite3 -cmd '.timeout' would
  const open = () => {
    const d = new Database(path);
    d.exec("PRAGMA busy_timeout = 5000");
    return d;
  };
  return {
    kind: "sqlite",
    xml: `<database><sqlite><path>${path}</path></sqlite></database>`,
    now: "datetime('now')",
    setUserIp: async (mac, port, ip) => {
      const d = open();
      d.prepare("update users set ip = ? where mac = ? and port = ?").run(ip, mac, port);
      d.close();
    },
    run: async (sql, params) => {
      const d = open();
      d.prepare(sql).run(...params);
      d.close();
    },
    history: async () => {
      const d = open();
      const rows = d.prepare("select mac, ip, comment from history order by id").all() as HistoryRow[];
      d.close();
      return rows;
    },
    drop: async () => rmSync(path, { force: true }),
  };
}

let dbCounter = 0;

/** A fresh MariaDB database and user, reachable over the local socket; drop() removes both. */
export async function mysqlDb(users: readonly UserRow[]): Promise<TestDb> {
  const mysql = await import("mysql2/promise");
  dbCounter += 1;
  const name = `pde2e_${process.pid}_${dbCounter}`;
  const password = `pw${Math.random().toString(36).slice(2, 12)}`;
  const root = await mysql.createConnection({ socketPath: MYSQL_SOCKET, user: "root", multipleStatements: true });
  try {
    await root.query(`CREATE DATABASE \`${name}\``);
    await root.query(`CREATE USER '${name}'@'localhost' IDENTIFIED BY ?`, [password]);
    await root.query(`GRANT ALL ON \`${name}\`.* TO '${name}'@'localhost'`);
    await root.query(`USE \`${name}\``);
    await root.query(readFileSync(join(REPO, "sql/mysql.sql"), "utf8"));
    for (const u of users) {
      await root.execute("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)", [
        u.ip, u.mask, u.router, u.dns, u.mac, u.port,
      ]);
    }
  } catch (e) {
    await root.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await root.query(`DROP USER IF EXISTS '${name}'@'localhost'`).catch(() => {});
    await root.end();
    throw e;
  }
  return {
    kind: "mysql",
    xml: `<database><mysql><host>localhost</host><socket>${MYSQL_SOCKET}</socket><user>${name}</user><password>${password}</password><database>${name}</database></mysql></database>`,
    now: "now()",
    setUserIp: async (mac, port, ip) => {
      await root.execute(`update \`${name}\`.users set ip = ? where mac = ? and port = ?`, [ip, mac, port]);
    },
    run: async (sql, params) => {
      const c = await mysql.createConnection({ socketPath: MYSQL_SOCKET, user: "root", database: name });
      try {
        await c.execute(sql, params);
      } finally {
        await c.end();
      }
    },
    history: async () => {
      const [rows] = await root.query(`select mac, ip, comment from \`${name}\`.history order by id`);
      return rows as HistoryRow[];
    },
    drop: async () => {
      await root.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await root.query(`DROP USER IF EXISTS '${name}'@'localhost'`);
      await root.end();
    },
  };
}

export const POSTGRESQL_SOCKET_DIR = "/var/run/postgresql";

/**
 * A fresh PostgreSQL database and role from sql/postgresql.sql, reached
 * through the server's unix socket (a network namespace shares the file
 * system); drop() removes both.
 */
export async function postgresqlDb(users: readonly UserRow[]): Promise<TestDb> {
  const { SQL } = await import("bun");
  dbCounter += 1;
  const name = `pde2e_${process.pid}_${dbCounter}`;
  const password = `pw${Math.random().toString(36).slice(2, 12)}`;
  const admin = new SQL({ adapter: "postgres", hostname: POSTGRESQL_SOCKET_DIR, username: "postgres", database: "postgres", max: 1 });
  let own: InstanceType<typeof SQL> | null = null;
  const drop = async () => {
    await own?.close({ timeout: 0 }).catch(() => {});
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`DROP ROLE IF EXISTS ${name}`);
    await admin.close({ timeout: 0 });
  };
  try {
    await admin.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    await admin.unsafe(`CREATE DATABASE ${name} OWNER ${name}`);
    own = new SQL({ adapter: "postgres", hostname: POSTGRESQL_SOCKET_DIR, username: name, password, database: name, max: 1 });
    await own.unsafe(`SET client_min_messages = warning; ${readFileSync(join(REPO, "sql/postgresql.sql"), "utf8")}`).simple();
    for (const u of users) {
      await own.unsafe("insert into users (ip, mask, router, dns, mac, port) values ($1, $2, $3, $4, $5, $6)", [
        u.ip, u.mask, u.router, u.dns, u.mac, u.port,
      ]);
    }
  } catch (e) {
    await drop().catch(() => {});
    throw e;
  }
  const db = own;
  return {
    kind: "postgresql",
    xml: `<database><postgresql><socket>${POSTGRESQL_SOCKET_DIR}</socket><user>${name}</user><password>${password}</password><database>${name}</database></postgresql></database>`,
    now: "now()",
    setUserIp: async (mac, port, ip) => {
      await db.unsafe("update users set ip = $1 where mac = $2 and port = $3", [ip, mac, port]);
    },
    run: async (sql, params) => {
      // `?` placeholders as the other databases take them -> $1, $2...
      let n = 0;
      await db.unsafe(sql.replace(/\?/g, () => `$${++n}`), params.map(String));
    },
    history: async () => (await db.unsafe("select mac, ip, comment from history order by id")) as HistoryRow[],
    drop,
  };
}

/** Drops PostgreSQL databases and roles left by test runs whose process is gone. */
export async function sweepStalePostgresql(): Promise<string[]> {
  const { SQL } = await import("bun");
  const admin = new SQL({ adapter: "postgres", hostname: POSTGRESQL_SOCKET_DIR, username: "postgres", database: "postgres", max: 1 });
  const dropped: string[] = [];
  try {
    const rows = (await admin.unsafe("SELECT datname FROM pg_database WHERE datname LIKE 'pde2e\\_%'")) as { datname: string }[];
    for (const { datname } of rows) {
      const m = /^pde2e_(\d+)_\d+$/.exec(datname);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
        continue;
      } catch {
        /* creator gone */
      }
      await admin.unsafe(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${datname}`);
      dropped.push(datname);
    }
  } finally {
    await admin.close({ timeout: 0 });
  }
  return dropped;
}

/** Drops MariaDB databases and users left by test runs whose process is gone. */
export async function sweepStaleMysql(): Promise<string[]> {
  const mysql = await import("mysql2/promise");
  const root = await mysql.createConnection({ socketPath: MYSQL_SOCKET, user: "root" });
  const dropped: string[] = [];
  try {
    const [rows] = await root.query("SHOW DATABASES LIKE 'pde2e\\_%'");
    for (const r of rows as Record<string, string>[]) {
      const db = Object.values(r)[0] ?? "";
      const m = /^pde2e_(\d+)_\d+$/.exec(db);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
        continue;
      } catch {
        /* creator gone */
      }
      await root.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await root.query(`DROP USER IF EXISTS '${db}'@'localhost'`);
      dropped.push(db);
    }
  } finally {
    await root.end();
  }
  return dropped;
}

export interface ConfigOptions {
  serverId: string;
  leaseTime: number;
  db: TestDb;
  /** interfaces to bind with SO_BINDTODEVICE; empty = one socket on 0.0.0.0 */
  interfaces?: string[];
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * pydhcpdb-shaped config: offer_1 matches MAC + circuit id (relayed
 * subscribers), offer_2 MAC with an empty port (direct ones); history on
 * OFFER/ACK like pydhcpdb, plus RELEASE and NAK rows.
 */
export function configXml(o: ConfigOptions): string {
  const hist = (what: string, ip: string) =>
    esc(`insert into history (dt, mac, ip, comment) values (${o.db.now}, '{ClientMacAddress}', '{${ip}}', '${what}')`);
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>0.0.0.0</host>
    <broadcast>255.255.255.255</broadcast>
    <DHCPServer>${o.serverId}</DHCPServer>
    <LeaseTime>${o.leaseTime}</LeaseTime>
    <ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter>
    <defaultDNS>198.18.0.53</defaultDNS>
${(o.interfaces ?? []).length ? `    <interfaces>${(o.interfaces ?? []).map((i) => `<interface>${i}</interface>`).join("")}</interfaces>\n` : ""}  </dhcpserver>
  ${o.db.xml}
  <query>
    <offer_count>2</offer_count>
    <offer_1>${esc("select ip, mask, router, dns from users where mac = '{ClientMacAddress}' and port = '{circuit_id_text}'")}</offer_1>
    <offer_2>${esc("select ip, mask, router, dns from users where mac = '{ClientMacAddress}' and port = ''")}</offer_2>
    <history_sql>${hist("DHCPACK/INFORM", "RequestedIpAddress")}</history_sql>
    <history_release>${hist("RELEASE", "ciaddr")}</history_release>
    <history_nak>${hist("NAK", "RequestedIpAddress")}</history_nak>
  </query>
  <log><level>debug</level></log>
</config>
`;
}

export interface PydhcpServer {
  daemon: Daemon;
  dir: string;
  configPath: string;
  log(): Promise<string>;
  stop(): Promise<number>;
}

/** Starts pydhcp in the server namespace; resolves when UDP port 67 is bound there. */
export async function startPydhcp(topo: Topology, configText: string, dir?: string): Promise<PydhcpServer> {
  const d = dir ?? mkdtempSync(join(tmpdir(), "pde2e-pydhcp-"));
  const configPath = join(d, "config.xml");
  await Bun.write(configPath, configText);
  const daemon = spawnIn(topo.serverNs, "pydhcp", pydhcpCommand(configPath), join(d, `pydhcp-${Date.now()}.log`));
  try {
    await waitFor(
      "pydhcp to bind UDP port 67",
      async () => {
        if (daemon.proc.exitCode !== null) {
          throw new Error(`pydhcp exited ${daemon.proc.exitCode}:\n${await daemon.log()}`);
        }
        const ss = await nsRun(topo.serverNs, ["ss", "-Hlun", "sport = :67"]);
        return ss.stdout.trim() !== "" ? true : undefined;
      },
      15_000,
    );
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return { daemon, dir: d, configPath, log: () => daemon.log(), stop: () => daemon.stop(5000) };
}
