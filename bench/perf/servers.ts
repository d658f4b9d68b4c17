/**
 * The servers under test, one row each. A row says how to prepare the
 * server (config, database) and which command runs it; the harness does the
 * rest identically for every row: same namespaces, same clients, same
 * pinned rate steps.
 */
import { ceilingMissing, setupCeiling } from "./ceiling.ts";
import type { Client } from "./clients.ts";
import { setupKeaMemfile, setupKeaMysql, setupKeaPostgresql } from "./kea.ts";
import type { Netns } from "./netns.ts";
import { pydhcpMissing, setupPydhcpMysql, setupPydhcpPostgresql, setupPydhcpSqlite } from "./pydhcp.ts";
import { setupPydhcpdbMysql, setupPydhcpdbSqlite } from "./pydhcpdb.ts";
import { setupKeaMemfilePool, setupKeaMysqlPool, setupPydhcpMysqlPool, setupPydhcpSqlitePool } from "./pools.ts";

export interface ServerContext {
  /** unique prefix for everything this run creates */
  tag: string;
  /** temp dir for configs, lease files, logs */
  dir: string;
  netns: Netns;
  clients: Client[];
}

export interface Prepared {
  /** the server command, run inside the server namespace */
  argv: string[];
  env: Record<string, string>;
  configFile: string;
  /** the server keeps its data in the shared MariaDB (its CPU is measured) */
  usesMariadb: boolean;
  /** the server keeps its data in the local PostgreSQL (its CPU, with every connection's process, is measured) */
  usesPostgresql?: boolean;
  /** row counts after the runs (leases, history), to show the writes happened */
  counts?: () => Promise<Record<string, number>>;
}

export interface ServerRow {
  name: string;
  /** "reference": not a server under test, it marks what the harness can measure */
  family: "reference" | "kea" | "pydhcp";
  backend: "none" | "memfile" | "mysql" | "sqlite" | "postgresql";
  /** part of the default set (of its scenario) */
  enabled: boolean;
  /** reserved: 10,000 known clients, one address each; pool: 10,000 unknown clients drawing from a /16 pool */
  scenario?: "reserved" | "pool";
  /** the Kea row a pydhcp row is compared with */
  baseline?: string;
  /** further Kea rows it is compared with */
  also?: string[];
  /** one line on what is being compared */
  description: string;
  /** null when the row can run here, else why not */
  unavailable: () => string | null;
  setup: (ctx: ServerContext) => Promise<Prepared>;
}

const always = () => null;

