/**
 * The service logger: one line per event, text (logfmt-like, for people and
 * journald) or JSON lines (for collectors). warn/error go to stderr, debug/info
 * to stdout. A disabled level is a shared no-op function, so a debug call in
 * the packet path costs one call and no formatting.
 *
 *   2026-11-25T10:00:00.123Z INFO reply sent type=OFFER mac=14d64da7c955 hostname="my host"
 *   {"ts":"2026-11-25T10:00:00.123Z","level":"info","msg":"reply sent","type":"OFFER",...}
 *
 * Every message, key and value is escaped by log/escape.ts (no raw control
 * character, newline or invalid text ever reaches the output).
 */
import type { Logger } from "./types.ts";
import { fdSink, type Sink } from "./sink.ts";
import { escapeText, jsonString, jsonValue, plain, safeKey, textValue, truncate } from "./escape.ts";

export type Level = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

export const LEVELS: readonly Level[] = ["debug", "info", "warn", "error"];
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const TEXT_NAME: Record<Level, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

export interface LoggerOptions {
  level: Level;
  format: LogFormat;
  /** debug/info lines; default: buffered stdout */
  out?: Sink;
  /** warn/error lines; default: buffered stderr */
  err?: Sink;
  /** longest value kept, in characters (default 256); longer ones are cut with a marker */
  maxValueLength?: number;
  /** clock in epoch ms (tests) */
  now?: () => number;
}

export interface ServiceLogger extends Logger {
  readonly level: Level;
  readonly format: LogFormat;
  /** true when lines of this level are written (skip building costly fields otherwise) */
  enabled(level: Level): boolean;
  /** a logger that adds these fields to every line (rendered once, here) */
  child(fields: Record<string, unknown>): ServiceLogger;
  /** writes out buffered lines now */
  flush(): void;
  /**
   * A line with fixed keys, for lines written per packet: values come in key
   * order (undefined ones left out), keys are rendered once here, and no
   * fields object is built per call. Escaped exactly as other lines. A key
   * in `numeric` takes its number already as text ("0.42"), written as a
   * JSON number; text that is not a plain decimal is written as a string.
   */
  lineOf(level: Level, keys: readonly string[], numeric?: ReadonlySet<string>): Line;
}

export type Line = (msg: string, values: readonly unknown[]) => void;
const noLine: Line = () => {};
const DECIMAL = /^-?[0-9]{1,15}(\.[0-9]{1,15})?$/;

type Emit = (msg: string, fields?: Record<string, unknown>) => void;
const noop: Emit = () => {};

/**
 * Renders ISO timestamps, reusing the string while the millisecond is the
 * same and the date and time up to the second while the second is: at a few
 * thousand lines a second nearly every line has a new millisecond.
 */
function isoClock(now: () => number): () => string {
  let lastMs = -1;
  let last = "";
  let lastSec = NaN;
  let prefix = "";
  return () => {
    const ms = now();
    if (ms === lastMs) return last;
    lastMs = ms;
    const sec = Math.floor(ms / 1000);
    // outside years 0..9999 toISOString has another shape: no shortcut there
    if (!(sec >= 0 && sec < 253402300800)) return (last = new Date(ms).toISOString());
    if (sec !== lastSec) {
      lastSec = sec;
      prefix = new Date(sec * 1000).toISOString().slice(0, 20);
    }
    const m = Math.floor(ms - sec * 1000);
    last = prefix + (m < 10 ? "00" : m < 100 ? "0" : "") + m + "Z";
    return last;
  };
}

interface Shared {
  opts: Required<Pick<LoggerOptions, "level" | "format">> & { max: number };
  out: Sink;
  err: Sink;
  ts: () => string;
}

/** Field text for one call: " k=v k2=v2" (text) or ',"k":v' (json). */
function renderFields(format: LogFormat, fields: Record<string, unknown>, max: number): string {
  let s = "";
  for (const k in fields) {
    if (format === "text") {
      const p = plain(fields[k], max);
      if (p !== undefined) s += " " + safeKey(k) + "=" + textValue(p);
    } else {
      const j = jsonValue(fields[k], max);
      if (j !== undefined) s += "," + jsonString(RESERVED.has(k) ? "_" + k : k, max) + ":" + j;
    }
  }
  return s;
}

/** JSON keys the line itself uses; a field with one of these names is written as "_name". */
const RESERVED = new Set(["ts", "level", "msg"]);

function build(shared: Shared, bound: string): ServiceLogger {
  const { opts, out, err, ts } = shared;
  const { format, max } = opts;
  const emitter = (level: Level): Emit => {
    if (RANK[level] < RANK[opts.level]) return noop;
    const sink = RANK[level] >= RANK.warn ? err : out;
    if (format === "text") {
      const name = " " + TEXT_NAME[level] + " ";
      return (msg, fields) => {
        const f = fields === undefined ? "" : renderFields("text", fields, max);
        sink.write(ts() + name + escapeText(truncate(msg, max * 4)) + bound + f + "\n");
      };
    }
    const head = '","level":"' + level + '","msg":';
    return (msg, fields) => {
      const f = fields === undefined ? "" : renderFields("json", fields, max);
      sink.write('{"ts":"' + ts() + head + jsonString(msg, max * 4) + bound + f + "}\n");
    };
  };
  return {
    level: opts.level,
    format,
    debug: emitter("debug"),
    info: emitter("info"),
    warn: emitter("warn"),
    error: emitter("error"),
    enabled: (level) => RANK[level] >= RANK[opts.level],
    child: (fields) => build(shared, bound + renderFields(format, fields, max)),
    lineOf: (level, keys, numeric) => {
      if (RANK[level] < RANK[opts.level]) return noLine;
      const isNum = keys.map((k) => numeric?.has(k) ?? false);
      const sink = RANK[level] >= RANK.warn ? err : out;
      if (format === "text") {
        const name = " " + TEXT_NAME[level] + " ";
        const pre = keys.map((k) => " " + safeKey(k) + "=");
        return (msg, values) => {
          let s = ts() + name + escapeText(truncate(msg, max * 4)) + bound;
          for (let i = 0; i < pre.length; i++) {
            const v = values[i];
            if (v === undefined) continue;
            const p = typeof v === "number" ? String(v) : plain(v, max);
            // one rope node per field, where `s += a + b` makes two
            if (p !== undefined) s = `${s}${pre[i]}${textValue(p)}`;
          }
          sink.write(s + "\n");
        };
      }
      const head = '","level":"' + level + '","msg":';
      const pre = keys.map((k) => "," + jsonString(RESERVED.has(k) ? "_" + k : k, max) + ":");
      return (msg, values) => {
        let s = '{"ts":"' + ts() + head + jsonString(msg, max * 4) + bound;
        for (let i = 0; i < pre.length; i++) {
          const v = values[i];
          if (v === undefined) continue;
          const j = isNum[i] && typeof v === "string" && DECIMAL.test(v) ? v : jsonValue(v, max);
          if (j !== undefined) s = `${s}${pre[i]}${j}`;
        }
        sink.write(s + "}\n");
      };
    },
    flush: () => {
      out.flush();
      if (err !== out) err.flush();
    },
  };
}

export function createLogger(options: LoggerOptions): ServiceLogger {
  const shared: Shared = {
    opts: { level: options.level, format: options.format, max: Math.max(16, options.maxValueLength ?? 256) },
    out: options.out ?? fdSink(1),
    err: options.err ?? fdSink(2),
    ts: isoClock(options.now ?? Date.now),
  };
  return build(shared, "");
}

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}
