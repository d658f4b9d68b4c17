/**
 * Dynamic pools end to end, on SQLite and on MariaDB: the offer chain as an
 * operator writes it (subscribers by MAC, then `pool_choice` by MAC, then
 * `select 'guest' as pool` for everyone else), real udhcpc for a known and
 * an unknown client, relay-style raw clients for the bulk cases. Each step
 * checks what the clients got and what the pool lease table holds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disposeAllClients, obtain } from "./clients.ts";
import { MSG, build, macHex } from "./dhcpwire.ts";
import { gate } from "./gate.ts";
import { type Topology, createDirect, destroyAll, sweepStale, waitFor } from "./netns.ts";
import { type PydhcpServer, pydhcpCommand, startPydhcp, sweepStaleMysql } from "./pydhcp.ts";
import {
  type PoolDb, type RawClient, byType, decline, discover, dora, gauge, metricsText, poolMac, poolMysql, poolSqlite, relayed,
  release, renew, request, serverIdOf,
} from "./pools.ts";

const skip = gate("pools", ["udhcpc", "ss"]);
const T = 60_000;
const GIADDR = "198.18.0.2";
const SUBSCRIBER_MAC = "02:00:5e:30:00:01";
const SUBSCRIBER_IP = "198.18.0.61";
const UNKNOWN_MAC = "02:00:5e:30:00:02";
const METRICS_PORT = 9167;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function poolConfig(serverId: string, db: { xml: string }, extra = ""): string {
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>0.0.0.0</host>
    <broadcast>255.255.255.255</broadcast>
    <DHCPServer>${serverId}</DHCPServer>
    <LeaseTime>3600</LeaseTime>
    <ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter>
    <defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  ${db.xml}
  <query>
    <offer_count>3</offer_count>
    <offer_1>${esc("select ip, mask, router, dns from users where mac = '{ClientMacAddress}'")}</offer_1>
    <offer_2>${esc("select pool, '7' as lease_time from pool_choice where mac = '{ClientMacAddress}'")}</offer_2>
    <offer_3>${esc("select 'guest' as pool")}</offer_3>
  </query>
  <pools>
    <offerHold>30</offerHold>
    <declineProbation>3600</declineProbation>
    <pool name="guest">
      <range>198.18.0.100-198.18.0.149</range>
      <mask>255.255.255.0</mask>
      <router>198.18.0.1</router>
      <dns>198.18.0.53, 198.18.0.54</dns>
      <leaseTime>600</leaseTime>
      <option code="15">guest.example</option>
    </pool>
    <pool name="short">
      <range>198.18.0.200</range>
    </pool>
  </pools>
  <metrics><host>127.0.0.1</host><port>${METRICS_PORT}</port></metrics>
  ${extra}
</config>
`;
}

const clients = (batch: number, n: number): RawClient[] => Array.from({ length: n }, (_, i) => ({ mac: poolMac(batch, i), xid: 0x5000_0000 + batch * 0x10000 + i }));

for (const kind of ["sqlite", "mysql"] as const) {
  describe.skipIf(skip !== null)(`pools end to end on ${kind}`, () => {
    let topo: Topology;
    let dir: string;
    let db: PoolDb;
    let server: PydhcpServer;
    const sid = () => topo.serverIp;

    beforeAll(async () => {
      await sweepStale();
      await sweepStaleMysql().catch(() => []);
      topo = await createDirect();
      dir = mkdtempSync(join(tmpdir(), "pde2e-pools-"));
      const users = [{ ip: SUBSCRIBER_IP, mask: "255.255.255.0", router: "198.18.0.1", dns: "198.18.0.53", mac: macHex(SUBSCRIBER_MAC), port: "" }];
      db = kind === "sqlite" ? await poolSqlite(dir, users) : await poolMysql(users);
      server = await startPydhcp(topo, poolConfig(topo.serverIp, db), dir);
    });
    afterAll(async () => {
      await disposeAllClients();
      await server?.stop();
      await topo?.destroy();
      await destroyAll();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const leases = () => db.leases();
    const withLog = async <R>(f: () => Promise<R>): Promise<R> => {
      try {
        return await f();
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- pydhcp log ---\n${(await server.log()).slice(-3000)}`);
      }
    };

    test("udhcpc, a known subscriber: their row's address, not the pool's", async () => withLog(async () => {
      const o = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: SUBSCRIBER_MAC });
      try {
        expect(o.lease.address).toBe(SUBSCRIBER_IP);
        expect(o.lease.leaseTime).toBe(3600);
        expect(o.state.addresses).toContain(`${SUBSCRIBER_IP}/24`);
        expect((await leases()).length).toBe(0);
      } finally {
        await o.run.dispose();
      }
    }), T);

    test("50 unknown clients get 50 distinct addresses from the guest range; the 51st gets nothing and the gauge says 0", async () => withLog(async () => {
      const cs = clients(1, 50);
      const r = await dora(topo, cs, GIADDR);
      expect(r.offers.length).toBe(50);
      expect(r.acks.size).toBe(50);
      const ips = [...r.acks.values()];
      expect(new Set(ips).size).toBe(50);
      for (const ip of ips) {
        const last = Number(ip.split(".")[3]);
        expect(ip.startsWith("198.18.0.") && last >= 100 && last <= 149).toBe(true);
      }
      // every OFFER carries the pool's settings
      const o = r.offers[0]!;
      expect(serverIdOf(o)).toBe(sid());
      const text = (code: number) => Buffer.from(o.options.find(([k]) => k === code)?.[1] ?? []).toString();
      expect(text(15)).toBe("guest.example");
      expect(Buffer.from(o.options.find(([k]) => k === 51)?.[1] ?? []).readUInt32BE(0)).toBe(600);
      expect([...(o.options.find(([k]) => k === 6)?.[1] ?? [])]).toEqual([198, 18, 0, 53, 198, 18, 0, 54]);
      const rows = await leases();
      const bound = rows.filter((x) => x.pool === "guest" && x.state === "bound");
      expect(bound.length).toBe(50);
      for (const c of cs) expect(bound.find((b) => b.client_key === c.mac)?.ip).toBe(r.acks.get(c.mac)!);

      const late = clients(2, 1)[0]!;
      const none = await relayed(topo, [discover(late, GIADDR)], 1, 1500);
      expect(none).toEqual([]);
      const m = await metricsText(topo.serverNs, METRICS_PORT);
      expect(gauge(m, "pydhcp_pool_size", "guest")).toBe(50);
      expect(gauge(m, "pydhcp_pool_free", "guest")).toBe(0);
      expect(await server.log()).toContain("pool exhausted");
    }), T);

    test("a bound client back with a DORA within a quarter of its lease: its address with the time left (T1, T2 from it), and its row not written", async () => withLog(async () => {
      const c = clients(1, 3)[2]!;
      const before = (await leases()).find((x) => x.client_key === c.mac)!;
      await Bun.sleep(2100);
      const offers = byType(await relayed(topo, [discover(c, GIADDR)], 1, 3000), MSG.OFFER);
      expect(offers.map((o) => o.yiaddr)).toEqual([before.ip]);
      const acks = byType(await relayed(topo, [request(c, GIADDR, before.ip, sid())], 1, 3000), MSG.ACK);
      expect(acks.map((a) => a.yiaddr)).toEqual([before.ip]);
      const u32 = (code: number) => Buffer.from(acks[0]!.options.find(([k]) => k === code)?.[1] ?? []).readUInt32BE(0);
      const left = Number(before.expires) - Math.floor(Date.now() / 1000);
      expect(u32(51)).toBeLessThan(600);
      expect(Math.abs(u32(51) - left)).toBeLessThanOrEqual(1);
      expect(u32(58)).toBe(Math.floor(u32(51) * 0.5));
      expect(u32(59)).toBe(Math.floor(u32(51) * 0.875));
      const after = (await leases()).find((x) => x.client_key === c.mac)!;
      expect({ ip: after.ip, state: after.state, expires: Number(after.expires) }).toEqual({ ip: before.ip, state: "bound", expires: Number(before.expires) });
      const m = await metricsText(topo.serverNs, METRICS_PORT);
      expect(gauge(m, "pydhcp_pool_leases_reused_total", "guest")).toBe(1);
      // all reuse, pools' and the offer queries' own leases
      expect(/^pydhcp_leases_reused_total (\S+)$/m.exec(m)?.[1]).toBe("1");
      expect(await server.log()).toContain("lease reused");
    }), T);

    test("RELEASE frees an address: the waiting client gets it; the releaser's row is released", async () => withLog(async () => {
      const [first] = clients(1, 1);
      const rows = await leases();
      const ip = rows.find((x) => x.client_key === first!.mac)!.ip;
      await relayed(topo, [release(first!, ip, sid())], undefined, 300);
      await waitFor("row released", async () => ((await leases()).find((x) => x.ip === ip)?.state === "released" ? true : undefined), 5000);
      const late = clients(2, 1)[0]!;
      const r = await dora(topo, [late], GIADDR);
      expect(r.acks.get(late.mac)).toBe(ip);
      expect((await leases()).find((x) => x.ip === ip)).toMatchObject({ client_key: late.mac, state: "bound" });
    }), T);

    test("renewal keeps the address and extends the row; a renewal for an address the client no longer holds is NAKed", async () => withLog(async () => {
      const c = clients(1, 2)[1]!;
      const before = (await leases()).find((x) => x.client_key === c.mac)!;
      await Bun.sleep(1100);
      const ack = byType(await relayed(topo, [renew(c, GIADDR, before.ip)], 1, 3000), MSG.ACK);
      expect(ack.map((a) => a.yiaddr)).toEqual([before.ip]);
      const after = (await leases()).find((x) => x.client_key === c.mac)!;
      expect(after.ip).toBe(before.ip);
      expect(after.expires).toBeGreaterThan(before.expires);
      // the first client released its address and someone else took it
      const first = clients(1, 1)[0]!;
      const taken = (await leases()).find((x) => x.client_key === clients(2, 1)[0]!.mac)!.ip;
      const nak = await relayed(topo, [renew(first, GIADDR, taken)], 1, 3000);
      expect(nak.map((p) => p.options.find(([k]) => k === 53)?.[1]?.[0])).toEqual([MSG.NAK]);
    }), T);

    test("DECLINE puts the address on probation (no client, expiry ~1 h) and the decliner gets another address", async () => withLog(async () => {
      // make room: two clients release
      const cs = clients(1, 4).slice(2);
      for (const c of cs) {
        const ip = (await leases()).find((x) => x.client_key === c.mac)!.ip;
        await relayed(topo, [release(c, ip, sid())], undefined, 200);
      }
      await waitFor("released", async () => ((await leases()).filter((x) => x.state === "released").length >= 2 ? true : undefined), 5000);
      const d = clients(3, 1)[0]!;
      const got = await dora(topo, [d], GIADDR);
      const ip = got.acks.get(d.mac)!;
      expect(ip).toBeDefined();
      const t0 = Math.floor(Date.now() / 1000);
      await relayed(topo, [decline(d, GIADDR, ip, sid())], undefined, 300);
      const row = await waitFor("declined", async () => {
        const r = (await leases()).find((x) => x.ip === ip);
        return r?.state === "declined" ? r : undefined;
      }, 5000);
      expect(row.client_key).toBeNull();
      expect(row.expires).toBeGreaterThanOrEqual(t0 + 3600 - 2);
      expect(row.expires).toBeLessThanOrEqual(t0 + 3600 + 5);
      const again = await dora(topo, [{ ...d, xid: d.xid + 100 }], GIADDR);
      const next = again.acks.get(d.mac);
      expect(next).toBeDefined();
      expect(next).not.toBe(ip);
    }), T);

    test("udhcpc, an unknown client: a guest address with the pool's mask, router, dns, lease time and option; renew keeps it; after RELEASE it comes back (affinity)", async () => withLog(async () => {
      // room for it: a raw client releases
      const c = clients(1, 5)[4]!;
      const freed = (await leases()).find((x) => x.client_key === c.mac)!.ip;
      await relayed(topo, [release(c, freed, sid())], undefined, 200);
      await waitFor("released", async () => ((await leases()).find((x) => x.ip === freed)?.state === "released" ? true : undefined), 5000);

      const o = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: UNKNOWN_MAC });
      const ip = o.lease.address;
      try {
        expect(ip.startsWith("198.18.0.1")).toBe(true);
        expect(o.lease.mask).toBe("255.255.255.0");
        expect(o.lease.router).toBe("198.18.0.1");
        expect(o.lease.dns).toEqual(["198.18.0.53", "198.18.0.54"]);
        expect(o.lease.leaseTime).toBe(600);
        expect(o.state.addresses).toContain(`${ip}/24`);
        // udhcpc sends client identifier 01+MAC: keyed like the MAC
        expect((await leases()).find((x) => x.ip === ip)).toMatchObject({ client_key: macHex(UNKNOWN_MAC), state: "bound" });
        const n = (await o.run.events()).length;
        await Bun.sleep(1100);
        await o.run.renewNow();
        const renewed = await o.run.waitBound(10_000, n);
        expect(renewed.reason).toBe("renew");
        expect(renewed.address).toBe(ip);
        // another address is freed first, so it is the longest-free one when udhcpc comes back
        const other = clients(1, 6)[5]!;
        const otherIp = (await leases()).find((x) => x.client_key === other.mac)!.ip;
        await relayed(topo, [release(other, otherIp, sid())], undefined, 200);
        await waitFor("released", async () => ((await leases()).find((x) => x.ip === otherIp)?.state === "released" ? true : undefined), 5000);
        await Bun.sleep(1100);
        await o.run.release();
        await waitFor("released", async () => ((await leases()).find((x) => x.ip === ip)?.state === "released" ? true : undefined), 5000);
      } finally {
        await o.run.dispose();
      }
      const back = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: UNKNOWN_MAC });
      try {
        expect(back.lease.address).toBe(ip);
        expect((await leases()).filter((x) => x.state === "released").length).toBe(1);
      } finally {
        await back.run.dispose();
      }
    }), T);

    test("expiry: a lease that ran out is reclaimed for the next client, and its old holder is NAKed", async () => withLog(async () => {
      const [a, b] = clients(4, 2) as [RawClient, RawClient];
      await db.choose(a.mac, "short");
      await db.choose(b.mac, "short");
      // the row's lease_time (7 s) overrides the pool's
      const ra = await dora(topo, [a], GIADDR);
      expect(ra.acks.get(a.mac)).toBe("198.18.0.200");
      const leaseOpt = ra.offers[0]!.options.find(([k]) => k === 51)?.[1];
      expect(leaseOpt && Buffer.from(leaseOpt).readUInt32BE(0)).toBe(7);
      expect(await relayed(topo, [discover(b, GIADDR)], 1, 1000)).toEqual([]);
      await Bun.sleep(7500);
      const rb = await dora(topo, [b], GIADDR);
      expect(rb.acks.get(b.mac)).toBe("198.18.0.200");
      expect((await leases()).find((x) => x.ip === "198.18.0.200")).toMatchObject({ client_key: b.mac, state: "bound" });
      const nak = await relayed(topo, [renew(a, GIADDR, "198.18.0.200")], 1, 2000);
      expect(byType(nak, MSG.NAK).length).toBe(1);
      expect(byType(nak, MSG.ACK).length).toBe(0);
    }), T);

    test("INFORM from a pool client: an ACK with the pool's options and no address (RFC 2131 4.3.5)", async () => withLog(async () => {
      const c = clients(1, 8)[7]!;
      const held = (await leases()).find((x) => x.client_key === c.mac)!.ip;
      const before = await leases();
      const inform = build({ xid: 0x51000001, chaddr: c.mac, giaddr: GIADDR, hops: 1, ciaddr: held, options: [[53, [MSG.INFORM]], [55, [1, 3, 6, 15]]] });
      const acks = byType(await relayed(topo, [inform], 1, 3000), MSG.ACK);
      expect(acks.length).toBe(1);
      expect(acks[0]!.yiaddr).toBe("0.0.0.0");
      expect(Buffer.from(acks[0]!.options.find(([k]) => k === 15)?.[1] ?? []).toString()).toBe("guest.example");
      expect(acks[0]!.options.some(([k]) => k === 51)).toBe(false);
      expect(await leases()).toEqual(before);
    }), T);

    test("--explain shows the pool decision and the address it would offer, and reserves nothing", async () => withLog(async () => {
      const before = await leases();
      const p = Bun.spawn([...pydhcpCommand(join(dir, "config.xml")), "--explain", "--mac", "02:00:5e:4f:00:01"], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
      expect(await p.exited).toBe(0);
      expect(err).toBe("");
      expect(out).toMatch(/decision: offer_3 matched: 198\.18\.0\.1\d\d \(offer, pool guest: [a-z' ]+ \(not reserved: --explain\)\)/);
      expect(await leases()).toEqual(before);
    }), T);
  });
}
