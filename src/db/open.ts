/**
 * The one place that picks the backend from the configuration.
 */

import { DEFAULT_QUERY_TIMEOUT_MS, type DatabaseSettings } from "./settings.ts";
import type { Backend } from "./backend.ts";
import type { Logger } from "../log/types.ts";
import { SqliteBackend } from "./sqlite.ts";
import { MysqlBackend } from "./mysql.ts";
import { PostgresqlBackend } from "./postgresql.ts";

/** Opens the configured database; rejects with DbError("connect") when it cannot. */
export async function openBackend(db: DatabaseSettings, log: Logger, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS): Promise<Backend> {
  if (db.kind === "sqlite") return SqliteBackend.open({ path: db.path, timeoutMs }, log);
  if (db.kind === "postgresql") return PostgresqlBackend.open({ ...db, timeoutMs }, log);
  return MysqlBackend.open({ ...db, timeoutMs }, log);
}
