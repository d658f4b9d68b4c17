/**
 * A lease as a person reads it (`pydhcp leases`, GET /api/leases, the
 * help-desk page): MAC with colons, the state as it stands now (a bound lease
 * past its expiry is "expired"), expiry in local time and relative ("in 3h
 * 12m"), the relay, and switch, port and VLAN read from the stored option 82
 * with the config's <relay_profiles> (or "auto" without them).
 */
import { emptyMessage } from "../codec/header.ts";
import type { Lease, LeaseFilter } from "../db/backend.ts";
import { decodeOption82Profile, remoteIdMac, selectProfile, type ProfileRule } from "../option82/profiles.ts";
import { parseRelayAgentInfo } from "../option82/parse.ts";
import { isPrintableAscii } from "../variables/text.ts";

export interface LeaseView {
  mac: string;
  ip: string;
  state: "bound" | "offered" | "expired" | "released" | "declined";
  /** epoch seconds */
  expires: number;
  expiresLocal: string;
  expiresIn: string;
  relay: string;
  /** the relay's own MAC (remote-id), "" when unknown */
  relayMac: string;
  port: string;
  vlan: string;
  interface: string;
  circuitId: string;
  remoteId: string;
  profile: string;
  hostname: string;
  /** epoch seconds of the last change the table holds */
  lastSeen: number;
  lastSeenLocal: string;
  clientKey: string;
}

export function macColons(hex12: string): string {
  return /^[0-9a-f]{12}$/.test(hex12) ? hex12.match(/../g)!.join(":") : hex12;
}

/** "aa:bb:cc:dd:ee:ff", "aa-bb-...", "aabb.ccdd.eeff" or 12 hex digits -> 12 lower-case hex digits, else null. */
export function normalizeMac(s: string): string | null {
  const h = s.trim().toLowerCase().replace(/[:.-]/g, "");
  return /^[0-9a-f]{12}$/.test(h) ? h : null;
}

/** "in 3h 12m", "4m ago", "now"; the largest two units. */
export function relative(seconds: number): string {
  const a = Math.abs(Math.round(seconds));
  if (a < 60) return a === 0 ? "now" : seconds > 0 ? `in ${a}s` : `${a}s ago`;
  const d = Math.floor(a / 86400);
  const h = Math.floor((a % 86400) / 3600);
  const m = Math.floor((a % 3600) / 60);
  const parts = d ? [`${d}d`, h ? `${h}h` : ""] : h ? [`${h}h`, m ? `${m}m` : ""] : [`${m}m`];
  const t = parts.filter(Boolean).join(" ");
  return seconds > 0 ? `in ${t}` : `${t} ago`;
}

/** Local time as "2026-12-01 23:14:05" (the host's time zone, as an operator's clock shows). */
export function localTime(epoch: number): string {
  const d = new Date(epoch * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const text = (b: Uint8Array | undefined): string => (b && isPrintableAscii(b) ? new TextDecoder().decode(b) : b ? Buffer.from(b).toString("hex") : "");

export function leaseView(l: Lease, now: number, rules: readonly ProfileRule[] | null): LeaseView {
  const state: LeaseView["state"] = (l.state === "bound" || l.state === "offered") && l.expires < now ? "expired" : l.state;
  const v: LeaseView = {
    mac: macColons(l.mac),
    ip: l.ip,
    state,
    expires: l.expires,
    expiresLocal: localTime(l.expires),
    expiresIn: relative(l.expires - now),
    relay: l.relay,
    relayMac: "",
    port: "",
    vlan: "",
    interface: "",
    circuitId: "",
    remoteId: "",
    profile: "",
    hostname: l.hostname,
    lastSeen: l.updated,
    lastSeenLocal: localTime(l.updated),
    clientKey: l.clientKey,
  };
  if (!l.option82 || !/^([0-9a-f]{2})+$/i.test(l.option82)) return v;
  const p = parseRelayAgentInfo(Uint8Array.from(Buffer.from(l.option82, "hex")));
  if (!p.ok) return v;
  const circuit = p.subs.get(1);
  const remote = p.subs.get(2);
  v.circuitId = text(circuit);
  v.remoteId = text(remote);
  const giaddr = l.relay || "0.0.0.0";
  const id = rules ? selectProfile(rules, giaddr, remoteIdMac(remote)) : "auto";
  const r = id === null ? null : decodeOption82Profile(id, circuit, remote, giaddr);
  if (!r) return v;
  const vars = new Map(r.vars);
  const g = (k: string) => vars.get(k) ?? "";
  v.profile = g("profile");
  v.relayMac = g("relay_mac");
  v.port = g("port");
  v.vlan = g("vlan");
  v.interface = g("interface");
  return v;
}

/** A request for leases: what goes to SQL and what is matched on the views. */
export interface LeaseQuery {
  filter: LeaseFilter;
  relayMac?: string;
  port?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const isIpv4 = (s: string) => IPV4.test(s);

/**
 * mac, ip, relay (MAC or IP), port, expired -> a LeaseQuery, or an error
 * naming the bad value. Shared by the CLI flags and the API's query string.
 */
export function parseLeaseQuery(p: { mac?: string | undefined; ip?: string | undefined; relay?: string | undefined; port?: string | undefined; expired?: boolean | undefined }): Parsed<LeaseQuery> {
  const q: LeaseQuery = { filter: {} };
  const show = (s: string) => JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
  if (p.mac !== undefined && p.mac !== "") {
    const m = normalizeMac(p.mac);
    if (!m) return { ok: false, error: `mac ${show(p.mac)}: not a MAC address (aa:bb:cc:dd:ee:ff)` };
    q.filter.mac = m;
  }
  if (p.ip !== undefined && p.ip !== "") {
    if (!isIpv4(p.ip)) return { ok: false, error: `ip ${show(p.ip)}: not an IPv4 address` };
    q.filter.ip = p.ip;
  }
  if (p.relay !== undefined && p.relay !== "") {
    if (isIpv4(p.relay)) q.filter.relayIp = p.relay;
    else {
      const m = normalizeMac(p.relay);
      if (!m) return { ok: false, error: `relay ${show(p.relay)}: neither an IPv4 address nor a MAC address` };
      q.relayMac = macColons(m);
      // the remote-id carries the switch MAC as bytes: rows without it are left in the database
      q.filter.option82Contains = m;
    }
  }
  if (p.port !== undefined && p.port !== "") {
    if (!/^\d{1,5}$/.test(p.port)) return { ok: false, error: `port ${show(p.port)}: not a port number` };
    if (q.filter.relayIp === undefined && q.relayMac === undefined) return { ok: false, error: "port needs relay (the switch whose port it is)" };
    q.port = String(Number(p.port));
  }
  if (p.expired) q.filter.expired = true;
  return { ok: true, value: q };
}

/** The views a query selects, from the rows the store gave for its SQL part. */
export function selectViews(rows: readonly Lease[], q: LeaseQuery, now: number, rules: readonly ProfileRule[] | null): LeaseView[] {
  const out: LeaseView[] = [];
  for (const l of rows) {
    const v = leaseView(l, now, rules);
    if (q.relayMac !== undefined && v.relayMac.toLowerCase() !== q.relayMac) continue;
    if (q.port !== undefined && String(Number(v.port)) !== q.port) continue;
    out.push(v);
  }
  return out;
}
