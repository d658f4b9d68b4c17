/**
 * Active-active: two pydhcp servers (own server identifiers) on one MariaDB
 * database, behind dhcrelay forwarding every request to both. No protocol
 * between the servers: the pool lease table arbitrates.
 *
 * - 100 clients DISCOVER at once (each DISCOVER reaches both servers), take
 *   one of the offers and REQUEST it: every client gets exactly one ACK, no
 *   address is ACKed to two clients, and the table holds one bound row per
 *   client.
 * - One server is killed (SIGKILL): its clients rebind (RFC 2131 4.4.5,
 *   broadcast at T2) and the other server ACKs the same addresses; a real
 *   udhcpc behind the relay does the same on its own timers.
 *
 * The Galera variant (same servers on two nodes of a three-node cluster)
 * is test/long/galera.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disposeAllClients, obtain } from "./clients.ts";
import { MSG, msgType } from "./dhcpwire.ts";
import { gate } from "./gate.ts";
import { sweepStale, waitFor } from "./netns.ts";
import { type PydhcpServer, startPydhcp, sweepStaleMysql } from "./pydhcp.ts";
import { type PoolDb, poolMysql, serverIdOf } from "./pools.ts";
import { type TwoServers, broadcast, createTwoServers, rebindB, startDualRelay } from "./twoservers.ts";
import { activeActiveConfig, runLoad } from "./active-active.ts";

const skip = gate("active-active", ["udhcpc", "dhcrelay", "ss"]);
const T = 90_000;

describe.skipIf(skip !== null)("two servers on one MariaDB behind a relay that forwards to both", () => {
  let t: TwoServers;
  let db: PoolDb;
  let dir: string;
  const servers: PydhcpServer[] = [];
  let relay: Awaited<ReturnType<typeof startDualRelay>>;
  /** per client MAC: the address ACKed and the server that ACKed it */
  let granted = new Map<string, { ip: string; server: string }>();

  beforeAll(async () => {
    await sweepStale();
    await sweepStaleMysql().catch(() => []);
    t = await createTwoServers();
    dir = mkdtempSync(join(tmpdir(), "pde2e-aa-"));
    db = await poolMysql([]);
    for (const i of [0, 1] as const) {
      const d = join(dir, `s${i}`);
      await Bun.write(join(d, ".keep"), "");
      servers.push(await startPydhcp(t.asTopology(i), activeActiveConfig(t.serverIp[i], db.xml), d));
    }
    relay = await startDualRelay(t);
  });
  afterAll(async () => {
    await disposeAllClients();
    await relay?.stop();
    for (const s of servers) await s.stop();
    await t?.destroy();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const logs = async () => (await Promise.all(servers.map(async (s, i) => `--- server ${i} ---\n${(await s.log()).slice(-2500)}`))).join("\n");
  const withLogs = async (f: () => Promise<void>) => {
    try {
      await f();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await logs()}`);
    }
  };

  test("100 clients, every DISCOVER reaching both servers: each client exactly one lease, no address held twice", async () => withLogs(async () => {
    const r = await runLoad((pk, n, ms) => broadcast(t, pk, n, ms), 100, 0x61, t.serverIp);
    console.log(`[e2e] active-active MariaDB: ${r.summary}`);
    expect(r.bothOffered).toBe(100);
    expect(r.served).toBe(100);
    expect(r.acksPerClientMax).toBe(1);
    expect(r.duplicateAcked).toBe(0);
    const rows = (await db.leases()).filter((x) => x.state === "bound");
    expect(rows.length).toBe(100);
    expect(new Set(rows.map((x) => x.ip)).size).toBe(100);
    expect(new Set(rows.map((x) => x.client_key)).size).toBe(100);
    for (const [mac, g] of r.granted) expect(rows.find((x) => x.client_key === mac)).toMatchObject({ ip: g.ip, server: g.server });
    // the load was shared: each server granted some
    expect(new Set([...r.granted.values()].map((g) => g.server)).size).toBe(2);
    granted = r.granted;
  }), T);

  test("a server killed with SIGKILL: its clients rebind to the other and keep their addresses; a real udhcpc does it at T2", async () => withLogs(async () => {
    // udhcpc behind the relay's second link: the SQL picks pool link4 by giaddr (12 s leases: T1 6 s, T2 10.5 s)
    const o = await obtain("udhcpc", t.realNs, t.realIf, { mac: "02:00:5e:62:00:01" });
    const ip = o.lease.address;
    expect(ip.startsWith("198.18.4.")).toBe(true);
    const first = o.lease.serverId!;
    const victim = t.serverIp.indexOf(first);
    expect(victim).toBeGreaterThanOrEqual(0);
    const survivor = t.serverIp[1 - victim]!;
    servers[victim]!.daemon.proc.kill("SIGKILL");
    await servers[victim]!.daemon.proc.exited;

    // the raw clients the dead server had granted rebind: only the survivor answers, with the same address
    const orphans = [...granted].filter(([, g]) => g.server === first);
    expect(orphans.length).toBeGreaterThan(0);
    const replies = await broadcast(t, orphans.map(([mac, g]) => rebindB({ mac, xid: 0x6200_0000 + parseInt(mac.slice(-4), 16) }, g.ip)), orphans.length, 6000);
    const acks = replies.filter((p) => msgType(p) === MSG.ACK);
    expect(acks.length).toBe(orphans.length);
    for (const a of acks) {
      expect(serverIdOf(a)).toBe(survivor);
      expect(a.yiaddr).toBe(granted.get(a.chaddr)!.ip);
    }
    const rows = await db.leases();
    for (const [mac, g] of orphans) expect(rows.find((x) => x.client_key === mac)).toMatchObject({ ip: g.ip, state: "bound", server: survivor });

    // udhcpc: unicast renewals at T1 go unanswered; at T2 it broadcasts and the survivor ACKs the same address
    const n = (await o.run.events()).length;
    const again = await waitFor("udhcpc to rebind", async () => {
      const ev = (await o.run.events()).slice(n).find((e) => (e.reason === "renew" || e.reason === "bound") && e.vars.serverid === survivor);
      return ev;
    }, 25_000, 200);
    expect(again.vars.ip).toBe(ip);
    await o.run.dispose();
  }), T);
});



