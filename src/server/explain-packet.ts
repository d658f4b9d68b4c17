/**
 * A request as a client (or relay) would send it, built from a few fields:
 * what `pydhcp --explain --mac ...` and GET /api/explain run through the
 * server's decision. Pure: flags in, a message or the problem out.
 */
import { emptyMessage } from "../codec/header.ts";
import { parseIPv4 } from "../codec/ip.ts";
import { MessageType, type DhcpMessage } from "../codec/message.ts";
import { encodeRelayAgentInfo } from "../option82/parse.ts";
import { SUBOPTION } from "../option82/suboptions.ts";

type Flags = Map<string, string | true>;
const str = (f: Flags, k: string): string | undefined => {
  const v = f.get(k);
  return typeof v === "string" ? v : undefined;
};

/** "0x0004..." or "aa:bb" style hex -> bytes; anything else is text. */
function hexOrText(s: string): Uint8Array {
  const h = s.startsWith("0x") ? s.slice(2) : /^([0-9a-f]{2}[:-]){1,}[0-9a-f]{2}$/i.test(s) ? s.replace(/[:-]/g, "") : null;
  if (h !== null && /^([0-9a-f]{2})+$/i.test(h)) return Uint8Array.from(Buffer.from(h, "hex"));
  return new TextEncoder().encode(s);
}

const TYPES_FROM_FLAGS = ["DISCOVER", "REQUEST", "INFORM", "RELEASE", "DECLINE"];

/** A request as a client (or relay) would send it, from command-line flags. */
export function buildPacket(f: Flags): DhcpMessage | string {
  const mac = str(f, "mac");
  if (!mac) return "--explain needs a packet: --hex, --file, --stdin, or --mac";
  const m = mac.replace(/[:.-]/g, "");
  if (!/^[0-9a-f]{12}$/i.test(m)) return `--mac ${mac}: not a MAC address`;
  const typeName = (str(f, "type") ?? "DISCOVER").toUpperCase();
  const type = (MessageType as Record<string, number>)[typeName];
  if (!type || !TYPES_FROM_FLAGS.includes(typeName)) return `--type ${typeName}: one of ${TYPES_FROM_FLAGS.join(", ")}`;
  const giaddr = str(f, "giaddr") ?? "0.0.0.0";
  if (parseIPv4(giaddr) === null) return `--giaddr ${giaddr}: not an IPv4 address`;
  const chaddr = new Uint8Array(16);
  chaddr.set(Buffer.from(m, "hex"));
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(type)]]);
  const req = str(f, "requested-ip");
  if (req) {
    const n = parseIPv4(req);
    if (n === null) return `--requested-ip ${req}: not an IPv4 address`;
    options.set(50, Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255));
  }
  options.set(55, Uint8Array.of(1, 3, 6, 15, 51, 54));
  const subs = new Map<number, Uint8Array>();
  const cid = str(f, "circuit-id");
  const rid = str(f, "remote-id");
  if (cid) subs.set(SUBOPTION.CIRCUIT_ID, hexOrText(cid));
  if (rid) subs.set(SUBOPTION.REMOTE_ID, hexOrText(rid));
  if (subs.size) {
    // RFC 3046 2.0: only a relay adds option 82, and a relay always sets giaddr
    if (giaddr === "0.0.0.0") return "--circuit-id/--remote-id need --giaddr (the relay that adds option 82)";
    const r = encodeRelayAgentInfo(subs);
    if (!r.ok) return r.error.message;
    options.set(82, r.bytes);
  }
  return {
    ...emptyMessage(),
    op: 1,
    htype: 1,
    hlen: 6,
    hops: giaddr === "0.0.0.0" ? 0 : 1,
    xid: 0x12345678,
    giaddr,
    chaddr,
    options,
  };
}
