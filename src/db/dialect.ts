/**
 * The few MySQL functions pydhcpdb-style queries use that SQLite lacks.
 * Rewritten only outside literals, comments and quoted identifiers (the
 * template scanner calls this at the start of a bare word), and only when
 * written with an empty argument list, so `now()` in `'now()'` is left alone.
 *
 * MySQL's NOW() is in the session time zone, by default the server's local
 * time, hence SQLite's 'localtime' modifier.
 */

export type Dialect = "mysql" | "sqlite";

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
 * When the word text[start, wordEnd) is a function SQLite lacks, written as
 * `name()` (spaces allowed inside), returns the replacement and the index
 * after `)`.
 */
export function dialectFunction(
  dialect: Dialect,
  text: string,
  start: number,
  wordEnd: number,
): { sql: string; end: number } | null {
  if (dialect !== "sqlite") return null;
  const repl = SQLITE_FUNCTIONS[text.slice(start, wordEnd).toLowerCase()];
  if (repl === undefined) return null;
  const m = /^\s*\(\s*\)/.exec(text.slice(wordEnd, wordEnd + 32));
  if (!m) return null;
  return { sql: repl, end: wordEnd + m[0].length };
}
