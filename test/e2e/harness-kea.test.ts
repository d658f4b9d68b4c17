/**
 * Proves the end-to-end harness against ISC Kea, a server known to be right:
 * each real client gets its reserved address directly (by MAC) and through
 * dhcrelay (by circuit-id), dhcrelay's option 82 comes back byte for byte,
 * and renew / release / INIT-REBOOT / hand-built packets do what they claim.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { seen, startCapture, type UdpDatagram } from "./capture.ts";
import { CLIENT_BINARIES, CLIENT_KINDS, type ClientKind, disposeAllClients, obtain, startClient } from "./clients.ts";
import { MSG, build, hex, macHex, msgType, opt, parse, type WirePacket } from "./dhcpwire.ts";
import { gate } from "./gate.ts";
import { startKea } from "./kea.ts";
import { type Topology, createDirect, createRelayed, destroyAll, sweepStale } from "./netns.ts";
import { rawExchange, rawRelayEndpoint } from "./rawclient.ts";
import { startRelay } from "./relay.ts";

const skip = gate("harness-kea", [...Object.values(CLIENT_BINARIES), "dhcrelay", "kea-dhcp4", "dumpcap"]);

/** per test: namespaces, a server, one or two clients, a capture */
const T = 30_000;

const ROUTER_DIRECT = "198.18.0.1";
const DNS = ["198.18.0.53", "198.18.0.54"];
const MAC: Record<ClientKind, string> = {
  udhcpc: "02:00:5e:10:00:01",
  dhclient: "02:00:5e:10:00:02",
  dhcpcd: "02:00:5e:10:00:03",
};
const RESERVED: Record<ClientKind, string> = {
  udhcpc: "198.18.0.51",
  dhclient: "198.18.0.52",
  dhcpcd: "198.18.0.53",
};

function dhcp(dg: UdpDatagram[]): Array<{ d: UdpDatagram; p: WirePacket }> {
  return dg.flatMap((d) => {
    const p = parse(d.payload);
    return p ? [{ d, p }] : [];
  });
}

async function withDirectKea<T>(leaseTime: number, fn: (t: Topology) => Promise<T>): Promise<T> {
  const t = await createDirect();
  try {
    const kea = await startKea(t, {
      reservations: CLIENT_KINDS.map((k) => ({ mac: MAC[k], ip: RESERVED[k] })),
      router: ROUTER_DIRECT,
      dns: DNS,
      leaseTime,
    });
    try {
      return await fn(t);
    } finally {
      await disposeAllClients();
      await kea.stop();
    }
  } finally {
    await t.destroy();
  }
}

