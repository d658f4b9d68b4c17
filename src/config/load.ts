/**
 * config.xml -> validated Config, or every problem found as ConfigError values
 * naming the XML path. pydhcpdb's config.xml loads unchanged; pydhcp's
 * extensions are optional tags documented in config.example.xml and
 * docs/config.md. Unknown tags are errors: a typo must not be ignored.
 */

import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Config, ConfigError, Slice } from "./types.ts";
import { parseXml, toPlainObject, type XmlNode } from "./xml.ts";
import { parseRelayProfiles } from "./profiles.ts";
import { PROFILE_VARIABLES } from "../option82/profiles.ts";
import { Section, ipv4List } from "./reader.ts";
import { readDatabase } from "./database.ts";
import { readQueries } from "./queries.ts";
import { DEFAULT_CACHE_THRESHOLD, readPools } from "./pools.ts";
import { parseSlice } from "../variables/slices.ts";
import { maskToPrefix, parseIPv4 } from "../codec/ip.ts";
import { encodeOptionText } from "../options/types.ts";
import { OPTION } from "../options/table.ts";

const isIpv4 = (text: string): boolean => parseIPv4(text) !== null;
import { codepageKnown, DEFAULT_HOSTNAME_CODEPAGE } from "../variables/text.ts";

/** <answerCache> defaults: seconds an answer is reused, entries at most (~1 KB each) */
export const DEFAULT_ANSWER_CACHE = { ttlSeconds: 5, maxEntries: 16_384 } as const;

export type LoadResult = { ok: true; config: Config } | { ok: false; errors: ConfigError[] };

export interface LoadOptions {
  /** socket paths tried for MySQL host `localhost` */
  mysqlSockets?: readonly string[];
  /** socket directories tried when <postgresql> names no host */
  postgresqlSockets?: readonly string[];
}

/**
 * Flood control defaults, packets per second (burst: twice that). A client
 * sends a handful of packets per exchange and retransmits after seconds
 * (RFC 2131 4.1), so 20/s per MAC never touches a working client but caps a
 * looping one; 200/s per relay circuit leaves room for a port with a small
 * switch or many CPEs behind it.
 */
export const DEFAULT_PER_MAC = 20;

/**
 * How long a request may wait for a lookup slot. Clients retransmit after
 * 1 s (perfdhcp's drop time) to 4 s (RFC 2131 4.1); an answer after a
 * second's wait in the queue mostly arrives after the client moved on.
 */
export const DEFAULT_MAX_WAIT_MS = 1000;
export const DEFAULT_PER_CIRCUIT = 200;

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
const LOG_FORMATS = ["text", "json"] as const;
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;
const USER = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?$/;

export function loadConfig(path: string, opts: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { ok: false, errors: [{ kind: "config", path, message: `cannot read: ${(e as Error).message}` }] };
  }
  return parseConfig(text, path, opts);
}

