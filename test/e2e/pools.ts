/**
 * Helpers for pool tests: a database with the users table plus a
 * `pool_choice` table (MAC -> pool, how an operator's SQL picks a pool),
 * the pool lease table read back, relay-style raw DORA for many clients at
 * once, and the metrics page read from inside the server namespace.
 */
import { Database } from "bun:sqlite";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { MSG, build, ipBytes, msgType, opt, parse, ipText, type WirePacket } from "./dhcpwire.ts";
import { type Topology, nsRun } from "./netns.ts";
import { MYSQL_SOCKET, REPO, type UserRow } from "./pydhcp.ts";
import { rawExchange, rawRelayEndpoint } from "./rawclient.ts";

export interface PoolRow {
  pool: string;
  ip: string;
  client_key: string | null;
  mac: string;
  state: string;
  expires: number;
  server: string;
}

export interface PoolDb {
  kind: "sqlite" | "mysql";
  /** the <database> element */
  xml: string;
  /** what a process inside a namespace uses to reach it (same as xml here: file or unix socket) */
  leases(): Promise<PoolRow[]>;
  choose(mac: string, pool: string): Promise<void>;
  drop(): Promise<void>;
}

const CHOICE_SQL = "CREATE TABLE pool_choice (mac varchar(50) NOT NULL, pool varchar(64) NOT NULL)";

export async function poolSqlite(dir: string, users: readonly UserRow[]): Promise<PoolDb> {
  const path = join(dir, "pools.sqlite");
  const db = new Database(path, { create: true });
  db.exec(readFileSync(join(REPO, "sql/sqlite.sql"), "utf8"));
  db.exec(CHOICE_SQL);
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)");
  for (const u of users) ins.run(u.ip, u.mask, u.router, u.dns, u.mac, u.port);
  db.close();
  const open = () => new Database(path);
  return {
    kind: "sqlite",
    xml: `<database><sqlite><path>${path}</path></sqlite></database>`,
    leases: async () => {
      const d = open();
      try {
        return d.prepare("select pool, ip, client_key, mac, state, expires, server from pydhcp_pool_lease order by ipnum").all() as PoolRow[];
      } catch {
        return [];
      } finally {
        d.close();
      }
    },
    choose: async (mac, pool) => {
      const d = open();
      d.prepare("insert into pool_choice (mac, pool) values (?, ?)").run(mac, pool);
      d.close();
    },
    drop: async () => {
      for (const s of ["", "-wal", "-shm"]) rmSync(path + s, { force: true });
    },
  };
}

let counter = 0;

/** A database (and a user) named after this process, on the machine's MariaDB or another server's socket. */
export async function poolMysql(users: readonly UserRow[], socket = MYSQL_SOCKET): Promise<PoolDb & { name: string; user: string; password: string }> {
  const mysql = await import("mysql2/promise");
  counter += 1;
  const name = `pde2e_${process.pid}_p${counter}`;
  const password = `pw${Math.random().toString(36).slice(2, 12)}`;
  const root = await mysql.createConnection({ socketPath: socket, user: "root", multipleStatements: true });
  try {
    await root.query(`CREATE DATABASE \`${name}\``);
    await root.query(`CREATE USER '${name}'@'localhost' IDENTIFIED BY ?`, [password]);
    await root.query(`GRANT ALL ON \`${name}\`.* TO '${name}'@'localhost'`);
    await root.query(`USE \`${name}\``);
    await root.query(readFileSync(join(REPO, "sql/mysql.sql"), "utf8"));
    // Galera replicates InnoDB tables with a primary key only
    await root.query("CREATE TABLE pool_choice (id int auto_increment primary key, mac varchar(50) NOT NULL, pool varchar(64) NOT NULL)");
    for (const u of users) {
      await root.execute("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)", [u.ip, u.mask, u.router, u.dns, u.mac, u.port]);
    }
  } catch (e) {
    await root.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await root.query(`DROP USER IF EXISTS '${name}'@'localhost'`).catch(() => {});
    await root.end();
    throw e;
  }
  return {
    kind: "mysql",
    name,
    user: name,
    password,
    xml: `<database><mysql><host>localhost</host><socket>${socket}</socket><user>${name}</user><password>${password}</password><database>${name}</database></mysql></database>`,
    leases: async () => {
      try {
        const [rows] = await root.query(`select pool, ip, client_key, mac, state, expires, server from \`${name}\`.pydhcp_pool_lease order by ipnum`);
        return (rows as PoolRow[]).map((r) => ({ ...r, expires: Number(r.expires) }));
      } catch {
        return [];
      }
    },
    choose: async (mac, pool) => {
      await root.execute(`insert into \`${name}\`.pool_choice (mac, pool) values (?, ?)`, [mac, pool]);
    },
    drop: async () => {
      await root.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await root.query(`DROP USER IF EXISTS '${name}'@'localhost'`);
      await root.end();
    },
  };
}

