/**
 * The validated configuration. config/load.ts turns pydhcpdb's config.xml
 * (plus pydhcp's extensions) into this, or into ConfigError values that name
 * the XML path. Everything here is checked: addresses parse, numbers are in
 * range, every {variable} in every query is known.
 */

import type { ProfileRule } from "../option82/profiles.ts";

/** One <options><option>source:name:start:end</option> row (Python slice). */
import type { Slice } from "../variables/slices.ts";
export type { Slice };

/** The database and the statements as db/ takes them (db/settings.ts). */
import type { DatabaseSettings, NamedSql } from "../db/settings.ts";
export type { NamedSql };
export type DatabaseConfig = DatabaseSettings;

import type { HistoryEvent } from "../core/exchange.ts";
export type { HistoryEvent };

/** When the history journal is flushed to the disk itself (power loss); a killed process loses nothing either way. */
export type FsyncPolicy = { kind: "never" } | { kind: "always" } | { kind: "interval"; ms: number };

export interface Config {
  /** path the config was read from */
  file: string;
  server: {
    /** <host>: address to bind */
    host: string;
    /** extension <port>, default 67 */
    port: number;
    /** port replies to non-relayed clients go to, default 68 (tests change it) */
    clientPort: number;
    /** <broadcast> */
    broadcast: string;
    /** <DHCPServer>: our server identifier (option 54) */
    serverId: string;
    /** <LeaseTime>, seconds */
    leaseTime: number;
    /** <ThreadLimit>: lookups in flight at once */
    threadLimit: number;
    /** packets waiting for a lookup slot before the oldest are dropped (the queue's hard cap) */
    queueLimit: number;
    /** <maxWait>: ms a request may wait for a lookup slot; older ones are dropped unanswered */
    maxWaitMs: number;
    /**
     * <unrelayedOption82>: Option 82 in a packet no relay forwarded (giaddr
     * 0). "use" (pydhcpdb's behaviour; a layer-2 switch with DHCP snooping
     * inserts it so) or "ignore": a client on a directly attached segment
     * could otherwise name any switch port and get its address.
     */
    unrelayedOption82: "use" | "ignore";
    defaultMask: string;
    defaultRouter: string | null;
    defaultDns: string[];
    /** optional per-interface binding (SO_BINDTODEVICE), empty = one socket on host */
    interfaces: string[];
    /** drop privileges after binding, null = stay */
    user: string | null;
    group: string | null;
    /** <hostnameCodepage>: how hostname_text reads a host name that is not UTF-8 (default cp866) */
    hostnameCodepage: string;
  };
  database: DatabaseConfig;
  /** per-query timeout, ms (default 2000) */
  queryTimeoutMs: number;
  /** <query><slowP99>: a statement whose p99 over a minute exceeds this gets a WARN, ms; 0 = off */
  slowP99Ms: number;
  slices: Slice[];
  /** offer_1..offer_N in order */
  offers: NamedSql[];
  /** history_sql (runs on OFFER and ACK like pydhcpdb) */
  history: NamedSql | null;
  /** optional per-event statements */
  historyEvents: Partial<Record<HistoryEvent, NamedSql>>;
  log: { level: "debug" | "info" | "warn" | "error"; format: "text" | "json" };
  /** HTTP /metrics, /health, /api/ and the help-desk page; null = off */
  metrics: { host: string; port: number; token: string | null } | null;
  leases: {
    /** renewals answered from lease memory while the database is down, seconds */
    outageGraceSeconds: number;
    /** how often expired leases are cleaned, seconds */
    cleanupIntervalSeconds: number;
    /** how often lease rows changed in the database are read back, seconds (the staleness bound) */
    syncIntervalSeconds: number;
    /** how often the lease snapshot (server/lease-snapshot.ts) is written when leases changed, seconds; 0 = none written or read */
    snapshotIntervalSeconds: number;
    /** lease reuse (Kea's cache-threshold): percent of a lease that may be used before an unchanged ACK writes it again; 0 = every ACK writes */
    cacheThresholdPercent: number;
  };
  /** history rows older than this are pruned; null = keep forever */
  historyRetentionDays: number | null;
  /** the history journal (<history><journal>, or pydhcp's older name <spool>) */
  spoolPath: string;
  /** <history><fsync>: always | never | milliseconds between syncs */
  historyFsync: FsyncPolicy;
  /** <answerCache>: offer-chain answers reused for ttlSeconds (0 = off), at most maxEntries */
  answerCache: { ttlSeconds: number; maxEntries: number };
  rateLimit: {
    /** packets per second per client MAC, 0 = off */
    perMac: number;
    /** packets per second per relay + circuit-id, 0 = off */
    perCircuit: number;
  };
  /**
   * <relay_profiles>: the rules parsed by config/profiles.ts (ProfileRule[]
   * from option82/profiles.ts). Without the element, or without a
   * <default>, the default is auto; <default>none</default> turns it off.
   */
  relayProfiles: readonly ProfileRule[];
  /** <pools>: address pools offer rows choose by a `pool` column */
  pools: PoolsConfig;
}

/** One <pools><pool>: addresses as unsigned 32-bit numbers, inclusive spans. */
export interface PoolConfig {
  name: string;
  /** XML path, for problems found after load (config/pools/pool[guest]) */
  path: string;
  ranges: [first: number, last: number][];
  exclude: [first: number, last: number][];
  mask: string;
  router: string | null;
  dns: string[];
  /** option 51; null = <LeaseTime> */
  leaseTime: number | null;
  /** further options as [code, text]: text read by the option's type, or 0x hex */
  options: [number, string][];
}

export interface PoolsConfig {
  pools: PoolConfig[];
  /** how long an OFFER reserves its address for the REQUEST, seconds */
  offerHoldSeconds: number;
  /** how long a DECLINEd address stays out of use, seconds */
  declineProbationSeconds: number;
  /**
   * lease reuse (Kea's cache-threshold), percent of the lease time: a REQUEST
   * after our OFFER for a bound lease that has used less than this share is
   * ACKed with the time it has left and no write; 0 = every REQUEST writes
   */
  cacheThresholdPercent: number;
}

/** A config problem, named by its XML path: `config/query/offer_3: missing (offer_count is 3)`. */
export interface ConfigError {
  kind: "config";
  /** e.g. "config/dhcpserver/DHCPServer"; the file path for unreadable/unparsable files */
  path: string;
  message: string;
}
