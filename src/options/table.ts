/**
 * One row per known DHCPv4 option: the single source for names, value
 * types, the length rules decode enforces, and documentation. Unknown codes
 * are kept raw (type "bytes", no length rule).
 */

export type OptionType =
  /** one IPv4 address, 4 bytes */
  | "ip"
  /** a list of IPv4 addresses, a multiple of 4 bytes */
  | "ips"
  /** pairs of addresses (destination, router), a multiple of 8 bytes (RFC 2132 5.8) */
  | "ipPairs"
  | "u8"
  | "u16"
  | "u32"
  /** signed 32-bit (time offset, RFC 2132 3.4) */
  | "i32"
  /** one byte, 0 or 1 */
  | "bool"
  /** text; decoded as UTF-8 when valid, else Latin-1, so bytes survive */
  | "string"
  /** opaque bytes */
  | "bytes"
  /** classless static routes: prefix length, significant octets, router (RFC 3442) */
  | "routes121"
  /** type byte then identifier (RFC 2132 9.14) */
  | "clientId"
  /** list of option codes (RFC 2132 9.8) */
  | "paramList"
  /** RFC 3046 sub-options; see src/option82 */
  | "relayAgentInfo"
  /** DNS names, RFC 1035 wire format with compression (RFC 3397) */
  | "domains";

export interface OptionDef {
  code: number;
  /** kebab-case name as in ISC and Kea configurations */
  name: string;
  type: OptionType;
  /** smallest value length decode accepts; 0 means an empty value is kept */
  min: number;
  rfc: string;
  /** every address is one a client sends packets to (router, server): it must be a usable host address */
  hosts: boolean;
}

/** Length rules implied by the type: fixed size or a multiple. */
export const TYPE_LENGTH: Readonly<Record<OptionType, { fixed?: number; multiple?: number; min: number }>> = {
  ip: { fixed: 4, min: 4 },
  ips: { multiple: 4, min: 4 },
  ipPairs: { multiple: 8, min: 8 },
  u8: { fixed: 1, min: 1 },
  u16: { fixed: 2, min: 2 },
  u32: { fixed: 4, min: 4 },
  i32: { fixed: 4, min: 4 },
  bool: { fixed: 1, min: 1 },
  string: { min: 0 },
  bytes: { min: 0 },
  routes121: { min: 5 },
  clientId: { min: 2 },
  paramList: { min: 1 },
  relayAgentInfo: { min: 2 },
  domains: { min: 1 },
};

/** Routers and servers: a client sends to them, so 0/8, loopback, multicast and 240/4 are refused (codec/ip.ts). */
const HOST_ADDRESSES = new Set([3, 4, 5, 6, 7, 9, 16, 41, 42, 44, 45, 65, 69, 150]);

const row = (code: number, name: string, type: OptionType, rfc: string, min = TYPE_LENGTH[type].min): OptionDef => ({
  code,
  name,
  type,
  min,
  rfc,
  hosts: HOST_ADDRESSES.has(code),
});

/**
 * Strings and opaque bytes accept an empty value (min 0) even where the RFC
 * says 1: a client sending an empty host name should still get an address.
 */
