/**
 * The schema files in sql/, bundled as text (so a compiled binary carries
 * them), split into statements. The files hold no `;` inside literals, so
 * splitting at `;` that ends a line is enough.
 */

import sqliteSchema from "../../sql/sqlite.sql" with { type: "text" };
import mysqlSchema from "../../sql/mysql.sql" with { type: "text" };
import postgresqlSchema from "../../sql/postgresql.sql" with { type: "text" };

export function schemaStatements(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => !/^\s*--/.test(line))
    .join("\n")
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export const SQLITE_SCHEMA: readonly string[] = schemaStatements(sqliteSchema);
export const MYSQL_SCHEMA: readonly string[] = schemaStatements(mysqlSchema);
export const POSTGRESQL_SCHEMA: readonly string[] = schemaStatements(postgresqlSchema);

/** The statements that create pydhcp's own tables (leases, history marks) and their indexes. */
export function leaseStatements(all: readonly string[]): string[] {
  return all.filter((s) => /pydhcp_(lease|history_mark)/.test(s));
}
