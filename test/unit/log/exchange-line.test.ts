/**
 * The per-exchange line through lineOf(): the same text and JSON as the
 * generic path, hostile values escaped alike, ms as a number, and the
 * timestamp shortcut equal to toISOString() for every millisecond.
 */
import { expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { createLogger, type LogFormat } from "../../../src/log/logger.ts";
import { memorySink } from "../../../src/log/sink.ts";
import { ExchangeLog, msText, NOT_SENT_WINDOW_MS, NotSentLog } from "../../../src/server/exchange-log.ts";
import { buildRequest } from "../../support/client.ts";

const T0 = Date.UTC(2026, 11, 1, 22, 30, 0, 7);
const r = decode(buildRequest({ type: 1, mac: "0c0100000001", xid: 0x1234 }));
if (!r.ok) throw new Error("fixture");
const relayed = { ...r.msg, giaddr: "198.18.0.1" };
const subs = new Map<number, Uint8Array>([[1, Uint8Array.of(0, 4, 0, 1, 0, 6)], [2, Uint8Array.of(0, 6, 0, 0x1e, 0x58, 0x9e, 0xb2, 0xad)]]);

function make(format: LogFormat, now = () => T0) {
  const out = memorySink();
  const err = memorySink();
  const log = createLogger({ level: "info", format, out, err, now });
  return { log, lines: new ExchangeLog(log), out, err };
}

test("text: the reply line, fields in order, absent ones left out", () => {
  const { lines, out } = make("text");
  lines.write("info", "DISCOVER -> OFFER 198.18.128.1", relayed, subs, "offer_1 (cached)", "198.18.0.1:67", undefined, 0.4213);
  lines.write("info", "REQUEST -> ACK 198.18.128.1", r.msg, new Map(), "offer_1", "127.0.0.1:68", undefined, 12);
  expect(out.lines()).toEqual([
    '2026-12-01T22:30:00.007Z INFO DISCOVER -> OFFER 198.18.128.1 mac=0c0100000001 xid=00001234 relay=198.18.0.1 circuit_id=000400010006 remote_id=0006001e589eb2ad query="offer_1 (cached)" to=198.18.0.1:67 ms=0.42',
    "2026-12-01T22:30:00.007Z INFO REQUEST -> ACK 198.18.128.1 mac=0c0100000001 xid=00001234 query=offer_1 to=127.0.0.1:68 ms=12",
  ]);
});

test("json: same fields, ms a number, hostile note escaped as the generic path escapes it", () => {
  const { log, lines, out, err } = make("json");
  lines.write("warn", "DISCOVER no reply: db-error", r.msg, new Map(), "offer_2", undefined, 'bad\r\n"row"\x1b[2J', 1.5);
  log.warn("DISCOVER no reply: db-error", { mac: "0c0100000001", xid: "00001234", query: "offer_2", note: 'bad\r\n"row"\x1b[2J', ms: 1.5 });
  expect(out.lines()).toEqual([]);
  const [a, b] = err.lines();
  expect(a).toBe(b!);
  expect(JSON.parse(a!)).toEqual({ ts: "2026-12-01T22:30:00.007Z", level: "warn", msg: "DISCOVER no reply: db-error", mac: "0c0100000001", xid: "00001234", query: "offer_2", note: 'bad\r\n"row"\x1b[2J', ms: 1.5 });
});

test("a disabled level writes nothing and says so", () => {
  const { lines, out } = make("text");
  expect(lines.enabled("debug")).toBe(false);
  lines.write("debug", "x", r.msg, new Map(), null, undefined, undefined, 1);
  expect(out.text()).toBe("");
});

test("msText matches String(+ms.toFixed(2))", () => {
  for (const ms of [0, 0.001, 0.004, 0.005, 0.1, 0.42, 0.4213, 1, 1.5, 1.05, 9.999, 12, 99.99, 100.1, 2500.07, 123456.78]) {
    expect(msText(ms)).toBe(String(+ms.toFixed(2)));
  }
});

test("the timestamp shortcut equals toISOString for every millisecond across seconds", () => {
  let t = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  const { log, out } = make("text", () => t);
  const want: string[] = [];
  for (let i = 0; i < 2100; i++, t += 1) {
    log.info("x");
    want.push(`${new Date(t).toISOString()} INFO x`);
  }
  expect(out.lines()).toEqual(want);
});

test("a reply not sent: one WARN line per destination and error per 10 s, the next one says how many were left out", () => {
  const out = memorySink();
  const err = memorySink();
  const log = createLogger({ level: "info", format: "text", out, err, now: () => T0 });
  let t = 0;
  const notSent = new NotSentLog(log, () => t);
  const e = "ENETUNREACH: network is unreachable, send";
  const write = (to: string, error = e) => notSent.write("DISCOVER -> OFFER 198.18.128.1 not sent", r.msg, new Map(), "offer_1", to, "any", error, 0.5);
  write("255.255.255.255:68");
  t = 1000;
  write("255.255.255.255:68");
  write("255.255.255.255:68");
  // another destination, another error: their own windows
  write("198.18.0.1:67");
  write("255.255.255.255:68", "EPERM: operation not permitted, send");
  t = NOT_SENT_WINDOW_MS + 1;
  write("255.255.255.255:68");
  write("255.255.255.255:68");
  expect(out.lines()).toEqual([]);
  const line = (to: string, error: string, extra = "") => `2026-12-01T22:30:00.007Z WARN DISCOVER -> OFFER 198.18.128.1 not sent mac=0c0100000001 xid=00001234 query=offer_1 to=${to} iface=any error="${error}"${extra} ms=0.5`;
  expect(err.lines()).toEqual([
    line("255.255.255.255:68", e),
    line("198.18.0.1:67", e),
    line("255.255.255.255:68", "EPERM: operation not permitted, send"),
    line("255.255.255.255:68", e, " suppressed=2"),
  ]);
});

test("client_id: ClientMacAddress when option 61 makes it differ from chaddr (dhcpcd's RFC 4361 identifier); absent when option 61 is type 1 and the MAC", () => {
  const { lines, err } = make("text");
  // type 255, IAID 00000003, DUID-LLT ...: what the queries look up instead of the MAC
  const rfc4361 = decode(buildRequest({ type: 1, mac: "02aa00000003", xid: 7, options: [[61, Uint8Array.of(255, 0, 0, 0, 3, 0, 1, 0, 1, 0x32, 0xa3, 0xde, 0x76, 2, 0xaa, 0, 0, 0, 3)]] }));
  const sameMac = decode(buildRequest({ type: 1, mac: "02aa00000003", xid: 8, options: [[61, Uint8Array.of(1, 2, 0xaa, 0, 0, 0, 3)]] }));
  if (!rfc4361.ok || !sameMac.ok) throw new Error("fixture");
  lines.write("warn", "DISCOVER no reply: no-match", rfc4361.msg, new Map(), undefined, undefined, undefined, 0.5);
  lines.write("warn", "DISCOVER no reply: no-match", sameMac.msg, new Map(), undefined, undefined, undefined, 0.5);
  expect(err.lines()).toEqual([
    "2026-12-01T22:30:00.007Z WARN DISCOVER no reply: no-match mac=02aa00000003 client_id=000000030001000132a3de7602aa00000003 xid=00000007 ms=0.5",
    "2026-12-01T22:30:00.007Z WARN DISCOVER no reply: no-match mac=02aa00000003 xid=00000008 ms=0.5",
  ]);
});
