/**
 * Time functions in history statements mean the time of the event, not of
 * the write: a row written a minute later from the journal must carry the
 * exchange's time. The template compiler turns each such call into a bound
 * parameter (`?`) whose value is the event time in the function's format.
 *
 * MySQL meaning: NOW(), SYSDATE(), CURRENT_TIMESTAMP, LOCALTIME[STAMP] are
 * the server's local date and time; UTC_* are UTC; UNIX_TIMESTAMP() is
 * seconds. SQLite meaning: bare CURRENT_TIMESTAMP/DATE/TIME are UTC, and
 * 'now' given to a date function (datetime('now'), strftime('%s','now'))
 * is replaced by the event time in UTC, which SQLite reads the same way.
 */
import type { Dialect } from "./dialect.ts";

export type TimeFormat = "datetime" | "date" | "time" | "utc-datetime" | "utc-date" | "utc-time" | "unix" | "sqlite-now";

export interface TimeSlot {
  time: TimeFormat;
  /** fractional digits, 0..6 (NOW(3)) */
  frac: number;
}

/** name -> format with `()` (or `(N)` where `frac` is true) */
const CALLS: Readonly<Record<string, { f: TimeFormat; frac: boolean }>> = {
  now: { f: "datetime", frac: true },
  sysdate: { f: "datetime", frac: true },
  current_timestamp: { f: "datetime", frac: true },
  localtime: { f: "datetime", frac: true },
  localtimestamp: { f: "datetime", frac: true },
  curdate: { f: "date", frac: false },
  current_date: { f: "date", frac: false },
  curtime: { f: "time", frac: true },
  current_time: { f: "time", frac: true },
  utc_timestamp: { f: "utc-datetime", frac: true },
  utc_date: { f: "utc-date", frac: false },
  utc_time: { f: "utc-time", frac: true },
  unix_timestamp: { f: "unix", frac: false },
};

/** keywords that are a time value without parentheses, per dialect */
const BARE: Readonly<Record<Dialect, Readonly<Record<string, TimeFormat>>>> = {
  mysql: {
    current_timestamp: "datetime",
    current_date: "date",
    current_time: "time",
    localtime: "datetime",
    localtimestamp: "datetime",
    utc_timestamp: "utc-datetime",
    utc_date: "utc-date",
    utc_time: "utc-time",
  },
  // SQLite's own keywords are UTC (SQLite manual, "CURRENT_TIMESTAMP")
  sqlite: { current_timestamp: "utc-datetime", current_date: "utc-date", current_time: "utc-time" },
  // PostgreSQL's are the session's time zone, the server's local time by default; LOCALTIME is a time of day
  postgresql: {
    current_timestamp: "datetime",
    current_date: "date",
    current_time: "time",
    localtime: "time",
    localtimestamp: "datetime",
  },
};

/**
 * When the word text[start, wordEnd) is a time function of the event, returns
 * its slot and the index after it (after `)` for a call).
 */
