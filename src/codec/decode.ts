/**
 * decode(datagram) -> DhcpMessage or a DecodeError value. Pure and total:
 * it never throws, whatever the bytes.
 *
 * Option values (and chaddr, sname, file) are subarray views of the input:
 * copy them if the input buffer is reused.
 */
import type { DhcpMessage } from "./message.ts";
import { type DecodeError, decodeError } from "./errors.ts";
import { COOKIE_OFFSET, HEADER_LENGTH, OPTIONS_OFFSET, decodeHeader } from "./header.ts";
import { decodeOptions } from "./options.ts";
import { OptionMap } from "./option-map.ts";

/** RFC 2131 2: chaddr is 16 octets; hlen 0 (RFC 4390, InfiniBand) to 16 fits */
const CHADDR_LENGTH = 16;

export type DecodeResult =
  | { ok: true; msg: DhcpMessage }
  | { ok: false; error: DecodeError; partial: Partial<DhcpMessage> };

export function decode(buf: Uint8Array): DecodeResult {
  if (buf.length < HEADER_LENGTH) {
    return {
      ok: false,
      error: decodeError(
        "truncated-header",
        buf.length,
        `Cannot decode BOOTP header: ${buf.length} bytes, needs ${HEADER_LENGTH}`,
      ),
      partial: {},
    };
  }
  const options = new OptionMap();
  const msg = decodeHeader(buf, options);
  if (msg.hlen > CHADDR_LENGTH) {
    return {
      ok: false,
      error: decodeError("bad-hlen", 2, `Cannot decode BOOTP header: hlen ${msg.hlen} exceeds the ${CHADDR_LENGTH} bytes of chaddr`),
      partial: msg,
    };
  }
  if (
    buf.length < OPTIONS_OFFSET ||
    buf[236] !== 0x63 ||
    buf[237] !== 0x82 ||
    buf[238] !== 0x53 ||
    buf[239] !== 0x63
  ) {
    const got = Array.from(buf.subarray(COOKIE_OFFSET, OPTIONS_OFFSET), (x) => x.toString(16).padStart(2, "0")).join(" ");
    const what = buf.length < OPTIONS_OFFSET ? `cut short ("${got}", packet is ${buf.length} bytes)` : `"${got}"`;
    return {
      ok: false,
      error: decodeError(
        "bad-cookie",
        COOKIE_OFFSET,
        `Cannot decode DHCP options: magic cookie at offset 236 is ${what}, expected "63 82 53 63" (a BOOTP-only packet?)`,
      ),
      partial: msg,
    };
  }
  const err = decodeOptions(buf, options);
  if (err !== null) return { ok: false, error: err, partial: msg };
  return { ok: true, msg };
}
