/**
 * `pydhcp leases` and `pydhcp lease release`: the lease table as a person
 * reads it, and ending a lease so its address is free at once on every
 * server sharing the database (each checks the table before refusing an
 * address, and reads changed rows back every <leases><syncInterval>).
 *
 *   pydhcp leases -c FILE [--mac M | --ip A | --relay MAC_OR_IP [--port N] | --expired] [--json]
 *   pydhcp lease release -c FILE (--mac M | --ip A)
 */
import { existsSync } from "node:fs";
import { loadConfig, formatConfigError } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import type { Backend } from "../db/backend.ts";
import { openBackend } from "../db/open.ts";
import { createLogger } from "../log/logger.ts";
import { LIST_LIMIT } from "../db/lease-row.ts";
import { leaseView, parseLeaseQuery, selectViews, type LeaseView, macColons } from "../server/lease-view.ts";
import { displayValue } from "../variables/format.ts";

type Flags = Map<string, string | true>;
const str = (f: Flags, k: string): string | undefined => {
  const v = f.get(k);
  return typeof v === "string" ? v : undefined;
};

async function open(configPath: string): Promise<{ config: Config; backend: Backend } | number> {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
    return 2;
  }
  const config = loaded.config;
  // opening a missing SQLite file would create an empty one
  if (config.database.kind === "sqlite" && !existsSync(config.database.path)) {
    process.stderr.write(`pydhcp: ${config.database.path}: no such database\n`);
    return 1;
  }
  try {
    return { config, backend: await openBackend(config.database, createLogger({ level: "error", format: "text" }), config.queryTimeoutMs) };
  } catch (e) {
    process.stderr.write(`pydhcp: cannot open the database: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

const COLUMNS: readonly [string, (v: LeaseView) => string][] = [
  ["CLIENT", (v) => v.mac],
  ["ADDRESS", (v) => v.ip],
  ["STATE", (v) => v.state],
  ["EXPIRES", (v) => `${v.expiresLocal} (${v.expiresIn})`],
  ["RELAY", (v) => v.relay || "-"],
  ["SWITCH", (v) => v.relayMac || "-"],
  // without a vendor profile for the relay, the circuit id is the port as the relay names it
  ["PORT", (v) => v.port || v.interface || (v.circuitId ? displayValue(v.circuitId) : "-")],
  ["VLAN", (v) => v.vlan || "-"],
  ["HOSTNAME", (v) => (v.hostname ? displayValue(v.hostname) : "-")],
  ["LAST SEEN", (v) => `${v.lastSeenLocal} (${v.lastSeen ? relativeAgo(v) : "-"})`],
];

function relativeAgo(v: LeaseView): string {
  const s = Math.floor(Date.now() / 1000) - v.lastSeen;
  return s < 60 ? `${Math.max(0, s)}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86400 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago` : `${Math.floor(s / 86400)}d ago`;
}

/** Columns padded to their widest cell (by code points, so Cyrillic names line up). */
export function leaseTable(views: readonly LeaseView[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...views.map((v) => COLUMNS.map(([, f]) => f(v)))];
  const len = (s: string) => [...s].length;
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => len(r[i]!))));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - len(c)))).join("  ")).join("\n") + "\n";
}

export async function leasesCommand(f: Flags, configPath: string): Promise<number> {
  const chosen = ["mac", "ip", "relay", "expired"].filter((k) => f.has(k));
  if (chosen.length > 1) {
    process.stderr.write(`pydhcp: leases: use one of --mac, --ip, --relay, --expired (got ${chosen.map((c) => "--" + c).join(" ")})\n`);
    return 2;
  }
  const q = parseLeaseQuery({ mac: str(f, "mac"), ip: str(f, "ip"), relay: str(f, "relay"), port: str(f, "port"), expired: f.has("expired") });
  if (!q.ok) {
    process.stderr.write(`pydhcp: leases: --${q.error}\n`);
    return 2;
  }
  const o = await open(configPath);
  if (typeof o === "number") return o;
  try {
    const now = Math.floor(Date.now() / 1000);
    const rows = await o.backend.leases.list(q.value.filter, now, LIST_LIMIT);
    const views = selectViews(rows, q.value, now, o.config.relayProfiles);
    if (f.has("json")) for (const v of views) process.stdout.write(JSON.stringify(v) + "\n");
    else if (views.length === 0) process.stderr.write("pydhcp: no lease matches\n");
    else process.stdout.write(leaseTable(views));
    if (rows.length === LIST_LIMIT) process.stderr.write(`pydhcp: showing the ${LIST_LIMIT} most recently changed leases; narrow the search for the rest\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`pydhcp: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await o.backend.close().catch(() => {});
  }
}

export async function leaseReleaseCommand(f: Flags, configPath: string): Promise<number> {
  const mac = str(f, "mac");
  const ip = str(f, "ip");
  if ((mac === undefined) === (ip === undefined)) {
    process.stderr.write("pydhcp: lease release needs exactly one of --mac MAC or --ip ADDRESS\n");
    return 2;
  }
  const q = parseLeaseQuery({ mac, ip });
  if (!q.ok) {
    process.stderr.write(`pydhcp: lease release: --${q.error}\n`);
    return 2;
  }
  const o = await open(configPath);
  if (typeof o === "number") return o;
  try {
    const now = Math.floor(Date.now() / 1000);
    const by = q.value.filter.mac !== undefined ? { mac: q.value.filter.mac } : { ip: q.value.filter.ip! };
    const ended = await o.backend.leases.release(by, now);
    if (ended.length === 0) {
      process.stderr.write(`pydhcp: no current lease for ${mac ?? ip}\n`);
      return 1;
    }
    for (const l of ended) {
      const v = leaseView(l, now, o.config.relayProfiles);
      process.stdout.write(`released ${v.ip} (was ${v.state} to ${macColons(l.mac)}${v.hostname ? " " + displayValue(v.hostname) : ""})\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`pydhcp: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await o.backend.close().catch(() => {});
  }
}
