/**
 * The few MySQL functions pydhcpdb-style queries use that SQLite or
 * PostgreSQL lack (or spell differently).
 * Rewritten only outside literals, comments and quoted identifiers (the
 * template scanner calls this at the start of a bare word), and only when
 * written with an empty argument list, so `now()` in `'now()'` is left alone.
 *
 * MySQL's NOW() is in the session time zone, by default the server's local
 * time, hence SQLite's 'localtime' modifier.
 */

export type Dialect = "mysql" | "sqlite" | "postgresql";

/** lower-case MySQL function name -> SQLite expression (all take no arguments) */
export const SQLITE_FUNCTIONS: Readonly<Record<string, string>> = {
  now: "datetime('now','localtime')",
  sysdate: "datetime('now','localtime')",
  current_timestamp: "datetime('now','localtime')",
  localtime: "datetime('now','localtime')",
  localtimestamp: "datetime('now','localtime')",
  curdate: "date('now','localtime')",
  current_date: "date('now','localtime')",
  curtime: "time('now','localtime')",
  current_time: "time('now','localtime')",
  utc_timestamp: "datetime('now')",
  unix_timestamp: "CAST(strftime('%s','now') AS INTEGER)",
};

/**
 * MySQL function -> PostgreSQL expression, all without arguments. `now()`
 * works on both and is left alone; PostgreSQL's `current_timestamp`,
 * `localtimestamp`... take no parentheses, and its `localtime` and
 * `current_time` are times of day where MySQL's LOCALTIME is a date and time.
 */
export const POSTGRESQL_FUNCTIONS: Readonly<Record<string, string>> = {
  sysdate: "clock_timestamp()",
  current_timestamp: "current_timestamp",
  localtime: "localtimestamp",
  localtimestamp: "localtimestamp",
  curdate: "current_date",
  current_date: "current_date",
  curtime: "localtime",
  current_time: "localtime",
  utc_timestamp: "(now() at time zone 'utc')",
  unix_timestamp: "floor(extract(epoch from now()))::bigint",
};

/** MySQL function names PostgreSQL knows under another name, with any arguments. */
export const POSTGRESQL_RENAMES: Readonly<Record<string, string>> = {
  ifnull: "coalesce",
  ucase: "upper",
  lcase: "lower",
};

/**
 * When the word text[start, wordEnd) is a function the dialect lacks,
 * written as `name()` (spaces allowed inside), returns the replacement and
 * the index after `)`; a renamed function keeps its arguments.
 */
export function dialectFunction(
  dialect: Dialect,
  text: string,
  start: number,
  wordEnd: number,
): { sql: string; end: number } | null {
  if (dialect === "mysql") return null;
  const word = text.slice(start, wordEnd).toLowerCase();
  const after = text.slice(wordEnd, wordEnd + 32);
  if (dialect === "postgresql") {
    const rename = POSTGRESQL_RENAMES[word];
    if (rename !== undefined && /^\s*\(/.test(after)) return { sql: rename, end: wordEnd };
  }
  const repl = (dialect === "sqlite" ? SQLITE_FUNCTIONS : POSTGRESQL_FUNCTIONS)[word];
  if (repl === undefined) return null;
  const m = /^\s*\(\s*\)/.exec(after);
  if (!m) return null;
  return { sql: repl, end: wordEnd + m[0].length };
}
