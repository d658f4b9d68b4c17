/**
 * A deliberately small, independent DHCPv4 packet builder and reader for the
 * harness (RFC 2131 section 2 layout, RFC 2132 options). It does not use
 * src/codec so that a codec bug cannot hide itself in end-to-end checks.
 */

export const MAGIC = [99, 130, 83, 99] as const;

/** RFC 2132 9.6 message types */
export const MSG = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8,
} as const;
export const MSG_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(MSG).map(([k, v]) => [v, k]),
);

export interface WirePacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 12 lower-case hex digits */
  chaddr: string;
  /** options in wire order; repeated codes kept as separate entries */
  options: Array<[number, Uint8Array]>;
}

export function ipBytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

export function ipText(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/[^0-9a-f]/gi, ""), "hex"));
}

export interface BuildFields {
  op?: number;
  xid: number;
  chaddr: string;
  flags?: number;
  hops?: number;
  ciaddr?: string;
  yiaddr?: string;
  giaddr?: string;
  /** options to emit in this order (End is appended) */
  options: Array<[number, Uint8Array | number[]]>;
}

export function build(f: BuildFields): Uint8Array {
  const opts: number[] = [];
  for (const [code, val] of f.options) opts.push(code, val.length, ...val);
  opts.push(255);
  // BOOTP minimum of 300 bytes (RFC 1542 2.1): pad after End
  const out = new Uint8Array(Math.max(300, 240 + opts.length));
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = f.op ?? 1;
  out[1] = 1;
  out[2] = 6;
  out[3] = f.hops ?? 0;
  dv.setUint32(4, f.xid >>> 0);
  dv.setUint16(10, f.flags ?? 0);
  out.set(ipBytes(f.ciaddr ?? "0.0.0.0"), 12);
  out.set(ipBytes(f.yiaddr ?? "0.0.0.0"), 16);
  out.set(ipBytes(f.giaddr ?? "0.0.0.0"), 24);
  out.set(fromHex(f.chaddr), 28);
  out.set(MAGIC, 236);
  out.set(opts, 240);
  return out;
}

/** Parses header and options; null when it is not a DHCP packet. */
export function parse(b: Uint8Array): WirePacket | null {
  if (b.length < 240 || b[236] !== 99 || b[237] !== 130 || b[238] !== 83 || b[239] !== 99) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const options: Array<[number, Uint8Array]> = [];
  let p = 240;
  while (p < b.length) {
    const code = b[p] ?? 255;
    if (code === 255) break;
    if (code === 0) {
      p += 1;
      continue;
    }
    const len = b[p + 1] ?? 0;
    if (p + 2 + len > b.length) return null;
    options.push([code, b.slice(p + 2, p + 2 + len)]);
    p += 2 + len;
  }
  return {
    op: b[0] ?? 0,
    htype: b[1] ?? 0,
    hlen: b[2] ?? 0,
    hops: b[3] ?? 0,
    xid: dv.getUint32(4),
    secs: dv.getUint16(8),
    flags: dv.getUint16(10),
    ciaddr: ipText(b, 12),
    yiaddr: ipText(b, 16),
    siaddr: ipText(b, 20),
    giaddr: ipText(b, 24),
    chaddr: hex(b.subarray(28, 34)),
    options,
  };
}

export function opt(p: WirePacket, code: number): Uint8Array | undefined {
  return p.options.find(([c]) => c === code)?.[1];
}

export function msgType(p: WirePacket): number {
  return opt(p, 53)?.[0] ?? 0;
}

/** Option 82 sub-options in order (RFC 3046 2.0). */
export function subOptions(v: Uint8Array): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  let p = 0;
  while (p + 2 <= v.length) {
    const len = v[p + 1] ?? 0;
    out.push([v[p] ?? 0, v.slice(p + 2, p + 2 + len)]);
    p += 2 + len;
  }
  return out;
}

export function macHex(mac: string): string {
  return mac.replace(/[:-]/g, "").toLowerCase();
}
