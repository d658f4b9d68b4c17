/**
 * Every variable that SQL templates, <options> slices and --dump can name:
 * one row each. extract.ts produces them, config/load.ts checks `{name}`
 * against them, docs/variables.md is generated from them.
 *
 * Legacy rows are pydhcpdb's names (operators' queries use them, so their
 * values match pydhcpdb's text). Modern rows are snake_case and named in
 * RFC 2131/2132/3046 terms. A row whose name holds `N` is a pattern: N is a
 * decimal number (no leading zero) that `codes` accepts.
 */

/** The options pydhcpdb decoded by code; any other code was "unknown_option_N". */
export const LEGACY_KNOWN_OPTIONS: ReadonlySet<number> = new Set([
  1, 3, 6, 12, 42, 50, 51, 53, 54, 55, 60, 61, 82, 116,
]);

export interface VariableRow {
  /** exact name, or a pattern with N standing for a decimal code */
  name: string;
  /** where the value comes from: header field, option, sub-option */
  source: string;
  description: string;
  /** the value for a typical packet ("" only where the real value is empty) */
  example: string;
  /** true for pydhcpdb's names */
  legacy: boolean;
  /** for patterns: which N exist */
  codes?: (n: number) => boolean;
  /** defined only in history statements: describes the answer and the event, not the packet */
  history?: true;
}

const anyOption = (n: number) => n >= 1 && n <= 254;
/** RFC 3046 sub-options have no Pad or End: every code 0..255 is data. */
const anySubOption = (n: number) => n >= 0 && n <= 255;
const unknownOption = (n: number) => anyOption(n) && !LEGACY_KNOWN_OPTIONS.has(n);
const knownOption = (n: number) => LEGACY_KNOWN_OPTIONS.has(n) && n !== 82;

const L = true;
const M = false;

function row(
  name: string,
  legacy: boolean,
  source: string,
  example: string,
  description: string,
  codes?: (n: number) => boolean,
): VariableRow {
  return codes ? { name, source, description, example, legacy, codes } : { name, source, description, example, legacy };
}

