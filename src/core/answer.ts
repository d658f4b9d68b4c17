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
 * Every option value, whatever column it came from, is encoded and checked
 * by the one codec (options/types.ts encodeOptionText): router and dns are
 * options 3 and 6, ntp is 42, routes is 121. Anything that would put a bad
 * address on the wire is refused here, once, so reply building can trust
 * the Answer.
 */

import { formatIPv4, maskToPrefix, parseIPv4, unusableAddress, unusableClientAddress, bytesToIPv4 } from "../codec/ip.ts";
import { encodeOptionText, optionProblem } from "../options/types.ts";

/** A result row: column names as the database returned them (any case). */
export type Row = Record<string, unknown>;

export interface Answer {
  ip: string;
  mask: string;
  router: string | null;
  dns: readonly string[];
  /** option 51 from a lease_time column; absent = <LeaseTime> */
  leaseTime?: number;
  /** siaddr (RFC 2131 2: "next server to use in bootstrap") */
  nextServer?: string;
  /** further options by code, value bytes (no code/length); read-only, as answers without any share NO_OPTIONS */
  options: ReadonlyMap<number, Uint8Array>;
  /** the pool the address came from (server/pools.ts); absent for a row's own ip */
  pool?: string;
  /** a pool lease the database showed bound to this client until then (epoch s), read by the DISCOVER; never stored */
  heldUntil?: number;
}

/**
 * The options of every answer that has none. Answers live for the answer
 * cache's TTL, thousands of them: an empty Map each was 10,000 of the
 * 350,000 live objects a full collection walked (10,000 subscribers).
 */
export const NO_OPTIONS: ReadonlyMap<number, Uint8Array> = new Map();

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

/**
 * The row's key for a lower-case column name in any letter case, the first
 * of duplicate names; undefined when absent. Read from the row itself, not
 * a lower-cased copy: rows have a few columns, and toLowerCase of a name
 * already in lower case allocates nothing.
 */
function columnKey(row: Row, name: string): string | undefined {
  for (const key in row) if (key.toLowerCase() === name) return key;
  return undefined;
}

/** A column's value as text ("" when absent or NULL). */
function col(row: Row, name: string): string {
  const key = columnKey(row, name);
  return key === undefined ? "" : text(row[key]);
}

/** The ip column of a row as text ("" when absent), for "first row with an ip decides". */
export function rowIp(row: Row): string {
  return col(row, "ip");
}

/** The pool column of a row as text ("" when absent): the row asks for an address from that pool. */
export function rowPool(row: Row): string {
  return col(row, "pool");
}

/** Columns with a fixed option code, encoded by the option's type like option_<code>. */
const OPTION_COLUMNS: readonly [column: string, code: number][] = [
  ["hostname", 12],
  ["domain", 15],
  ["ntp", 42],
  ["tftp", 66],
  ["bootfile", 67],
  ["routes", 121],
];

/** Why a router (option 3) address cannot serve this client, or null: its own address, or its subnet's network or broadcast address. */
function routerOnSubnet(r: number, ipNum: number, maskNum: number, prefix: number): string | null {
  if (r === ipNum) return "is the client's own address";
  if (prefix >= 31) return null;
  const network = (ipNum & maskNum) >>> 0;
  if ((r & maskNum) >>> 0 !== network) return null;
  if (r === network) return "is the network address of the client's subnet";
  if (r === (network | (~maskNum >>> 0)) >>> 0) return "is the broadcast address of the client's subnet";
  return null;
}

/** The addresses of an ips-typed value. */
function addresses(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(bytesToIPv4(b, i));
  return out;
}

// made once: a pattern literal inside a function is a new RegExp per call
const PREFIX_LENGTH = /^\/?([0-9]{1,2})$/;
const SECONDS = /^[0-9]{1,10}$/;
const OPTION_COLUMN = /^option_([0-9]{1,3})$/;

/** A mask written as dotted quad or as a prefix length ("24", "/24"). */
function readMask(value: string): number | null {
  const m = PREFIX_LENGTH.exec(value);
  if (m) {
    const len = Number(m[1]);
    return len > 32 ? null : len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  }
  return parseIPv4(value);
}

/** option 3's addresses, from the router column or option_3: the same checks either way */
function routersProblem(label: string, b: Uint8Array, ipNum: number, maskNum: number, prefix: number): string | null {
  for (let i = 0; i + 4 <= b.length; i += 4) {
    const r = bytesToIPv4(b, i);
    const why = routerOnSubnet(r, ipNum, maskNum, prefix);
    if (why !== null) return `${label} ${formatIPv4(r)} ${why}`;
  }
  return null;
}

