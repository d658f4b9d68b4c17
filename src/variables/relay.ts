/**
 * Relay Agent Information sub-options (RFC 3046 2.0): code, length, value,
 * repeated. Slice, then decode: a length that runs past the option makes the
 * whole option unreadable (null) rather than desynchronising. A repeated
 * sub-option keeps its first value. Values are views into `value`.
 */
export function relaySubOptions(value: Uint8Array): Map<number, Uint8Array> | null {
  const subs = new Map<number, Uint8Array>();
  let i = 0;
  while (i < value.length) {
    if (i + 2 > value.length) return null;
    const code = value[i]!;
    const len = value[i + 1]!;
    const end = i + 2 + len;
    if (end > value.length) return null;
    if (!subs.has(code)) subs.set(code, value.subarray(i + 2, end));
    i = end;
  }
  return subs;
}
