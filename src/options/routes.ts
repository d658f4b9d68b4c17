/**
 * Classless static routes (RFC 3442; Microsoft's option 249 uses the same
 * format). Each route is: prefix length (0..32), the significant octets of
 * the destination (ceil(len / 8) of them), then the 4-byte router.
 * 10.0.0.0/8 via 198.18.0.1 = 08 0a c6 12 00 01.
 */
import { bytesToIPv4, formatIPv4, ipv4ToBytes, parseCidr, parseIPv4, prefixToMask } from "../codec/ip.ts";

export interface Route {
  /** dotted quad, e.g. "10.0.0.0" */
  destination: string;
  prefix: number;
  router: string;
}

/** Routes of an option value, or the reason it is malformed. */
export function decodeRoutes(b: Uint8Array): Route[] | string {
  const out: Route[] = [];
  let i = 0;
  while (i < b.length) {
    const prefix = b[i]!;
    if (prefix > 32) return `route at byte ${i} has prefix length ${prefix}, more than 32`;
    const sig = (prefix + 7) >> 3;
    if (i + 1 + sig + 4 > b.length) return `route at byte ${i} (/${prefix}) needs ${1 + sig + 4} bytes, ${b.length - i} remain`;
    const dest = new Uint8Array(4);
    dest.set(b.subarray(i + 1, i + 1 + sig));
    out.push({ destination: formatIPv4(bytesToIPv4(dest)), prefix, router: formatIPv4(bytesToIPv4(b, i + 1 + sig)) });
    i += 1 + sig + 4;
  }
  return out;
}

/** Wire bytes of routes, or why one cannot be encoded. */
export function encodeRoutes(routes: Route[]): Uint8Array | string {
  const parts: number[] = [];
  for (const r of routes) {
    const dest = parseIPv4(r.destination);
    const router = parseIPv4(r.router);
    if (dest === null || router === null || prefixToMask(r.prefix) === null) {
      return `route ${r.destination}/${r.prefix} ${r.router} is not address/0..32 router`;
    }
    parts.push(r.prefix);
    const d = ipv4ToBytes(dest);
    for (let k = 0; k < (r.prefix + 7) >> 3; k++) parts.push(d[k]!);
    parts.push(...ipv4ToBytes(router));
  }
  return Uint8Array.from(parts);
}

/**
 * Parse "10.0.0.0/8 198.18.0.1, 0.0.0.0/0 198.18.0.1" (routes separated by
 * commas or semicolons; "via" between the two is allowed). A destination
 * with bits set beyond its prefix is refused: it is almost always a typo.
 */
export function parseRoutes(text: string): Route[] | string {
  const out: Route[] = [];
  for (const part of text.split(/[,;]/)) {
    const words = part.trim().split(/\s+/).filter((w) => w !== "" && w !== "via");
    if (words.length === 0) continue;
    const cidr = words.length === 2 ? parseCidr(words[0]!) : null;
    const router = words.length === 2 ? parseIPv4(words[1]!) : null;
    if (cidr === null || router === null) return `"${part.trim()}" is not "destination/prefix router"`;
    const mask = prefixToMask(cidr.prefix)!;
    if ((cidr.address & ~mask) >>> 0 !== 0) return `"${words[0]}" has host bits set beyond /${cidr.prefix}`;
    out.push({ destination: formatIPv4(cidr.address), prefix: cidr.prefix, router: formatIPv4(router) });
  }
  if (out.length === 0) return "no route";
  return out;
}

/** The text form parseRoutes reads. */
export function formatRoutes(routes: Route[]): string {
  return routes.map((r) => `${r.destination}/${r.prefix} ${r.router}`).join(", ");
}
