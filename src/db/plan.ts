/**
 * Reading a query's plan: does it read every row, which expression keeps the
 * index out, and what would fix it. Pure: EXPLAIN rows and SQL text in,
 * findings out; cli/check-plan.ts runs the EXPLAINs.
 *
 * pydhcpdb's queries compare `upper(mac)=upper('{ClientMacAddress}')`. A
 * function around the column hides it from every index (MySQL 8.0 manual
 * 10.3.1; SQLite only indexes the same expression), so each lookup reads the
 * whole table. pydhcp writes MACs and hex variables in lower case, so a table
 * that stores them lower case answers the same question with `mac = '{...}'`.
 */

import type { Dialect } from "./dialect.ts";
import type { Row } from "./backend.ts";

/** What a plan says about one table the statement reads. */
export interface TableAccess {
  table: string;
  /** true when every row (or every index entry) is read */
  scan: boolean;
  /** index used, when one is */
  index: string | null;
  /** the database's own words, for the report */
  detail: string;
}

/** MySQL/MariaDB `EXPLAIN` rows -> accesses. type ALL = table scan, index = full index scan. */
export function mysqlAccesses(rows: readonly Row[]): TableAccess[] {
  const out: TableAccess[] = [];
  for (const r of rows) {
    const table = text(r, "table");
    if (!table || table.startsWith("<")) continue;
    const type = text(r, "type") ?? "";
    const key = text(r, "key");
    out.push({
      table,
      scan: type === "ALL" || type === "index",
      index: key,
      detail: `type ${type || "?"}${key ? `, key ${key}` : ""}, ~${text(r, "rows") ?? "?"} rows`,
    });
  }
  return out;
}

/** SQLite `EXPLAIN QUERY PLAN` rows -> accesses. "SCAN t" reads every row; "SEARCH t USING ..." does not. */
export function sqliteAccesses(rows: readonly Row[]): TableAccess[] {
  const out: TableAccess[] = [];
  for (const r of rows) {
    const detail = text(r, "detail") ?? "";
    const m = /^(SCAN|SEARCH)\s+(?:TABLE\s+)?("[^"]+"|\S+)(?:.*?USING\s+(?:COVERING\s+)?INDEX\s+(\S+))?/i.exec(detail);
    if (!m) continue;
    out.push({ table: m[2]!.replace(/^"|"$/g, ""), scan: m[1]!.toUpperCase() === "SCAN", index: m[3] ?? null, detail });
  }
  return out;
}

/**
 * PostgreSQL `EXPLAIN (FORMAT JSON)` -> accesses, walking the plan tree: a
 * Seq Scan reads every row; an Index (Only) Scan or a Bitmap Heap Scan over
 * a Bitmap Index Scan does not.
 */
