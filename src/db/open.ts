/**
 * The one place that picks the backend from the configuration.
 */

import { DEFAULT_QUERY_TIMEOUT_MS, type DatabaseSettings } from "./settings.ts";
import type { Backend } from "./backend.ts";
import type { Logger } from "../log/types.ts";
import { SqliteBackend } from "./sqlite.ts";
import { MysqlBackend } from "./mysql.ts";
import { PostgresqlBackend } from "./postgresql.ts";

export interface OpenOptions {
  /** a long-running server: SQLite checkpoints its WAL from a worker thread (sqlite-checkpoint.ts) */
  serving?: boolean;
  /** the `writer` id lease upserts carry (default: this process's, db/lease-row.ts LEASE_WRITER) */
  leaseWriter?: string;
}

/** how often the server's SQLite WAL is checkpointed, ms */
const SQLITE_CHECKPOINT_MS = 1000;

/** Opens the configured database; rejects with DbError("connect") when it cannot. */
export async function openBackend(db: DatabaseSettings, log: Logger, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS, opts: OpenOptions = {}): Promise<Backend> {
  const writer = opts.leaseWriter !== undefined ? { leaseWriter: opts.leaseWriter } : {};
  // the server's writes go to a thread of their own (sqlite-writer.ts), on one CPU too: a commit there
  // can wait for the disk (the WAL's header is synced each time it starts over), and the serving thread
  // must not wait with it (bench/results/2026-12-06-intel-tail.md)
  if (db.kind === "sqlite") return SqliteBackend.open({ path: db.path, timeoutMs, ...(opts.serving ? { checkpointMs: SQLITE_CHECKPOINT_MS, writerThread: true } : {}), ...writer }, log);
  if (db.kind === "postgresql") return PostgresqlBackend.open({ ...db, timeoutMs, ...writer }, log);
  return MysqlBackend.open({ ...db, timeoutMs, ...writer }, log);
}
