/**
 * A result row -> the Answer a reply is built from, or a refusal naming the
 * query and row. Columns are found by name in any letter case:
 *
 *   ip (required), mask, router, dns        pydhcpdb's four; empty ones take
 *                                           <defaultMask>/<defaultRouter>/<defaultDNS>
 *   lease_time                              option 51, seconds
 *   domain (15), hostname (12), ntp (42),   text / address list
 *   routes (121, "10.0.0.0/8 198.18.0.1, ...", RFC 3442)
 *   tftp (66), bootfile (67), next_server (siaddr)
 *   option_<code>                           "0x..." hex, else text read by the
 *                                           option's type (options/table.ts)
 *
 * Anything that would put a bad address on the wire is refused here, once,
 * so reply building can trust the Answer.
 */

import type { Row } from "./backend.ts";
import { formatIpv4, isIpv4, maskPrefix, parseIpv4 } from "../config/ipv4.ts";
import { encodeOptionText, encodeRoutes } from "./option-text.ts";

export interface Answer {
  ip: string;
  mask: string;
  router: string | null;
  dns: string[];
  /** option 51 from a lease_time column; absent = <LeaseTime> */
  leaseTime?: number;
  /** siaddr (RFC 2131 2: "next server to use in bootstrap") */
  nextServer?: string;
  /** further options by code, value bytes (no code/length) */
  options: Map<number, Uint8Array>;
}

export interface AnswerDefaults {
  mask: string;
  router: string | null;
  dns: readonly string[];
}

export interface BadAnswer {
  kind: "bad-answer";
  query: string;
  /** 0-based row index in the result */
  row: number;
  message: string;
}

/** Column value as text: NULL -> "", bytes as UTF-8, numbers as decimal. */
function text(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Uint8Array) return new TextDecoder().decode(v).trim();
  return String(v).trim();
}

/** Lower-cased column name -> value; the first of duplicate names wins. */
function columns(row: Row): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const key in row) {
    const k = key.toLowerCase();
    if (!m.has(k)) m.set(k, row[key]);
  }
  return m;
}

/** The ip column of a row as text ("" when absent), for "first row with an ip decides". */
export function rowIp(row: Row): string {
  for (const key in row) if (key.toLowerCase() === "ip") return text(row[key]);
  return "";
}

const enc = new TextEncoder();

/** Text columns with a fixed option code. */
const TEXT_COLUMNS: readonly [column: string, code: number][] = [
  ["hostname", 12],
  ["domain", 15],
  ["tftp", 66],
  ["bootfile", 67],
];

/**
 * Ranges no client, router or name server can be given (RFC 1122 3.2.1.3,
 * RFC 5771, RFC 1112 4): "this network" 0/8, multicast 224/4, reserved
 * 240/4 with the limited broadcast 255.255.255.255. Loopback 127/8 is let
 * through: single-host test setups answer with it.
 */
const UNUSABLE: readonly [first: number, prefix: number, what: string][] = [
  [0x00000000, 8, "in 0.0.0.0/8 (this network)"],
  [0xe0000000, 4, "a multicast address"],
  [0xf0000000, 4, "in the reserved range 240.0.0.0/4"],
];

/** Why an address cannot be handed out, or null when it can. */
function unusable(n: number): string | null {
  for (const [first, prefix, what] of UNUSABLE) if (n >>> (32 - prefix) === first >>> (32 - prefix)) return what;
  return null;
}

/** A dotted quad that is also usable; the reason when it is not. */
function checkAddress(value: string): string | null {
  const n = parseIpv4(value);
  if (n === null) return "is not an IPv4 address";
  const why = unusable(n);
  return why === null ? null : `is ${why}`;
}

function addressList(value: string): string[] | { bad: string; why: string } {
  const items = value.split(/[\s,]+/).filter((s) => s !== "");
  for (const s of items) {
    const why = checkAddress(s);
    if (why !== null) return { bad: s, why };
  }
  return items;
}

/** A mask written as dotted quad or as a prefix length ("24", "/24"). */
function readMask(value: string): number | null {
  const m = /^\/?([0-9]{1,2})$/.exec(value);
  if (m) {
    const len = Number(m[1]);
    return len > 32 ? null : len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  }
  return parseIpv4(value);
}

