/**
 * The JSON API under /api/ (the token check is done by http.ts first):
 *
 *   GET    /api/leases?mac=&ip=&relay=&port=&expired=1   leases as views (lease-view.ts)
 *   DELETE /api/leases/{ip}                              ends the lease on that address
 *   GET    /api/explain?mac=&giaddr=&circuit_id=&remote_id=&type=&requested_ip=
 *                                                       the --explain result as JSON
 *   GET    /api/exchanges?mac=&limit=                   the last exchanges, newest first
 *   GET    /api/exchanges/stream?mac=                   server-sent events, one per exchange
 *   GET    /api/counters                                packets, replies, silences, leases
 *
 * Every parameter is checked (known name, length, form) before anything
 * runs; values reach SQL only as bound parameters (db/). Errors are JSON
 * {"error": "..."} with a 4xx status.
 */
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, type DhcpMessage } from "../codec/message.ts";
import type { LeaseStore } from "../db/backend.ts";
import { LIST_LIMIT, matchesFilter } from "../db/lease-row.ts";
import type { ProfileRule } from "../option82/profiles.ts";
import type { ExchangeRing } from "../server/exchange-ring.ts";
import { exchangeJson } from "../server/exchange-view.ts";
import { buildPacket } from "../server/explain-packet.ts";
import { respond } from "../core/respond.ts";
import { macHex } from "../core/lease.ts";
import { isIpv4, leaseView, normalizeMac, parseLeaseQuery, selectViews } from "../server/lease-view.ts";
import type { LeaseMemory } from "../server/leases.ts";
import type { Runtime } from "../server/runtime.ts";
import type { HttpRequest, HttpResponse } from "./http1.ts";

export interface ApiDeps {
  /** the runtime serving now (a reload swaps it) */
  runtime(): Runtime;
  leases: LeaseMemory;
  ring: ExchangeRing;
  /** the metrics exposition, for /api/counters */
  exposition(): string;
  /** epoch ms the server started */
  startedAt: number;
}

/** Longest value any parameter may have: the longest real one is a circuit id (hex of 255 bytes). */
const MAX_VALUE = 600;
const MAX_STREAMS = 16;

const json = (status: number, body: unknown): HttpResponse => ({
  status,
  headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" },
  body: JSON.stringify(body) + "\n",
});
const bad = (message: string, status = 400) => json(status, { error: message });

/** The query parameters, or why not: unknown names, repeats and long values are refused. */
function params(req: HttpRequest, allowed: readonly string[]): Map<string, string> | string {
  const out = new Map<string, string>();
  for (const [k, v] of req.query) {
    if (!allowed.includes(k)) return `unknown parameter ${JSON.stringify(k.slice(0, 40))}; this endpoint takes ${allowed.join(", ") || "none"}`;
    if (out.has(k)) return `parameter ${k} given twice`;
    if (v.length > MAX_VALUE) return `parameter ${k} is longer than ${MAX_VALUE} characters`;
    out.set(k, v);
  }
  return out;
}

const opt = (m: Map<string, string>, k: string): string | undefined => {
  const v = m.get(k);
  return v === undefined || v === "" ? undefined : v;
};