export const OPTIONS: readonly OptionDef[] = [
  row(1, "subnet-mask", "ip", "RFC 2132 3.3"),
  row(2, "time-offset", "i32", "RFC 2132 3.4"),
  row(3, "routers", "ips", "RFC 2132 3.5"),
  row(4, "time-servers", "ips", "RFC 2132 3.6"),
  row(5, "name-servers", "ips", "RFC 2132 3.7"),
  row(6, "domain-name-servers", "ips", "RFC 2132 3.8"),
  row(7, "log-servers", "ips", "RFC 2132 3.9"),
  row(9, "lpr-servers", "ips", "RFC 2132 3.11"),
  row(12, "host-name", "string", "RFC 2132 3.14"),
  row(13, "boot-size", "u16", "RFC 2132 3.15"),
  row(15, "domain-name", "string", "RFC 2132 3.17"),
  row(16, "swap-server", "ip", "RFC 2132 3.18"),
  row(17, "root-path", "string", "RFC 2132 3.19"),
  row(19, "ip-forwarding", "bool", "RFC 2132 4.1"),
  row(23, "default-ip-ttl", "u8", "RFC 2132 4.9"),
  row(26, "interface-mtu", "u16", "RFC 2132 5.1"),
  row(28, "broadcast-address", "ip", "RFC 2132 5.3"),
  row(31, "perform-router-discovery", "bool", "RFC 2132 5.5"),
  row(33, "static-routes", "ipPairs", "RFC 2132 5.8"),
  row(35, "arp-cache-timeout", "u32", "RFC 2132 6.2"),
  row(40, "nis-domain", "string", "RFC 2132 8.1"),
  row(41, "nis-servers", "ips", "RFC 2132 8.2"),
  row(42, "ntp-servers", "ips", "RFC 2132 8.3"),
  row(43, "vendor-encapsulated-options", "bytes", "RFC 2132 8.4"),
  row(44, "netbios-name-servers", "ips", "RFC 2132 8.5"),
  row(45, "netbios-dd-server", "ips", "RFC 2132 8.6"),
  row(46, "netbios-node-type", "u8", "RFC 2132 8.7"),
  row(47, "netbios-scope", "string", "RFC 2132 8.8"),
  row(50, "dhcp-requested-address", "ip", "RFC 2132 9.1"),
  row(51, "dhcp-lease-time", "u32", "RFC 2132 9.2"),
  row(52, "dhcp-option-overload", "u8", "RFC 2132 9.3"),
  row(53, "dhcp-message-type", "u8", "RFC 2132 9.6"),
  row(54, "dhcp-server-identifier", "ip", "RFC 2132 9.7"),
  row(55, "dhcp-parameter-request-list", "paramList", "RFC 2132 9.8"),
  row(56, "dhcp-message", "string", "RFC 2132 9.9"),
  row(57, "dhcp-max-message-size", "u16", "RFC 2132 9.10"),
  row(58, "dhcp-renewal-time", "u32", "RFC 2132 9.11"),
  row(59, "dhcp-rebinding-time", "u32", "RFC 2132 9.12"),
  row(60, "vendor-class-identifier", "string", "RFC 2132 9.13"),
  row(61, "dhcp-client-identifier", "clientId", "RFC 2132 9.14"),
  row(64, "nisplus-domain-name", "string", "RFC 2132 8.11"),
  row(65, "nisplus-servers", "ips", "RFC 2132 8.12"),
  row(66, "tftp-server-name", "string", "RFC 2132 9.4"),
  row(67, "boot-file-name", "string", "RFC 2132 9.5"),
  row(69, "smtp-server", "ips", "RFC 2132 8.14"),
  row(77, "user-class", "bytes", "RFC 3004"),
  row(80, "rapid-commit", "bytes", "RFC 4039"),
  row(81, "fqdn", "bytes", "RFC 4702"),
  row(82, "dhcp-agent-options", "relayAgentInfo", "RFC 3046"),
  row(90, "authenticate", "bytes", "RFC 3118"),
  row(93, "client-system", "bytes", "RFC 4578"),
  row(97, "uuid-guid", "bytes", "RFC 4578"),
  row(114, "v4-captive-portal", "string", "RFC 8910"),
  row(116, "auto-config", "u8", "RFC 2563"),
  row(118, "subnet-selection", "ip", "RFC 3011"),
  row(119, "domain-search", "domains", "RFC 3397"),
  row(121, "classless-static-route", "routes121", "RFC 3442"),
  row(125, "vivso-suboptions", "bytes", "RFC 3925"),
  row(145, "forcerenew-nonce-capable", "bytes", "RFC 6704"),
  row(150, "tftp-server-address", "ips", "RFC 5859"),
  row(249, "ms-classless-static-route", "routes121", "MS-DHCPE 2.2.9 (RFC 3442 format)"),
  row(252, "wpad-url", "string", "draft-ietf-wrec-wpad-01"),
];

/** The codes the server itself reads or writes, by their RFC 2132 / 3046 names: named here once. */
export const OPTION = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DOMAIN_NAME_SERVER: 6,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  RELAY_AGENT_INFO: 82,
} as const;

const BY_CODE: (OptionDef | undefined)[] = new Array(256);
const BY_NAME = new Map<string, OptionDef>();
for (const d of OPTIONS) {
  BY_CODE[d.code] = d;
  BY_NAME.set(d.name, d);
}

export function optionDef(code: number): OptionDef | undefined {
  return BY_CODE[code];
}

export function optionByName(name: string): OptionDef | undefined {
  return BY_NAME.get(name);
}

export function optionType(code: number): OptionType {
  return BY_CODE[code]?.type ?? "bytes";
}

/**
 * Why a value of this length cannot be the option's value: "empty" (zero
 * length where the table needs a value), "bad" (a length the type cannot
 * hold), or null when it is fine. Unknown codes always pass.
 */
export function lengthProblem(code: number, length: number): "empty" | "bad" | null {
  const d = BY_CODE[code];
  if (d === undefined) return null;
  if (length === 0) return d.min > 0 ? "empty" : null;
  const t = TYPE_LENGTH[d.type];
  if (length < d.min) return "bad";
  if (t.fixed !== undefined && length !== t.fixed) return "bad";
  if (t.multiple !== undefined && length % t.multiple !== 0) return "bad";
  return null;
}

/** What lengthProblem accepts, in words, for error messages. */
export function lengthRuleText(code: number): string {
  const d = BY_CODE[code];
  if (d === undefined) return "any length";
  const t = TYPE_LENGTH[d.type];
  const bytes = (n: number) => `${n} byte${n === 1 ? "" : "s"}`;
  if (t.fixed !== undefined) return `exactly ${bytes(t.fixed)}`;
  if (t.multiple !== undefined) return `a multiple of ${t.multiple} bytes`;
  return `at least ${bytes(d.min)}`;
}
