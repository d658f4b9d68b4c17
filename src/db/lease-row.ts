/** The `pydhcp_lease` table's columns and row -> Lease, shared by both backends. */
import { randomBytes } from "node:crypto";
import type { Lease, LeaseFilter, Row } from "./backend.ts";

/** The columns a Lease is read from (`writer` is written, never read back). */
export const LEASE_COLUMNS = "client_key, mac, ip, option82, expires, state, answer, updated, relay, hostname";
/** The columns an upsert writes: the lease and who wrote it. */
export const LEASE_WRITE_COLUMNS = `${LEASE_COLUMNS}, writer`;
export const LEASE_WRITE_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/**
 * This process's `writer` id, stored with every lease it upserts so its
 * sync can leave its own rows out (changedSince). Start time and
 * randomness, like the history journal's run id: a restarted server has a
 * new one and reads its previous run's rows like any other server's.
 */
export const LEASE_WRITER: string = Date.now().toString(36) + randomBytes(4).toString("hex");

/** The `writer` of rows changed by a release (CLI, API): no server's id, so every server reads them back. */
export const RELEASE_WRITER = "release";

export function leaseFrom(r: Row): Lease {
  return {
    clientKey: String(r.client_key),
    mac: String(r.mac),
    ip: String(r.ip),
    option82: String(r.option82 ?? ""),
    expires: Number(r.expires),
    state: String(r.state) as Lease["state"],
    answer: String(r.answer),
    updated: Number(r.updated),
    relay: String(r.relay ?? ""),
    hostname: String(r.hostname ?? ""),
  };
}

/** rows converted per event-loop turn by leasesFrom */
export const LEASE_SLICE = 1000;

/**
 * leaseFrom over a large result (a sync reads every row changed in the last
 * seconds: tens of thousands on a busy server), a slice per event-loop turn.
 */
export async function leasesFrom(rows: readonly Row[]): Promise<Lease[]> {
  const out: Lease[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % LEASE_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    out[i] = leaseFrom(rows[i]!);
  }
  return out;
}

/** An upsert's values, in LEASE_WRITE_COLUMNS order. */
export function leaseValues(l: Lease, writer: string): (string | number)[] {
  return [l.clientKey, l.mac, l.ip, l.option82, l.expires, l.state, l.answer, l.updated, l.relay, l.hostname, writer];
}

/**
 * Columns added after the first release: a table created by an older
 * pydhcp gains them at start (name, MySQL type, SQLite type).
 */
export const LEASE_ADDED_COLUMNS: readonly [string, string, string][] = [
  ["relay", "varchar(15) NOT NULL DEFAULT ''", "TEXT NOT NULL DEFAULT ''"],
  ["hostname", "varchar(255) NOT NULL DEFAULT ''", "TEXT NOT NULL DEFAULT ''"],
  // rows from before it have '' (no server's id): every server reads them back
  ["writer", "varchar(40) NOT NULL DEFAULT ''", "TEXT NOT NULL DEFAULT ''"],
];

/**
 * The index a sync reads through: `updated` for the window, `writer` so the
 * server leaves its own rows out in the index (MariaDB's index condition
 * pushdown) without reading them. It replaced `pydhcp_lease_updated`
 * (updated alone), which the migration drops.
 */
export const LEASE_SYNC_INDEX = "pydhcp_lease_updated_writer";

/** Most rows one list call returns: a CLI or API caller pages by narrowing the filter. */
export const LIST_LIMIT = 1000;

/**
 * The WHERE clause and values of a lease listing. Only mac, ip, relay
 * address and expiry go to SQL (all bound); relay MAC and switch port are
 * read from option 82 by the caller.
 */
export function listWhere(f: LeaseFilter, now: number, num = "?"): { where: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  if (f.mac !== undefined) parts.push("mac = ?"), params.push(f.mac);
  if (f.ip !== undefined) parts.push("ip = ?"), params.push(f.ip);
  if (f.relayIp !== undefined) parts.push("relay = ?"), params.push(f.relayIp);
  // hex digits only (checked by the caller), so no LIKE wildcard can come from the value
  if (f.option82Contains !== undefined) parts.push("option82 LIKE ?"), params.push(`%${f.option82Contains}%`);
  // `num`: how the dialect binds an integer (PostgreSQL: CAST(? AS bigint), its values travel as text)
  if (f.expired === true) parts.push(`(expires < ${num} OR state IN ('released', 'declined'))`), params.push(now);
  else if (f.expired === false) parts.push(`expires >= ${num} AND state IN ('bound', 'offered')`), params.push(now);
  return { where: parts.length ? "WHERE " + parts.join(" AND ") : "", params };
}

/** listWhere's test on one lease in memory (leases a server has not written yet). */
export function matchesFilter(l: Lease, f: LeaseFilter, now: number): boolean {
  if (f.mac !== undefined && l.mac !== f.mac) return false;
  if (f.ip !== undefined && l.ip !== f.ip) return false;
  if (f.relayIp !== undefined && l.relay !== f.relayIp) return false;
  if (f.option82Contains !== undefined && !l.option82.includes(f.option82Contains)) return false;
  const ended = l.expires < now || l.state === "released" || l.state === "declined";
  if (f.expired === true && !ended) return false;
  if (f.expired === false && ended) return false;
  return true;
}