export function toAnswer(row: Row, rowIndex: number, query: string, defaults: AnswerDefaults): Answer | BadAnswer {
  const bad = (message: string): BadAnswer => ({ kind: "bad-answer", query, row: rowIndex, message });
  const cols = columns(row);
  const col = (name: string) => text(cols.get(name));

  const ip = col("ip");
  const ipNum = parseIpv4(ip);
  if (ipNum === null) return bad(`ip "${ip}" is not an IPv4 address`);
  const ipWhy = unusable(ipNum);
  if (ipWhy !== null) return bad(`ip ${ip} is ${ipWhy}`);

  const maskText = col("mask") || defaults.mask;
  const maskNum = readMask(maskText);
  if (maskNum === null) return bad(`mask "${maskText}" is not a netmask`);
  const prefix = maskPrefix(maskNum);
  if (prefix === null) return bad(`mask "${maskText}" is not contiguous`);
  // RFC 3021: /31 and /32 have no network or broadcast address to avoid
  if (prefix < 31) {
    const network = (ipNum & maskNum) >>> 0;
    const broadcast = (network | (~maskNum >>> 0)) >>> 0;
    if (ipNum === network) return bad(`ip ${ip} is the network address of ${formatIpv4(network)}/${prefix}`);
    if (ipNum === broadcast) return bad(`ip ${ip} is the broadcast address of ${formatIpv4(network)}/${prefix}`);
  }
  if (prefix === 0) return bad(`mask "${maskText}" (/0) leaves no subnet`);

  const routerText = col("router");
  const router = routerText || defaults.router;
  const routerWhy = router === null ? null : checkAddress(router);
  if (routerWhy !== null) return bad(`router "${router}" ${routerWhy}`);
  if (router !== null && router === ip) return bad(`router ${router} is the client's own address`);
  if (router !== null && prefix < 31) {
    // on the client's subnet, the router cannot be its network or broadcast address
    const r = parseIpv4(router)!;
    const network = (ipNum & maskNum) >>> 0;
    if ((r & maskNum) >>> 0 === network && (r === network || r === (network | (~maskNum >>> 0)) >>> 0)) {
      return bad(`router ${router} is the ${r === network ? "network" : "broadcast"} address of the client's subnet`);
    }
  }

  const dnsText = col("dns");
  const dns = dnsText ? addressList(dnsText) : [...defaults.dns];
  if (!Array.isArray(dns)) return bad(`dns "${dns.bad}" ${dns.why}`);

  const answer: Answer = { ip, mask: formatIpv4(maskNum), router, dns, options: new Map() };

  const lease = col("lease_time");
  if (lease) {
    if (!/^[0-9]{1,10}$/.test(lease) || Number(lease) < 1 || Number(lease) > 0xffffffff) {
      return bad(`lease_time "${lease}" is not a number of seconds`);
    }
    answer.leaseTime = Number(lease);
  }
  const next = col("next_server");
  if (next) {
    if (!isIpv4(next)) return bad(`next_server "${next}" is not an IPv4 address`);
    answer.nextServer = next;
  }
  for (const [name, code] of TEXT_COLUMNS) {
    const v = col(name);
    if (v) answer.options.set(code, enc.encode(v));
  }
  const ntp = col("ntp");
  if (ntp) {
    const bytes = encodeOptionText(42, ntp);
    if (typeof bytes === "string") return bad(`ntp: ${bytes}`);
    answer.options.set(42, bytes);
  }
  const routes = col("routes");
  if (routes) {
    const r = encodeRoutes(routes);
    if (typeof r === "string") return bad(`routes: ${r}`);
    answer.options.set(121, r);
  }
  // generic option_<code>, after the named columns so it can override them
  for (const [name, value] of cols) {
    const m = /^option_([0-9]{1,3})$/.exec(name);
    if (!m || value === null || value === undefined) continue;
    const code = Number(m[1]);
    if (code < 1 || code > 254) return bad(`${name}: option code must be 1..254`);
    if (value instanceof Uint8Array) {
      if (value.length > 0) answer.options.set(code, new Uint8Array(value));
      continue;
    }
    const t = text(value);
    if (t === "") continue;
    const bytes = encodeOptionText(code, t);
    if (typeof bytes === "string") return bad(`${name}: ${bytes}`);
    answer.options.set(code, bytes);
  }
  return answer;
}

export function isBadAnswer(a: Answer | BadAnswer): a is BadAnswer {
  return (a as BadAnswer).kind === "bad-answer";
}
