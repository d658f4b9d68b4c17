/**
 * <relay_profiles>: which Option 82 vendor profile applies to which relay.
 *
 *   <relay_profiles>
 *     <default>auto</default>
 *     <relay giaddr="198.18.0.0/24" profile="dlink"/>
 *     <relay remote_id="00:1e:58:9e:b2:ad" profile="cisco"/>
 *   </relay_profiles>
 *
 * The config loader hands over the element as fast-xml-parser gives it with
 * {ignoreAttributes: false, attributeNamePrefix: "@_", parseTagValue: false,
 * trimValues: true}: an empty element is "", a single <relay> is an object,
 * several are an array, attributes are "@_name" strings, text is a string or
 * "#text" beside attributes. The loader's own element tree (config/xml.ts
 * XmlNode, order-preserving) is accepted too and read the same way. Pure:
 * every problem comes back as a value naming its XML path, nothing is thrown.
 */
import { normaliseMac } from "../option82/fields.ts";
import { PROFILE_IDS, type ProfileRule } from "../option82/profiles.ts";
import { formatIPv4, parseIPv4, prefixToMask } from "../codec/ip.ts";
import type { XmlNode } from "./xml.ts";

export type { ProfileRule } from "../option82/profiles.ts";

export interface ProfileConfigError {
  path: string;
  message: string;
}

export type RelayProfilesResult =
  | { ok: true; rules: ProfileRule[] }
  | { ok: false; errors: ProfileConfigError[] };

const KNOWN_CHILDREN = new Set(["default", "relay"]);
const RELAY_ATTRS = new Set(["@_giaddr", "@_remote_id", "@_profile"]);

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** One element or many, as fast-xml-parser gives them, always as a list. */
const many = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** "auto", "none" or a row id -> the rule's profile (null = do not decode). */
function profileName(value: unknown, path: string, errors: ProfileConfigError[]): string | null | undefined {
  if (typeof value !== "string" || value === "") {
    errors.push({ path, message: "profile is missing: give a vendor profile name, auto or none" });
    return undefined;
  }
  if (!PROFILE_IDS.has(value)) {
    const known = [...PROFILE_IDS].join(", ");
    errors.push({ path, message: `unknown Option 82 profile "${value}" (known: ${known})` });
    return undefined;
  }
  return value === "none" ? null : value;
}

/** "a.b.c.d" or "a.b.c.d/len" with no host bits set -> network and prefix. */
function parseCidr(text: string): { network: number; prefix: number } | string {
  const [addr, len, extra] = text.split("/");
  if (extra !== undefined) return `"${text}" is not an IPv4 address or CIDR network`;
  const n = parseIPv4(addr!);
  if (n === null) return `"${text}" is not an IPv4 address or CIDR network`;
  let prefix = 32;
  if (len !== undefined) {
    if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return `"${text}": prefix length must be 0..32`;
    prefix = Number(len);
  }
  const network = (n & prefixToMask(prefix)!) >>> 0;
  if (network !== n) return `"${text}" has host bits set; did you mean ${formatIPv4(network)}/${prefix}?`;
  return { network, prefix };
}

