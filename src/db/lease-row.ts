/** The `pydhcp_lease` table's columns and row -> Lease, shared by both backends. */
import type { Lease, Row } from "./backend.ts";

export const LEASE_COLUMNS = "client_key, mac, ip, option82, expires, state, answer, updated";

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
  };
}