export const VARIABLES: readonly VariableRow[] = [
  // ---- pydhcpdb's names, with the text pydhcpdb gave them ----
  row("op", L, "option 53, else header op", "DHCPINFORM",
    "DHCP message type with the DHCP prefix (DHCPDISCOVER .. DHCPINFORM for types 1..8). For other types, or without option 53, it is `DHCPDISCOVER/DHCPREQUEST` (header op 1) or `DHCPOFFER/DHCPACK` (op 2), as pydhcpdb wrote it."),
  row("htype", L, "header htype", "MAC", "`MAC` when the header's htype is 1 (Ethernet); absent otherwise."),
  row("hlen", L, "header hlen", "6", "Hardware address length, decimal."),
  row("hops", L, "header hops", "1", "Relay hop count, decimal."),
  row("secs", L, "header secs", "768", "Seconds elapsed (2-byte field at offset 8), decimal."),
  row("xidhex", L, "header xid", "3c897d8c", "Transaction id, 8 hex digits."),
  row("xidbyte", L, "header xid", "3c897d8c", "pydhcpdb's raw-bytes xid; pydhcp gives the same hex as `xidhex`."),
  row("flags", L, "header flags", "8000", "Flags field as 4 hex digits (`8000` = BROADCAST)."),
  row("ciaddr", L, "header ciaddr", "172.30.128.13", "Client IP address, dotted quad."),
  row("yiaddr", L, "header yiaddr", "0.0.0.0", "'Your' IP address, dotted quad."),
  row("siaddr", L, "header siaddr", "0.0.0.0", "Next server IP address, dotted quad."),
  row("giaddr", L, "header giaddr", "172.30.114.25", "Relay agent IP address, dotted quad (`0.0.0.0` when not relayed)."),
  row("chaddr", L, "header chaddr", "0025224ad764", "First 6 bytes of chaddr, hex."),
  row("magic_cookie", L, "header cookie", "63825363", "The DHCP magic cookie, hex (pydhcpdb gave raw bytes)."),
  row("ClientMacAddress", L, "option 61, else chaddr", "0025224ad764",
    "Option 61 (client identifier) without its type byte, hex; `chaddr` when option 61 is absent or shorter than 2 bytes."),
  row("ClientMacAddressByte", L, "option 61, else chaddr", "0025224ad764",
    "pydhcpdb's raw-bytes twin of `ClientMacAddress`; pydhcp gives the same hex."),
  row("HType", L, "option 61 type byte", "Ethernet", "Only with option 61: `Ethernet` when its type byte is 1, else `unknown`."),
  row("RequestedIpAddress", L, "option 50", "0.0.0.0", "Requested IP address, dotted quad; `0.0.0.0` when absent."),
  row("DHCPServerIP", L, "option 54", "192.168.0.71", "Server identifier, dotted quad."),
  row("DHCPLeaseTime", L, "option 51", "86400", "Lease time, unsigned 32-bit decimal."),
  row("SubnetMask", L, "option 1", "255.255.255.0", "Subnet mask, dotted quad."),
  row("Router", L, "option 3", "192.168.0.1", "First router, dotted quad."),
  row("DNS", L, "option 6", "8.8.8.8", "First DNS server, dotted quad."),
  row("NTPS", L, "option 42", "192.168.0.1", "First NTP server, dotted quad."),
  row("HostName", L, "option 12", "unknown", "Host name as text (see text rule); `unknown` when absent or empty."),
  row("Vendor", L, "option 60", "MSFT 5.0", "Vendor class identifier as text (see text rule)."),
  row("ReqListSubnetMask", L, "option 55", "True", "`True` when option 55 asks for option 1."),
  row("ReqListRouter", L, "option 55", "True", "`True` when option 55 asks for option 3."),
  row("ReqListDNS", L, "option 55", "True", "`True` when option 55 asks for option 6."),
  row("ReqListDomainName", L, "option 55", "True", "`True` when option 55 asks for option 15."),
  row("ReqListPerfowmRouterDiscover", L, "option 55", "True", "`True` when option 55 asks for option 31 (spelling as pydhcpdb)."),
  row("ReqListStaticRoute", L, "option 55", "True", "`True` when option 55 asks for option 33."),
  row("ReqListVendorSpecInfo", L, "option 55", "43", "`43` when option 55 asks for option 43."),
  row("DHCPAUTO", L, "option 116", "True", "`True` when option 116 (auto-configure) is in the packet."),
  row("optionN", L, "option N", "53",
    "The number N itself, for each option pydhcpdb knew (1, 3, 6, 12, 42, 50, 51, 53, 54, 55, 60, 61, 116) present in the packet.",
    knownOption),
  row("option82", L, "option 82", "82", "`82` when option 82 is present, `none` when absent."),
  row("option_82_len", L, "option 82", "18", "Option 82's length, decimal."),
  row("option_82_hex", L, "option 82", "12010600040001000602080006001e589eb2ad",
    "Option 82 starting with its length byte, then its value, hex. <options> slices count characters of this string. (The length byte is `ff` if RFC 3396 concatenation made the value longer than 255 bytes.)"),
  row("option_82_byte", L, "option 82", "12010600040001000602080006001e589eb2ad",
    "pydhcpdb's raw-bytes twin of `option_82_hex`; pydhcp gives the same hex."),
  row("option_82_str", L, "option 82", "b'\\x12\\x01\\x06\\x00\\x04\\x00\\x01\\x00\\x06\\x02\\x08\\x00\\x06\\x00\\x1eX\\x9e\\xb2\\xad'",
    "Python's repr of the length byte and value, exactly as pydhcpdb wrote it."),
  row("option_82_AgentCircuitId_len", L, "option 82 sub-option 1", "6", "Agent Circuit ID length, decimal."),
  row("option_82_AgentCircuitId_hex", L, "option 82 sub-option 1", "000400010006", "Agent Circuit ID, hex."),
  row("option_82_AgentCircuitId_port_hex", L, "option 82 sub-option 1", "06",
    "Last byte of the Agent Circuit ID, hex (the switch port on D-Link-style circuit ids); absent when the circuit id is empty."),
  row("option_82_AgentRemoteId_len", L, "option 82 sub-option 2", "8", "Agent Remote ID length, decimal."),
  row("option_82_AgentRemoteId_hex", L, "option 82 sub-option 2", "0006001e589eb2ad", "Agent Remote ID, hex."),
  row("unknown_option_N_hex", L, "option N", "0401020304",
    "For an option pydhcpdb did not know: its length byte, then its value, hex.", unknownOption),
  row("unknown_option_N_len", L, "option N", "4", "For an option pydhcpdb did not know: its length, decimal.", unknownOption),
  row("unknown_option_N", L, "option N", "0401020304",
    "pydhcpdb's raw-bytes twin of `unknown_option_N_hex`; pydhcp gives the same hex.", unknownOption),
  row("unknown_option_N_str", L, "option N", "b'\\x04\\x01\\x02\\x03\\x04'",
    "Python's repr of the length byte and value, exactly as pydhcpdb wrote it.", unknownOption),

  // ---- modern names ----
  row("msg_type", M, "option 53", "INFORM",
    "Message type name without prefix: DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM, FORCERENEW, LEASEQUERY, ... (`UNKNOWN_<n>` beyond the table); absent without option 53."),
  row("xid", M, "header xid", "3c897d8c", "Transaction id, 8 hex digits."),
  row("broadcast_flag", M, "header flags", "0", "`1` when the BROADCAST flag (0x8000) is set, else `0`."),
  row("mac", M, "header chaddr", "00:25:22:4a:d7:64", "Client hardware address (first hlen bytes of chaddr), colon-separated hex; absent when hlen is 0."),
  row("mac_hex", M, "header chaddr", "0025224ad764", "Client hardware address (first hlen bytes of chaddr), hex."),
  row("client_id_hex", M, "option 61", "010025224ad764", "Whole client identifier including its type byte, hex."),
  row("hostname", M, "option 12", "WIN-PC", "Host name as text (see text rule); absent when the option is."),
  row("hostname_text", M, "option 12", "Сергей-ПК",
    "Host name as a person reads it: UTF-8 when valid, else decoded with `<dhcpserver><hostnameCodepage>` (default cp866, the OEM code page Russian Windows sends); absent when the option is."),
  row("vendor_class", M, "option 60", "MSFT 5.0", "Vendor class identifier as text (see text rule)."),
  row("requested_ip", M, "option 50", "172.30.128.13", "Requested IP address, dotted quad; absent when the option is."),
  row("server_id", M, "option 54", "192.168.0.71", "Server identifier, dotted quad."),
  row("lease_time", M, "option 51", "86400", "Requested lease time, seconds, decimal."),
  row("param_list", M, "option 55", "1,3,6,15,31,33,43", "Parameter request list, decimal codes joined by commas, in the client's order."),
  row("relay_ip", M, "header giaddr", "172.30.114.25", "giaddr, only when the packet came through a relay (giaddr not 0.0.0.0)."),
  row("circuit_id_hex", M, "option 82 sub-option 1", "000400010006", "Agent Circuit ID (RFC 3046 3.1), hex."),
  row("circuit_id_text", M, "option 82 sub-option 1", "eth0/1/3:100", "Agent Circuit ID as text, only when every byte is printable ASCII."),
  row("remote_id_hex", M, "option 82 sub-option 2", "0006001e589eb2ad", "Agent Remote ID (RFC 3046 3.2), hex."),
  row("remote_id_text", M, "option 82 sub-option 2", "olt-3.example", "Agent Remote ID as text, only when every byte is printable ASCII."),
  row("link_selection", M, "option 82 sub-option 5", "198.18.0.0", "Link selection (RFC 3527), dotted quad."),
  row("subscriber_id", M, "option 82 sub-option 6", "cust-0042", "Subscriber-ID (RFC 3993) as text (see text rule)."),
  row("server_id_override", M, "option 82 sub-option 11", "198.18.0.1", "Server identifier override (RFC 5107), dotted quad."),
  row("relay_port", M, "option 82 sub-option 19", "6767", "Relay source port (RFC 8357), decimal."),
  row("relay_sub_N_hex", M, "option 82 sub-option N", "000400010006", "Value of every relay agent sub-option N present, hex.", anySubOption),
  row("opt_N_hex", M, "option N", "4d53465420352e30",
    "Value of every option N present (after RFC 3396 concatenation), hex, without code or length byte.", anyOption),

  // ---- the answer and the event: history statements only ----
  ...HISTORY_ROWS(),
];

