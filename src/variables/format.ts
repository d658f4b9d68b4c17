/**
 * Vars -> text for --dump and logs: sorted by name (code unit order, the
 * order Python's pprint gave pydhcpdb's dump), one `name = value` line each.
 * Values come from the network, so nothing that a terminal interprets is
 * ever printed raw: C0/C1 controls, DEL, line/paragraph separators, bidi
 * overrides and lone surrogates are escaped.
 */
import type { Vars } from "./types.ts";

/** Characters a terminal or editor would act on rather than show. */
function isUnsafe(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0x200e ||
    c === 0x200f ||
    c === 0x061c ||
    c === 0xfeff
  );
}

const SHORT: Record<number, string> = { 0x09: "\\t", 0x0a: "\\n", 0x0d: "\\r", 0x22: '\\"', 0x5c: "\\\\" };

/** Escapes one character code for a double-quoted rendering. */
function escapeUnit(c: number): string {
  const s = SHORT[c];
  if (s) return s;
  if (c <= 0xff) return "\\x" + c.toString(16).padStart(2, "0");
  return "\\u" + c.toString(16).padStart(4, "0");
}

/** True when `s` can be printed bare: non-empty, no unsafe character, no edge space, no leading quote, no backslash. */
function isBareSafe(s: string): boolean {
  if (s.length === 0) return false;
  if (s.charCodeAt(0) === 0x22 || s.charCodeAt(0) === 0x20 || s.charCodeAt(s.length - 1) === 0x20) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c || isUnsafe(c)) return false;
    if (c >= 0xd800 && c <= 0xdfff) {
      const pair =
        c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
      if (!pair) return false;
      i++;
    }
  }
  return true;
}

/** `s` in double quotes with every unsafe character, quote and backslash escaped. */
export function quoteValue(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        out += escapeUnit(c);
      }
    } else if (isUnsafe(c) || SHORT[c]) {
      out += escapeUnit(c);
    } else {
      out += s[i];
    }
  }
  return out + '"';
}

/**
 * A value as --dump prints it: bare when that is unambiguous and safe,
 * otherwise double-quoted with escapes (so `""` is the empty string and a
 * bare value never starts with a quote).
 */
export function displayValue(s: string): string {
  return isBareSafe(s) ? s : quoteValue(s);
}

/** Names in a stable order: UTF-16 code unit order, as pprint sorted them. */
export function sortedNames(vars: Vars): string[] {
  return [...vars.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `name = value` lines, names padded to one column, sorted, each line ending in \n. */
export function formatVars(vars: Vars, indent = ""): string {
  return formatPairs(sortedNames(vars).map((n) => [n, vars.get(n)!] as const), indent);
}

/** `name = value` lines in the given order, names padded to one column. */
export function formatPairs(pairs: readonly (readonly [string, string])[], indent = ""): string {
  const names = pairs.map(([n]) => displayValue(n));
  let width = 0;
  for (const n of names) width = Math.max(width, n.length);
  let out = "";
  for (let i = 0; i < pairs.length; i++) {
    out += indent + names[i]!.padEnd(width) + " = " + displayValue(pairs[i]![1]) + "\n";
  }
  return out;
}

/**
 * The same map as a JSON object with sorted keys. JSON.stringify already
 * escapes C0 controls, quotes and backslashes; the other unsafe characters
 * are escaped here too so the output is terminal-safe.
 */
export function formatVarsJson(vars: Vars, space = 2): string {
  const obj: Record<string, string> = {};
  for (const n of sortedNames(vars)) obj[n] = vars.get(n)!;
  return escapeJsonUnsafe(JSON.stringify(obj, null, space));
}

/** Escapes DEL, C1, separators and bidi controls that JSON.stringify leaves raw. */
export function escapeJsonUnsafe(json: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c >= 0x20 && isUnsafe(c)) {
      out += json.slice(from, i) + "\\u" + c.toString(16).padStart(4, "0");
      from = i + 1;
    }
  }
  return from === 0 ? json : out + json.slice(from);
}
