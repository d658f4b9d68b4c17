/**
 * ISC Kea kea-dhcp4 rows: config generation and database setup.
 *
 * Both rows serve the same relayed subnet (selected by the relay address,
 * since giaddr 198.18.0.2 is outside 198.19.0.0/16) and reserve one address
 * per known client by hw-address only, the same key pydhcp looks up.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_NET, type Client } from "./clients.ts";
import { bulkInsert, countRows, createDb, type Db } from "./mariadb.ts";
import type { Prepared, ServerContext } from "./servers.ts";
import { createPgDb, pgBulkInsert, pgCountRows, type PgDb } from "./postgresql.ts";
import { run } from "./sys.ts";

export const KEA_SUBNET_ID = 1;

export interface KeaOptions {
  /** Kea's multi-threading (off by default in Kea 2.2) */
  threads: number;
  /** Kea's lease caching (cache-threshold, off by default), as pydhcp's default <leases><cacheThreshold>25</cacheThreshold> */
  cacheThreshold?: number;
}

type Json = Record<string, unknown>;

export function keaConfig(
  ctx: { ifname: string; serverAddr: string; relayAddr: string; dir: string },
  clients: Client[],
  db: Db | PgDb | null,
  opts: KeaOptions = { threads: 0 },
  type: "mysql" | "postgresql" = "mysql",
): Json {
  const dbJson = db && {
    type,
    name: db.database,
    user: db.user,
    password: db.password,
    // MySQL: "localhost" makes libmariadb use the unix socket; PostgreSQL: libpq
    // takes the socket directory as host. A socket crosses namespaces, loopback TCP does not.
    host: type === "mysql" ? "localhost" : db.socket,
  };
  const subnet: Json = {
    id: KEA_SUBNET_ID,
    subnet: CLIENT_NET.subnet,
    relay: { "ip-addresses": [ctx.relayAddr] },
    pools: [{ pool: CLIENT_NET.pool }],
    "option-data": [
      { name: "routers", data: CLIENT_NET.router },
      { name: "domain-name-servers", data: ctx.serverAddr },
    ],
  };
  // memfile row: reservations in the config; MySQL row: in the hosts table
  if (!db) subnet.reservations = clients.map((c) => ({ "hw-address": c.colon, "ip-address": c.ip }));
  return {
    Dhcp4: {
      "interfaces-config": { interfaces: [`${ctx.ifname}/${ctx.serverAddr}`], "dhcp-socket-type": "udp" },
      "lease-database": dbJson ?? {
        type: "memfile",
        persist: true,
        name: join(ctx.dir, "kea-leases4.csv"),
        // no lease file cleanup during a run
        "lfc-interval": 0,
      },
      ...(dbJson ? { "hosts-database": dbJson } : {}),
      "host-reservation-identifiers": ["hw-address"],
      "valid-lifetime": 86400,
      ...(opts.cacheThreshold ? { "cache-threshold": opts.cacheThreshold } : {}),
      "multi-threading": opts.threads > 0
        ? { "enable-multi-threading": true, "thread-pool-size": opts.threads, "packet-queue-size": 64 }
        : { "enable-multi-threading": false },
      "subnet4": [subnet],
      loggers: [{
        name: "kea-dhcp4",
        severity: "WARN",
        output_options: [{ output: join(ctx.dir, "kea-dhcp4.log") }],
      }],
    },
  };
}

/** Kea's hosts table wants the address as an unsigned 32-bit integer. */
function ipInt(ip: string): number {
  return ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

/**
 * The memfile lease file, emptied: every Kea row runs in the same directory,
 * and Kea loads the file it finds at start. A row must not begin with the
 * leases an earlier row granted (with cache-threshold it would then write
 * none of them again).
 */
export function freshLeaseFile(dir: string): string {
  const leaseFile = join(dir, "kea-leases4.csv");
  rmSync(leaseFile, { force: true });
  return leaseFile;
}

function writeKea(ctx: ServerContext, db: Db | null, opts: KeaOptions, pg: PgDb | null = null): Prepared {
  const file = join(ctx.dir, "kea-dhcp4.json");
  const leaseFile = freshLeaseFile(ctx.dir);
  const cfg = keaConfig(
    { ifname: ctx.netns.serverIf, serverAddr: ctx.netns.serverAddr, relayAddr: ctx.netns.clientAddr, dir: ctx.dir },
    ctx.clients, pg ?? db, opts, pg ? "postgresql" : "mysql",
  );
  writeFileSync(file, JSON.stringify(cfg, null, 1));
  const env = { KEA_PIDFILE_DIR: ctx.dir, KEA_LOCKFILE_DIR: ctx.dir, KEA_LOGGER_DESTINATION: join(ctx.dir, "kea.out") };
  // -t checks the interface too, so it runs where the interface is
  run([...ctx.netns.exec(ctx.netns.server), "kea-dhcp4", "-t", file], { env });
  const counts = pg
    ? () => pgCountRows(pg, ["lease4", "hosts"])
    : db
    ? () => countRows(db, ["lease4", "hosts"])
    : async () => ({
        // the memfile CSV appends one line per lease write
        "lease file lines": readFileSync(leaseFile, "utf8").split("\n").filter((l) => l && !l.startsWith("address,")).length,
      });
  return { argv: ["kea-dhcp4", "-c", file], env, configFile: file, usesMariadb: db !== null && pg === null, usesPostgresql: pg !== null, counts };
}

export async function setupKeaMemfile(ctx: ServerContext, cacheThreshold = 0): Promise<Prepared> {
  return writeKea(ctx, null, { threads: 0, cacheThreshold });
}

export async function setupKeaMysql(ctx: ServerContext, opts: KeaOptions = { threads: 0 }): Promise<Prepared> {
  const db = await createDb(`${ctx.tag.replace(/-/g, "_")}_kea${opts.threads ? "mt" : ""}`);
  // the schema Kea ships (lease4, hosts, ...), via Kea's own tool
  run(["kea-admin", "db-init", "mysql", "-u", db.user, "-p", db.password, "-n", db.database]);
  await bulkInsert(
    db,
    "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address)",
    // identifier type 0 = hw-address
    ctx.clients.map((c) => [Buffer.from(c.hex, "hex"), 0, KEA_SUBNET_ID, ipInt(c.ip)]),
  );
  return writeKea(ctx, db, opts);
}

export async function setupKeaPostgresql(ctx: ServerContext): Promise<Prepared> {
  const db = await createPgDb(`${ctx.tag.replace(/-/g, "_")}_keapg`);
  // the schema Kea ships, via Kea's own tool (psql over the socket directory)
  run(["kea-admin", "db-init", "pgsql", "-u", db.user, "-p", db.password, "-n", db.database, "-h", db.socket]);
  await pgBulkInsert(
    db,
    "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address)",
    // identifier type 0 = hw-address (bytea), the address as an integer (bigint); numbers as text, typed by their columns
    ctx.clients.map((c) => [Buffer.from(c.hex, "hex"), "0", String(KEA_SUBNET_ID), String(ipInt(c.ip))]),
  );
  return writeKea(ctx, null, { threads: 0 }, db);
}
