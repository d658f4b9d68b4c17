/**
 * encode(DhcpMessage) -> datagram bytes, or an EncodeError value.
 *
 * API: `encode(msg, { maxMessageSize })` returns
 * `{ ok: true, bytes, overload }` or `{ ok: false, error }`. It never returns
 * a truncated packet and never throws.
 *
 * - Options are written in the map's order, except 82 which goes last
 *   (RFC 3046 2.1). Codes 0, 255 and 52 in the map are refused / owned by
 *   the encoder (52 is written only when overloading).
 * - A value over 255 bytes is split into consecutive options of the same
 *   code (RFC 3396 5); an empty value is written as code, length 0.
 * - The packet ends with End and is zero-padded to 300 bytes (RFC 1542 2.1).
 * - maxMessageSize is option 57's value: the largest IP datagram the client
 *   accepts, IP and UDP headers included (RFC 2131 2: 576 = 20 + 8 + 548).
 *   Values below 576 are raised to 576. Omitted, the only limit is UDP's.
 *   The reply builder should pass the client's option 57, or 576.
 * - When the options do not fit, the file field and then sname carry the
 *   rest with option 52 (RFC 2131 4.1, RFC 2132 9.3), but only if those
 *   fields are empty (all zero) in msg; otherwise the result is "too-big".
 */
import type { DhcpMessage } from "./message.ts";
import type { EncodeError } from "./errors.ts";
import {
  BOOTP_MIN_LENGTH,
  FILE_LENGTH,
  FILE_OFFSET,
  OPTIONS_OFFSET,
  SNAME_LENGTH,
  SNAME_OFFSET,
  encodeHeader,
  type HeaderFieldName,
} from "./header.ts";
import { OPTION_END, OPTION_OVERLOAD, OVERLOAD_FILE, OVERLOAD_SNAME } from "./options.ts";
import { optionLists } from "./option-map.ts";

export interface EncodeOptions {
  /** client's option 57 (IP datagram size); see the module comment */
  maxMessageSize?: number;
}

export type EncodeResult =
  | { ok: true; bytes: Uint8Array; /** option 52 value written, 0 when none */ overload: number }
  | { ok: false; error: EncodeError };

const IP_UDP_HEADERS = 28;
const MIN_MESSAGE_SIZE = 576;
/** largest UDP payload over IPv4 */
const UDP_MAX_PAYLOAD = 65535 - IP_UDP_HEADERS;
const RELAY_AGENT_INFO = 82;

/** Bytes an option takes on the wire, split into 255-byte pieces. */
function wireSize(len: number): number {
  return len === 0 ? 2 : len + 2 * Math.ceil(len / 255);
}

function isEmptyField(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The options to write, in order, with their values looked up once. */
interface Ordered {
  codes: number[];
  values: Uint8Array[];
}

/** Map order with 82 moved last; the code when a code cannot be written. */
function orderedOptions(options: Map<number, Uint8Array>): Ordered | number {
  const codes: number[] = [];
  const values: Uint8Array[] = [];
  let rai: Uint8Array | null = null;
  const list = optionLists(options);
  for (let i = 0; i < list.codes.length; i++) {
    const code = list.codes[i]!;
    const value = list.values[i];
    if (!Number.isInteger(code) || code <= 0 || code >= 255 || !(value instanceof Uint8Array)) return code;
    if (code === OPTION_OVERLOAD) continue;
    if (code === RELAY_AGENT_INFO) rai = value;
    else {
      codes.push(code);
      values.push(value);
    }
  }
  if (rai !== null) {
    codes.push(RELAY_AGENT_INFO);
    values.push(rai);
  }
  return { codes, values };
}

interface Area {
  start: number;
  /** last byte usable for options; End goes at or before end */
  end: number;
  bit: number;
}

/**
 * Place every piece greedily: main area first, then file, then sname. A
 * piece that does not fit the current area moves to the next one whole
 * (pieces of short options are never split further: pre-RFC 3396 clients
 * would misread them). With out === null only measures. Returns the end of
 * the main options (End's offset) and the overload bits, or null when the
 * options do not fit.
 */
function place(
  opts: Ordered,
  areas: Area[],
  mainStart: number,
  out: Uint8Array | null,
): { mainEnd: number; overload: number } | null {
  const { codes, values } = opts;
  let a = 0;
  let end = areas[0]!.end;
  let pos = mainStart;
  let overload = 0;
  let mainEndAt = -1;
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    const value = values[i]!;
    // pieces of at most 255 bytes; an empty value is one piece of length 0
    let from = 0;
    do {
      const n = Math.min(255, value.length - from);
      while (pos + n + 2 > end) {
        if (out !== null) out[pos] = OPTION_END;
        if (a === 0) mainEndAt = pos;
        a++;
        if (a >= areas.length) return null;
        const area = areas[a]!;
        pos = area.start;
        end = area.end;
        overload |= area.bit;
      }
      if (out !== null) putPiece(out, pos, code, value, from, n);
      pos += n + 2;
      from += 255;
    } while (from < value.length);
  }
  if (out !== null) out[pos] = OPTION_END;
  if (a === 0) mainEndAt = pos;
  return { mainEnd: mainEndAt, overload };
}