export function eventTimeAt(dialect: Dialect, text: string, start: number, wordEnd: number): (TimeSlot & { end: number }) | null {
  const word = text.slice(start, wordEnd).toLowerCase();
  const call = CALLS[word];
  if (call) {
    const m = /^\s*\(\s*([0-6]?)\s*\)/.exec(text.slice(wordEnd, wordEnd + 40));
    if (m && (m[1] === "" || call.frac)) return { time: call.f, frac: m[1] ? Number(m[1]) : 0, end: wordEnd + m[0].length };
  }
  const bare = BARE[dialect][word];
  // a bare keyword followed by `(` with arguments is something else: leave it
  if (bare && !/^\s*\(/.test(text.slice(wordEnd, wordEnd + 8))) return { time: bare, frac: 0, end: wordEnd };
  return null;
}

/** True when a literal 'now' at the end of `compiled` is an argument of an SQLite date function. */
export function isSqliteNowArgument(compiled: string): boolean {
  return /\b(date|time|datetime|julianday|strftime|unixepoch|timediff)\s*\((?:[^()]*,)?\s*$/i.test(compiled);
}

const p2 = (n: number) => (n < 10 ? "0" + n : String(n));

function parts(d: Date, utc: boolean) {
  return utc
    ? { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() }
    : { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() };
}

function fraction(ms: number, digits: number): string {
  if (digits === 0) return "";
  // an integer time (Date.now(), what events carry) takes its digits from a table
  if (Number.isInteger(ms)) return fractions(digits)[((ms % 1000) + 1000) % 1000]!;
  // milliseconds are all the event time holds; finer digits are zeros
  return "." + String(((ms % 1000) + 1000) % 1000).padStart(3, "0").padEnd(6, "0").slice(0, digits);
}

/** ".117", ".1170", ... by millisecond, per digit count, built on first use. */
const FRACTIONS: (readonly string[] | undefined)[] = [];
function fractions(digits: number): readonly string[] {
  return (FRACTIONS[digits] ??= Array.from({ length: 1000 }, (_, m) => "." + String(m).padStart(3, "0").padEnd(6, "0").slice(0, digits)));
}

/**
 * A format's text up to whole seconds for the second holding `ms`, kept
 * while that second lasts: events come thousands a second, and a Date and
 * its fields per event were most of what recording one allocated. The local
 * fields of a second do not change within it (offsets are whole seconds),
 * so the cached text is the text. Only integer times are kept: Date cuts a
 * fraction toward zero, so -0.5 ms falls in second 0, not -1.
 */
const lastSecond: Partial<Record<TimeFormat, { sec: number; text: string }>> = {};
function upToSeconds(format: Exclude<TimeFormat, "unix">, ms: number): string {
  const sec = Math.floor(ms / 1000);
  const c = lastSecond[format];
  if (c !== undefined && c.sec === sec) return c.text;
  const text = secondsText(format, new Date(ms));
  if (Number.isInteger(ms)) lastSecond[format] = { sec, text };
  return text;
}

function secondsText(format: Exclude<TimeFormat, "unix">, d: Date): string {
  if (format === "sqlite-now") {
    const u = parts(d, true);
    return `${u.y}-${p2(u.mo)}-${p2(u.d)} ${p2(u.h)}:${p2(u.mi)}:${p2(u.s)}`;
  }
  const t = parts(d, format.startsWith("utc-"));
  const date = `${t.y}-${p2(t.mo)}-${p2(t.d)}`;
  const time = `${p2(t.h)}:${p2(t.mi)}:${p2(t.s)}`;
  if (format === "date" || format === "utc-date") return date;
  if (format === "time" || format === "utc-time") return time;
  return `${date} ${time}`;
}

/** The event time `ms` (epoch milliseconds) in a slot's format. */
export function formatEventTime(slot: TimeSlot, ms: number): string {
  const f = slot.time;
  if (f === "unix") return String(Math.floor(ms / 1000));
  const head = upToSeconds(f, ms);
  if (f === "date" || f === "utc-date") return head;
  return head + fraction(ms, f === "sqlite-now" ? 3 : slot.frac);
}

/** isoWithOffset's second: its text up to the seconds, and the offset after the milliseconds. */
let isoSec = NaN;
let isoHead = "";
let isoTail = "";

/** ISO 8601 with the server's offset and milliseconds: 2026-12-01T21:29:04.117+01:00 */
export function isoWithOffset(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSec || !Number.isInteger(ms)) {
    const d = new Date(ms);
    const off = -d.getTimezoneOffset();
    const a = Math.abs(off);
    const t = parts(d, false);
    isoHead = `${t.y}-${p2(t.mo)}-${p2(t.d)}T${p2(t.h)}:${p2(t.mi)}:${p2(t.s)}`;
    isoTail = `${off < 0 ? "-" : "+"}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
    isoSec = Number.isInteger(ms) ? sec : NaN;
  }
  return isoHead + fraction(ms, 3) + isoTail;
}

/** History statements are the ones whose time functions mean the event time. */
export function isHistoryStatement(name: string): boolean {
  return name === "history_sql" || name.startsWith("history_");
}