function readServer(s: Section) {
  const server = {
    host: s.ipv4("host", true, "0.0.0.0"),
    port: s.int("port", false, 67, 1, 65535),
    clientPort: s.int("clientPort", false, 68, 1, 65535),
    broadcast: s.ipv4("broadcast", true, "255.255.255.255"),
    serverId: s.ipv4("DHCPServer", true, "0.0.0.0"),
    leaseTime: s.int("LeaseTime", true, 86400, 1, 0xffffffff, "seconds"),
    threadLimit: s.int("ThreadLimit", true, 1, 1, 100_000),
    queueLimit: s.int("queueLimit", false, 1000, 1, 1_000_000),
    maxWaitMs: s.int("maxWait", false, DEFAULT_MAX_WAIT_MS, 10, 60_000, "milliseconds"),
    unrelayedOption82: s.choice("unrelayedOption82", ["use", "ignore"] as const, "use"),
    defaultMask: s.ipv4("defaultMask", true, "255.255.255.0"),
    defaultRouter: null as string | null,
    defaultDns: [] as string[],
    interfaces: [] as string[],
    user: null as string | null,
    group: null as string | null,
    hostnameCodepage: DEFAULT_HOSTNAME_CODEPAGE,
  };
  // pydhcpdb requires both; an empty element means "none"
  const router = s.text("defaultRouter", true);
  if (router) {
    if (isIpv4(router)) server.defaultRouter = router;
    else s.error(s.pathOf("defaultRouter"), `"${router}" is not an IPv4 address`);
  }
  server.defaultDns = ipv4List(s, "defaultDNS", s.text("defaultDNS", true));
  // answers without router/dns columns take these: held to the checks option 3 and 6 get in any column
  const defaults: [string, number, string][] = [
    ["defaultRouter", OPTION.ROUTER, server.defaultRouter ?? ""],
    ["defaultDNS", OPTION.DOMAIN_NAME_SERVER, server.defaultDns.join(", ")],
  ];
  for (const [tag, code, value] of defaults) {
    const b = value === "" ? null : encodeOptionText(code, value);
    if (typeof b === "string") s.error(s.pathOf(tag), b);
  }
  // every answer without a mask column takes it: a bad one would refuse them all at run time
  const mask = parseIPv4(server.defaultMask);
  if (mask !== null) {
    const prefix = maskToPrefix(mask);
    if (prefix < 0) s.error(s.pathOf("defaultMask"), `"${server.defaultMask}" is not a contiguous netmask (ones then zeros, RFC 950)`);
    else if (prefix === 0) s.error(s.pathOf("defaultMask"), `"${server.defaultMask}" (/0) leaves no subnet`);
  }
  const ifaces = s.child("interfaces");
  if (ifaces) {
    const is = new Section(ifaces, s.errors, ["interface"]);
    for (const i of is.all("interface")) {
      if (IFNAME.test(i.text)) server.interfaces.push(i.text);
      else is.error(i.path, `"${i.text}" is not an interface name`);
    }
    is.finish();
  }
  const cp = s.text("hostnameCodepage", false);
  if (cp !== undefined) {
    if (codepageKnown(cp)) server.hostnameCodepage = cp;
    else s.error(s.pathOf("hostnameCodepage"), `"${cp}" is not a code page this build can decode (e.g. cp866, windows-1251, koi8-r)`);
  }
  for (const key of ["user", "group"] as const) {
    const v = s.text(key, false);
    if (v === undefined) continue;
    if (USER.test(v)) server[key] = v;
    else s.error(s.pathOf(key), `"${v}" is not a ${key} name`);
  }
  s.finish();
  return server;
}

function readSlices(node: XmlNode | undefined, errors: ConfigError[]): Slice[] {
  if (!node) return [];
  const s = new Section(node, errors, ["option"]);
  const slices: Slice[] = [];
  for (const o of s.all("option")) {
    const r = parseSlice(o.text);
    if ("error" in r) s.error(o.path, r.error);
    else if (slices.some((x) => x.name === r.name)) s.error(o.path, `variable "${r.name}" defined twice`);
    else slices.push(r);
  }
  s.finish();
  return slices;
}

function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** With no <relay_profiles>, or none of its rules a <default>: every relay's Option 82 is decoded by auto. */
export const DEFAULT_RELAY_PROFILES: Config["relayProfiles"] = [{ kind: "default", profile: "auto" }];

/**
 * `<relay_profiles>` (config/profiles.ts): the Option 82 vendor profile per
 * relay. On by default (auto), so a query written from `--dump` finds
 * port, vlan, relay_mac...; `<default>none</default>` turns decoding off.
 */
