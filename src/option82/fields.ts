/**
 * Small pure readers shared by the vendor format rows (vendors.ts): hex and
 * text views of a sub-option, MAC addresses in the shapes relay agents write
 * them, and the "type 0, length 4" binary circuit-id that half the industry
 * copied from one another.
 *
 * Nothing here throws: a value that does not fit gives null.
 */

/** One decoded variable: name as written in SQL ({port}), value as text. */
export type ProfileVar = [name: string, value: string];

const HEX = "0123456789abcdef";

/** Lower-case hex, no separators (the house style of every *_hex variable). */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += HEX[x >> 4]! + HEX[x & 15]!;
  return s;
}

/** True when every byte is printable ASCII (0x20..0x7e) and there is at least one. */
export function isPrintable(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  for (const x of b) if (x < 0x20 || x > 0x7e) return false;
  return true;
}

/** The bytes as text when printable, else null. */
export function printable(b: Uint8Array): string | null {
  return isPrintable(b) ? String.fromCharCode(...b) : null;
}

/**
 * Vendors that let the operator type the circuit-id or remote-id wrap the
 * string in a one-byte type 1 and a one-byte length (D-Link DES-3200 manual,
 * "Remote ID sub-option format (for user-configured string)"; Cisco Catalyst
 * "user-configured ... circuit-ID type is 1"; TP-Link JetStream Table 1-1).
 * Gives the string inside such a wrapper, or the whole value when it is
 * printable as it stands, else null.
 */
export function subOptionText(b: Uint8Array): string | null {
  if (b.length >= 3 && b[0] === 1 && b[1] === b.length - 2) {
    const inner = printable(b.subarray(2));
    if (inner !== null) return inner;
  }
  return printable(b);
}

/** aa:bb:cc:dd:ee:ff from 12 hex digits. */
export function macText(hex12: string): string {
  return hex12.replace(/(..)(?!$)/g, "$1:");
}

/** 12 lower-case hex digits from "aa:bb:..", "aa-bb-..", "aabb.ccdd.eeff" or "aabbccddeeff"; else null. */
export function normaliseMac(s: string): string | null {
  const t = s.trim().toLowerCase();
  if (!/^(?:[0-9a-f]{2}([:-]?)(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})$/.test(t)) {
    return null;
  }
  return t.replace(/[:.-]/g, "");
}

/**
 * The relay's MAC from a remote-id (sub-option 2), in the forms vendors
 * document as their default:
 *   00 06 <6 bytes>   type 0, length 6, MAC (D-Link, Cisco, Eltex custom,
 *                      TP-Link "normal", H3C normal, Huawei extend)
 *   <6 bytes>         the bare MAC (TP-Link "private", Huawei default RID)
 *   "0011.2233.4455" / "00-11-22-33-44-55" / "001122334455" as text
 *                      (Huawei "common" RID, users' typed strings)
 * Gives 12 lower-case hex digits, or null when it is none of these.
 */
export function remoteIdMac(remoteId: Uint8Array | undefined): string | null {
  if (remoteId === undefined) return null;
  if (remoteId.length === 8 && remoteId[0] === 0 && remoteId[1] === 6) return toHex(remoteId.subarray(2));
  // Text first: "01 04 s w 1 2" is six bytes too, but a typed string, not a MAC.
  const text = subOptionText(remoteId);
  if (text !== null) return normaliseMac(text);
  return remoteId.length === 6 ? toHex(remoteId) : null;
}

/**
 * The 4 value bytes of a "circuit-id type 0, length 4" circuit-id
 * (00 04 v v x y), or null when the circuit-id is not exactly that.
 * RFC 3046 leaves the content to the vendor; this header is the D-Link /
 * Cisco / Eltex / Edge-Core / TP-Link / H3C / Huawei-extend common ground.
 */
export function typeZeroLen4(circuitId: Uint8Array): DataView | null {
  if (circuitId.length !== 6 || circuitId[0] !== 0 || circuitId[1] !== 4) return null;
  return new DataView(circuitId.buffer, circuitId.byteOffset + 2, 4);
}

/** Decimal text of a non-negative integer read from a packet. */
export function dec(n: number): string {
  return String(n);
}

/** 1..4094 (IEEE 802.1Q: 0 and 4095 are reserved, so they cannot be a client's VLAN). */
export function isVlanId(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 4094;
}

/** A decimal field written by a text format: digits only, no sign, at most 9 digits. */
export function decField(s: string | undefined): number | null {
  if (s === undefined || !/^\d{1,9}$/.test(s)) return null;
  return Number(s);
}
