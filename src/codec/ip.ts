/**
 * IPv4 text <-> number helpers. Addresses are unsigned 32-bit numbers in
 * network order (198.18.0.1 = 0xc6120001); text is the strict dotted quad.
 */

/**
 * Strict dotted quad: four decimal octets 0..255, no leading zeros (they
 * mean octal to inet_aton), no spaces, no shorthand ("10.1" is rejected).
 */
export function parseIPv4(text: string): number | null {
  const n = text.length;
  if (n < 7 || n > 15) return null;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return null;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return null; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return value * 256 + octet;
}

/** 0xc6120001 -> "198.18.0.1"; the input is taken modulo 2^32. */
export function formatIPv4(u32: number): string {
  const v = u32 >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** The 4 network-order bytes of an address number. */
export function ipv4ToBytes(u32: number, out: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array {
  const v = u32 >>> 0;
  out[offset] = v >>> 24;
  out[offset + 1] = (v >>> 16) & 255;
  out[offset + 2] = (v >>> 8) & 255;
  out[offset + 3] = v & 255;
  return out;
}

/** The address number at b[offset..offset+4); the caller checks bounds. */
export function bytesToIPv4(b: Uint8Array, offset = 0): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

/** "0".."255", so formatting an address joins strings instead of converting numbers */
const OCTET: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted quad of 4 bytes at offset; the hot path of header decoding. */
export function formatIPv4Bytes(b: Uint8Array, offset = 0): string {
  const a = b[offset]!;
  const c = b[offset + 1]!;
  const d = b[offset + 2]!;
  const e = b[offset + 3]!;
  if ((a | c | d | e) === 0) return "0.0.0.0";
  return OCTET[a] + "." + OCTET[c] + "." + OCTET[d] + "." + OCTET[e];
}

/** True when the mask is ones then zeros (255.255.240.0), as RFC 950 requires. */
export function isContiguousMask(mask: number): boolean {
  const inv = ~mask >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** Number of leading one bits of a contiguous mask, or -1 when it is not contiguous. */
export function maskToPrefix(mask: number): number {
  if (!isContiguousMask(mask)) return -1;
  let v = mask >>> 0;
  let n = 0;
  while (v & 0x80000000) {
    n++;
    v = (v << 1) >>> 0;
  }
  return n;
}

/** 24 -> 0xffffff00; prefixes outside 0..32 give null. */
export function prefixToMask(prefix: number): number | null {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) return null;
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parse "a.b.c.d/len"; the address is returned as written (host bits are kept). */
export function parseCidr(text: string): { address: number; prefix: number } | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const address = parseIPv4(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (address === null || !/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(p)) return null;
  return { address, prefix: Number(p) };
}

/**
 * Ranges no client, router or name server can be given (RFC 1122 3.2.1.3,
 * RFC 5771, RFC 1112 4): "this network" 0/8, loopback 127/8 ("MUST NOT
 * appear outside a host"), multicast 224/4, reserved 240/4 with the limited
 * broadcast 255.255.255.255. None of them is a relay's address (giaddr) either.
 */
const UNUSABLE: readonly [first: number, prefix: number, what: string][] = [
  [0x00000000, 8, "in 0.0.0.0/8 (this network)"],
  [0x7f000000, 8, "a loopback address (127.0.0.0/8)"],
  [0xe0000000, 4, "a multicast address"],
  [0xf0000000, 4, "in the reserved range 240.0.0.0/4"],
];

/**
 * Link-local 169.254/16 (RFC 3927) is what a host picks for itself when no
 * DHCP server answers, so it is never leased. A server there is allowed:
 * clouds answer with 169.254.169.254 for DNS and NTP.
 */
const LINK_LOCAL: readonly [first: number, prefix: number, what: string] = [0xa9fe0000, 16, "a link-local address (169.254.0.0/16)"];

const within = (n: number, first: number, prefix: number) => n >>> (32 - prefix) === first >>> (32 - prefix);

/** Why an address cannot be a host's (router, server, relay), or null when it can. */
export function unusableAddress(n: number): string | null {
  for (const [first, prefix, what] of UNUSABLE) if (within(n, first, prefix)) return what;
  return null;
}

/** Why an address cannot be leased to a client (yiaddr), or null when it can. */
export function unusableClientAddress(n: number): string | null {
  return unusableAddress(n) ?? (within(n, LINK_LOCAL[0], LINK_LOCAL[1]) ? LINK_LOCAL[2] : null);
}

/**
 * Why an address cannot be a relay agent's (giaddr), or null when it can: a
 * host's unusable ranges, and link-local, since RFC 2131 4.1 sends the reply
 * to giaddr and RFC 3927 2.6.2 keeps link-local packets off routers.
 */
export function unusableRelayAddress(n: number): string | null {
  return unusableAddress(n) ?? (within(n, LINK_LOCAL[0], LINK_LOCAL[1]) ? `${LINK_LOCAL[2]}, which a reply cannot be routed to` : null);
}

/** The first address of first..last that cannot be leased, with why, or null. */
export function unusableInSpan(first: number, last: number): { address: number; why: string } | null {
  for (const [start, prefix, what] of [...UNUSABLE, LINK_LOCAL]) {
    const end = (start | (0xffffffff >>> prefix)) >>> 0;
    if (first <= end && start <= last) return { address: Math.max(first, start), why: what };
  }
  return null;
}
