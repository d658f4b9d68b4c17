/**
 * Option 82 value <-> sub-options (RFC 3046 2.0): code, length, value,
 * repeated to the end of the option. Every length byte is checked: a wrong
 * length is an error, never a silent desync. Code 0 and 255 are ordinary
 * sub-option codes here (RFC 3046 has no Pad or End).
 */
import { type DecodeError, type EncodeError, decodeError } from "../codec/errors.ts";
import { OptionMap } from "../codec/option-map.ts";
import { subOptionDef, subOptionLengthProblem } from "./suboptions.ts";

export type RelayAgentInfoResult = { ok: true; subs: Map<number, Uint8Array> } | { ok: false; error: DecodeError };

/**
 * Sub-options in the order received; values are views of `value`.
 * `baseOffset` is where the value starts in the datagram, so error offsets
 * point into the packet (0 gives offsets within the value).
 */
export function parseRelayAgentInfo(value: Uint8Array, baseOffset = 0): RelayAgentInfoResult {
  const subs = new OptionMap();
  if (value.length === 0) {
    return { ok: false, error: decodeError("empty-option", baseOffset, "Cannot decode option 82: empty, needs at least one sub-option", 82) };
  }
  let i = 0;
  while (i < value.length) {
    const code = value[i]!;
    const at = baseOffset + i;
    if (i + 1 >= value.length) {
      return {
        ok: false,
        error: decodeError("option-overrun", at, `Cannot decode option 82: sub-option ${code} at offset ${at} has no length byte`, code),
      };
    }
    const len = value[i + 1]!;
    const remaining = value.length - i - 2;
    if (len > remaining) {
      return {
        ok: false,
        error: decodeError(
          "option-overrun",
          at,
          `Cannot decode option 82: sub-option ${code} length ${len} exceeds ${remaining} remaining bytes`,
          code,
        ),
      };
    }
    const problem = subOptionLengthProblem(code, len);
    if (problem !== null) {
      const name = subOptionDef(code)?.name ?? "";
      return {
        ok: false,
        error: decodeError(
          len === 0 ? "empty-option" : "bad-length",
          at,
          `Cannot decode option 82: sub-option ${code} (${name}) length ${len} ${problem}`,
          code,
        ),
      };
    }
    if (subs.has(code)) {
      return {
        ok: false,
        error: decodeError("duplicate-suboption", at, `Cannot decode option 82: sub-option ${code} appears twice`, code),
      };
    }
    subs.set(code, value.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return { ok: true, subs };
}

export type RelayAgentInfoEncodeResult = { ok: true; bytes: Uint8Array } | { ok: false; error: EncodeError };

/** Option 82 value from sub-options, in map order. */
export function encodeRelayAgentInfo(subs: Map<number, Uint8Array>): RelayAgentInfoEncodeResult {
  let total = 0;
  for (const [code, v] of subs) {
    const problem = subOptionEncodeProblem(code, v);
    if (problem !== null) {
      return { ok: false, error: { kind: "bad-option", code: 82, message: `Cannot encode option 82: sub-option ${code} ${problem}` } };
    }
    total += 2 + v.length;
  }
  const out = new Uint8Array(total);
  let i = 0;
  for (const [code, v] of subs) {
    out[i] = code;
    out[i + 1] = v.length;
    out.set(v, i + 2);
    i += 2 + v.length;
  }
  return { ok: true, bytes: out };
}

function subOptionEncodeProblem(code: number, v: Uint8Array): string | null {
  if (!Number.isInteger(code) || code < 0 || code > 255) return "is not a code 0..255";
  if (v.length > 255) return `value of ${v.length} bytes exceeds 255`;
  const p = subOptionLengthProblem(code, v.length);
  return p === null ? null : `length ${v.length} ${p}`;
}
