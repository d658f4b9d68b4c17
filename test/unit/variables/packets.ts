/** Hand-built DhcpMessage values for the variable tests. */
import { readFileSync } from "node:fs";
import type { DhcpMessage } from "../../../src/codec/message.ts";
import { emptyMessage } from "../../../src/codec/header.ts";

export const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const bytes = (...b: number[]) => Uint8Array.from(b);
const ascii = (s: string) => new TextEncoder().encode(s);

/** A message with an empty header; `over` replaces fields, `opts` are the options in order. */
export function message(opts: [number, Uint8Array][] = [], over: Partial<DhcpMessage> = {}): DhcpMessage {
  const chaddr = new Uint8Array(16);
  chaddr.set([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
  return {
    ...emptyMessage(),
    op: 1,
    htype: 1,
    hlen: 6,
    xid: 0x01020304,
    chaddr,
    options: new Map(opts),
    ...over,
  };
}

/** Option 82 of the reference packet: circuit id 000400010006, remote id 0006001e589eb2ad. */
export const SEED_OPTION_82 = fromHex("010600040001000602080006001e589eb2ad");

/**
 * The DHCPINFORM in pydhcpdb's published -d dump, built field by field (the
 * same packet as fixtures/seed-inform.hex).
 */
export function seedMessage(): DhcpMessage {
  const chaddr = new Uint8Array(16);
  chaddr.set(fromHex("0025224ad764"));
  return message(
    [
      [53, bytes(8)],
      [61, fromHex("010025224ad764")],
      [12, fromHex("91a5e0a3a5a92d8f8a")],
      [60, ascii("MSFT 5.0")],
      [55, bytes(1, 15, 3, 6, 44, 46, 47, 31, 33, 249, 43)],
      [82, SEED_OPTION_82],
    ],
    {
      hops: 1,
      xid: 0x3c897d8c,
      secs: 768,
      ciaddr: "172.30.128.13",
      giaddr: "172.30.114.25",
      chaddr,
    },
  );
}

export const SEED_HEX_PATH = new URL("./fixtures/seed-inform.hex", import.meta.url).pathname;
export const seedHexText = () => readFileSync(SEED_HEX_PATH, "utf8");

/**
 * Every legacy name pydhcpdb's dump shows for the reference packet, with the
 * values pydhcp must give: pydhcpdb's own text where it was text, and the
 * documented text where pydhcpdb held bytes (flags, HostName, Vendor, the
 * *Byte names, magic_cookie). gpoz and result were parser state, not
 * variables. The AgentCircuitId/RemoteId names come from later pydhcpdb.
 */
export const SEED_LEGACY: Record<string, string> = {
  ClientMacAddress: "0025224ad764",
  ClientMacAddressByte: "0025224ad764",
  HType: "Ethernet",
  // CP866 bytes, not UTF-8: read as Latin-1, one character per byte.
  HostName: "\x91\xa5\xe0\xa3\xa5\xa9-\x8f\x8a",
  ReqListDNS: "True",
  ReqListDomainName: "True",
  ReqListPerfowmRouterDiscover: "True",
  ReqListRouter: "True",
  ReqListStaticRoute: "True",
  ReqListSubnetMask: "True",
  ReqListVendorSpecInfo: "43",
  RequestedIpAddress: "0.0.0.0",
  Vendor: "MSFT 5.0",
  chaddr: "0025224ad764",
  ciaddr: "172.30.128.13",
  flags: "0000",
  giaddr: "172.30.114.25",
  hlen: "6",
  hops: "1",
  htype: "MAC",
  magic_cookie: "63825363",
  op: "DHCPINFORM",
  option12: "12",
  option53: "53",
  option55: "55",
  option60: "60",
  option61: "61",
  option82: "82",
  option_82_byte: "12010600040001000602080006001e589eb2ad",
  option_82_hex: "12010600040001000602080006001e589eb2ad",
  option_82_len: "18",
  option_82_str: "b'\\x12\\x01\\x06\\x00\\x04\\x00\\x01\\x00\\x06\\x02\\x08\\x00\\x06\\x00\\x1eX\\x9e\\xb2\\xad'",
  option_82_AgentCircuitId_len: "6",
  option_82_AgentCircuitId_hex: "000400010006",
  option_82_AgentCircuitId_port_hex: "06",
  option_82_AgentRemoteId_len: "8",
  option_82_AgentRemoteId_hex: "0006001e589eb2ad",
  secs: "768",
  siaddr: "0.0.0.0",
  xidbyte: "3c897d8c",
  xidhex: "3c897d8c",
  yiaddr: "0.0.0.0",
};
