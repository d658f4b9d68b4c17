/**
 * SQL templates: pydhcpdb's `{name}` placeholders compiled once at load into
 * SQL with `?` and a binder that runs per packet. Nothing from a packet is ever
 * spliced into SQL text.
 *
 * pydhcpdb substituted text, so its configs quote placeholders:
 * `upper('{ClientMacAddress}')`, `like '%{sw_mac}%'`. A quoted literal that
 * holds placeholders becomes ONE `?` whose value is the literal's text with
 * the variables substituted; a bare `{x}` becomes `?` bound to x. A variable
 * the packet lacks binds NULL, so a comparison with it matches nothing.
 */

import type { Param } from "./backend.ts";
import type { Vars } from "../variables/types.ts";
import { dialectFunction, type Dialect } from "./dialect.ts";
import { eventTimeAt, formatEventTime, isHistoryStatement, isSqliteNowArgument, type TimeSlot } from "./event-time.ts";

export type { Dialect } from "./dialect.ts";

/** One bound parameter: a variable, a literal assembled from text and variables, or the event time. */
type Slot = { name: string } | { parts: (string | { name: string })[] } | TimeSlot;

export interface CompiledTemplate {
  readonly kind: "template";
  /** config name, e.g. "offer_1" */
  readonly name: string;
  /** SQL for the database, placeholders as `?` */
  readonly sql: string;
  /** variable names used, in order of first use, each once */
  readonly names: readonly string[];
  /** true when time functions were turned into event-time parameters (history statements) */
  readonly eventTime: boolean;
  /**
   * Values for the `?`s, in order; absent variables bind NULL. `at` is the
   * event time (epoch ms) for the time-function parameters, default now.
   */
  bind(vars: Vars, at?: number): Param[];
}

export interface TemplateError {
  readonly kind: "template-error";
  readonly query: string;
  /** character offset in the SQL text as written */
  readonly offset: number;
  readonly message: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IDENT_CHAR = /[A-Za-z0-9_$]/;

/** Reads `{name}` at i; returns the name and the index after `}`, or null. */
function placeholderAt(text: string, i: number): { name: string; end: number } | null {
  if (text.charCodeAt(i) !== 123 /* { */) return null;
  const close = text.indexOf("}", i + 1);
  if (close < 0 || close - i > 129) return null;
  const name = text.slice(i + 1, close);
  return NAME.test(name) ? { name, end: close + 1 } : null;
}

/** MySQL backslash escapes inside string literals (MySQL 8.0 manual 11.1.1). */
const MYSQL_ESCAPES: Record<string, string> = {
  "0": "\0", "'": "'", '"': '"', b: "\b", n: "\n", r: "\r", t: "\t", Z: "\x1a", "\\": "\\",
  // `\%` and `\_` keep the backslash (they are LIKE escapes)
  "%": "\\%", _: "\\_",
};

interface Literal {
  /** index after the closing quote */
  end: number;
  parts: (string | { name: string })[];
  hasPlaceholder: boolean;
}

/** Scans a quoted literal starting at the quote; null when unterminated. */
function scanLiteral(text: string, start: number, dialect: Dialect): Literal | null {
  const quote = text[start]!;
  const parts: (string | { name: string })[] = [];
  let buf = "";
  let hasPlaceholder = false;
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === quote) {
      if (text[i + 1] === quote) { buf += quote; i += 2; continue; }
      if (buf) parts.push(buf);
      return { end: i + 1, parts, hasPlaceholder };
    }
    if (c === "\\" && dialect === "mysql" && i + 1 < text.length) {
      const next = text[i + 1]!;
      buf += MYSQL_ESCAPES[next] ?? next;
      i += 2;
      continue;
    }
    const ph = placeholderAt(text, i);
    if (ph) {
      if (buf) parts.push(buf);
      buf = "";
      parts.push({ name: ph.name });
      hasPlaceholder = true;
      i = ph.end;
      continue;
    }
    buf += c;
    i++;
  }
  return null;
}

/** Index after a comment starting at i, or -1 when no comment starts there. */
function commentEnd(text: string, i: number, dialect: Dialect): number {
  const c = text[i];
  const n = text[i + 1];
  // MySQL needs whitespace after `--`; SQLite and PostgreSQL do not.
  const dashDash = c === "-" && n === "-" && (dialect !== "mysql" || !text[i + 2] || /\s/.test(text[i + 2]!));
  if (dashDash || (c === "#" && dialect === "mysql")) {
    const nl = text.indexOf("\n", i);
    return nl < 0 ? text.length : nl;
  }
  if (c === "/" && n === "*") {
    const close = text.indexOf("*/", i + 2);
    return close < 0 ? text.length : close + 2;
  }
  return -1;
}

