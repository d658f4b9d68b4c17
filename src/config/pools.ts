/**
 * `<pools>`: named address pools an offer row can draw from by returning a
 * `pool` column instead of `ip`.
 *
 *   <pools>
 *     <offerHold>60</offerHold>                  seconds an OFFER reserves its address
 *     <declineProbation>86400</declineProbation> seconds a DECLINEd address rests
 *     <cacheThreshold>25</cacheThreshold>        percent of a lease that may be used before a re-DORA writes it again
 *     <pool name="guest">
 *       <range>198.18.64.10-198.18.64.250</range>   one or more; or 198.18.64.0/24
 *       <exclude>198.18.64.100</exclude>            optional, repeatable, address or a-b
 *       <mask>255.255.255.0</mask> <router>198.18.64.1</router>
 *       <dns>198.18.0.53</dns> <leaseTime>600</leaseTime>
 *       <option code="42">198.18.0.123</option>     any option, text by its type or 0x hex
 *     </pool>
 *   </pools>
 *
 * Pools may not overlap: an address belongs to one pool, so the lease
 * table's UNIQUE(pool, address) is uniqueness of the address.
 */

import type { ConfigError, PoolConfig, PoolsConfig } from "./types.ts";
import type { XmlNode } from "./xml.ts";
import { Section, ipv4List } from "./reader.ts";
import { formatIPv4, isContiguousMask, parseIPv4, unusableInSpan } from "../codec/ip.ts";

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** 2^20 addresses: a /12. Larger pools are a typo more often than a plan. */
const MAX_POOL_SIZE = 1 << 20;
export const DEFAULT_OFFER_HOLD = 60;
/** Kea's decline-probation-period default: a day. */
export const DEFAULT_DECLINE_PROBATION = 86400;
/** Kea's cache-threshold of 0.25, as a percent: a client back within a quarter of its lease costs no write */
export const DEFAULT_CACHE_THRESHOLD = 25;

type Span = [first: number, last: number];

/** "a-b", "a.b.c.d/len" or one address -> [first, last]; CIDR drops network and broadcast (prefix < 31). */
export function parseSpan(text: string): Span | string {
  const t = text.trim();
  const cidr = /^([0-9.]+)\/([0-9]{1,2})$/.exec(t);
  if (cidr) {
    const base = parseIPv4(cidr[1]!);
    const len = Number(cidr[2]);
    if (base === null) return `"${cidr[1]}" is not an IPv4 address`;
    if (len > 32 || len < 8) return `prefix /${len} is out of range 8..32`;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if ((base & ~mask) >>> 0 !== 0) return `${t} has host bits set (network is ${formatIPv4((base & mask) >>> 0)}/${len})`;
    const last = (base | (~mask >>> 0)) >>> 0;
    return len >= 31 ? [base, last] : [base + 1, last - 1];
  }
  const dash = /^([0-9.]+)\s*-\s*([0-9.]+)$/.exec(t);
  if (dash) {
    const a = parseIPv4(dash[1]!);
    const b = parseIPv4(dash[2]!);
    if (a === null) return `"${dash[1]}" is not an IPv4 address`;
    if (b === null) return `"${dash[2]}" is not an IPv4 address`;
    if (b < a) return `range ${t} ends before it starts`;
    return [a, b];
  }
  const one = parseIPv4(t);
  return one === null ? `"${t}" is not an address, a-b range or CIDR` : [one, one];
}

