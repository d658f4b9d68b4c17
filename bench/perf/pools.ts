/**
 * The pool scenario (`run.ts --scenario pool`): 10,000 clients nobody
 * knows, drawing addresses from one /16 pool, the case Kea is built for.
 * Every server gets the same pool, 198.19.0.10 - 198.19.255.250, and no
 * reservations:
 *
 *   kea-memfile-pool   Kea, memfile leases (persisted CSV)
 *   kea-mysql-pool     Kea, MySQL lease backend in the local MariaDB
 *   pydhcp-sqlite-pool pydhcp, offer chain: subscriber by MAC (none match), then `select 'guest' as pool`
 *   pydhcp-mysql-pool  the same on the local MariaDB
 *
 * pydhcp still runs its subscriber lookup first, as an operator's config
 * would: the pool is the catch-all after it.
 */
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_NET } from "./clients.ts";
import { freshLeaseFile, keaConfig } from "./kea.ts";
import { countRows, createDb, rootConnection } from "./mariadb.ts";
import { pydhcpCommand, pydhcpConfigXml, type PydhcpOptions, serviceEnvironment } from "./pydhcp.ts";
import type { Prepared, ServerContext } from "./servers.ts";
import { run } from "./sys.ts";

/** perfdhcp's MAC base for the pool scenario: none of these is a subscriber. */
export const POOL_BASE_MAC = "00:0c:02:00:00:00";
export const POOL_RANGE = { first: "198.19.0.10", last: "198.19.255.250" } as const;

function ipInt(ip: string): number {
  return ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

/** Whether an address is in the pool (for the lease check). */
export function inPool(ip: string): boolean {
  const n = ipInt(ip);
  return n >= ipInt(POOL_RANGE.first) && n <= ipInt(POOL_RANGE.last);
}

/** `cacheThreshold`: Kea's lease caching (cache-threshold), off by default as in Kea; on, a renewal within that share of the lease writes nothing */
function writeKeaPool(ctx: ServerContext, db: Awaited<ReturnType<typeof createDb>> | null, cacheThreshold = 0): Prepared {
  const file = join(ctx.dir, "kea-dhcp4-pool.json");
  freshLeaseFile(ctx.dir);
  const cfg = keaConfig(
    { ifname: ctx.netns.serverIf, serverAddr: ctx.netns.serverAddr, relayAddr: ctx.netns.clientAddr, dir: ctx.dir },
    [], db, { threads: 0, cacheThreshold },
  ) as { Dhcp4: Record<string, unknown> & { subnet4: Record<string, unknown>[] } };
  const subnet = cfg.Dhcp4.subnet4[0]!;
  subnet.pools = [{ pool: `${POOL_RANGE.first} - ${POOL_RANGE.last}` }];
  delete subnet.reservations;
  // no hosts database and no reservations: Kea skips host lookups
  delete cfg.Dhcp4["hosts-database"];
  cfg.Dhcp4["host-reservation-identifiers"] = ["hw-address"];
  cfg.Dhcp4["reservations-global"] = false;
  writeFileSync(file, JSON.stringify(cfg, null, 1));
  const env = { KEA_PIDFILE_DIR: ctx.dir, KEA_LOCKFILE_DIR: ctx.dir, KEA_LOGGER_DESTINATION: join(ctx.dir, "kea.out") };
  run([...ctx.netns.exec(ctx.netns.server), "kea-dhcp4", "-t", file], { env });
  const counts = db ? () => countRows(db, ["lease4"]) : async () => ({});
  return { argv: ["kea-dhcp4", "-c", file], env, configFile: file, usesMariadb: db !== null, counts };
}

export async function setupKeaMemfilePool(ctx: ServerContext, cacheThreshold = 0): Promise<Prepared> {
  return writeKeaPool(ctx, null, cacheThreshold);
}

export async function setupKeaMysqlPool(ctx: ServerContext, cacheThreshold = 0): Promise<Prepared> {
  const db = await createDb(`${ctx.tag.replace(/-/g, "_")}_keapool`);
  run(["kea-admin", "db-init", "mysql", "-u", db.user, "-p", db.password, "-n", db.database]);
  return writeKeaPool(ctx, db, cacheThreshold);
}

const POOLS_XML = `  <pools>
    <pool name="guest">
      <range>${POOL_RANGE.first}-${POOL_RANGE.last}</range>
      <mask>${CLIENT_NET.mask}</mask>
      <router>${CLIENT_NET.router}</router>
    </pool>
  </pools>
`;

/** The reserved-scenario config with a second offer query naming the pool, and <pools>. */
function poolConfig(xml: string): string {
  return xml
    .replace("<offer_count>1</offer_count>", "<offer_count>2</offer_count>")
    .replace("</offer_1>", "</offer_1>\n    <offer_2>select &apos;guest&apos; as pool</offer_2>")
    .replace("</config>", `${POOLS_XML}</config>`);
}

const USERS = {
  sqlite: [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, ip TEXT NOT NULL, mask TEXT NOT NULL, router TEXT NOT NULL, dns TEXT NOT NULL, mac TEXT NOT NULL, port TEXT NOT NULL)",
    "CREATE INDEX users_mac ON users (mac)",
    "CREATE TABLE history (id INTEGER PRIMARY KEY, dt TEXT NOT NULL, mac TEXT NOT NULL, ip TEXT NOT NULL, comment TEXT NOT NULL)",
  ],
  mysql: [
    "CREATE TABLE users (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, ip varchar(50) NOT NULL, mask varchar(50) NOT NULL, router varchar(50) NOT NULL, dns varchar(100) NOT NULL, mac varchar(50) NOT NULL, port varchar(10) NOT NULL, KEY mac (mac)) ENGINE=InnoDB",
    "CREATE TABLE history (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, dt datetime NOT NULL, mac varchar(50) NOT NULL, ip varchar(50) NOT NULL, comment varchar(100) NOT NULL) ENGINE=InnoDB",
  ],
} as const;