export const SERVERS: ServerRow[] = [
  {
    // first, so a full run measures the harness's own limit before the servers
    name: "ceiling",
    family: "reference",
    backend: "none",
    enabled: true,
    description: "canned-answer C responder (bench/perf/ceiling.c, not a DHCP server): the harness ceiling, the most this machine can measure",
    unavailable: ceilingMissing,
    setup: (ctx) => setupCeiling(ctx),
  },
  {
    name: "ceiling-burn",
    family: "reference",
    backend: "none",
    enabled: false,
    description: "the ceiling responder spinning CEILING_BURN_US (default 27) us of CPU per answered packet: a server with that cost per exchange and no pauses",
    unavailable: ceilingMissing,
    setup: (ctx) => setupCeiling(ctx, Number(process.env.CEILING_BURN_US ?? 27)),
  },
  {
    name: "kea-memfile",
    family: "kea",
    backend: "memfile",
    enabled: true,
    description: "kea-dhcp4, memfile leases (persisted CSV), 10,000 reservations in the config, single-threaded",
    unavailable: always,
    setup: (ctx) => setupKeaMemfile(ctx),
  },
  {
    // pydhcp reuses an unchanged lease a client is back for within 25% of it (<leases><cacheThreshold>, on by
    // default); Kea does the same with cache-threshold 0.25, off by default: this row compares like with like
    name: "kea-memfile-cache",
    family: "kea",
    backend: "memfile",
    enabled: true,
    description: "kea-memfile with lease caching (cache-threshold 0.25, as pydhcp's default <leases><cacheThreshold>25</cacheThreshold>)",
    unavailable: always,
    setup: (ctx) => setupKeaMemfile(ctx, 0.25),
  },
  {
    name: "kea-mysql",
    family: "kea",
    backend: "mysql",
    enabled: true,
    description: "kea-dhcp4, MySQL lease and hosts backends in the local MariaDB, single-threaded",
    unavailable: always,
    setup: (ctx) => setupKeaMysql(ctx, { threads: 0 }),
  },
  {
    name: "kea-mysql-mt",
    family: "kea",
    backend: "mysql",
    enabled: false,
    description: "as kea-mysql, with Kea multi-threading (8 threads)",
    unavailable: always,
    setup: (ctx) => setupKeaMysql(ctx, { threads: 8 }),
  },
  {
    name: "kea-pgsql",
    family: "kea",
    backend: "postgresql",
    enabled: true,
    description: "kea-dhcp4, PostgreSQL lease and hosts backends in the local PostgreSQL (unix socket), single-threaded",
    unavailable: always,
    setup: setupKeaPostgresql,
  },
  {
    name: "pydhcp-sqlite",
    family: "pydhcp",
    backend: "sqlite",
    enabled: true,
    baseline: "kea-memfile",
    description: "pydhcp, users table in SQLite (WAL), offer by MAC, history on",
    unavailable: pydhcpMissing,
    setup: (ctx) => setupPydhcpSqlite(ctx, { threadLimit: 1, poolSize: 1 }),
  },
  {
    name: "pydhcp-mysql",
    family: "pydhcp",
    backend: "mysql",
    enabled: true,
    baseline: "kea-mysql",
    also: ["kea-memfile"],
    description: "pydhcp, users table in the local MariaDB, offer by MAC, history on, 64 lookups in flight on 4 connections (grouped)",
    unavailable: pydhcpMissing,
    // sized by measurement (docs/config.md): more lookups in flight than connections lets them go out grouped
    setup: (ctx) => setupPydhcpMysql(ctx, { threadLimit: 64, poolSize: 4 }),
  },
  {
    name: "pydhcp-postgresql",
    family: "pydhcp",
    backend: "postgresql",
    enabled: true,
    baseline: "kea-pgsql",
    also: ["kea-memfile"],
    description: "pydhcp, users table in the local PostgreSQL (unix socket), offer by MAC, history on, 64 lookups in flight on 4 connections (grouped)",
    unavailable: pydhcpMissing,
    // the same sizing as the MariaDB row; bench/pg-drivers.ts measured grouping paying off on PostgreSQL too
    setup: (ctx) => setupPydhcpPostgresql(ctx, { threadLimit: 64, poolSize: 4 }),
  },
  {
    name: "pydhcp-mysql-pydhcpdb",
    family: "pydhcp",
    backend: "mysql",
    enabled: true,
    baseline: "kea-mysql",
    also: ["kea-memfile"],
    description: "pydhcp with pydhcpdb's reference config.xml and pydhcp.sql unchanged but for addresses and credentials (upper(mac)=upper(..) queries, ThreadLimit 1, default log level), MariaDB",
    unavailable: pydhcpMissing,
    setup: (ctx) => setupPydhcpdbMysql(ctx, { fixed: false }),
  },
  {
    name: "pydhcp-mysql-pydhcpdb-fixed",
    family: "pydhcp",
    backend: "mysql",
    enabled: true,
    baseline: "kea-mysql",
    also: ["kea-memfile"],
    description: "as pydhcp-mysql-pydhcpdb after applying exactly what --check printed: lower-case mac/port, an index on (mac, port), its equivalent queries, ThreadLimit 64",
    unavailable: pydhcpMissing,
    setup: (ctx) => setupPydhcpdbMysql(ctx, { fixed: true }),
  },
  {
    name: "pydhcp-sqlite-pydhcpdb",
    family: "pydhcp",
    backend: "sqlite",
    enabled: true,
    baseline: "kea-memfile",
    description: "pydhcp with pydhcpdb's reference config.xml unchanged but for the database (SQLite with pydhcp.sql's tables and keys only), ThreadLimit 1, default log level",
    unavailable: pydhcpMissing,
    setup: (ctx) => setupPydhcpdbSqlite(ctx, { fixed: false }),
  },
  {
    name: "pydhcp-sqlite-pydhcpdb-fixed",
    family: "pydhcp",
    backend: "sqlite",
    enabled: true,
    baseline: "kea-memfile",
    description: "as pydhcp-sqlite-pydhcpdb after applying exactly what --check printed: an index on (upper(mac), upper(port)), queries and ThreadLimit unchanged",
    unavailable: pydhcpMissing,
    setup: (ctx) => setupPydhcpdbSqlite(ctx, { fixed: true }),
  },
  {
    name: "kea-memfile-pool",
    family: "kea",
    backend: "memfile",
    enabled: true,
    scenario: "pool",
    description: "kea-dhcp4, memfile leases (persisted CSV), one /16 pool, no reservations, single-threaded",
    unavailable: always,
    setup: (ctx) => setupKeaMemfilePool(ctx),
  },
  {
    name: "kea-mysql-pool",
    family: "kea",
    backend: "mysql",
    enabled: true,
    scenario: "pool",
    description: "kea-dhcp4, MySQL lease backend in the local MariaDB, one /16 pool, single-threaded",
    unavailable: always,
    setup: (ctx) => setupKeaMysqlPool(ctx),
  },
  {
    // pydhcp reuses a bound lease a client is back for within 25% of it (<cacheThreshold>, on by default);
    // Kea does the same with cache-threshold 0.25, off by default: these rows compare like with like
    name: "kea-memfile-pool-cache",
    family: "kea",
    backend: "memfile",
    enabled: true,
    scenario: "pool",
    description: "kea-memfile-pool with lease caching (cache-threshold 0.25, as pydhcp's default <cacheThreshold>25</cacheThreshold>)",
    unavailable: always,
    setup: (ctx) => setupKeaMemfilePool(ctx, 0.25),
  },
  {
    name: "kea-mysql-pool-cache",
    family: "kea",
    backend: "mysql",
    enabled: true,
    scenario: "pool",
    description: "kea-mysql-pool with lease caching (cache-threshold 0.25, as pydhcp's default <cacheThreshold>25</cacheThreshold>)",
    unavailable: always,
    setup: (ctx) => setupKeaMysqlPool(ctx, 0.25),
  },
  {
    name: "pydhcp-sqlite-pool",
    family: "pydhcp",
    backend: "sqlite",
    enabled: true,
    scenario: "pool",
    baseline: "kea-memfile-pool",
    also: ["kea-memfile-pool-cache"],
    description: "pydhcp, SQLite (WAL): subscriber lookup by MAC (no match), then `select 'guest' as pool` from the same /16, history on, 16 exchanges in flight (renewals share a commit), default <cacheThreshold> (25%)",
    unavailable: pydhcpMissing,
    // with pools, exchanges in flight together share the renewals' commit (docs/pools.md); ThreadLimit 1 leaves nothing to share
    setup: (ctx) => setupPydhcpSqlitePool(ctx, { threadLimit: 16, poolSize: 1 }),
  },
  {
    name: "pydhcp-mysql-pool",
    family: "pydhcp",
    backend: "mysql",
    enabled: true,
    scenario: "pool",
    baseline: "kea-mysql-pool",
    also: ["kea-mysql-pool-cache", "kea-memfile-pool"],
    description: "pydhcp, the local MariaDB: subscriber lookup by MAC (no match), then the /16 pool, history on, 64 lookups in flight on 4 connections, default <cacheThreshold> (25%)",
    unavailable: pydhcpMissing,
    setup: (ctx) => setupPydhcpMysqlPool(ctx, { threadLimit: 64, poolSize: 4 }),
  },
];

export function serverByName(name: string): ServerRow | undefined {
  return SERVERS.find((s) => s.name === name);
}
