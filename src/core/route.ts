/**
 * Where a reply goes (RFC 2131 4.1, RFC 3046 2.2, RFC 8357 5). Pure: the
 * request's header and the reply type in, one destination out.
 *
 * Bun's socket cannot send to a hardware address without an ARP entry, so
 * the "no ciaddr, no broadcast flag" case that RFC 2131 would unicast to
 * chaddr/yiaddr is broadcast instead, which 4.1 explicitly allows.
 */
import { BROADCAST_FLAG, MessageType } from "../codec/message.ts";

export interface Destination {
  address: string;
  port: number;
  /** true when the reply must carry the BROADCAST flag (RFC 2131 4.3.2: a NAK through a relay); respond sets it */
  setBroadcastFlag: boolean;
  /** which rung of the ladder chose it, for logs and tests */
  why: "relay" | "relay-source-port" | "nak-broadcast" | "ciaddr" | "broadcast-flag" | "broadcast-fallback";
}

export interface RouteInput {
  giaddr: string;
  ciaddr: string;
  flags: number;
  /** reply message type (OFFER, ACK, NAK) */
  replyType: number;
  /** request type, to tell an ACK to INFORM from others */
  requestType: number;
  /** UDP source port of the request, used with the RFC 8357 sub-option */
  sourcePort: number;
  /** the request carried RFC 8357 relay-source-port (option 82 sub-option 19) */
  relaySourcePort: boolean;
}

export interface RouteConfig {
  broadcast: string;
  /** where relays listen: 67 (RFC 2131 4.1), whatever port this server binds */
  relayPort: number;
  clientPort: number;
}

const ZERO = "0.0.0.0";

export function route(r: RouteInput, c: RouteConfig): Destination {
  if (r.giaddr !== ZERO) {
    // 4.1: relayed replies go to the relay's server port; 8357: to the port it sent from
    const nak = r.replyType === MessageType.NAK;
    if (r.relaySourcePort) return { address: r.giaddr, port: r.sourcePort, setBroadcastFlag: nak, why: "relay-source-port" };
    return { address: r.giaddr, port: c.relayPort, setBroadcastFlag: nak, why: "relay" };
  }
  // 4.1: a NAK not relayed is always broadcast (the client's address is in doubt)
  if (r.replyType === MessageType.NAK) {
    return { address: c.broadcast, port: c.clientPort, setBroadcastFlag: false, why: "nak-broadcast" };
  }
  if (r.ciaddr !== ZERO) return { address: r.ciaddr, port: c.clientPort, setBroadcastFlag: false, why: "ciaddr" };
  if (r.flags & BROADCAST_FLAG) return { address: c.broadcast, port: c.clientPort, setBroadcastFlag: false, why: "broadcast-flag" };
  return { address: c.broadcast, port: c.clientPort, setBroadcastFlag: false, why: "broadcast-fallback" };
}