export function createApi(d: ApiDeps): (req: HttpRequest) => Promise<HttpResponse> | HttpResponse {
  let streams = 0;
  const store = (): LeaseStore => d.runtime().backend.leases;
  const rules = (): readonly ProfileRule[] | null => d.runtime().config.relayProfiles;
  const now = () => Math.floor(Date.now() / 1000);

  const listLeases = async (req: HttpRequest): Promise<HttpResponse> => {
    const p = params(req, ["mac", "ip", "relay", "port", "expired"]);
    if (typeof p === "string") return bad(p);
    const exp = opt(p, "expired");
    if (exp !== undefined && exp !== "1" && exp !== "0") return bad("expired must be 1 or 0");
    const q = parseLeaseQuery({ mac: opt(p, "mac"), ip: opt(p, "ip"), relay: opt(p, "relay"), port: opt(p, "port"), expired: exp === "1" });
    if (!q.ok) return bad(q.error);
    const t = now();
    const rows = await store().list(q.value.filter, t, LIST_LIMIT);
    // what this server granted in the last ~100 ms is not in the table yet: memory is newer
    const byKey = new Map(rows.map((l) => [l.clientKey, l]));
    for (const l of d.leases.unwritten()) {
      const row = byKey.get(l.clientKey);
      if (matchesFilter(l, q.value.filter, t) && (!row || row.updated <= l.updated)) byKey.set(l.clientKey, l);
      else if (row && row.updated <= l.updated) byKey.delete(l.clientKey);
    }
    const merged = [...byKey.values()].sort((a, b) => b.updated - a.updated);
    return json(200, { leases: selectViews(merged, q.value, t, rules()), truncated: rows.length === LIST_LIMIT });
  };

  const releaseLease = async (req: HttpRequest, ip: string): Promise<HttpResponse> => {
    const p = params(req, []);
    if (typeof p === "string") return bad(p);
    if (!isIpv4(ip)) return bad(`${JSON.stringify(ip.slice(0, 40))} is not an IPv4 address`);
    const t = now();
    const ended = await store().release({ ip }, t);
    if (ended.length === 0) return json(404, { error: `no current lease for ${ip}` });
    // this server sees it at once; others at their next check or sync
    await d.leases.sync(t).catch(() => 0);
    return json(200, { released: ended.map((l) => leaseView({ ...l, state: "released", expires: t }, t, rules())) });
  };

  const explain = async (req: HttpRequest): Promise<HttpResponse> => {
    const p = params(req, ["mac", "giaddr", "circuit_id", "remote_id", "type", "requested_ip"]);
    if (typeof p === "string") return bad(p);
    const flags = new Map<string, string | true>();
    for (const [k, v] of p) if (v !== "") flags.set(k.replace("_", "-"), v);
    const built = buildPacket(flags);
    if (typeof built === "string") return bad(built.replace(/--([a-z]+)-?([a-z]*)/g, (_, a: string, b: string) => (b ? `${a}_${b}` : a)));
    const msg: DhcpMessage = built;
    const rt = d.runtime();
    const relayed = msg.giaddr !== "0.0.0.0";
    const type = msg.options.get(53)?.[0] ?? 0;
    const t0 = performance.now();
    // the server's own decision on its own lease memory, read-only: nothing is granted, held or written
    const ex = await respond(
      { msg, type, from: { address: relayed ? msg.giaddr : "0.0.0.0", port: relayed ? DHCP_SERVER_PORT : DHCP_CLIENT_PORT }, arrived: t0 },
      { ...rt.deps, leases: d.leases.readOnly() },
    );
    const entry = { id: 0, at: Date.now(), ex, raw: new Uint8Array(0), configured: rt.offers.map((o) => o.template.name), rt, ms: performance.now() - t0, mac: macHex(msg) };
    return json(200, exchangeJson(entry, "history statements that would run (not run by explain):"));
  };

  const exchanges = (req: HttpRequest): HttpResponse => {
    const p = params(req, ["mac", "limit"]);
    if (typeof p === "string") return bad(p);
    const macText = opt(p, "mac");
    const mac = macText === undefined ? undefined : normalizeMac(macText);
    if (mac === null) return bad(`mac ${JSON.stringify(macText!.slice(0, 40))}: not a MAC address`);
    const limitText = opt(p, "limit") ?? "20";
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1) return bad("limit must be 1 to 1000");
    const list = d.ring.recent(Math.min(1000, Number(limitText)), mac);
    return json(200, { exchanges: list.map((e) => exchangeJson(e)), kept: d.ring.size, keeps: d.ring.keeps });
  };

  const stream = (req: HttpRequest): HttpResponse => {
    const p = params(req, ["mac"]);
    if (typeof p === "string") return bad(p);
    const macText = opt(p, "mac");
    const mac = macText === undefined ? undefined : normalizeMac(macText);
    if (mac === null) return bad(`mac ${JSON.stringify(macText!.slice(0, 40))}: not a MAC address`);
    if (streams >= MAX_STREAMS) return bad(`at most ${MAX_STREAMS} streams at once`, 503);
    return {
      status: 200,
      events(sink) {
        streams++;
        const off = d.ring.subscribe((e) => {
          if (mac !== undefined && e.mac !== mac) return;
          sink.send(JSON.stringify(exchangeJson(e)), "exchange");
        });
        // proxies and browsers drop a silent stream; a comment every 15 s keeps it
        const keep = setInterval(() => sink.ping(), 15_000);
        sink.onClose(() => {
          streams--;
          off();
          clearInterval(keep);
        });
        sink.send(JSON.stringify({ ring: d.ring.size }), "hello");
      },
    };
  };

  const counters = (req: HttpRequest): HttpResponse => {
    const p = params(req, []);
    if (typeof p === "string") return bad(p);
    return json(200, { ...countersFrom(d.exposition()), leasesInMemory: d.leases.size, exchangesKept: d.ring.size, uptimeSeconds: Math.floor((Date.now() - d.startedAt) / 1000) });
  };

  return async (req) => {
    const path = req.path;
    const method = req.method === "HEAD" ? "GET" : req.method;
    if (path === "/api/leases") return method === "GET" ? listLeases(req) : bad("method not allowed", 405);
    if (path.startsWith("/api/leases/")) return method === "DELETE" ? releaseLease(req, path.slice("/api/leases/".length)) : bad("method not allowed; DELETE /api/leases/{ip} ends a lease", 405);
    if (method !== "GET") return bad("method not allowed", 405);
    if (path === "/api/explain") return explain(req);
    if (path === "/api/exchanges") return exchanges(req);
    if (path === "/api/exchanges/stream") return stream(req);
    if (path === "/api/counters") return counters(req);
    return json(404, { error: "no such endpoint" });
  };
}

/** Totals of the families the page shows, read from the exposition itself (one source of truth). */
export function countersFrom(exposition: string): Record<string, number | Record<string, number>> {
  const sums: Record<string, Record<string, number>> = { received: {}, sent: {}, dropped: {} };
  const FAMILY: Record<string, [keyof typeof sums, string]> = {
    pydhcp_packets_received_total: ["received", "type"],
    pydhcp_replies_sent_total: ["sent", "type"],
    pydhcp_dropped_total: ["dropped", "reason"],
  };
  for (const line of exposition.split("\n")) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const f = FAMILY[m[1]!];
    if (!f) continue;
    const label = new RegExp(`${f[1]}="([^"]*)"`).exec(m[2]!)?.[1] ?? "";
    const v = Number(m[3]);
    if (v > 0) sums[f[0]]![label] = (sums[f[0]]![label] ?? 0) + v;
  }
  const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  return { receivedTotal: total(sums.received!), sentTotal: total(sums.sent!), droppedTotal: total(sums.dropped!), ...sums };
}
