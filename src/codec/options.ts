/**
 * The options walker (RFC 2132 2): Pad (0) and End (255) are single bytes,
 * every other code is followed by a length byte and exactly that many value
 * bytes. Repeated codes are concatenated in order (RFC 3396 6); option 52
 * makes the file then the sname field hold more options (RFC 2131 4.1,
 * RFC 2132 9.3).
 */
import { type DecodeError, decodeError } from "./errors.ts";
import { FILE_LENGTH, FILE_OFFSET, OPTIONS_OFFSET, SNAME_LENGTH, SNAME_OFFSET } from "./header.ts";
import { lengthProblem, lengthRuleText } from "../options/table.ts";

export const OPTION_PAD = 0;
export const OPTION_END = 255;
export const OPTION_OVERLOAD = 52;
/** RFC 2132 9.3 values */
export const OVERLOAD_FILE = 1;
export const OVERLOAD_SNAME = 2;

type Area = "options" | "file" | "sname";

/**
 * Walk one area b[start..end). Values are subarray views of b; only a
 * repeated code allocates (the concatenation). Returns the overload value
 * seen (main area only), -1 when it ended without End, or an error.
 */
function walk(
  b: Uint8Array,
  start: number,
  end: number,
  area: Area,
  out: Map<number, Uint8Array>,
): number | DecodeError {
  let overload = 0;
  let i = start;
  while (i < end) {
    const code = b[i]!;
    if (code === OPTION_PAD) {
      i++;
      continue;
    }
    if (code === OPTION_END) return overload;
    if (i + 1 >= end) {
      return decodeError(
        "option-overrun",
        i,
        `Cannot decode option ${code} at offset ${i}: its length byte is past the end of the ${area} field`,
        code,
      );
    }
    const len = b[i + 1]!;
    const v = i + 2;
    if (v + len > end) {
      return decodeError(
        "option-overrun",
        i,
        `Cannot decode option ${code} at offset ${i}: length ${len} exceeds ${end - v} remaining bytes`,
        code,
      );
    }
    if (code === OPTION_OVERLOAD) {
      const value = len === 1 ? b[v]! : 0;
      if (area !== "options" || overload !== 0 || value < 1 || value > 3) {
        const why =
          area !== "options"
            ? `found in the ${area} field, it must be in the options field`
            : overload !== 0
              ? "repeated"
              : len !== 1
                ? `length ${len}, must be 1`
                : `value ${value}, must be 1 (file), 2 (sname) or 3 (both)`;
        return decodeError("bad-overload", i, `Cannot decode option 52 (overload) at offset ${i}: ${why}`, 52);
      }
      overload = value;
    } else {
      const prev = out.get(code);
      if (prev === undefined) {
        out.set(code, b.subarray(v, v + len));
      } else {
        // RFC 3396 6: a code seen again continues the earlier value
        const joined = new Uint8Array(prev.length + len);
        joined.set(prev);
        joined.set(b.subarray(v, v + len), prev.length);
        out.set(code, joined);
      }
    }
    i = v + len;
  }
  return area === "options" ? -1 : overload;
}

/** Offset of the first occurrence of code in the walked areas (for error messages only). */
function firstOffset(b: Uint8Array, code: number, overload: number): number {
  const areas: [number, number][] = [[OPTIONS_OFFSET, b.length]];
  if (overload & OVERLOAD_FILE) areas.push([FILE_OFFSET, FILE_OFFSET + FILE_LENGTH]);
  if (overload & OVERLOAD_SNAME) areas.push([SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH]);
  for (const [start, end] of areas) {
    let i = start;
    while (i < end) {
      const c = b[i]!;
      if (c === OPTION_PAD) {
        i++;
        continue;
      }
      if (c === OPTION_END || i + 1 >= end) break;
      if (c === code) return i;
      i += 2 + b[i + 1]!;
    }
  }
  return OPTIONS_OFFSET;
}

/**
 * Decode every option of a datagram whose header and cookie are valid
 * (b.length >= 240). Fills out; on error out holds what was read so far.
 */
export function decodeOptions(b: Uint8Array, out: Map<number, Uint8Array>): DecodeError | null {
  const overload = walk(b, OPTIONS_OFFSET, b.length, "options", out);
  if (typeof overload !== "number") return overload;
  if (overload < 0) {
    return decodeError(
      "missing-end",
      b.length,
      `Cannot decode options: no End (255) before the end of the packet at offset ${b.length}`,
    );
  }
  // RFC 2131 4.1: the file field is read first, then sname. A full field
  // without End is accepted: the field boundary is unambiguous.
  if (overload & OVERLOAD_FILE) {
    const r = walk(b, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, "file", out);
    if (typeof r !== "number") return r;
  }
  if (overload & OVERLOAD_SNAME) {
    const r = walk(b, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, "sname", out);
    if (typeof r !== "number") return r;
  }
  // Length rules apply to the concatenated value (RFC 3396 allows any split).
  let badCode = -1;
  for (const code of out.keys()) {
    if (lengthProblem(code, out.get(code)!.length) !== null) {
      badCode = code;
      break;
    }
  }
  if (badCode >= 0) {
    const code = badCode;
    const value = out.get(code)!;
    const p = lengthProblem(code, value.length);
    const at = firstOffset(b, code, overload);
    return p === "empty"
      ? decodeError("empty-option", at, `Cannot decode option ${code} at offset ${at}: empty, needs a value`, code)
      : decodeError(
          "bad-length",
          at,
          `Cannot decode option ${code} at offset ${at}: length ${value.length}, must be ${lengthRuleText(code)}`,
          code,
        );
  }
  return null;
}
