/**
 * The validated configuration. config/load.ts turns pydhcpdb's config.xml
 * (plus pydhcp's extensions) into this, or into ConfigError values that name
 * the XML path. Everything here is checked: addresses parse, numbers are in
 * range, every {variable} in every query is known.
 */

import type { ProfileRule } from "../option82/profiles.ts";

/** One <options><option>source:name:start:end</option> row (Python slice). */
export interface Slice {
  source: string;
  name: string;
  /** null = omitted (Python `s[:end]`) */
  start: number | null;
  end: number | null;
}

/** One SQL statement from the config, by its config name. */
export interface NamedSql {
  /** "offer_1".., "history_sql", "history_offer", ... */
  name: string;
  /** the text exactly as written in the config */
  sql: string;
}

export type DatabaseConfig =
  | { kind: "sqlite"; path: string }
  | {
      kind: "mysql";
      host: string;
      port: number;
      /** unix socket path; when set it wins over host/port */
      socket: string | null;
      user: string;
      password: string;
      database: string;
      poolSize: number;
      /** most offer lookups grouped into one statement while the pool is busy; 1 = never */
      lookupBatch: number;
    };

export type HistoryEvent = "offer" | "ack" | "nak" | "release" | "decline" | "unknown";

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
    defaultMask: string;
    defaultRouter: string | null;
    defaultDns: string[];
    /** optional per-interface binding (SO_BINDTODEVICE), empty = one socket on host */
    interfaces: string[];
    /** drop privileges after binding, null = stay */
    user: string | null;
    group: string | null;
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
  /** HTTP /metrics and /health listener; null = off */
  metrics: { host: string; port: number } | null;
  leases: {
    /** renewals answered from lease memory while the database is down, seconds */
    outageGraceSeconds: number;
    /** how often expired leases are cleaned, seconds */
    cleanupIntervalSeconds: number;
  };
  /** history rows older than this are pruned; null = keep forever */
  historyRetentionDays: number | null;
  /** local file where history rows wait while the database is away */
  spoolPath: string;
  /** <answerCache>: offer-chain answers reused for ttlSeconds (0 = off), at most maxEntries */
  answerCache: { ttlSeconds: number; maxEntries: number };
  rateLimit: {
    /** packets per second per client MAC, 0 = off */
    perMac: number;
    /** packets per second per relay + circuit-id, 0 = off */
    perCircuit: number;
  };
  /**
   * <relay_profiles>: the rules parsed by config/profiles.ts
   * (ProfileRule[] from option82/profiles.ts); null when the element is absent.
   */
  relayProfiles: readonly ProfileRule[] | null;
}

/** A config problem, named by its XML path: `config/query/offer_3: missing (offer_count is 3)`. */
export interface ConfigError {
  kind: "config";
  /** e.g. "config/dhcpserver/DHCPServer"; the file path for unreadable/unparsable files */
  path: string;
  message: string;
}