function parseRelay(node: unknown, path: string, errors: ProfileConfigError[]): ProfileRule | null {
  if (!isRecord(node)) {
    errors.push({ path, message: "<relay> needs attributes giaddr or remote_id, and profile" });
    return null;
  }
  const before = errors.length;
  for (const key of Object.keys(node)) {
    if (key === "#text") errors.push({ path, message: "<relay> takes no text, only attributes" });
    else if (!RELAY_ATTRS.has(key)) errors.push({ path: `${path}/${key.replace(/^@_/, "@")}`, message: `unknown attribute or element "${key.replace(/^@_/, "")}" (expected giaddr, remote_id, profile)` });
  }
  const giaddr = node["@_giaddr"];
  const remoteId = node["@_remote_id"];
  const profile = profileName(node["@_profile"], `${path}/@profile`, errors);
  if ((giaddr === undefined) === (remoteId === undefined)) {
    errors.push({ path, message: "<relay> needs exactly one of giaddr or remote_id" });
    return null;
  }
  if (giaddr !== undefined) {
    const cidr = typeof giaddr === "string" ? parseCidr(giaddr) : "giaddr must be text";
    if (typeof cidr === "string") {
      errors.push({ path: `${path}/@giaddr`, message: cidr });
      return null;
    }
    return errors.length === before && profile !== undefined ? { kind: "giaddr", ...cidr, profile } : null;
  }
  const mac = typeof remoteId === "string" ? normaliseMac(remoteId) : null;
  if (mac === null) {
    errors.push({ path: `${path}/@remote_id`, message: `"${String(remoteId)}" is not a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-.., aabb.ccdd.eeff or 12 hex digits)` });
    return null;
  }
  return errors.length === before && profile !== undefined ? { kind: "remote_id", mac, profile } : null;
}

function isXmlNode(x: unknown): x is XmlNode {
  return isRecord(x) && typeof x.name === "string" && Array.isArray(x.children) && isRecord(x.attributes);
}

/** An XmlNode in the fast-xml-parser shape above ("" / text / {"@_a", "#text", child: one | many}). */
function plain(node: XmlNode): unknown {
  const attrs = Object.entries(node.attributes);
  if (attrs.length === 0 && node.children.length === 0) return node.text;
  const out: Record<string, unknown> = {};
  for (const [k, v] of attrs) out[`@_${k}`] = v;
  if (node.text !== "") out["#text"] = node.text;
  for (const c of node.children) {
    const prev = out[c.name];
    out[c.name] = prev === undefined ? plain(c) : Array.isArray(prev) ? [...prev, plain(c)] : [prev, plain(c)];
  }
  return out;
}

/**
 * Validate <relay_profiles> and return its rules in document order; an
 * absent or empty element gives no rules (no profile decoding at all).
 * `xmlPath` is where the element sits, e.g. "/pydhcp/relay_profiles".
 */
export function parseRelayProfiles(input: unknown, xmlPath: string): RelayProfilesResult {
  const node = isXmlNode(input) ? plain(input) : input;
  if (node === undefined || node === "") return { ok: true, rules: [] };
  if (!isRecord(node)) {
    return { ok: false, errors: [{ path: xmlPath, message: "<relay_profiles> must contain <default> and <relay> elements" }] };
  }
  const errors: ProfileConfigError[] = [];
  const rules: ProfileRule[] = [];
  for (const key of Object.keys(node)) {
    if (!KNOWN_CHILDREN.has(key)) {
      errors.push({ path: `${xmlPath}/${key.replace(/^@_/, "@")}`, message: `unexpected "${key.replace(/^@_/, "")}" in <relay_profiles> (expected <default>, <relay>)` });
    }
  }
  const defaults = many(node["default"]);
  if (defaults.length > 1) errors.push({ path: `${xmlPath}/default[2]`, message: "<default> given more than once" });
  if (defaults.length >= 1) {
    const path = `${xmlPath}/default`;
    const profile = profileName(defaults[0], path, errors);
    if (profile !== undefined) rules.push({ kind: "default", profile });
  }
  const seen = new Map<string, string>();
  many(node["relay"]).forEach((relay, i) => {
    const path = `${xmlPath}/relay[${i + 1}]`;
    const rule = parseRelay(relay, path, errors);
    if (rule === null) return;
    const key = rule.kind === "giaddr" ? `giaddr ${rule.network}/${rule.prefix}` : rule.kind === "remote_id" ? `mac ${rule.mac}` : "";
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({ path, message: `same ${rule.kind} as ${first}; which profile applies would depend on order` });
      return;
    }
    seen.set(key, path);
    rules.push(rule);
  });
  return errors.length === 0 ? { ok: true, rules } : { ok: false, errors };
}
