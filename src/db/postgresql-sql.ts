/**
 * SQL text for PostgreSQL: the template compiler's `?` placeholders
 * numbered `$1..$n`, and the MySQL spellings in an operator's query that
 * PostgreSQL cannot take and pydhcp does not rewrite (for `--check`).
 */

/**
 * Index after the quoted text, comment or dollar-quoted string starting at
 * i, or -1 when none starts there. PostgreSQL's rules: '' inside '...',
 * backslash escapes only in E'...', nested block comments, $tag$...$tag$.
 */
function skipAt(sql: string, i: number): number {
  const c = sql[i]!;
  const n = sql[i + 1];
  if (c === "'") {
    const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/[A-Za-z0-9_$]/.test(sql[i - 2]!));
    for (let j = i + 1; j < sql.length; j++) {
      if (escapes && sql[j] === "\\") { j++; continue; }
      if (sql[j] === "'") {
        if (sql[j + 1] === "'") { j++; continue; }
        return j + 1;
      }
    }
    return sql.length;
  }
  if (c === '"') {
    const close = sql.indexOf('"', i + 1);
    return close < 0 ? sql.length : close + 1;
  }
  if (c === "-" && n === "-") {
    const nl = sql.indexOf("\n", i);
    return nl < 0 ? sql.length : nl;
  }
  if (c === "/" && n === "*") {
    let depth = 1;
    let j = i + 2;
    while (j < sql.length && depth > 0) {
      if (sql[j] === "/" && sql[j + 1] === "*") { depth++; j += 2; }
      else if (sql[j] === "*" && sql[j + 1] === "/") { depth--; j += 2; }
      else j++;
    }
    return j;
  }
  if (c === "$" && (i === 0 || !/[A-Za-z0-9_]/.test(sql[i - 1]!))) {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
    if (m) {
      const close = sql.indexOf(m[0], i + m[0].length);
      return close < 0 ? sql.length : close + m[0].length;
    }
  }
  return -1;
}

/** `?` placeholders (outside literals and comments) numbered `$1..$n`, in order. */
export function numberPlaceholders(sql: string): string {
  let out = "";
  let k = 0;
  let i = 0;
  while (i < sql.length) {
    const end = skipAt(sql, i);
    if (end >= 0) { out += sql.slice(i, end); i = end; continue; }
    const c = sql[i]!;
    out += c === "?" ? `$${++k}` : c;
    i++;
  }
  return out;
}

/** The text with literals and comments blanked (same length), so patterns see only SQL. */
function codeOnly(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const end = skipAt(sql, i);
    if (end >= 0) {
      // a literal keeps its quotes, so `'x'` stays one token
      const part = sql.slice(i, end);
      out += part[0] === "'" || part[0] === '"' ? part[0] + " ".repeat(Math.max(0, part.length - 2)) + part.at(-1) : " ".repeat(part.length);
      i = end;
      continue;
    }
    out += sql[i];
    i++;
  }
  return out;
}

/** [pattern, what to write instead], tried outside literals and comments. */
const MYSQL_ONLY: readonly [RegExp, string][] = [
  [/\binsert\s+ignore\b/i, "INSERT IGNORE: write INSERT ... ON CONFLICT DO NOTHING"],
  [/\bon\s+duplicate\s+key\s+update\b/i, "ON DUPLICATE KEY UPDATE: write ON CONFLICT (key columns) DO UPDATE SET col = EXCLUDED.col"],
  [/\breplace\s+into\b/i, "REPLACE INTO: write INSERT ... ON CONFLICT (key columns) DO UPDATE SET ..."],
  [/\blimit\s+[0-9?]+\s*,\s*[0-9?]+/i, "LIMIT offset, count: write LIMIT count OFFSET offset"],
  [/\binterval\s+(?!')[^\s,()]+\s+(?:microsecond|second|minute|hour|day|week|month|quarter|year)s?\b/i, "INTERVAL n DAY: write n * interval '1 day'"],
  [/\b(?:date_add|date_sub|adddate|subdate)\s*\(/i, "DATE_ADD/DATE_SUB: write date + n * interval '1 day'"],
  [/(?<![\w.])if\s*\(/i, "IF(cond, a, b): write CASE WHEN cond THEN a ELSE b END"],
  [/\bgroup_concat\s*\(/i, "GROUP_CONCAT(x): write string_agg(x, ',')"],
  [/\bfrom_unixtime\s*\(/i, "FROM_UNIXTIME(n): write to_timestamp(n)"],
  [/\bunix_timestamp\s*\(\s*[^)\s]/i, "UNIX_TIMESTAMP(x): write extract(epoch from x)"],
  [/\bdate_format\s*\(/i, "DATE_FORMAT: write to_char(x, 'YYYY-MM-DD HH24:MI:SS')"],
  [/\bstr_to_date\s*\(/i, "STR_TO_DATE: write to_timestamp(text, format)"],
  [/\binet_aton\s*\(/i, "INET_ATON(a): write (a::inet - '0.0.0.0'::inet)"],
  [/\binet_ntoa\s*\(/i, "INET_NTOA(n): write host('0.0.0.0'::inet + n)"],
  [/\blast_insert_id\s*\(/i, "LAST_INSERT_ID(): write lastval() or INSERT ... RETURNING id"],
  [/#/, "# starts a comment only on MySQL (PostgreSQL reads it as XOR): write --"],
];

/**
 * What in a query (as written in the config) needs a change by hand before
 * PostgreSQL runs it. Empty when nothing does.
 */
export function postgresqlAdvice(sql: string): string[] {
  const code = codeOnly(sql);
  const out: string[] = [];
  for (const [re, advice] of MYSQL_ONLY) if (re.test(code)) out.push(advice);
  // MySQL strings take backslash escapes; PostgreSQL's '...' does not
  for (let i = 0; i < sql.length; ) {
    const end = skipAt(sql, i);
    if (end < 0) { i++; continue; }
    const part = sql.slice(i, end);
    if (part[0] === "'" && part.includes("\\") && !(i > 0 && /[eE]/.test(sql[i - 1]!))) {
      out.push(`a backslash in ${part.slice(0, 24)}${part.length > 24 ? "..." : ""} is a plain character on PostgreSQL: write '' for a quote, or E'...' for escapes`);
      break;
    }
    if (part[0] === '"' && !/^"[A-Za-z_][A-Za-z0-9_$]*"$/.test(part)) {
      out.push(`${part.slice(0, 24)} is a name on PostgreSQL, not text: write '...' for text`);
      break;
    }
    i = end;
  }
  return out;
}
