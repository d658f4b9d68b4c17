/** The DHCPv4 codec: pure, bytes in and values out. */
export type { DhcpMessage } from "./message.ts";
export { MessageType, BOOTREQUEST, BOOTREPLY, BROADCAST_FLAG, DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from "./message.ts";
export { decode, type DecodeResult } from "./decode.ts";
export { encode, encodingLength, type EncodeOptions, type EncodeResult } from "./encode.ts";
export type { DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind } from "./errors.ts";
export { HEADER_FIELDS, emptyMessage } from "./header.ts";
export * from "./ip.ts";
export { toHex, fromHex } from "./hex.ts";