/** The CIDR prefix of a range written as CIDR, else null (its mask is the pool's default mask). */
function cidrMask(text: string): string | null {
  const m = /\/([0-9]{1,2})$/.exec(text.trim());
  if (!m) return null;
  const len = Number(m[1]);
  return formatIPv4(len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
}

function overlaps(a: Span, b: Span): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

/** Ranges, minus excludes and the network/broadcast address of each address's subnet: how many can be handed out. */
export function poolSize(p: Pick<PoolConfig, "ranges" | "exclude" | "mask">): number {
  const ok = usableTest(p);
  let n = 0;
  for (const [a, b] of p.ranges) for (let x = a; x <= b; x++) if (ok(x)) n++;
  return n;
}

/** Whether an address of the pool's ranges may be handed out: not excluded, not its subnet's network or broadcast. */
export function usableTest(p: Pick<PoolConfig, "exclude" | "mask">): (x: number) => boolean {
  const mask = parseIPv4(p.mask)!;
  const hostBits = ~mask >>> 0;
  // RFC 3021: /31 and /32 have no network or broadcast address
  const edges = hostBits > 1;
  const exclude = p.exclude;
  return (x) => {
    for (const [a, b] of exclude) if (x >= a && x <= b) return false;
    if (edges) {
      const host = (x & hostBits) >>> 0;
      if (host === 0 || host === hostBits) return false;
    }
    return true;
  };
}

export function inRanges(p: Pick<PoolConfig, "ranges">, x: number): boolean {
  for (const [a, b] of p.ranges) if (x >= a && x <= b) return true;
  return false;
}

/** The element with its path (and its children's) naming the pool: config/pools/pool[guest]/range. */
function named(node: XmlNode, path: string): XmlNode {
  return { ...node, path, children: node.children.map((c) => named(c, `${path}/${c.name}`)) };
}

function readPool(raw: XmlNode, errors: ConfigError[], defaults: { mask: string; router: string | null; dns: string[] }): PoolConfig | null {
  const name = raw.attributes.name ?? "";
  const node = named(raw, `${raw.path}[${name}]`);
  const s = new Section(node, errors, ["range", "exclude", "option"]);
  const before = errors.length;
  if (!NAME.test(name)) s.error(node.path, name === "" ? `needs a name attribute: <pool name="guest">` : `name "${name}" must be 1-64 of A-Z a-z 0-9 _ . -`);
  for (const k of Object.keys(node.attributes)) if (k !== "name") s.error(node.path, `unknown attribute ${k}`);
  const ranges: Span[] = [];
  let maskFromCidr: string | null = null;
  const ranged = s.all("range");
  if (ranged.length === 0) s.error(s.pathOf("range"), "missing (at least one range a-b or CIDR)");
  for (const r of ranged) {
    const span = parseSpan(r.text);
    if (typeof span === "string") {
      s.error(r.path, span);
      continue;
    }
    // an address no client may lease (codec/ip.ts): an <exclude> would hide a typo, so the range is refused
    const unusable = unusableInSpan(span[0], span[1]);
    if (unusable) s.error(r.path, `${r.text} holds ${formatIPv4(unusable.address)}, ${unusable.why}`);
    const clash = ranges.find((x) => overlaps(x, span));
    if (clash) s.error(r.path, `${r.text} overlaps ${formatIPv4(clash[0])}-${formatIPv4(clash[1])}`);
    ranges.push(span);
    maskFromCidr ??= cidrMask(r.text);
  }
  const exclude: Span[] = [];
  for (const e of s.all("exclude")) {
    const span = parseSpan(e.text);
    if (typeof span === "string") s.error(e.path, span);
    else exclude.push(span);
  }
  const maskText = s.text("mask", false);
  let mask = maskFromCidr ?? defaults.mask;
  if (maskText !== undefined) {
    const m = parseIPv4(maskText);
    if (m === null || !isContiguousMask(m)) s.error(s.pathOf("mask"), `"${maskText}" is not a contiguous netmask`);
    else mask = maskText;
  }
  const routerText = s.text("router", false);
  let router = defaults.router;
  if (routerText !== undefined) {
    if (routerText === "") router = null;
    else if (parseIPv4(routerText) === null) s.error(s.pathOf("router"), `"${routerText}" is not an IPv4 address`);
    else router = routerText;
  }
  const dnsText = s.text("dns", false);
  const dns = dnsText === undefined ? defaults.dns : ipv4List(s, "dns", dnsText);
  const lt = s.text("leaseTime", false);
  const leaseTime = lt === undefined ? null : s.int("leaseTime", false, 0, 1, 0xffffffff, "seconds");
  const options: [number, string][] = [];
  for (const o of s.all("option")) {
    const code = Number(o.attributes.code);
    if (!/^[0-9]{1,3}$/.test(o.attributes.code ?? "") || code < 1 || code > 254) {
      s.error(o.path, `needs code="1..254", found ${o.attributes.code === undefined ? "none" : `"${o.attributes.code}"`}`);
    } else if (code === 50 || code === 51 || code === 53 || code === 54) {
      s.error(o.path, `option ${code} is the server's own (use <leaseTime> for 51)`);
    } else if (o.text === "") {
      s.error(o.path, "is empty");
    } else options.push([code, o.text]);
  }
  s.finish();
  if (errors.length > before) return null;
  const pool: PoolConfig = { name, path: node.path, ranges, exclude, mask, router, dns, leaseTime, options };
  const size = ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
  if (size > MAX_POOL_SIZE) {
    s.error(node.path, `${size} addresses is more than the ${MAX_POOL_SIZE} a pool may hold`);
    return null;
  }
  if (poolSize(pool) === 0) {
    s.error(node.path, "no address left to hand out (ranges minus excludes, network and broadcast addresses)");
    return null;
  }
  if (router !== null && inRanges(pool, parseIPv4(router)!) && usableTest(pool)(parseIPv4(router)!)) {
    s.error(s.pathOf("router"), `router ${router} is inside the pool's ranges; <exclude> it`);
    return null;
  }
  return pool;
}

export function readPools(
  node: XmlNode | undefined,
  errors: ConfigError[],
  defaults: { mask: string; router: string | null; dns: string[] },
): PoolsConfig {
  const out: PoolsConfig = {
    pools: [],
    offerHoldSeconds: DEFAULT_OFFER_HOLD,
    declineProbationSeconds: DEFAULT_DECLINE_PROBATION,
    cacheThresholdPercent: DEFAULT_CACHE_THRESHOLD,
  };
  if (!node) return out;
  const s = new Section(node, errors, ["pool"]);
  out.offerHoldSeconds = s.int("offerHold", false, DEFAULT_OFFER_HOLD, 1, 3600, "seconds");
  out.declineProbationSeconds = s.int("declineProbation", false, DEFAULT_DECLINE_PROBATION, 0, 0xffffffff, "seconds");
  out.cacheThresholdPercent = s.int("cacheThreshold", false, DEFAULT_CACHE_THRESHOLD, 0, 99, "percent");
  for (const p of s.all("pool")) {
    const pool = readPool(p, errors, defaults);
    if (!pool) continue;
    if (out.pools.some((x) => x.name === pool.name)) {
      s.error(pool.path, `pool "${pool.name}" defined twice`);
      continue;
    }
    const other = out.pools.find((x) => x.ranges.some((a) => pool.ranges.some((b) => overlaps(a, b))));
    if (other) {
      s.error(pool.path, `pool "${pool.name}" overlaps pool "${other.name}": an address belongs to one pool`);
      continue;
    }
    out.pools.push(pool);
  }
  s.finish();
  return out;
}
