/**
 * Packet capture inside a namespace with dumpcap (classic pcap, -P), then a
 * small pcap reader that returns each UDP datagram on ports 67/68 with its
 * addresses, so tests can check the exact bytes a server or relay put on the
 * wire (for example that option 82 came back unchanged, RFC 3046 2.2).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type WirePacket, msgType, parse } from "./dhcpwire.ts";
import { type Daemon, spawnIn, waitFor } from "./netns.ts";

export interface UdpDatagram {
  /** seconds since the epoch, with microseconds */
  ts: number;
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Uint8Array;
}

function macText(b: Uint8Array, off: number): string {
  return Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * Reads a classic pcap file (either byte order, micro- or nanosecond) of
 * Ethernet frames and returns its IPv4/UDP datagrams. Truncated or non-UDP
 * frames are skipped.
 */
export function parsePcap(buf: Uint8Array): UdpDatagram[] {
  if (buf.length < 24) return [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) throw new Error(`not a pcap file (magic ${magic.toString(16)})`);
  const linktype = dv.getUint32(20, le);
  if (linktype !== 1) throw new Error(`pcap link type ${linktype}, want 1 (Ethernet)`);
  const out: UdpDatagram[] = [];
  let p = 24;
  while (p + 16 <= buf.length) {
    const sec = dv.getUint32(p, le);
    const frac = dv.getUint32(p + 4, le);
    const incl = dv.getUint32(p + 8, le);
    const f = buf.subarray(p + 16, p + 16 + incl);
    p += 16 + incl;
    if (f.length < 14 + 20 + 8 || f[12] !== 0x08 || f[13] !== 0x00) continue;
    const ihl = ((f[14] ?? 0) & 0x0f) * 4;
    if (f[23] !== 17) continue;
    const u = 14 + ihl;
    const fdv = new DataView(f.buffer, f.byteOffset, f.byteLength);
    const ulen = fdv.getUint16(u + 4);
    out.push({
      ts: sec + frac / (nano ? 1e9 : 1e6),
      dstMac: macText(f, 0),
      srcMac: macText(f, 6),
      src: `${f[26]}.${f[27]}.${f[28]}.${f[29]}`,
      dst: `${f[30]}.${f[31]}.${f[32]}.${f[33]}`,
      sport: fdv.getUint16(u),
      dport: fdv.getUint16(u + 2),
      payload: f.slice(u + 8, Math.min(f.length, u + ulen)),
    });
  }
  return out;
}

export interface Capture {
  pcapPath: string;
  daemon: Daemon;
  /**
   * Waits until `until` holds for what is on disk (polled; dumpcap writes
   * ~0.5 s behind the wire), or a fixed drain without it, then stops dumpcap
   * and returns every datagram.
   */
  stop(until?: (d: UdpDatagram[]) => boolean, timeoutMs?: number): Promise<UdpDatagram[]>;
  /** removes the capture files */
  dispose(): void;
}

/** Starts dumpcap on one interface of a namespace; resolves once it captures. */
export async function startCapture(ns: string, ifname: string): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), "pde2e-cap-"));
  const pcapPath = join(dir, "dhcp.pcap");
  const daemon = spawnIn(
    ns,
    "dumpcap",
    ["dumpcap", "-i", ifname, "-P", "-f", "udp port 67 or udp port 68", "-w", pcapPath],
    join(dir, "dumpcap.log"),
  );
  await waitFor(
    "dumpcap to start capturing",
    async () => {
      if (daemon.proc.exitCode !== null) throw new Error(`dumpcap exited: ${await daemon.log()}`);
      return /Capturing on/.test(await daemon.log()) ? true : undefined;
    },
    10_000,
  );
  let stopped = false;
  return {
    pcapPath,
    daemon,
    stop: async (until, timeoutMs = 5000) => {
      const read = async () => {
        const f = Bun.file(pcapPath);
        return (await f.exists()) ? parsePcap(new Uint8Array(await f.arrayBuffer())) : [];
      };
      if (!stopped) {
        stopped = true;
        // dumpcap drops frames still sitting in libpcap's TPACKET_V3 block
        // when it is interrupted (measured: frames under ~250 ms old are lost,
        // and the file trails the wire by ~0.5 s)
        if (until) await waitFor("captured packets", async () => (until(await read()) ? true : undefined), timeoutMs, 50).catch(() => {});
        else await Bun.sleep(1000);
        daemon.proc.kill("SIGINT");
        const t = setTimeout(() => daemon.proc.kill("SIGKILL"), 3000);
        await daemon.proc.exited;
        clearTimeout(t);
      }
      return read();
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** For Capture.stop: true once `n` DHCP messages of `type` (matching `where`) were captured. */
export function seen(
  type: number,
  n = 1,
  where: (d: UdpDatagram, p: WirePacket) => boolean = () => true,
): (dg: UdpDatagram[]) => boolean {
  return (dg) =>
    dg.filter((d) => {
      const p = parse(d.payload);
      return p !== null && msgType(p) === type && where(d, p);
    }).length >= n;
}
