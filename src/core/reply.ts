/**
 * Builds OFFER, ACK and NAK messages (RFC 2131 4.3.1-4.3.5, table 3). Pure:
 * the request, the answer the database gave and our settings in, a
 * DhcpMessage out; codec/encode turns it into bytes.
 */
import { BOOTREPLY, MessageType, type DhcpMessage } from "../codec/message.ts";
import { ipv4ToBytes, parseIPv4 } from "../codec/ip.ts";
import { OptionMap } from "../codec/option-map.ts";
import { OPTION } from "../options/table.ts";
import type { Answer } from "./answer.ts";

const OPT = OPTION;

export interface ReplySettings {
  serverId: string;
  /** lease time when the answer does not set one, seconds */
  leaseTime: number;
}

export interface ReplyInput {
  request: DhcpMessage;
  type: typeof MessageType.OFFER | typeof MessageType.ACK | typeof MessageType.NAK;
  /** null only for NAK */
  answer: Answer | null;
  /** ACK to an INFORM: no yiaddr, no lease times (RFC 2131 4.3.5) */
  inform: boolean;
  /** NAK text for option 56 */
  message?: string;
}

const ZERO = "0.0.0.0";

/*
 * Values every reply of a kind carries, built once and shared, as the
 * answer's own option values already are: nothing writes into a reply's
 * bytes (encode copies them), and each small Uint8Array costs 64 heap bytes.
 */
const ZERO_SNAME = new Uint8Array(64);
const ZERO_FILE = new Uint8Array(128);
const TYPE_BYTE: Record<number, Uint8Array> = {
  [MessageType.OFFER]: Uint8Array.of(MessageType.OFFER),
  [MessageType.ACK]: Uint8Array.of(MessageType.ACK),
  [MessageType.NAK]: Uint8Array.of(MessageType.NAK),
};
/** the server id and the lease times of the last reply: the same for nearly every reply */
let lastServerId = "";
let lastServerIdBytes: Uint8Array = new Uint8Array(4);
let lastLease = -1;
let lastLeaseBytes: readonly [Uint8Array, Uint8Array, Uint8Array] = [new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)];

function serverIdBytes(text: string): Uint8Array {
  if (text !== lastServerId) {
    lastServerIdBytes = ipBytes(text);
    lastServerId = text;
  }
  return lastServerIdBytes;
}

/** Options 51, 58 and 59 for a lease time; RFC 2131 4.4.5 defaults: T1 = 0.5, T2 = 0.875 of the lease. */
function leaseTimeBytes(lease: number): readonly [Uint8Array, Uint8Array, Uint8Array] {
  if (lease !== lastLease) {
    lastLeaseBytes = [u32(lease), u32(Math.floor(lease * 0.5)), u32(Math.floor(lease * 0.875))];
    lastLease = lease;
  }
  return lastLeaseBytes;
}

/** Addresses reaching here were validated when the answer was read (core/answer.ts). */
const ipBytes = (text: string): Uint8Array => ipv4ToBytes(parseIPv4(text) ?? 0);

function u32(n: number): Uint8Array {
  // shifts, not a DataView: reading .buffer of a small array costs more than the whole reply;
  // element stores, not Uint8Array.of, which costs several times as much
  const b = new Uint8Array(4);
  b[0] = n >>> 24;
  b[1] = (n >>> 16) & 255;
  b[2] = (n >>> 8) & 255;
  b[3] = n & 255;
  return b;
}

function ipList(list: readonly string[]): Uint8Array {
  const b = new Uint8Array(list.length * 4);
  for (let i = 0; i < list.length; i++) ipv4ToBytes(parseIPv4(list[i]!) ?? 0, b, i * 4);
  return b;
}

export function buildReply(inp: ReplyInput, s: ReplySettings): DhcpMessage {
  const req = inp.request;
  const nak = inp.type === MessageType.NAK;
  const opts = new OptionMap();
  opts.set(OPT.MESSAGE_TYPE, TYPE_BYTE[inp.type]!);
  opts.set(OPT.SERVER_ID, serverIdBytes(s.serverId));
  const a = inp.answer;
  if (!nak && a) {
    if (!inp.inform) {
      const [lease, t1, t2] = leaseTimeBytes(a.leaseTime ?? s.leaseTime);
      opts.set(OPT.LEASE_TIME, lease);
      opts.set(OPT.RENEWAL_TIME, t1);
      opts.set(OPT.REBINDING_TIME, t2);
    }
    opts.set(OPT.SUBNET_MASK, ipBytes(a.mask));
    if (a.router) opts.set(OPT.ROUTER, ipBytes(a.router));
    if (a.dns.length) opts.set(OPT.DOMAIN_NAME_SERVER, ipList(a.dns));
    // Extra options from the query: sent when asked for in option 55 (RFC 2131 4.3.1), or to clients that list nothing.
    const asked = req.options.get(OPT.PARAMETER_REQUEST_LIST);
    for (const [code, value] of a.options) {
      if (opts.has(code)) continue;
      if (!asked || asked.includes(code)) opts.set(code, value);
    }
  }
  if (nak && inp.message) opts.set(OPT.MESSAGE, new TextEncoder().encode(inp.message));
  // RFC 6842: echo the client identifier
  const cid = req.options.get(OPT.CLIENT_ID);
  if (cid) opts.set(OPT.CLIENT_ID, cid);
  // RFC 3046 2.2: echo option 82 unchanged in every reply to a relay
  const rai = req.options.get(OPT.RELAY_AGENT_INFO);
  if (rai && req.giaddr !== ZERO) opts.set(OPT.RELAY_AGENT_INFO, rai);

  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    // the BROADCAST bit a NAK through a relay needs is set where the reply is routed (route.ts)
    flags: req.flags,
    ciaddr: nak ? ZERO : req.ciaddr,
    yiaddr: nak || inp.inform || !a ? ZERO : a.ip,
    siaddr: !nak && a?.nextServer ? a.nextServer : ZERO,
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: ZERO_SNAME,
    file: ZERO_FILE,
    options: opts,
  };
}