/**
 * Compiles one statement. Errors: unterminated literal, placeholder inside an
 * identifier or a prefixed literal (X'..', _utf8'..'), a literal `?` (it would
 * shift every bound value).
 */
export function compileTemplate(
  name: string,
  sqlText: string,
  dialect: Dialect,
  opts: { eventTime?: boolean } = {},
): CompiledTemplate | TemplateError {
  const eventTime = opts.eventTime ?? isHistoryStatement(name);
  const fail = (offset: number, message: string): TemplateError => ({ kind: "template-error", query: name, offset, message });
  let out = "";
  const slots: Slot[] = [];
  const names: string[] = [];
  const use = (n: string) => { if (!names.includes(n)) names.push(n); };
  let i = 0;
  const text = sqlText;
  while (i < text.length) {
    const c = text[i]!;
    const ce = commentEnd(text, i, dialect);
    if (ce >= 0) { out += text.slice(i, ce); i = ce; continue; }
    // PostgreSQL reads "..." as a name (below), MySQL and SQLite as text
    if (c === "'" || (c === '"' && dialect !== "postgresql")) {
      const lit = scanLiteral(text, i, dialect);
      if (!lit) return fail(i, `unterminated ${c === "'" ? "string literal" : "quoted text"}`);
      if (!lit.hasPlaceholder) {
        const now = eventTime && dialect === "sqlite" && lit.parts.length === 1 && String(lit.parts[0]).toLowerCase() === "now";
        if (now && isSqliteNowArgument(out)) { slots.push({ time: "sqlite-now", frac: 3 }); out += "?"; i = lit.end; continue; }
        out += text.slice(i, lit.end); i = lit.end; continue;
      }
      if (i > 0 && IDENT_CHAR.test(text[i - 1]!)) return fail(i, "a placeholder inside a prefixed literal (X'..', _charset'..') cannot be bound");
      for (const p of lit.parts) if (typeof p !== "string") use(p.name);
      slots.push({ parts: lit.parts });
      out += "?";
      i = lit.end;
      continue;
    }
    if (c === "`" || (c === "[" && dialect === "sqlite") || (c === '"' && dialect === "postgresql")) {
      const closeCh = c === "[" ? "]" : c;
      const close = text.indexOf(closeCh, i + 1);
      if (close < 0) return fail(i, "unterminated quoted identifier");
      const ident = text.slice(i, close + 1);
      if (/\{[A-Za-z_][A-Za-z0-9_]*\}/.test(ident)) {
        return fail(i, c === '"' && dialect === "postgresql"
          ? `a placeholder inside "..." cannot be bound: PostgreSQL reads "..." as a name; write '...' for text`
          : "a placeholder inside an identifier cannot be bound");
      }
      // PostgreSQL has no backtick quoting: the same name in double quotes
      out += c === "`" && dialect === "postgresql" ? `"${ident.slice(1, -1)}"` : ident;
      i = close + 1;
      continue;
    }
    if (c === "?") return fail(i, "a literal ? in the query would take a bound value; write {name} instead");
    const ph = placeholderAt(text, i);
    if (ph) {
      use(ph.name);
      slots.push({ name: ph.name });
      out += "?";
      i = ph.end;
      continue;
    }
    if (/[A-Za-z_]/.test(c) && (i === 0 || !/[A-Za-z0-9_$.]/.test(text[i - 1]!))) {
      let j = i + 1;
      while (j < text.length && IDENT_CHAR.test(text[j]!)) j++;
      const et = eventTime ? eventTimeAt(dialect, text, i, j) : null;
      if (et) { slots.push({ time: et.time, frac: et.frac }); out += "?"; i = et.end; continue; }
      const fn = dialectFunction(dialect, text, i, j);
      if (fn) { out += fn.sql; i = fn.end; continue; }
      out += text.slice(i, j);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return { kind: "template", name, sql: out, names, eventTime, bind: makeBinder(slots) };
}

/** Builds the per-packet binder: one array allocation, no regexes. */
function makeBinder(slots: readonly Slot[]): (vars: Vars, at?: number) => Param[] {
  const n = slots.length;
  return (vars: Vars, at?: number): Param[] => {
    const params: Param[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const slot = slots[k]!;
      if ("name" in slot) { params[k] = vars.get(slot.name) ?? null; continue; }
      if ("time" in slot) { params[k] = formatEventTime(slot, at ?? Date.now()); continue; }
      let s: string | null = "";
      for (const p of slot.parts) {
        if (typeof p === "string") { s += p; continue; }
        const v = vars.get(p.name);
        if (v === undefined) { s = null; break; }
        s += v;
      }
      params[k] = s;
    }
    return params;
  };
}

export function isTemplateError(t: CompiledTemplate | TemplateError): t is TemplateError {
  return t.kind === "template-error";
}