/** 02:00:5e:4x:hh:ll for client n of a batch: never a subscriber's MAC. */
export function poolMac(batch: number, n: number): string {
  return `02005e4${batch.toString(16)}${(n >> 8).toString(16).padStart(2, "0")}${(n & 255).toString(16).padStart(2, "0")}`;
}

export interface RawClient {
  mac: string;
  xid: number;
}

/** Packets sent relay-style from the client link; the replies that came back, parsed. */
export async function relayed(topo: Topology, packets: Uint8Array[], expect: number | undefined, listenMs: number, serverIp = topo.serverIp): Promise<WirePacket[]> {
  const ep = await rawRelayEndpoint(topo);
  const got = await rawExchange(ep.ns, {
    bind: { address: ep.address, port: 67 },
    to: { address: serverIp, port: 67 },
    packets: packets.map((p) => Buffer.from(p).toString("hex")),
    listenMs,
    ...(expect !== undefined ? { expect } : {}),
  });
  return got.flatMap((g) => {
    const p = parse(new Uint8Array(Buffer.from(g.hex, "hex")));
    return p ? [p] : [];
  });
}

export function discover(c: RawClient, giaddr: string, requested?: string): Uint8Array {
  return build({
    xid: c.xid, chaddr: c.mac, giaddr, hops: 1,
    options: [[53, [MSG.DISCOVER]], ...(requested ? [[50, ipBytes(requested)] as [number, number[]]] : []), [55, [1, 3, 6, 15, 51, 54]]],
  });
}

export function request(c: RawClient, giaddr: string, ip: string, serverId: string): Uint8Array {
  return build({ xid: c.xid, chaddr: c.mac, giaddr, hops: 1, options: [[53, [MSG.REQUEST]], [50, ipBytes(ip)], [54, ipBytes(serverId)], [55, [1, 3, 6, 15, 51, 54]]] });
}

/** RENEWING (RFC 2131 4.3.2): ciaddr set, no option 50/54. Relayed here, as a rebinding client's broadcast would be. */
export function renew(c: RawClient, giaddr: string, ip: string): Uint8Array {
  return build({ xid: c.xid + 1, chaddr: c.mac, giaddr, hops: 1, ciaddr: ip, options: [[53, [MSG.REQUEST]], [55, [1, 3, 6, 15, 51, 54]]] });
}

export function release(c: RawClient, ip: string, serverId: string): Uint8Array {
  return build({ xid: c.xid + 2, chaddr: c.mac, ciaddr: ip, options: [[53, [MSG.RELEASE]], [54, ipBytes(serverId)]] });
}

export function decline(c: RawClient, giaddr: string, ip: string, serverId: string): Uint8Array {
  return build({ xid: c.xid + 3, chaddr: c.mac, giaddr, hops: 1, options: [[53, [MSG.DECLINE]], [50, ipBytes(ip)], [54, ipBytes(serverId)]] });
}

export function byType(ps: WirePacket[], type: number): WirePacket[] {
  return ps.filter((p) => msgType(p) === type);
}

export function serverIdOf(p: WirePacket): string | null {
  const v = opt(p, 54);
  return v && v.length === 4 ? ipText(v) : null;
}

/** DISCOVER for every client at once, then REQUEST each offer: the ACKed address per MAC. */
export async function dora(topo: Topology, clients: RawClient[], giaddr: string): Promise<{ offers: WirePacket[]; acks: Map<string, string>; naks: number }> {
  const offers = byType(await relayed(topo, clients.map((c) => discover(c, giaddr)), clients.length, 4000), MSG.OFFER);
  const reqs = offers.map((o) => request({ mac: o.chaddr, xid: o.xid }, giaddr, o.yiaddr, serverIdOf(o) ?? topo.serverIp));
  const replies = reqs.length ? await relayed(topo, reqs, reqs.length, 4000) : [];
  const acks = new Map<string, string>();
  for (const a of byType(replies, MSG.ACK)) acks.set(a.chaddr, a.yiaddr);
  return { offers, acks, naks: byType(replies, MSG.NAK).length };
}

/** GET `path` from the server's HTTP listener inside its namespace (by bun itself: no curl needed): status and body. */
export async function nsGet(ns: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const script = `const r = await fetch(${JSON.stringify(`http://127.0.0.1:${Math.floor(port)}${path}`)}, { signal: AbortSignal.timeout(5000) }); process.stdout.write(r.status + "\\n" + await r.text());`;
  const out = (await nsRun(ns, [process.execPath, "-e", script], { timeoutMs: 10_000 })).stdout;
  const nl = out.indexOf("\n");
  return { status: Number(out.slice(0, nl)), body: out.slice(nl + 1) };
}

/** The server's /metrics. */
export async function metricsText(ns: string, port: number): Promise<string> {
  return (await nsGet(ns, port, "/metrics")).body;
}

export function gauge(text: string, name: string, pool: string): number | null {
  const m = new RegExp(`^${name}\\{pool="${pool}"\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
}