describe.skipIf(skip !== null)("e2e harness against kea-dhcp4", () => {
  beforeAll(async () => {
    await sweepStale();
  });
  afterAll(async () => {
    await disposeAllClients();
    await destroyAll();
  });

  for (const kind of CLIENT_KINDS) {
    test(`${kind} gets its MAC reservation on a direct link`, async () => {
      await withDirectKea(600, async (t) => {
        const o = await obtain(kind, t.clientNs, t.client.ifname, { mac: MAC[kind] });
        try {
          console.log(`[e2e] kea direct ${kind}: bound in ${o.ms.toFixed(0)} ms`);
          expect(o.lease.address).toBe(RESERVED[kind]);
          expect(o.lease.mask).toBe("255.255.255.0");
          expect(o.lease.prefix).toBe(24);
          expect(o.lease.router).toBe(ROUTER_DIRECT);
          expect(o.lease.dns).toEqual(DNS);
          expect(o.lease.leaseTime).toBe(600);
          expect(o.lease.serverId).toBe(t.serverIp);
          expect(o.state.addresses).toContain(`${RESERVED[kind]}/24`);
          expect(o.state.defaultRouter).toBe(ROUTER_DIRECT);
        } finally {
          await o.run.dispose();
        }
      });
    }, T);
  }

  for (const kind of CLIENT_KINDS) {
    test(`${kind} via dhcrelay -a gets the circuit-id reservation; option 82 round-trips`, async () => {
      const t = await createRelayed();
      try {
        const relayDown = t.relayDown?.ifname ?? "";
        const kea = await startKea(t, {
          reservations: [{ circuitId: relayDown, ip: "198.18.1.60" }],
          router: "198.18.1.1",
          dns: DNS,
          leaseTime: 600,
        });
        const relay = await startRelay(t);
        const cap = await startCapture(t.relayNs ?? "", t.relayUp?.ifname ?? "");
        try {
          const o = await obtain(kind, t.clientNs, t.client.ifname, { mac: MAC[kind] });
          await o.run.dispose();
          console.log(`[e2e] kea relayed ${kind}: bound in ${o.ms.toFixed(0)} ms`);
          expect(o.lease.address).toBe("198.18.1.60");
          expect(o.lease.router).toBe("198.18.1.1");
          expect(o.lease.dns).toEqual(DNS);
          expect(o.state.addresses).toContain("198.18.1.60/24");
          const pk = dhcp(await cap.stop(seen(MSG.ACK)));
          const up = pk.filter(({ d }) => d.dport === 67 && d.dst === t.serverIp);
          const down = pk.filter(({ d }) => d.src === t.serverIp);
          expect(up.map(({ p }) => msgType(p))).toEqual([MSG.DISCOVER, MSG.REQUEST]);
          expect(down.map(({ p }) => msgType(p))).toEqual([MSG.OFFER, MSG.ACK]);
          const want = hex(relay.option82);
          expect(want).toBe(`01${relayDown.length.toString(16).padStart(2, "0")}${Buffer.from(relayDown).toString("hex")}`);
          for (const { p } of [...up, ...down]) {
            expect(p.giaddr).toBe("198.18.1.1");
            expect(hex(opt(p, 82) ?? new Uint8Array())).toBe(want);
          }
        } finally {
          cap.dispose();
          await relay.stop();
          await kea.stop();
        }
      } finally {
        await t.destroy();
      }
    }, T);
  }

  test("udhcpc renews on SIGUSR1 with a unicast REQUEST carrying ciaddr", async () => {
    await withDirectKea(600, async (t) => {
      const c = await startClient("udhcpc", t.clientNs, t.client.ifname, { mac: MAC.udhcpc });
      const cap = await startCapture(t.serverNs, t.server.ifname);
      try {
        await c.waitBound(15_000);
        const n = (await c.events()).length;
        const t0 = performance.now();
        await c.renewNow();
        const renewed = await c.waitBound(10_000, n);
        console.log(`[e2e] kea udhcpc renew: ${(performance.now() - t0).toFixed(0)} ms`);
        expect(renewed.reason).toBe("renew");
        expect(renewed.address).toBe(RESERVED.udhcpc);
        const reqs = dhcp(await cap.stop(seen(MSG.REQUEST, 1, (_d, p) => p.ciaddr === RESERVED.udhcpc))).filter(({ p }) => msgType(p) === MSG.REQUEST);
        const renewReq = reqs.at(-1);
        expect(renewReq?.p.ciaddr).toBe(RESERVED.udhcpc);
        expect(renewReq?.d.dst).toBe(t.serverIp);
      } finally {
        cap.dispose();
        await c.dispose();
      }
    });
  }, T);

  test("dhclient renews at T1 of a short lease", async () => {
    await withDirectKea(6, async (t) => {
      const c = await startClient("dhclient", t.clientNs, t.client.ifname, { mac: MAC.dhclient });
      try {
        await c.waitBound(15_000);
        const t0 = performance.now();
        const renewed = await c.waitBound(15_000, 2); // PREINIT, BOUND, then RENEW
        console.log(`[e2e] kea dhclient T1 renew after ${(performance.now() - t0).toFixed(0)} ms`);
        expect(renewed.reason).toBe("RENEW");
        expect(renewed.address).toBe(RESERVED.dhclient);
      } finally {
        await c.dispose();
      }
    });
  }, T);

  for (const kind of CLIENT_KINDS) {
    test(`${kind} release sends DHCPRELEASE with its ciaddr`, async () => {
      await withDirectKea(600, async (t) => {
        const c = await startClient(kind, t.clientNs, t.client.ifname, { mac: MAC[kind] });
        const cap = await startCapture(t.serverNs, t.server.ifname);
        try {
          await c.waitBound(15_000);
          await c.release();
          const rel = dhcp(await cap.stop(seen(MSG.RELEASE))).filter(({ p }) => msgType(p) === MSG.RELEASE);
          expect(rel.length).toBeGreaterThanOrEqual(1);
          expect(rel[0]?.p.ciaddr).toBe(RESERVED[kind]);
          expect(rel[0]?.p.chaddr).toBe(macHex(MAC[kind]));
        } finally {
          cap.dispose();
          await c.dispose();
        }
      });
    }, T);
  }

  for (const kind of ["dhclient", "dhcpcd"] as const) {
    test(`${kind} restarted with its lease does INIT-REBOOT (option 50, no option 54)`, async () => {
      await withDirectKea(600, async (t) => {
        const first = await startClient(kind, t.clientNs, t.client.ifname, { mac: MAC[kind] });
        await first.waitBound(15_000);
        await first.stop();
        const cap = await startCapture(t.serverNs, t.server.ifname);
        const again = await startClient(kind, t.clientNs, t.client.ifname, { mac: MAC[kind], stateDir: first.dir });
        try {
          const lease = await again.waitBound(15_000);
          expect(lease.reason).toBe("REBOOT");
          expect(lease.address).toBe(RESERVED[kind]);
          const reqs = dhcp(await cap.stop(seen(MSG.REQUEST))).filter(({ p }) => msgType(p) === MSG.REQUEST);
          expect(reqs.length).toBeGreaterThanOrEqual(1);
          const r = reqs[0]?.p;
          expect(r?.ciaddr).toBe("0.0.0.0");
          expect(Array.from(opt(r as WirePacket, 50) ?? [])).toEqual(RESERVED[kind].split(".").map(Number));
          expect(opt(r as WirePacket, 54)).toBeUndefined();
        } finally {
          cap.dispose();
          await again.dispose();
        }
      });
    }, T);
  }

  test("udhcpc -r asks for an address in its DISCOVER (option 50)", async () => {
    await withDirectKea(600, async (t) => {
      const cap = await startCapture(t.serverNs, t.server.ifname);
      const o = await obtain("udhcpc", t.clientNs, t.client.ifname, { mac: MAC.udhcpc, requestIp: "198.18.0.150" });
      try {
        // the reservation wins over the requested address
        expect(o.lease.address).toBe(RESERVED.udhcpc);
        const disc = dhcp(await cap.stop(seen(MSG.DISCOVER))).find(({ p }) => msgType(p) === MSG.DISCOVER);
        expect(Array.from(opt(disc?.p as WirePacket, 50) ?? [])).toEqual([198, 18, 0, 150]);
      } finally {
        cap.dispose();
        await o.run.dispose();
      }
    });
  }, T);

  test("raw relayed DISCOVER gets an OFFER to giaddr:67; a REQUEST naming another server gets nothing", async () => {
    await withDirectKea(600, async (t) => {
      const ep = await rawRelayEndpoint(t);
      const o82 = [1, 4, 0x70, 0x6f, 0x72, 0x74, 2, 3, 0xaa, 0xbb, 0xcc];
      const chaddr = macHex(MAC.dhclient);
      const discover = build({
        xid: 0x11223344, chaddr, hops: 1, giaddr: ep.address,
        options: [[53, [MSG.DISCOVER]], [55, [1, 3, 6, 51, 54]], [82, o82]],
      });
      const got = await rawExchange(ep.ns, {
        bind: { address: ep.address, port: 67 }, to: { address: t.serverIp, port: 67 },
        packets: [hex(discover)], listenMs: 3000, expect: 1,
      });
      expect(got.length).toBe(1);
      const offer = parse(Buffer.from(got[0]?.hex ?? "", "hex")) as WirePacket;
      expect(msgType(offer)).toBe(MSG.OFFER);
      expect(offer.yiaddr).toBe(RESERVED.dhclient);
      expect(offer.xid).toBe(0x11223344);
      expect(Array.from(opt(offer, 82) ?? [])).toEqual(o82);

      const foreign = build({
        xid: 0x11223345, chaddr, hops: 1, giaddr: ep.address,
        options: [[53, [MSG.REQUEST]], [50, [198, 18, 0, 52]], [54, [198, 18, 0, 99]], [82, o82]],
      });
      const none = await rawExchange(ep.ns, {
        bind: { address: ep.address, port: 67 }, to: { address: t.serverIp, port: 67 },
        packets: [hex(foreign)], listenMs: 1500,
      });
      expect(none).toEqual([]);
    });
  }, T);
});
