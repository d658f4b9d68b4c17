/**
 * pydhcpdb's <options> modifiers: `<option>source:name:start:end</option>`
 * defines `name` as the Python slice `source[start:end]` of the text of
 * variable `source`. Offsets count characters (code points, as Python 3
 * does), the end is excluded, negative offsets count from the end, and out
 * of range offsets clamp. An empty bound is omitted (`s[:4]`).
 */
import type { Vars } from "./types.ts";

/** An <options> slice: `name = source[start:end]` (Python slice semantics). */
export interface Slice {
  source: string;
  name: string;
  /** null = omitted (Python `s[:end]`) */
  start: number | null;
  end: number | null;
}

/** A variable name: what `{name}` in a query can refer to. */
function isName(s: string): boolean {
  if (s.length === 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    const digit = c >= 48 && c <= 57;
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

/** A Python int literal as pydhcpdb's int() accepted it: optional sign, decimal digits. */
function parseBound(s: string): number | null | { error: string } {
  const t = s.trim();
  if (t === "") return null;
  if (!/^[+-]?[0-9]{1,9}$/.test(t)) return { error: `bound "${s}" is not an integer` };
  return Number(t);
}

/** Parses `source:name:start:end` (start and end may be empty). */
export function parseSlice(text: string): Slice | { error: string } {
  const parts = text.trim().split(":");
  if (parts.length !== 4) {
    return { error: `"${text}" is not source:name:start:end (found ${parts.length} fields)` };
  }
  const [source, name, start, end] = parts.map((p) => p.trim()) as [string, string, string, string];
  if (!isName(source)) return { error: `source "${source}" is not a variable name` };
  if (!isName(name)) return { error: `name "${name}" is not a variable name` };
  const s = parseBound(start);
  if (s !== null && typeof s === "object") return { error: `start ${s.error}` };
  const e = parseBound(end);
  if (e !== null && typeof e === "object") return { error: `end ${e.error}` };
  return { source, name, start: s, end: e };
}

/** Python's slice.indices() for step 1: resolves one bound against length n. */
function resolve(bound: number | null, n: number, omitted: number): number {
  if (bound === null) return omitted;
  if (bound < 0) return Math.max(0, bound + n);
  return Math.min(bound, n);
}

/** True when the string holds a surrogate, i.e. a code point above U+FFFF. */
function hasSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/** `text[start:end]` with Python semantics. */
export function pythonSlice(text: string, start: number | null, end: number | null): string {
  if (!hasSurrogate(text)) {
    const a = resolve(start, text.length, 0);
    const b = resolve(end, text.length, text.length);
    return b > a ? text.slice(a, b) : "";
  }
  const cps = Array.from(text);
  const a = resolve(start, cps.length, 0);
  const b = resolve(end, cps.length, cps.length);
  return b > a ? cps.slice(a, b).join("") : "";
}

/**
 * Applies the slices in order, so a slice may read a name an earlier slice
 * defined. A slice whose source the packet lacks defines nothing.
 */
export function applySlices(vars: Vars, slices: readonly Slice[]): void {
  for (const s of slices) {
    const text = vars.get(s.source);
    if (text === undefined) continue;
    vars.set(s.name, pythonSlice(text, s.start, s.end));
  }
}
