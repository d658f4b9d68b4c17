/**
 * The message type (option 53) of a datagram without decoding it: for
 * deciding, cheaply and before anything else, which packets of a backlog to
 * drop. Walks the options area only (RFC 2132 9.6); 0 when the packet has no
 * readable option 53. Never throws, never reads past the end. Option
 * overload (sname/file holding options, RFC 2132 9.3) is not followed: such
 * a packet reads as 0 and is treated like any packet of unknown type.
 */
import { MAGIC_COOKIE, OPTIONS_OFFSET } from "./header.ts";

const PAD = 0;
const END = 255;
const MESSAGE_TYPE = 53;

export function peekMessageType(b: Uint8Array): number {
  if (b.length < OPTIONS_OFFSET + 3) return 0;
  const cookie = ((b[236]! << 24) | (b[237]! << 16) | (b[238]! << 8) | b[239]!) >>> 0;
  if (cookie !== MAGIC_COOKIE) return 0;
  let i = OPTIONS_OFFSET;
  while (i < b.length) {
    const code = b[i]!;
    if (code === PAD) {
      i++;
      continue;
    }
    if (code === END || i + 1 >= b.length) return 0;
    const len = b[i + 1]!;
    if (code === MESSAGE_TYPE) return len === 1 && i + 2 < b.length ? b[i + 2]! : 0;
    i += 2 + len;
  }
  return 0;
}