function readRelayProfiles(node: XmlNode | undefined, errors: ConfigError[]): Config["relayProfiles"] {
  if (!node) return DEFAULT_RELAY_PROFILES;
  const r = parseRelayProfiles(toPlainObject(node), node.path);
  if (!r.ok) {
    for (const e of r.errors) errors.push({ kind: "config", path: e.path, message: e.message });
    return [];
  }
  return r.rules.some((x) => x.kind === "default") ? r.rules : [...r.rules, ...DEFAULT_RELAY_PROFILES];
}

/** Parses config text; `path` is used for relative paths and messages. */
export function parseConfig(xmlText: string, path: string, opts: LoadOptions = {}): LoadResult {
  const xml = parseXml(xmlText);
  if (!xml.ok) {
    return { ok: false, errors: [{ kind: "config", path, message: `XML line ${xml.line} column ${xml.col}: ${xml.message}` }] };
  }
  const errors: ConfigError[] = [];
  if (xml.root.name !== "config") {
    return { ok: false, errors: [{ kind: "config", path: xml.root.path, message: "root element must be <config>" }] };
  }
  const baseDir = dirname(resolve(path));
  const root = new Section(xml.root, errors);

  const serverNode = root.child("dhcpserver");
  if (!serverNode) root.error(root.pathOf("dhcpserver"), "missing");
  // a missing section is one error, not one per required tag
  const empty: XmlNode = { name: "dhcpserver", path: "config/dhcpserver", text: "", children: [], attributes: {} };
  const server = readServer(new Section(serverNode ?? empty, serverNode ? errors : []));

  const database = readDatabase(root, errors, { baseDir, mysqlSockets: opts.mysqlSockets, postgresqlSockets: opts.postgresqlSockets });
  const slices = readSlices(root.child("options"), errors);
  const relayProfiles = readRelayProfiles(root.child("relay_profiles"), errors);
  const extra = new Set<string>([...slices.map((x) => x.name), ...PROFILE_VARIABLES]);

  const queryNode = root.child("query");
  const dialect = database.kind;
  let queries = { offers: [], history: null, historyEvents: {}, queryTimeoutMs: 2000, slowP99Ms: 50 } as ReturnType<typeof readQueries>;
  if (!queryNode) root.error(root.pathOf("query"), "missing");
  else queries = readQueries(new Section(queryNode, errors), dialect, extra);

  // <log>
  const logNode = root.child("log");
  let log: Config["log"] = { level: "info", format: "text" };
  if (logNode) {
    const s = new Section(logNode, errors);
    log = { level: s.choice("level", LOG_LEVELS, "info"), format: s.choice("format", LOG_FORMATS, "text") };
    s.finish();
  }

  // <metrics>: present = on
  const metricsNode = root.child("metrics");
  let metrics: Config["metrics"] = null;
  if (metricsNode) {
    const s = new Section(metricsNode, errors);
    metrics = { host: s.ipv4("host", false, "127.0.0.1"), port: s.int("port", true, 9167, 1, 65535), token: null };
    const token = s.text("token", false);
    if (token !== undefined) {
      // printable ASCII without spaces: it travels in an HTTP header as is
      if (/^[\x21-\x7e]{16,256}$/.test(token)) metrics.token = token;
      else s.error(s.pathOf("token"), "must be 16 to 256 printable ASCII characters without spaces (e.g. openssl rand -hex 24)");
    }
    s.finish();
  }

  // <leases>
  const leasesNode = root.child("leases");
  let leases: Config["leases"] = { outageGraceSeconds: 3600, cleanupIntervalSeconds: 60, syncIntervalSeconds: 1, snapshotIntervalSeconds: 5, cacheThresholdPercent: DEFAULT_CACHE_THRESHOLD };
  if (leasesNode) {
    const s = new Section(leasesNode, errors);
    leases = {
      outageGraceSeconds: s.int("outageGrace", false, 3600, 0, 0xffffffff, "seconds"),
      cleanupIntervalSeconds: s.int("cleanupInterval", false, 60, 1, 86400, "seconds"),
      syncIntervalSeconds: s.int("syncInterval", false, 1, 1, 3600, "seconds"),
      snapshotIntervalSeconds: s.int("snapshotInterval", false, 5, 0, 86400, "seconds"),
      cacheThresholdPercent: s.int("cacheThreshold", false, DEFAULT_CACHE_THRESHOLD, 0, 99, "percent"),
    };
    s.finish();
  }

  // <history>
  const historyNode = root.child("history");
  let historyRetentionDays: number | null = null;
  let spoolPath = resolvePath(baseDir, "pydhcp-history.spool");
  let historyFsync: Config["historyFsync"] = DEFAULT_FSYNC;
  if (historyNode) {
    const s = new Section(historyNode, errors);
    const days = s.int("retentionDays", false, 0, 0, 100_000, "days");
    historyRetentionDays = days === 0 ? null : days;
    const journalText = s.text("journal", false);
    const spoolText = s.text("spool", false);
    const journal = journalText ?? spoolText;
    if (journal) spoolPath = resolvePath(baseDir, journal);
    const fsync = s.text("fsync", false);
    if (fsync !== undefined) {
      const f = parseFsync(fsync);
      if (f) historyFsync = f;
      else s.error(s.pathOf("fsync"), `"${fsync}" is not always, never or a number of milliseconds (10..60000)`);
    }
    s.finish();
  }

  // <rateLimit>: on by default (docs/reliability.md); 0 turns one off
  const rateNode = root.child("rateLimit");
  let rateLimit: Config["rateLimit"] = { perMac: DEFAULT_PER_MAC, perCircuit: DEFAULT_PER_CIRCUIT };
  if (rateNode) {
    const s = new Section(rateNode, errors);
    rateLimit = {
      perMac: s.int("perMac", false, DEFAULT_PER_MAC, 0, 1_000_000),
      perCircuit: s.int("perCircuit", false, DEFAULT_PER_CIRCUIT, 0, 1_000_000),
    };
    s.finish();
  }
  // <answerCache>: on by default, a few seconds (docs/config.md says how stale that can be)
  const cacheNode = root.child("answerCache");
  let answerCache: Config["answerCache"] = { ...DEFAULT_ANSWER_CACHE };
  if (cacheNode) {
    const s = new Section(cacheNode, errors);
    answerCache = {
      ttlSeconds: s.int("ttl", false, DEFAULT_ANSWER_CACHE.ttlSeconds, 0, 3600, "seconds"),
      maxEntries: s.int("maxEntries", false, DEFAULT_ANSWER_CACHE.maxEntries, 1, 10_000_000),
    };
    s.finish();
  }
  const pools = readPools(root.child("pools"), errors, { mask: server.defaultMask, router: server.defaultRouter, dns: server.defaultDns });
  root.finish();

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: {
      file: resolve(path),
      server,
      database,
      queryTimeoutMs: queries.queryTimeoutMs,
      slowP99Ms: queries.slowP99Ms,
      slices,
      offers: queries.offers,
      history: queries.history,
      historyEvents: queries.historyEvents,
      log,
      metrics,
      leases,
      historyRetentionDays,
      spoolPath,
      historyFsync,
      rateLimit,
      answerCache,
      relayProfiles,
      pools,
    },
  };
}

/** docs/reliability.md gives the measured cost of each choice */
const DEFAULT_FSYNC: Config["historyFsync"] = { kind: "interval", ms: 1000 };

function parseFsync(t: string): Config["historyFsync"] | null {
  const v = t.trim().toLowerCase();
  if (v === "always" || v === "never") return { kind: v };
  if (!/^[0-9]{2,5}$/.test(v)) return null;
  const ms = Number(v);
  return ms >= 10 && ms <= 60_000 ? { kind: "interval", ms } : null;
}

/** `config/query/offer_3: missing (offer_count is 3)` */
export function formatConfigError(e: ConfigError): string {
  return `${e.path}: ${e.message}`;
}
