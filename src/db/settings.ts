import { resolve as resolvePath } from "node:path";
/**
 * What the database layer is given: which database, and the statements to
 * prepare. config/ reads these from config.xml (config/types.ts names them
 * DatabaseConfig and NamedSql); db/ never reads the config itself.
 */
import type { HistoryEvent } from "../core/exchange.ts";

/** <query><timeout> when absent, ms */
export const DEFAULT_QUERY_TIMEOUT_MS = 2000;

export type DatabaseSettings =
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
    }
  | PostgresqlSettings;

/**
 * Which database history rows go to, as the journal remembers it
 * (journal.ts): the kind and the database's name, or the SQLite file. The
 * host is left out, so reaching the same database another way (a socket
 * for 127.0.0.1, a new address after a move) does not count as another one.
 */
export function databaseOwner(d: DatabaseSettings): string {
  return d.kind === "sqlite" ? `sqlite ${resolvePath(d.path)}` : `${d.kind} database ${d.database}`;
}

/** `<database><postgresql>` (config/postgresql.ts reads it). */
export interface PostgresqlSettings {
  kind: "postgresql";
  /** TCP host; ignored when socket is set */
  host: string;
  port: number;
  /** unix socket directory (or the socket file itself); when set it wins over host */
  socket: string | null;
  user: string;
  password: string;
  database: string;
  poolSize: number;
  lookupBatch: number;
}

/** One SQL statement from the config, by its config name. */
export interface NamedSql {
  /** "offer_1".., "history_sql", "history_offer", ... */
  name: string;
  /** the text exactly as written in the config */
  sql: string;
}

/** Every statement a config gives: the offer chain and the history statements. */
export interface StatementSet {
  offers: readonly NamedSql[];
  /** history_sql (runs on OFFER and ACK like pydhcpdb) */
  history: NamedSql | null;
  historyEvents: Partial<Record<HistoryEvent, NamedSql>>;
}