function HISTORY_ROWS(): VariableRow[] {
  const h = (name: string, source: string, example: string, description: string): VariableRow => ({
    ...row(name, M, source, example, description),
    history: true,
  });
  return [
    h("answer_ip", "the reply", "198.51.100.7",
      "The address the event is about: yiaddr of the OFFER or ACK; for the ACK to an INFORM, the client's ciaddr; for RELEASE, ciaddr; for DECLINE, the declined address (option 50). Absent for NAK and UNKNOWN."),
    h("answer_mask", "the reply", "255.255.255.0", "Subnet mask sent (option 1). Absent for NAK, RELEASE, DECLINE, UNKNOWN."),
    h("answer_router", "the reply", "198.51.100.1", "Router sent (option 3); absent when none was sent."),
    h("answer_dns", "the reply", "198.51.100.53,198.51.100.54", "DNS servers sent (option 6), joined by commas; absent when none were sent."),
    h("answer_lease_time", "the reply", "86400", "Lease time sent (option 51), seconds. Absent for INFORM (RFC 2131 4.3.5 sends none), NAK, RELEASE, DECLINE, UNKNOWN."),
    h("answer_query", "the decision", "offer_2",
      "Which query decided: `offer_N`, or `lease memory` for a renewal answered while the database was away. Absent for RELEASE, DECLINE, UNKNOWN and a NAK of a client the database no longer knows."),
    h("event", "the decision", "ACK", "OFFER, ACK, NAK, RELEASE, DECLINE, INFORM (the ACK to an INFORM) or UNKNOWN (no query matched)."),
    h("event_time", "the decision", "2026-12-01T21:29:04.117+01:00",
      "When the reply was decided, ISO 8601 with milliseconds and the server's UTC offset. The same instant whenever the row is written."),
    h("event_unixtime", "the decision", "1796156944", "The same instant, seconds since 1970-01-01 UTC."),
    h("event_id", "the journal", "mi5x2kq0a1f3-4711",
      "Unique id of the event: this run of pydhcp, then a sequence number. Store it to prove no event was written twice."),
  ];
}

