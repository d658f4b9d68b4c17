/**
 * The 10,000 known clients, derived exactly as perfdhcp derives them.
 *
 * perfdhcp (Kea 2.2, TestControl::generateMacAddress) draws r uniformly from
 * [0, R-1] for each new exchange (R = `-R`), then walks the `-b mac=` base
 * from the last octet backwards adding one byte of r per octet, WITHOUT carry:
 *
 *   octet[i] = (base[i] + (r & 0xff)) & 0xff; stop if r < 256; r >>= 8
 *
 * With a base whose last three octets are zero this is plain addition, so
 * `-b mac=00:0c:01:00:00:00 -R 10000` yields 00:0c:01:00:00:00 ..
 * 00:0c:01:00:27:0f (any other base still gives R distinct MACs, since each
 * octet's addition mod 256 is a bijection, but they are not consecutive).
 * perfdhcp also sends option 61 = 01 + the MAC, so a
 * server keyed on the client identifier sees the same 6 bytes. The harness
 * re-checks this on every run against the leases the server hands out.
 */

export const DEFAULT_BASE_MAC = "00:0c:01:00:00:00";

export function parseMac(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`Cannot parse MAC "${text}": want six hex octets separated by ':'`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** perfdhcp's MAC for random draw r (0 <= r < R). */
export function perfdhcpMac(base: Uint8Array, r: number): Uint8Array {
  const mac = Uint8Array.from(base);
  let rest = r >>> 0;
  for (let i = mac.length - 1; i >= 0; i--) {
    mac[i] = (mac[i]! + (rest & 0xff)) & 0xff;
    if (rest < 256) break;
    rest >>>= 8;
  }
  return mac;
}

export function macHex(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function macColon(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

function ipToInt(ip: string): number {
  const p = ip.split(".").map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Where the known clients live: one /16 out of 198.18.0.0/15. */
export const CLIENT_NET = {
  subnet: "198.19.0.0/16",
  mask: "255.255.0.0",
  router: "198.19.0.1",
  /** first reserved address; client i gets first + i */
  first: "198.19.1.0",
  /** dynamic pool for strangers (none are expected) */
  pool: "198.19.200.0 - 198.19.200.255",
} as const;

export interface Client {
  index: number;
  /** lower-case hex, no separators, as pydhcpdb's ClientMacAddress */
  hex: string;
  /** aa:bb:cc:dd:ee:ff, as Kea writes it */
  colon: string;
  ip: string;
}

export function knownClients(count: number, baseMac: string = DEFAULT_BASE_MAC): Client[] {
  const base = parseMac(baseMac);
  const first = ipToInt(CLIENT_NET.first);
  const out: Client[] = [];
  for (let i = 0; i < count; i++) {
    const mac = perfdhcpMac(base, i);
    const hex = macHex(mac);
    out.push({ index: i, hex, colon: macColon(mac), ip: intToIp(first + i) });
  }
  return out;
}
