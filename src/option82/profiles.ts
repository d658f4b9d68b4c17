/**
 * Option 82 profiles: turn a relay's circuit-id and remote-id into named
 * variables ({port}, {vlan}, {relay_mac}...) with the vendor format the
 * operator chose for that relay, or by trying the formats in order ("auto").
 *
 * Pure: bytes and config rules in, variables out. Never throws; anything that
 * does not fit gives null, and the packet's pydhcpdb variables and <options>
 * slices are unaffected either way.
 */
import { type ProfileVar, macText, normaliseMac, printable, remoteIdMac, toHex } from "./fields.ts";
import { ROWS, ROW_BY_ID } from "./vendors.ts";
import { parseIPv4, prefixToMask } from "../codec/ip.ts";

export type { ProfileVar } from "./fields.ts";
export { remoteIdMac } from "./fields.ts";

/** Profile names accepted in the config: every row id, plus "auto" and "none". */
export const PROFILE_IDS: ReadonlySet<string> = new Set([...ROWS.map((r) => r.id), "auto", "none"]);

/**
 * Every variable a profile can define, for the config loader: a query may
 * name these even though a given packet defines only some of them. Short
 * names on purpose, operators write them in SQL; docs/option82.md lists them.
 */
export const PROFILE_VARIABLES: ReadonlySet<string> = new Set([
  "profile",
  "relay_mac",
  "relay_mac_hex",
  "relay_hostname",
  "interface",
  "vlan",
  "vlan_name",
  "svlan",
  "cvlan",
  "module",
  "unit",
  "slot",
  "subslot",
  "port",
  "vpi",
  "vci",
  "circuit_id_hex",
  "circuit_id_text",
  "remote_id_hex",
  "remote_id_text",
]);

export interface ProfileResult {
  /** the row that decoded it (for "auto": the one it picked) */
  profile: string;
  vars: ProfileVar[];
}

/**
 * Variables every profile shares: the raw sub-options as hex, as text when
 * every byte is printable (the same values, by the same rule, as the variable
 * catalogue's names of the same spelling, so setting them twice agrees), and
 * the relay's MAC when the remote-id carries one in a documented form.
 */
function commonVars(circuitId: Uint8Array, remoteId: Uint8Array | undefined, own: ProfileVar[]): ProfileVar[] {
  const out: ProfileVar[] = [["circuit_id_hex", toHex(circuitId)]];
  const ct = printable(circuitId);
  if (ct !== null) out.push(["circuit_id_text", ct]);
  if (remoteId !== undefined) {
    out.push(["remote_id_hex", toHex(remoteId)]);
    const rt = printable(remoteId);
    if (rt !== null) out.push(["remote_id_text", rt]);
  }
  if (!own.some(([n]) => n === "relay_mac")) {
    const mac = remoteIdMac(remoteId);
    if (mac !== null) out.push(["relay_mac", macText(mac)], ["relay_mac_hex", mac]);
  }
  return out;
}

/**
 * Decode with one profile, or "auto".
 *
 * "auto" tries the rows marked auto in table order and takes the first that
 * decodes. The order is most specific first: Juniper's "ge-f/p/n" text, then
 * Huawei's "s/s/p:svlan.cvlan" text, then the looser TR-101 "<node> eth s/p"
 * text, and last the binary 00 04 circuit-id (D-Link layout). Text and binary
 * cannot both match (a binary circuit-id starts with byte 0, never printable),
 * so the order only matters among the text rows, where each earlier pattern is
 * narrower than the next. Look-alike binary rows (Cisco, Eltex custom,
 * Edge-Core, TP-Link, H3C, Huawei extend) and ZyXEL's headerless layout are not
 * guessed: their bytes are the D-Link bytes or any 4 bytes, so they must be
 * named for the relay in the config.
 *
 * `giaddr` is part of the signature so callers pass the whole relay context;
 * no current row reads it (relay selection is selectProfile's job).
 */
export function decodeOption82Profile(
  profileId: string,
  circuitId: Uint8Array | undefined,
  remoteId: Uint8Array | undefined,
  giaddr: string,
): ProfileResult | null {
  void giaddr;
  if (circuitId === undefined || circuitId.length === 0) return null;
  const rows = profileId === "auto" ? ROWS.filter((r) => r.auto) : [ROW_BY_ID.get(profileId)].filter((r) => r !== undefined);
  for (const row of rows) {
    const own = row.decode(circuitId);
    if (own === null) continue;
    return { profile: row.id, vars: [["profile", row.id], ...own, ...commonVars(circuitId, remoteId, own)] };
  }
  return null;
}

/** One <relay_profiles> rule, already validated by config/profiles.ts. */
export type ProfileRule =
  /** relays whose giaddr is inside network/prefix (a bare address is /32) */
  | { kind: "giaddr"; network: number; prefix: number; profile: string | null }
  /** relays whose remote-id carries this MAC (12 lower-case hex digits) */
  | { kind: "remote_id"; mac: string; profile: string | null }
  | { kind: "default"; profile: string | null };

/**
 * Which profile applies to a packet: a rule for the remote-id's MAC wins (it
 * names the very switch that wrote the option, even behind an aggregation
 * router), then the giaddr rule with the longest prefix, then the default.
 * Gives a row id, "auto", or null for "do not decode" (a rule with profile
 * "none", or no rule and no default). `remoteIdMac` may be in any of the
 * usual MAC spellings, or null.
 */
export function selectProfile(
  rules: readonly ProfileRule[],
  giaddr: string,
  remoteIdMacText: string | null,
): string | null {
  const mac = remoteIdMacText === null ? null : normaliseMac(remoteIdMacText);
  if (mac !== null) {
    for (const r of rules) if (r.kind === "remote_id" && r.mac === mac) return r.profile;
  }
  const addr = parseIPv4(giaddr);
  // 0.0.0.0 is "not relayed" (RFC 2131 section 2); a snooping switch may still
  // add option 82, but no relay rule can name it.
  if (addr !== null && addr !== 0) {
    let best: { prefix: number; profile: string | null } | null = null;
    for (const r of rules) {
      if (r.kind !== "giaddr") continue;
      const mask = prefixToMask(r.prefix)!;
      if (((addr & mask) >>> 0) === r.network && (best === null || r.prefix > best.prefix)) best = r;
    }
    if (best !== null) return best.profile;
  }
  for (const r of rules) if (r.kind === "default") return r.profile;
  return null;
}
