/**
 * Safe rendering of log values. Strings from packets (hostname, vendor class,
 * client id, option 82 text) are attacker-chosen: a raw "\r\n" would forge a
 * log line and "\x1b[2J" would drive the terminal of whoever runs `tail`.
 * Every value goes through here, so every line is one line of printable text.
 *
 * Rules (text format): backslash -> \\, quote -> \", \n \r \t, other C0, DEL
 * and C1 controls -> \xHH; U+FFFD (what a decoder puts for invalid UTF-8),
 * lone surrogates, line/paragraph separators and bidi overrides -> \uHHHH.
 * Values longer than the limit are cut and get a marker naming the length.
 */

/** Anything that needs the slow path; valid surrogate pairs match too and pass there. */
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\\"\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffd\ud800-\udfff]/;

/** Characters JSON.stringify leaves raw but a terminal or a reader should not see raw. */
const JSON_EXTRA = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffd]/g;

/** Text values are quoted when they hold any of these, or are empty. */
const NEEDS_QUOTE = /[\s="\\]/;

const SHORT: Record<number, string> = { 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x5c: "\\\\", 0x22: '\\"' };

const hex2 = (c: number) => "\\x" + c.toString(16).padStart(2, "0");
const hex4 = (c: number) => "\\u" + c.toString(16).padStart(4, "0");

function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

function isFormatHazard(c: number): boolean {
  return (
    c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0xfffd
  );
}

/** Cuts to `max` UTF-16 units without splitting a surrogate pair; appends a marker. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return s.slice(0, end) + `...[truncated, ${s.length} chars]`;
}

/** Escapes a string for the text format (no quoting, no truncation). */
export function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair: an ordinary astral character
        continue;
      }
      rep = hex4(c);
    } else if (c === 0x5c || c === 0x22) {
      rep = SHORT[c];
    } else if (isControl(c)) {
      rep = SHORT[c] ?? hex2(c);
    } else if (isFormatHazard(c)) {
      rep = hex4(c);
    }
    if (rep === undefined) continue;
    out += s.slice(from, i) + rep;
    from = i + 1;
  }
  return out + s.slice(from);
}

/** One text-format value (already cut by plain()): escaped, quoted when it would not parse as one token. */
export function textValue(s: string): string {
  const e = escapeText(s);
  return e.length === 0 || NEEDS_QUOTE.test(e) ? '"' + e + '"' : e;
}

/** A JSON string literal with the same guarantees as the text format. */
export function jsonString(s: string, max: number): string {
  return jsonSafe(JSON.stringify(truncate(s, max)));
}

/** Post-escapes JSON text (JSON.stringify already escapes C0, quote, backslash, lone surrogates). */
export function jsonSafe(json: string): string {
  JSON_EXTRA.lastIndex = 0;
  return JSON_EXTRA.test(json) ? json.replace(JSON_EXTRA, (ch) => hex4(ch.charCodeAt(0))) : json;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function bytesHex(b: Uint8Array, maxBytes: number): string {
  const n = Math.min(b.length, maxBytes);
  let s = "";
  for (let i = 0; i < n; i++) s += HEX[b[i]!];
  return n < b.length ? s + `...[truncated, ${b.length} bytes]` : s;
}

/** Field keys come from code, but keep them one clean token all the same. */
const KEY_OK = /^[A-Za-z0-9_.\-]+$/;
const keyCache = new Map<string, string>();

export function safeKey(k: string): string {
  if (KEY_OK.test(k)) return k;
  let v = keyCache.get(k);
  if (v === undefined) {
    v = k.length === 0 ? "_" : k.slice(0, 64).replace(/[^A-Za-z0-9_.\-]/g, "_");
    if (keyCache.size < 1024) keyCache.set(k, v);
  }
  return v;
}

/** Error-like values keep name, message and a `kind` when they carry one (DbError). */
function errorText(e: Error): string {
  const kind = (e as { kind?: unknown }).kind;
  return (typeof kind === "string" ? `${e.name}(${kind})` : e.name) + ": " + e.message;
}

function replacer(max: number) {
  return (_k: string, v: unknown): unknown => {
    if (typeof v === "string") return truncate(v, max);
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return bytesHex(v, max >> 1);
    if (v instanceof Error) return errorText(v);
    return v;
  };
}

/**
 * Plain text of any value, cut to `max`, before escaping: strings as they are,
 * bytes as hex, errors as "Name(kind): message", objects as JSON.
 * `undefined` => omitted.
 */
export function plain(v: unknown, max: number): string | undefined {
  switch (typeof v) {
    case "string":
      return truncate(v, max);
    case "number":
    case "boolean":
    case "bigint":
      return String(v);
    case "undefined":
      return undefined;
    case "symbol":
      return v.toString();
    case "function":
      return "[function]";
  }
  if (v === null) return "null";
  if (v instanceof Uint8Array) return bytesHex(v, max >> 1);
  if (v instanceof Error) return truncate(errorText(v), max);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
  try {
    return truncate(JSON.stringify(v, replacer(max)) ?? "undefined", max);
  } catch {
    return "[unserializable]";
  }
}

/** One JSON-format value; structured values stay structured unless huge. */
export function jsonValue(v: unknown, max: number): string | undefined {
  switch (typeof v) {
    case "string":
      return jsonString(v, max);
    case "number":
      return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
    case "boolean":
      return String(v);
    case "undefined":
      return undefined;
  }
  if (v === null) return "null";
  if (typeof v === "object" && !(v instanceof Uint8Array) && !(v instanceof Error) && !(v instanceof Date)) {
    let j: string | undefined;
    try {
      j = JSON.stringify(v, replacer(max));
    } catch {
      j = undefined;
    }
    if (j === undefined) return jsonString("[unserializable]", max);
    return j.length <= max * 4 ? jsonSafe(j) : jsonString(j, max);
  }
  return jsonSafe(JSON.stringify(plain(v, max) ?? ""));
}