export function postgresqlAccesses(plan: unknown): TableAccess[] {
  const out: TableAccess[] = [];
  const walk = (node: unknown): void => {
    if (!node || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    const type = typeof n["Node Type"] === "string" ? (n["Node Type"] as string) : "";
    const table = typeof n["Relation Name"] === "string" ? (n["Relation Name"] as string) : null;
    const children = Array.isArray(n.Plans) ? (n.Plans as unknown[]) : [];
    if (table) {
      const bitmap = children.find((c) => (c as Record<string, unknown>)?.["Node Type"] === "Bitmap Index Scan") as Record<string, unknown> | undefined;
      const index = typeof n["Index Name"] === "string" ? (n["Index Name"] as string) : typeof bitmap?.["Index Name"] === "string" ? (bitmap["Index Name"] as string) : null;
      const filter = typeof n.Filter === "string" ? `, filter ${n.Filter}` : "";
      out.push({ table, scan: type === "Seq Scan", index, detail: `${type} on ${table}${index ? ` using ${index}` : ""}${filter}` });
    }
    for (const c of children) walk(c);
  };
  for (const top of Array.isArray(plan) ? plan : [plan]) walk((top as Record<string, unknown> | null)?.Plan);
  return out;
}

function text(r: Row, key: string): string | null {
  for (const [k, v] of Object.entries(r)) if (k.toLowerCase() === key) return v === null || v === undefined ? null : String(v);
  return null;
}

/** One `column = value` term of a WHERE clause joined by AND. */
export interface Term {
  /** the term as written */
  text: string;
  column: string;
  /** function around the column, e.g. "upper"; null when bare */
  fn: string | null;
  op: string;
  /** the value side as written, e.g. upper('{ClientMacAddress}') */
  value: string;
}

const CASE_FNS = new Set(["upper", "lower", "ucase", "lcase"]);
const COLUMN = "(`[^`]+`|\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)?)";
const WRAPPED = new RegExp(`^\\(?\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\(\\s*${COLUMN}\\s*\\)\\s*(=|like)\\s*(.+?)\\s*$`, "is");
const BARE = new RegExp(`^\\(?\\s*${COLUMN}\\s*(=|like)\\s*(.+?)\\s*$`, "is");

/**
 * The AND-joined terms of a statement's WHERE clause that compare a column
 * with a value holding a placeholder; null when the clause is not that simple
 * (OR, subqueries): then no rewrite is offered.
 */
export function whereTerms(sql: string): Term[] | null {
  const w = /\bwhere\b([\s\S]*?)(?:\b(?:order\s+by|group\s+by|limit|union|having)\b|;|$)/i.exec(sql);
  if (!w) return null;
  const clause = w[1]!.trim();
  if (/\bor\b|\bselect\b|\bexists\b/i.test(clause)) return null;
  const terms: Term[] = [];
  for (const part of clause.split(/\s+and\s+/i)) {
    const t = part.trim().replace(/^\((.*)\)$/s, "$1").trim();
    let m = WRAPPED.exec(t);
    if (m && m[4]!.includes("{")) {
      terms.push({ text: t, fn: m[1]!.toLowerCase(), column: unquote(m[2]!), op: m[3]!.toLowerCase(), value: m[4]! });
      continue;
    }
    m = BARE.exec(t);
    if (m && m[3]!.includes("{")) {
      terms.push({ text: t, fn: null, column: unquote(m[1]!), op: m[2]!.toLowerCase(), value: m[3]! });
      continue;
    }
    if (t.includes("{")) return null;
  }
  return terms.length ? terms : null;
}

function unquote(c: string): string {
  return c.replace(/^[`"]|[`"]$/g, "");
}

/** `upper('{x}')` -> `'{x}'` for a case function; anything else unchanged. */
function unwrapValue(v: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(.+?)\s*\)$/s.exec(v);
  return m && CASE_FNS.has(m[1]!.toLowerCase()) ? m[2]! : v;
}

/** What to tell the operator about one offer query. */
export interface Advice {
  /** expressions that keep the index out, e.g. ["upper(mac)", "upper(port)"] */
  defeating: string[];
  /** what the index should hold, in WHERE order: columns, or expressions on SQLite */
  indexColumns: string[];
  /** the index statement (expression index on SQLite, column index on MySQL) */
  createIndex: string | null;
  /** columns to store in lower case so the rewritten query matches (lowerCaseSql) */
  lowerCase: string[];
  /** the equivalent query text for the config, or null when it stays as it is */
  query: string | null;
}

export function indexName(table: string, parts: readonly string[]): string {
  return [table, ...parts].join("_").replace(/[^A-Za-z0-9_]+/g, "_").replace(/_+/g, "_").replace(/_$/, "").slice(0, 64);
}

function quoteIdent(d: Dialect, name: string): string {
  return d === "mysql" ? "`" + name.replace(/`/g, "``") + "`" : '"' + name.replace(/"/g, '""') + '"';
}

/**
 * The fix for a scanning query on `table`. On SQLite and PostgreSQL an index
 * on the very expression (upper(mac)) serves the query unchanged. MariaDB has no such
 * index (MySQL 8 has, MariaDB 10 needs a generated column), so the portable
 * fix is to store one case, index the columns and compare them bare.
 */
export function advise(sql: string, table: string, dialect: Dialect): Advice {
  const all = whereTerms(sql);
  const terms = all?.filter((t) => t.op === "=") ?? [];
  const defeating = terms.filter((t) => t.fn).map((t) => `${t.fn}(${t.column})`);
  const cols = terms.map((t) => t.column.split(".").pop()!);
  if (!terms.length) return { defeating, indexColumns: [], createIndex: null, lowerCase: [], query: null };
  const q = (c: string) => quoteIdent(dialect, c);
  // SQLite and PostgreSQL index the very expression: the query can stay as written
  if (dialect !== "mysql") {
    const exprs = terms.map((t) => (t.fn ? `${t.fn}(${q(t.column.split(".").pop()!)})` : q(t.column.split(".").pop()!)));
    const name = indexName(table, terms.map((t) => (t.fn ? `${t.fn}_${t.column}` : t.column)));
    return { defeating, indexColumns: exprs, createIndex: `CREATE INDEX ${q(name)} ON ${q(table)} (${exprs.join(", ")});`, lowerCase: [], query: null };
  }
  let query: string | null = null;
  let lowerCase: string[] = [];
  const folded = terms.filter((t) => t.fn && CASE_FNS.has(t.fn));
  if (folded.length && folded.length === defeating.length) {
    query = sql;
    for (const t of folded) query = query.replace(t.text, `${t.column} = ${unwrapValue(t.value)}`);
    lowerCase = [...new Set(folded.map((t) => t.column.split(".").pop()!))];
  }
  const name = indexName(table, cols);
  return {
    defeating,
    indexColumns: cols,
    createIndex: defeating.length && !query ? null : `CREATE INDEX ${q(name)} ON ${q(table)} (${cols.map(q).join(", ")});`,
    lowerCase,
    query,
  };
}

/**
 * Index statements for several queries on one table, with any whose columns
 * are a leading part of another's dropped: (mac, port) serves `mac = ?` too.
 */
export function mergeIndexes(items: readonly { table: string; columns: readonly string[]; sql: string }[]): string[] {
  const keep = items.filter(
    (a, i) =>
      !items.some(
        (b, j) =>
          j !== i &&
          b.table === a.table &&
          b.columns.length >= a.columns.length &&
          a.columns.every((c, k) => b.columns[k] === c) &&
          (b.columns.length > a.columns.length || j < i),
      ),
  );
  return [...new Set(keep.map((k) => k.sql))];
}

/** The one statement that stores `columns` of `table` in lower case. */
export function lowerCaseSql(dialect: Dialect, table: string, columns: readonly string[]): string {
  const q = (c: string) => quoteIdent(dialect, c);
  return `UPDATE ${q(table)} SET ${columns.map((c) => `${q(c)} = lower(${q(c)})`).join(", ")};`;
}
