/**
 * The per-exchange log line, written once per request at the default level:
 *
 *   2026-12-01T22:30:00.123Z INFO DISCOVER -> OFFER 198.18.128.1 mac=0c0100000001 xid=00001234 relay=198.18.0.1 circuit_id=000400010006 remote_id=0006001e589eb2ad query=offer_1 to=198.18.0.1:67 ms=0.42
 *
 * Fixed keys through the logger's lineOf(): no fields object, no spreads,
 * keys rendered once (bench/exchange-log.ts measures it against the generic
 * path: about 2.5x cheaper).
 */
import { toHex } from "../codec/hex.ts";
import type { DhcpMessage } from "../codec/message.ts";
import type { Level, Line, ServiceLogger } from "../log/logger.ts";
import { macHex } from "../core/lease.ts";

const KEYS = ["mac", "client_id", "xid", "relay", "circuit_id", "remote_id", "query", "to", "note", "ms"] as const;
const NUMERIC: ReadonlySet<string> = new Set(["ms", "suppressed"]);
const SUB_CIRCUIT_ID = 1;
const SUB_REMOTE_ID = 2;
const OPT_CLIENT_ID = 61;

/**
 * ClientMacAddress when option 61 makes it differ from chaddr (an RFC 4361
 * identifier, as dhcpcd sends by default): the queries looked that up, not
 * the `mac` the line shows, which is what a help desk searches by.
 */
export function clientIdHex(msg: DhcpMessage): string | undefined {
  const id = msg.options.get(OPT_CLIENT_ID);
  if (!id || id.length < 2) return undefined;
  const n = Math.min(msg.hlen || 6, 16);
  if (id.length - 1 === n) {
    let same = true;
    for (let i = 0; i < n; i++) if (id[i + 1] !== msg.chaddr[i]) same = false;
    if (same) return undefined;
  }
  return toHex(id, 1);
}

export type ExchangeLevel = Extract<Level, "debug" | "info" | "warn" | "error">;

export class ExchangeLog {
  private readonly lines: Record<ExchangeLevel, Line>;
  private readonly on: Record<ExchangeLevel, boolean>;

  constructor(log: ServiceLogger) {
    this.lines = {
      debug: log.lineOf("debug", KEYS, NUMERIC),
      info: log.lineOf("info", KEYS, NUMERIC),
      warn: log.lineOf("warn", KEYS, NUMERIC),
      error: log.lineOf("error", KEYS, NUMERIC),
    };
    this.on = { debug: log.enabled("debug"), info: log.enabled("info"), warn: log.enabled("warn"), error: log.enabled("error") };
  }

  enabled(level: ExchangeLevel): boolean {
    return this.on[level];
  }

  /** One line for a request; `to` only for a reply, `ms` since it arrived. */
  write(
    level: ExchangeLevel,
    text: string,
    msg: DhcpMessage,
    subs: ReadonlyMap<number, Uint8Array>,
    query: string | null | undefined,
    to: string | undefined,
    note: string | undefined,
    ms: number | undefined,
  ): void {
    if (!this.on[level]) return;
    const circuit = subs.get(SUB_CIRCUIT_ID);
    const remote = subs.get(SUB_REMOTE_ID);
    this.lines[level](text, [
      macHex(msg),
      clientIdHex(msg),
      xidHex(msg.xid),
      msg.giaddr !== "0.0.0.0" ? msg.giaddr : undefined,
      circuit ? toHex(circuit) : undefined,
      remote ? toHex(remote) : undefined,
      query || undefined,
      to,
      note,
      ms === undefined ? undefined : msText(ms),
    ]);
  }
}

/**
 * Milliseconds with at most two decimals, as String(+ms.toFixed(2)) writes
 * them ("0.42", "1.5", "3"), from integers: a double's shortest decimal
 * form costs about a microsecond, a sizable part of the whole line.
 */
export function msText(ms: number): string {
  if (!(ms >= 0) || ms > 1e9) return String(+ms.toFixed(2));
  const n = Math.round(ms * 100);
  const f = n % 100;
  const whole = (n - f) / 100;
  return f === 0 ? String(whole) : f % 10 === 0 ? whole + "." + f / 10 : f < 10 ? whole + ".0" + f : whole + "." + f;
}

const HEX8 = "00000000";
function xidHex(xid: number): string {
  const h = xid.toString(16);
  return h.length >= 8 ? h : HEX8.slice(h.length) + h;
}

const NOT_SENT_KEYS = ["mac", "xid", "relay", "circuit_id", "remote_id", "query", "to", "iface", "error", "suppressed", "ms"] as const;

/** lines per destination and error: one per window, the rest counted */
export const NOT_SENT_WINDOW_MS = 10_000;
/** destination/error pairs remembered; with that many failing at once, a new pair gets no line (the metric counts it) */
const NOT_SENT_KEYS_MAX = 1024;

/**
 * The WARN line for a reply that the socket refused, in place of the
 * exchange's INFO line:
 *
 *   WARN DISCOVER -> OFFER 198.18.0.10 not sent mac=0c0100000001 xid=00001234 query=offer_1 to=255.255.255.255:68 iface=any error="ENETUNREACH: network is unreachable, send" ms=0.4
 *
 * A host with no route fails every reply the same way: at most one line per
 * destination and error per NOT_SENT_WINDOW_MS; the next line after a
 * window says how many were left out (`suppressed=`).
 */
export class NotSentLog {
  private readonly line: Line;
  private readonly windows = new Map<string, { from: number; suppressed: number }>();

  constructor(
    log: ServiceLogger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.line = log.lineOf("warn", NOT_SENT_KEYS, NUMERIC);
  }

  write(
    text: string,
    msg: DhcpMessage,
    subs: ReadonlyMap<number, Uint8Array>,
    query: string | null | undefined,
    to: string,
    iface: string,
    error: string,
    ms: number,
  ): void {
    const key = to + "\n" + iface + "\n" + error;
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.from < NOT_SENT_WINDOW_MS) {
      w.suppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    if (!w) {
      if (this.windows.size >= NOT_SENT_KEYS_MAX) this.prune(t);
      if (this.windows.size >= NOT_SENT_KEYS_MAX) return;
      this.windows.set(key, (w = { from: t, suppressed: 0 }));
    }
    w.from = t;
    w.suppressed = 0;
    const circuit = subs.get(SUB_CIRCUIT_ID);
    const remote = subs.get(SUB_REMOTE_ID);
    this.line(text, [
      macHex(msg),
      xidHex(msg.xid),
      msg.giaddr !== "0.0.0.0" ? msg.giaddr : undefined,
      circuit ? toHex(circuit) : undefined,
      remote ? toHex(remote) : undefined,
      query || undefined,
      to,
      iface,
      error,
      suppressed > 0 ? String(suppressed) : undefined,
      msText(ms),
    ]);
  }

  /** Forgets windows that ended (a count they held is then only in the metric). */
  private prune(t: number): void {
    for (const [k, w] of this.windows) if (t - w.from >= NOT_SENT_WINDOW_MS) this.windows.delete(k);
  }
}