export async function setupPydhcpSqlitePool(ctx: ServerContext, opts: PydhcpOptions): Promise<Prepared> {
  const path = join(ctx.dir, "pydhcp-pool.sqlite");
  const sq = new Database(path, { create: true });
  try {
    sq.exec("PRAGMA journal_mode=WAL");
    for (const s of USERS.sqlite) sq.exec(s);
  } finally {
    sq.close();
  }
  const file = join(ctx.dir, "pydhcp-sqlite-pool.xml");
  writeFileSync(file, poolConfig(pydhcpConfigXml({ serverAddr: ctx.netns.serverAddr, dir: ctx.dir }, { kind: "sqlite", path }, opts)));
  const counts = async () => {
    const d = new Database(path, { readonly: true });
    try {
      const n = (sql: string) => Number((d.query(sql).get() as { n: number }).n);
      return { "pool leases": n("SELECT COUNT(*) AS n FROM pydhcp_pool_lease"), history: n("SELECT COUNT(*) AS n FROM history") };
    } finally {
      d.close();
    }
  };
  return { argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: false, counts };
}

export async function setupPydhcpMysqlPool(ctx: ServerContext, opts: PydhcpOptions): Promise<Prepared> {
  const db = await createDb(`${ctx.tag.replace(/-/g, "_")}_pypool`);
  const c = await rootConnection(db.database);
  try {
    for (const s of USERS.mysql) await c.query(s);
  } finally {
    await c.end();
  }
  const file = join(ctx.dir, "pydhcp-mysql-pool.xml");
  writeFileSync(file, poolConfig(pydhcpConfigXml({ serverAddr: ctx.netns.serverAddr, dir: ctx.dir }, { kind: "mysql", db }, opts)));
  return {
    argv: pydhcpCommand(file), env: serviceEnvironment(), configFile: file, usesMariadb: true,
    counts: () => countRows(db, ["pydhcp_pool_lease", "history"]),
  };
}
