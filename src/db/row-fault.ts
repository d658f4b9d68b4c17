/**
 * Whether a database error blames the row's values (a NULL into NOT NULL,
 * a value too long, a duplicate key) rather than the table or the
 * database. Only such a row may be set aside (history quarantine): any
 * other error, such as a table renamed away, a lost privilege or a full
 * disk, is an outage, and the row waits for the database to be fixed.
 * Unknown codes count as outages: a row kept waiting loses nothing.
 */

/** mysql2's names for MySQL and MariaDB error numbers */
const MYSQL = new Set([
  "ER_BAD_NULL_ERROR", // 1048
  "ER_DUP_ENTRY", // 1062
  "ER_NO_REFERENCED_ROW", // 1216
  "ER_WARN_DATA_OUT_OF_RANGE", // 1264
  "WARN_DATA_TRUNCATED", // 1265
  "ER_TRUNCATED_WRONG_VALUE", // 1292
  "ER_INVALID_CHARACTER_STRING", // 1300
  "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD", // 1366
  "ER_ILLEGAL_VALUE_FOR_TYPE", // 1367
  "ER_DATA_TOO_LONG", // 1406
  "ER_WRONG_VALUE_FOR_TYPE", // 1411
  "ER_NO_REFERENCED_ROW_2", // 1452
  "ER_DUP_ENTRY_WITH_KEY_NAME", // 1586
  "ER_CHECK_CONSTRAINT_VIOLATED", // 3819
  // 4025: MariaDB's CONSTRAINT_FAILED (a CHECK), which mysql2 names after MySQL's 4025
  "ER_INNODB_AUTOEXTEND_SIZE_OUT_OF_RANGE",
]);

/** SQLite extended result codes (bun:sqlite's `code`) */
const SQLITE = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/;

/** PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation) */
const POSTGRESQL = /^2[23][0-9A-Z]{3}$/;

export function isRowFault(code: string): boolean {
  return MYSQL.has(code) || SQLITE.test(code) || POSTGRESQL.test(code);
}
