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
 * (journal.ts): the kind, the database's name and the server it is on
 * (host:port, or the unix socket), or the SQLite file. Two databases of one
 * name on two servers are two databases. The same database reached another
 * way (a socket instead of 127.0.0.1, a new address after a move) counts as
 * another one too: what waited for it is set aside, not lost.
 */
export function databaseOwner(d: DatabaseSettings): string {
  if (d.kind === "sqlite") return `sqlite ${resolvePath(d.path)}`;
  return `${d.kind} database ${d.database} on ${serverOf(d)}`;
}

/**
 * What databaseOwner() was before it named the server: the kind and the
 * database's name (SQLite: unchanged, null). A journal whose owner file
 * holds it is taken as this database's and rewritten, so an upgrade never
 * sets aside the events waiting in it.
 */
export function formerDatabaseOwner(d: DatabaseSettings): string | null {
  return d.kind === "sqlite" ? null : `${d.kind} database ${d.database}`;
}

/** The server a MySQL/MariaDB or PostgreSQL database is on, as the driver reaches it. */
function serverOf(d: Exclude<DatabaseSettings, { kind: "sqlite" }>): string {
  if (d.socket) {
    // PostgreSQL: a socket directory holds one socket per port (db/postgresql.ts)
    if (d.kind === "postgresql" && !d.socket.includes(".s.PGSQL.")) return `socket ${d.socket.replace(/\/+$/, "")}/.s.PGSQL.${d.port}`;
    return `socket ${d.socket}`;
  }
  return `${d.host.includes(":") ? `[${d.host}]` : d.host}:${d.port}`;
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
