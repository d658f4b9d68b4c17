/**
 * Dotted-quad IPv4 helpers shared by the config loader and answer validation.
 * Strict: four decimal octets 0-255, no leading zeros (`010` is ambiguous:
 * inet_aton reads it as octal).
 */

const QUAD = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/** The address as an unsigned 32-bit number, or null when not a dotted quad. */
export function parseIpv4(text: string): number | null {
  const m = QUAD.exec(text);
  if (!m) return null;
  let n = 0;
  for (let k = 1; k <= 4; k++) {
    const octet = Number(m[k]);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== null;
}

export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Prefix length of a contiguous netmask (RFC 950: ones then zeros), or null
 * when the ones are not contiguous. 0.0.0.0 is /0, 255.255.255.255 is /32.
 */
export function maskPrefix(mask: number): number | null {
  const inverted = ~mask >>> 0;
  // contiguous iff the inverted mask is 2^k - 1
  if ((inverted & (inverted + 1)) !== 0) return null;
  return 32 - Math.log2(inverted + 1);
}