export function toAnswer(row: Row, rowIndex: number, query: string, defaults: AnswerDefaults): Answer | BadAnswer {
  const bad = (message: string): BadAnswer => ({ kind: "bad-answer", query, row: rowIndex, message });
  const ip = col(row, "ip");
  const ipNum = parseIPv4(ip);
  if (ipNum === null) return bad(`ip "${ip}" is not an IPv4 address`);
  const ipWhy = unusableClientAddress(ipNum);
  if (ipWhy !== null) return bad(`ip ${ip} is ${ipWhy}`);

  const maskText = col(row, "mask") || defaults.mask;
  const maskNum = readMask(maskText);
  if (maskNum === null) return bad(`mask "${maskText}" is not a netmask`);
  const prefix = maskToPrefix(maskNum);
  if (prefix < 0) return bad(`mask "${maskText}" is not contiguous`);
  // RFC 3021: /31 and /32 have no network or broadcast address to avoid
  if (prefix < 31) {
    const network = (ipNum & maskNum) >>> 0;
    const broadcast = (network | (~maskNum >>> 0)) >>> 0;
    if (ipNum === network) return bad(`ip ${ip} is the network address of ${formatIPv4(network)}/${prefix}`);
    if (ipNum === broadcast) return bad(`ip ${ip} is the broadcast address of ${formatIPv4(network)}/${prefix}`);
  }
  if (prefix === 0) return bad(`mask "${maskText}" (/0) leaves no subnet`);

  const router = col(row, "router") || defaults.router;
  if (router !== null) {
    const b = encodeOptionText(3, router);
    if (typeof b === "string") return bad(`router ${b}`);
    if (b.length !== 4) return bad(`router "${router}" is not one IPv4 address`);
    const why = routersProblem("router", b, ipNum, maskNum, prefix);
    if (why !== null) return bad(why);
  }

  const dnsText = col(row, "dns");
  // the defaults' list itself when the row gives none: nothing changes an answer's dns
  let dns: readonly string[] = defaults.dns;
  if (dnsText) {
    const b = encodeOptionText(6, dnsText);
    if (typeof b === "string") return bad(`dns ${b}`);
    dns = addresses(b).map(formatIPv4);
  }

  // a dotted quad reads back as the text formatIPv4 would write (parseIPv4 is strict): kept, not rebuilt
  const mask = parseIPv4(maskText) === maskNum ? maskText : formatIPv4(maskNum);
  const answer: Answer = { ip, mask, router, dns, options: NO_OPTIONS };
  /** made only when a column gives an option: most answers have none */
  let options: Map<number, Uint8Array> | null = null;

  const lease = col(row, "lease_time");
  if (lease) {
    if (!SECONDS.test(lease) || Number(lease) < 1 || Number(lease) > 0xffffffff) {
      return bad(`lease_time "${lease}" is not a number of seconds`);
    }
    answer.leaseTime = Number(lease);
  }
  // siaddr is where a client sends TFTP next: refused like a router (loopback would have it talk to itself);
  // 0.0.0.0 stays "no next server", the siaddr every reply without one carries
  const next = col(row, "next_server");
  if (next) {
    const nextNum = parseIPv4(next);
    if (nextNum === null) return bad(`next_server "${next}" is not an IPv4 address`);
    const nextWhy = nextNum === 0 ? null : unusableAddress(nextNum);
    if (nextWhy !== null) return bad(`next_server "${next}" is ${nextWhy}`);
    if (nextNum !== 0) answer.nextServer = next;
  }
  for (const [name, code] of OPTION_COLUMNS) {
    const v = col(row, name);
    if (!v) continue;
    const b = encodeOptionText(code, v);
    if (typeof b === "string") return bad(`${name}: ${b}`);
    (options ??= new Map()).set(code, b);
  }
  // generic option_<code>, after the named columns so it can override them
  for (const key in row) {
    const name = key.toLowerCase();
    const m = OPTION_COLUMN.exec(name);
    // the first of duplicate names (any letter case) is the column
    if (!m || columnKey(row, name) !== key) continue;
    const value = row[key];
    if (value === null || value === undefined) continue;
    const code = Number(m[1]);
    if (code < 1 || code > 254) return bad(`${name}: option code must be 1..254`);
    let bytes: Uint8Array | string;
    if (value instanceof Uint8Array) {
      if (value.length === 0) continue;
      bytes = new Uint8Array(value);
      bytes = optionProblem(code, bytes) ?? bytes;
    } else {
      const t = text(value);
      if (t === "") continue;
      bytes = encodeOptionText(code, t);
    }
    if (typeof bytes === "string") return bad(`${name}: ${bytes}`);
    if (code === 3) {
      const why = routersProblem(name, bytes, ipNum, maskNum, prefix);
      if (why !== null) return bad(why);
    }
    (options ??= new Map()).set(code, bytes);
  }
  if (options) answer.options = options;
  return answer;
}

export function isBadAnswer(a: Answer | BadAnswer): a is BadAnswer {
  return (a as BadAnswer).kind === "bad-answer";
}