/** The largest message (UDP payload) the client takes. */
function messageLimit(opts: EncodeOptions | undefined): number {
  const mms = opts?.maxMessageSize;
  return mms === undefined ? UDP_MAX_PAYLOAD : Math.min(UDP_MAX_PAYLOAD, Math.max(MIN_MESSAGE_SIZE, mms) - IP_UDP_HEADERS);
}

interface Plan {
  opts: Ordered;
  areas: Area[];
  mainStart: number;
  length: number;
  overload: number;
}

function plan(msg: DhcpMessage, opts: EncodeOptions | undefined): Plan | EncodeError {
  const ordered = orderedOptions(msg.options);
  if (typeof ordered === "number") {
    return { kind: "bad-option", code: ordered, message: `Cannot encode option ${ordered}: not a code 1..254 with a byte value` };
  }
  const mms = opts?.maxMessageSize;
  const limit = messageLimit(opts);
  let total = 0;
  for (const v of ordered.values) total += wireSize(v.length);
  // one byte for End
  if (OPTIONS_OFFSET + total + 1 <= limit) {
    const mainEnd = OPTIONS_OFFSET + total;
    return {
      opts: ordered,
      areas: [{ start: OPTIONS_OFFSET, end: limit - 1, bit: 0 }],
      mainStart: OPTIONS_OFFSET,
      length: Math.max(BOOTP_MIN_LENGTH, mainEnd + 1),
      overload: 0,
    };
  }
  const areas: Area[] = [{ start: OPTIONS_OFFSET, end: limit - 1, bit: 0 }];
  if (isEmptyField(msg.file)) areas.push({ start: FILE_OFFSET, end: FILE_OFFSET + FILE_LENGTH - 1, bit: OVERLOAD_FILE });
  if (isEmptyField(msg.sname)) areas.push({ start: SNAME_OFFSET, end: SNAME_OFFSET + SNAME_LENGTH - 1, bit: OVERLOAD_SNAME });
  const tooBig: EncodeError = {
    kind: "too-big",
    message:
      `Cannot encode message: ${OPTIONS_OFFSET + total + 1} bytes of header and options exceed the limit of ${limit}` +
      ` (max message size ${mms ?? "none"})` +
      (areas.length > 1 ? " even using the file/sname fields" : "; file and sname are in use so cannot carry options"),
  };
  if (areas.length === 1) return tooBig;
  // option 52 takes 3 bytes at the start of the options field
  const placed = place(ordered, areas, OPTIONS_OFFSET + 3, null);
  if (placed === null) return tooBig;
  return {
    opts: ordered,
    areas,
    mainStart: OPTIONS_OFFSET + 3,
    length: Math.max(BOOTP_MIN_LENGTH, placed.mainEnd + 1),
    overload: placed.overload,
  };
}

/** Bytes encode() would produce, or -1 when it would return an error. */
export function encodingLength(msg: DhcpMessage, opts?: EncodeOptions): number {
  const p = plan(msg, opts);
  return "kind" in p ? -1 : p.length;
}

