/**
 * A run of history rows as one statement with one parameter: the rows'
 * values as a JSON array of arrays, read back into columns by JSON_TABLE
 * (MySQL 8.0.4+, MariaDB 10.6+):
 *
 *   INSERT INTO h (dt, mac, ip) VALUES (?, ?, 'x')
 *   ->
 *   INSERT INTO h (dt, mac, ip) SELECT pydhcp_j.p0, pydhcp_j.p1, 'x'
 *     FROM JSON_TABLE(?, '$[*]' COLUMNS (pydhcp_n FOR ORDINALITY,
 *       p0 LONGTEXT PATH '$[0]', p1 LONGTEXT PATH '$[1]')) AS pydhcp_j
 *     ORDER BY pydhcp_j.pydhcp_n
 *
 * The history journal already holds each row's values as that JSON text,
 * so the serving thread joins lines instead of parsing every line and
 * encoding every value as its own parameter (the values are text or NULL,
 * as a bound string parameter is: JSON null comes back as NULL). Still a
 * bound parameter: no value is ever spliced into the SQL. Rows go in the
 * journal's order (ORDINALITY), as one multi-row INSERT would put them.
 */
import { splitSingleRowInsert } from "../multirow.ts";

const ALIAS = "pydhcp_j";

/**
 * The statement for `sql` (a single-row INSERT ... VALUES with at least
 * one placeholder) and how many placeholders it found, or null when it is
 * anything else or a comment inside its values could hide or fake one.
 * The caller checks the count against the server's (a backslash is not an
 * escape under NO_BACKSLASH_ESCAPES, and this scan would misread such a
 * literal); the history writer has checked each row's count of values.
 */
export function jsonRowsSql(sql: string): { sql: string; params: number } | null {
  const parts = splitSingleRowInsert(sql);
  if (!parts) return null;
  const head = /\bvalues$/i.exec(parts.head);
  if (!head) return null;
  // the tuple without its parentheses, each ? outside quotes replaced by its column
  const inner = parts.tuple.slice(1, -1);
  let out = "";
  let n = 0;
  let quote = "";
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (quote) {
      out += c;
      if (c === "\\" && i + 1 < inner.length) out += inner[++i];
      else if (c === quote) quote = "";
      continue;
    }
    if (c === "'" || c === '"' || c === "`") quote = c;
    // a comment could hide a ? from this scan or show one that is not a placeholder
    if ((c === "-" && inner[i + 1] === "-") || (c === "/" && inner[i + 1] === "*") || c === "#") return null;
    if (c === "?") out += `${ALIAS}.p${n++}`;
    else out += c;
  }
  if (n === 0) return null;
  const columns = ["pydhcp_n FOR ORDINALITY"];
  for (let i = 0; i < n; i++) columns.push(`p${i} LONGTEXT PATH '$[${i}]'`);
  const into = parts.head.slice(0, head.index).trimEnd();
  return { sql: `${into} SELECT ${out.trim()} FROM JSON_TABLE(?, '$[*]' COLUMNS (${columns.join(", ")})) AS ${ALIAS} ORDER BY ${ALIAS}.pydhcp_n`, params: n };
}

/** The one parameter: the rows' JSON arrays (journal text, unparsed) as one JSON array. */
export function jsonRowsParam(values: readonly string[]): string {
  return `[${values.join(",")}]`;
}
