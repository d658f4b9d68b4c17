/**
 * Two DHCP servers behind one relay that forwards to both (dhcrelay with two
 * server addresses), for active-active tests:
 *
 *   [raw clients] c-T 198.18.1.50/24 ── rd-T 198.18.1.1/24 [relay] ru1-T 198.18.2.2/24 ── s1-T 198.18.2.1/24 [server A]
 *   [real client] u-T ───────────────── re-T 198.18.4.1/24 [relay] ru2-T 198.18.3.2/24 ── s2-T 198.18.3.1/24 [server B]
 *
 * The relay forwards IP too (unicast renewals reach the server that granted
 * the lease). The client interface has an address so a raw client on
 * 0.0.0.0:68 can broadcast many clients' packets; replies come back as
 * broadcasts because those packets set the broadcast flag.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MSG, build, ipBytes, parse, type WirePacket } from "./dhcpwire.ts";
import { type Daemon, type Topology, NS_PREFIX, deleteNs, must, nsMust, spawnIn, waitFor } from "./netns.ts";
import { rawExchange } from "./rawclient.ts";

export interface TwoServers {
  tag: string;
  clientNs: string;
  relayNs: string;
  serverNs: [string, string];
  clientIf: string;
  /** a second client link for a real client (its own namespace) */
  realNs: string;
  realIf: string;
  serverIp: [string, string];
  /** a Topology view of server i, for startPydhcp */
  asTopology(i: 0 | 1): Topology;
  destroy(): Promise<void>;
}

let counter = 0;

export async function createTwoServers(): Promise<TwoServers> {
  counter += 1;
  const tag = `${process.pid.toString(36)}m${counter.toString(36)}`;
  const base = `${NS_PREFIX}${process.pid}-m${counter}`;
  const [c, u, r, s1, s2] = [`${base}-c`, `${base}-u`, `${base}-r`, `${base}-s1`, `${base}-s2`];
  const all = [c, u, r, s1, s2];
  const destroy = async () => {
    for (const ns of all) await deleteNs(ns);
  };
  try {
    for (const ns of all) {
      await must(["ip", "netns", "add", ns]);
      await nsMust(ns, ["ip", "link", "set", "dev", "lo", "up"]);
    }
    const veth = async (a: [string, string, string | null], b: [string, string, string | null]) => {
      await must(["ip", "link", "add", a[1], "netns", a[0], "type", "veth", "peer", "name", b[1], "netns", b[0]]);
      for (const [ns, ifname, cidr] of [a, b]) {
        if (cidr) await nsMust(ns, ["ip", "addr", "add", cidr, "dev", ifname]);
        await nsMust(ns, ["ip", "link", "set", "dev", ifname, "up"]);
      }
    };
    await veth([c, `c-${tag}`, "198.18.1.50/24"], [r, `rd-${tag}`, "198.18.1.1/24"]);
    await veth([u, `u-${tag}`, null], [r, `re-${tag}`, "198.18.4.1/24"]);
    await veth([r, `ru1-${tag}`, "198.18.2.2/24"], [s1, `s1-${tag}`, "198.18.2.1/24"]);
    await veth([r, `ru2-${tag}`, "198.18.3.2/24"], [s2, `s2-${tag}`, "198.18.3.1/24"]);
    await nsMust(r, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await nsMust(s1, ["ip", "route", "add", "default", "via", "198.18.2.2"]);
    await nsMust(s2, ["ip", "route", "add", "default", "via", "198.18.3.2"]);
    await nsMust(c, ["ip", "route", "add", "default", "dev", `c-${tag}`]);
  } catch (e) {
    await destroy();
    throw e;
  }
  const serverIp: [string, string] = ["198.18.2.1", "198.18.3.1"];
  const serverNs: [string, string] = [s1, s2];
  return {
    tag, clientNs: c, relayNs: r, serverNs, clientIf: `c-${tag}`, realNs: u, realIf: `u-${tag}`, serverIp,
    asTopology: (i) => ({
      kind: "relayed", id: tag, clientNs: c, serverNs: serverNs[i], relayNs: r,
      client: { ns: c, ifname: `c-${tag}`, cidr: null }, server: { ns: serverNs[i], ifname: `s${i + 1}-${tag}`, cidr: null },
      relayDown: { ns: r, ifname: `rd-${tag}`, cidr: "198.18.1.1/24" }, relayUp: null,
      serverIp: serverIp[i], relayIp: "198.18.1.1", namespaces: all, destroy,
    }),
    destroy,
  };
}

/** dhcrelay -a forwarding every request to both servers. */
export async function startDualRelay(t: TwoServers): Promise<{ daemon: Daemon; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "pde2e-relay2-"));
  const cmd = [
    "dhcrelay", "-d", "-4", "-a", "-m", "replace", "-pf", join(dir, "dhcrelay.pid"),
    "-id", `rd-${t.tag}`, "-id", `re-${t.tag}`, "-iu", `ru1-${t.tag}`, "-iu", `ru2-${t.tag}`, ...t.serverIp,
  ];
  const daemon = spawnIn(t.relayNs, "dhcrelay", cmd, join(dir, "dhcrelay.log"));
  try {
    await waitFor("dhcrelay to open its sockets", async () => {
      if (daemon.proc.exitCode !== null) throw new Error(`dhcrelay exited ${daemon.proc.exitCode}: ${await daemon.log()}`);
      return /Sending on\s+Socket\/fallback/.test(await daemon.log()) ? true : undefined;
    }, 10_000);
  } catch (e) {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    daemon,
    stop: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Client {
  mac: string;
  xid: number;
}

const PRL: [number, number[]] = [55, [1, 3, 6, 51, 54, 58, 59]];
const BROADCAST = 0x8000;

export function discoverB(c: Client): Uint8Array {
  return build({ xid: c.xid, chaddr: c.mac, flags: BROADCAST, options: [[53, [MSG.DISCOVER]], PRL] });
}

export function requestB(c: Client, ip: string, serverId: string): Uint8Array {
  return build({ xid: c.xid, chaddr: c.mac, flags: BROADCAST, options: [[53, [MSG.REQUEST]], [50, ipBytes(ip)], [54, ipBytes(serverId)], PRL] });
}

/** REBINDING (RFC 2131 4.4.5): broadcast, ciaddr set, no server identifier. */
export function rebindB(c: Client, ip: string): Uint8Array {
  return build({ xid: c.xid + 7, chaddr: c.mac, flags: BROADCAST, ciaddr: ip, options: [[53, [MSG.REQUEST]], PRL] });
}

/** Broadcasts from the client link (through the relay to both servers); every reply that came back. */
export async function broadcast(t: TwoServers, packets: Uint8Array[], expect: number | undefined, listenMs: number): Promise<WirePacket[]> {
  const got = await rawExchange(t.clientNs, {
    bind: { address: "0.0.0.0", port: 68 },
    to: { address: "255.255.255.255", port: 67 },
    packets: packets.map((p) => Buffer.from(p).toString("hex")),
    listenMs,
    ...(expect !== undefined ? { expect } : {}),
  });
  return got.flatMap((g) => {
    const p = parse(new Uint8Array(Buffer.from(g.hex, "hex")));
    return p ? [p] : [];
  });
}
