/**
 * The decoded DHCPv4 message (RFC 2131 section 2, figure 1).
 *
 * Addresses are dotted quads because every consumer (variables, SQL, logs)
 * wants text; the codec converts at the boundary.
 */
export interface DhcpMessage {
  /** 1 BOOTREQUEST, 2 BOOTREPLY */
  op: number;
  /** hardware address type, 1 = Ethernet (RFC 1700) */
  htype: number;
  hlen: number;
  hops: number;
  /** transaction id, unsigned 32-bit */
  xid: number;
  secs: number;
  /** bit 15 (0x8000) is BROADCAST */
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** the whole 16-byte chaddr field; the hardware address is its first hlen bytes */
  chaddr: Uint8Array;
  /** 64-byte sname field as received (raw even when overloaded with options) */
  sname: Uint8Array;
  /** 128-byte file field as received (raw even when overloaded with options) */
  file: Uint8Array;
  /**
   * Options in the order first seen, code -> value bytes. Repeated codes are
   * already concatenated (RFC 3396); Pad (0), End (255) and Overload (52) are
   * not kept here. Unknown codes are kept raw and re-encoded unchanged.
   */
  options: Map<number, Uint8Array>;
}

/** RFC 2132 9.6 message types; the single source for names everywhere. */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

/** Message type code -> its name ("DISCOVER"), for logs and explanations. */
export const MESSAGE_TYPE_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(MessageType).map(([name, code]) => [code, name]));

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const BROADCAST_FLAG = 0x8000;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