/**
 * Wire size of the options when every code can be written as it is (the
 * main area's End not counted), -1 otherwise: then plan() says why.
 */
function plainSize(options: Map<number, Uint8Array>): number {
  let total = 0;
  const list = optionLists(options);
  for (let i = 0; i < list.codes.length; i++) {
    const code = list.codes[i]!;
    const value = list.values[i];
    if (!Number.isInteger(code) || code <= 0 || code >= 255 || code === OPTION_OVERLOAD || !(value instanceof Uint8Array)) return -1;
    total += wireSize(value.length);
  }
  return total;
}

/** One piece of an option at pos: code, length n, value[from, from + n). */
function putPiece(out: Uint8Array, pos: number, code: number, value: Uint8Array, from: number, n: number): void {
  out[pos] = code;
  out[pos + 1] = n;
  // a loop beats a subarray view for the short values nearly every option has
  if (n <= 32) for (let k = 0; k < n; k++) out[pos + 2 + k] = value[from + k]!;
  else out.set(from === 0 && n === value.length ? value : value.subarray(from, from + n), pos + 2);
}

/** One option at pos, in pieces of at most 255 bytes (RFC 3396 5); the offset after it. */
function putOption(out: Uint8Array, pos: number, code: number, value: Uint8Array): number {
  let from = 0;
  do {
    const n = Math.min(255, value.length - from);
    putPiece(out, pos, code, value, from, n);
    pos += n + 2;
    from += 255;
  } while (from < value.length);
  return pos;
}

/**
 * The reply that fits its main options area, as nearly every one does:
 * written straight from the map, without plan()'s lists of codes and
 * areas. The same bytes as place() writes for it. Null when it does not fit.
 */
function encodePlain(msg: DhcpMessage, opts: EncodeOptions | undefined): EncodeResult | null {
  const total = plainSize(msg.options);
  if (total < 0 || OPTIONS_OFFSET + total + 1 > messageLimit(opts)) return null;
  const out = new Uint8Array(Math.max(BOOTP_MIN_LENGTH, OPTIONS_OFFSET + total + 1));
  const bad = encodeHeader(msg, out);
  if (bad !== null) return badField(msg, bad);
  out[236] = 0x63;
  out[237] = 0x82;
  out[238] = 0x53;
  out[239] = 0x63;
  let pos = OPTIONS_OFFSET;
  const list = optionLists(msg.options);
  for (let i = 0; i < list.codes.length; i++) {
    const code = list.codes[i]!;
    if (code !== RELAY_AGENT_INFO) pos = putOption(out, pos, code, list.values[i]!);
  }
  // RFC 3046 2.1: 82 last
  const rai = msg.options.get(RELAY_AGENT_INFO);
  if (rai !== undefined) pos = putOption(out, pos, RELAY_AGENT_INFO, rai);
  out[pos] = OPTION_END;
  return { ok: true, bytes: out, overload: 0 };
}

function badField(msg: DhcpMessage, bad: HeaderFieldName): EncodeResult {
  return {
    ok: false,
    error: { kind: "bad-field", field: bad, message: `Cannot encode header field ${bad}: value ${describe(msg[bad])} does not fit` },
  };
}

export function encode(msg: DhcpMessage, opts?: EncodeOptions): EncodeResult {
  const plain = encodePlain(msg, opts);
  if (plain !== null) return plain;
  const p = plan(msg, opts);
  if ("kind" in p) return { ok: false, error: p };
  const out = new Uint8Array(p.length);
  const bad = encodeHeader(msg, out);
  if (bad !== null) return badField(msg, bad);
  out[236] = 0x63;
  out[237] = 0x82;
  out[238] = 0x53;
  out[239] = 0x63;
  if (p.overload !== 0) {
    out[OPTIONS_OFFSET] = OPTION_OVERLOAD;
    out[OPTIONS_OFFSET + 1] = 1;
    out[OPTIONS_OFFSET + 2] = p.overload;
  }
  place(p.opts, p.areas, p.mainStart, out);
  return { ok: true, bytes: out, overload: p.overload };
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `of ${v.length} bytes`;
  return JSON.stringify(v) ?? String(v);
}
