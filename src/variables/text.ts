/**
 * Byte -> text conversions for variable values. Table-driven and
 * allocation-light because extract runs once per packet.
 */

import { HEX, toHex } from "../codec/hex.ts";

export { HEX };
/** "0".."255" by byte value. */
export const DEC: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Lower-case hex, no separators. */
export const hex = toHex;

/** Lower-case hex with `:` between bytes (aa:bb:cc). */
export function hexColons(b: Uint8Array, start: number, end: number): string {
  if (end <= start) return "";
  let s = HEX[b[start]!]!;
  for (let i = start + 1; i < end; i++) s += ":" + HEX[b[i]!];
  return s;
}

/** Unsigned big-endian 32-bit at `off` (caller checks the length). */
export function u32At(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!;
}

/** True when every byte is printable ASCII (0x20..0x7e) and there is at least one. */
export function isPrintableAscii(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

const utf8 = new TextDecoder("utf-8");

/**
 * Strict UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF), done by hand because a fatal TextDecoder reports failure by
 * throwing, which costs microseconds on the per-packet path.
 */
export function isValidUtf8(b: Uint8Array): boolean {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return false;
    if (i + need >= n) return false;
    const b1 = b[i + 1]!;
    if (b1 < lo || b1 > hi) return false;
    for (let k = 2; k <= need; k++) {
      const x = b[i + k]!;
      if (x < 0x80 || x > 0xbf) return false;
    }
    i += need + 1;
  }
  return true;
}

/**
 * The text rule for string options (12 host name, 60 vendor class, RFC 3993
 * subscriber-id): trailing NULs are dropped (RFC 2132 3.14 says not to send
 * them; some clients do); then valid UTF-8 is decoded as UTF-8, and anything
 * else is read as Latin-1, one character per byte, so no byte is lost and
 * decoding never fails. Control characters are kept (values are bound SQL
 * parameters; --dump escapes them).
 */
export function optionText(b: Uint8Array): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  let ascii = true;
  for (let i = 0; i < end; i++) {
    if (b[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  const v = end === b.length ? b : b.subarray(0, end);
  if (ascii || !isValidUtf8(v)) return latin1(v);
  return utf8.decode(v);
}

/** Windows clients send their name in the OEM code page: Russian Windows, CP866. */
export const DEFAULT_HOSTNAME_CODEPAGE = "cp866";

const decoders = new Map<string, TextDecoder>();

function decoder(codepage: string): TextDecoder | null {
  let d = decoders.get(codepage);
  if (d) return d;
  try {
    d = new TextDecoder(codepage as ConstructorParameters<typeof TextDecoder>[0]);
  } catch {
    return null;
  }
  decoders.set(codepage, d);
  return d;
}

/** True when `codepage` is a WHATWG encoding label this runtime decodes (cp866, windows-1251, koi8-r...). */
export function codepageKnown(codepage: string): boolean {
  return decoder(codepage) !== null;
}

/**
 * hostname_text: a host name (option 12) as a person reads it. UTF-8 when the
 * bytes are valid UTF-8, else the fallback code page (the seed's Windows
 * client sends `Сергей-ПК` as CP866 bytes 91 a5 e0 a3 a5 a9 2d 8f 8a).
 * Trailing NULs dropped as in optionText.
 */
export function hostnameText(b: Uint8Array, codepage: string = DEFAULT_HOSTNAME_CODEPAGE): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  const v = end === b.length ? b : b.subarray(0, end);
  if (isValidUtf8(v)) return utf8.decode(v);
  return (decoder(codepage) ?? decoder(DEFAULT_HOSTNAME_CODEPAGE)!).decode(v);
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * Python's repr() of a bytes object (b'...'), which pydhcpdb stored as the
 * text of its `_str` variables: printable ASCII as is, \t \n \r \\ and the
 * quote escaped, everything else \xNN; double quotes only when the bytes
 * hold ' and no ". `lead` (0..255), when given, is a byte placed before `b`
 * (pydhcpdb's values start with the option's length byte).
 */
export function pythonBytesRepr(b: Uint8Array, lead = -1): string {
  let hasSingle = lead === 0x27;
  let hasDouble = lead === 0x22;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x27) hasSingle = true;
    else if (b[i] === 0x22) hasDouble = true;
  }
  const q = hasSingle && !hasDouble ? 0x22 : 0x27;
  let s = q === 0x22 ? 'b"' : "b'";
  if (lead >= 0) s += reprByte(lead, q);
  for (let i = 0; i < b.length; i++) s += reprByte(b[i]!, q);
  return s + (q === 0x22 ? '"' : "'");
}

function reprByte(c: number, q: number): string {
  if (c === q || c === 0x5c) return "\\" + String.fromCharCode(c);
  if (c === 0x09) return "\\t";
  if (c === 0x0a) return "\\n";
  if (c === 0x0d) return "\\r";
  if (c >= 0x20 && c < 0x7f) return String.fromCharCode(c);
  return "\\x" + HEX[c];
}