interface CompiledPattern {
  prefix: string;
  suffix: string;
  row: VariableRow;
}
const exact = new Map<string, VariableRow>();
const patterns: CompiledPattern[] = [];
for (const r of VARIABLES) {
  if (r.codes) {
    const at = r.name.indexOf("N");
    patterns.push({ prefix: r.name.slice(0, at), suffix: r.name.slice(at + 1), row: r });
  } else {
    exact.set(r.name, r);
  }
}

/** Decimal without sign or leading zero, at most 3 digits; else -1. */
function decimal(s: string): number {
  if (s.length === 0 || s.length > 3 || (s.length > 1 && s.charCodeAt(0) === 48)) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** The catalogue row describing `name` (the pattern row for a pattern instance). */
export function variableRow(name: string): VariableRow | undefined {
  const r = exact.get(name);
  if (r) return r;
  for (const p of patterns) {
    if (name.length <= p.prefix.length + p.suffix.length) continue;
    if (!name.startsWith(p.prefix) || !name.endsWith(p.suffix)) continue;
    const n = decimal(name.slice(p.prefix.length, name.length - p.suffix.length));
    if (n >= 0 && p.row.codes!(n)) return p.row;
  }
  return undefined;
}

/**
 * True when `name` can ever be defined: a catalogue name, a pattern
 * instance (option12, unknown_option_77_hex, opt_82_hex), or one of `extra`
 * (slice names, vendor-profile names). config/load.ts rejects the rest.
 */
export function isKnownVariable(name: string, extra?: ReadonlySet<string>, history = true): boolean {
  if (extra?.has(name) === true) return true;
  const r = variableRow(name);
  return r !== undefined && (history || r.history !== true);
}
