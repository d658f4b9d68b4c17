/**
 * Decode and encode errors are values, never exceptions (habit 4): a bad
 * packet is logged in one line and dropped; the server never dies on input.
 */

/** Why a datagram could not be decoded. */
export type DecodeErrorKind =
  /** shorter than the 236-byte BOOTP header (RFC 951) */
  | "truncated-header"
  /** hlen over 16: chaddr holds 16 octets (RFC 2131 2), so the hardware address is not in the packet */
  | "bad-hlen"
  /** the 4 bytes after the header are not 63 82 53 63 (RFC 2131 3) */
  | "bad-cookie"
  /** a length byte points past the end of its area, or the length byte itself is missing */
  | "option-overrun"
  /** the options field ends without End (255) */
  | "missing-end"
  /** zero length where the option table needs a value (53, 50, 54, 61, 82...) */
  | "empty-option"
  /** a length the option's type cannot hold (53 of length 2, an IP list of 6 bytes) */
  | "bad-length"
  /** option 52 not 1 byte of 1, 2 or 3, or found outside the options field (RFC 2132 9.3) */
  | "bad-overload"
  /** a value that is well sized but not meaningful (a route with a 33-bit prefix) */
  | "bad-value"
  /** the same option 82 sub-option twice (RFC 3046 gives each one meaning once) */
  | "duplicate-suboption";

export interface DecodeError {
  kind: DecodeErrorKind;
  /** byte offset in the datagram (or in the option value for value decoders) */
  offset: number;
  /** names the value and the action, e.g. "Cannot decode option 82 at offset 290: length 18 exceeds 9 remaining bytes" */
  message: string;
  /** the option (or sub-option) code concerned, when there is one */
  code?: number;
}

/** Why a message could not be encoded. */
export type EncodeErrorKind =
  /** the options do not fit the client's maximum message size, even with overload */
  | "too-big"
  /** a header field is out of range (an address that is not a dotted quad, chaddr over 16 bytes) */
  | "bad-field"
  /** an option value cannot be encoded for its type */
  | "bad-option";

export interface EncodeError {
  kind: EncodeErrorKind;
  /** the header field or the option code concerned */
  field?: string;
  code?: number;
  message: string;
}

export function decodeError(kind: DecodeErrorKind, offset: number, message: string, code?: number): DecodeError {
  return code === undefined ? { kind, offset, message } : { kind, offset, message, code };
}
