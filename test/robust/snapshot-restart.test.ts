/**
 * pydhcp restarted while its database is away (the lease snapshot,
 * src/server/lease-snapshot.ts), against the built binary and a private
 * MariaDB, then a private PostgreSQL, that this test stops and starts (never
 * the machine's shared servers):
 *
 *  - clients bind with real relayed DORA traffic; the snapshot appears
 *    beside the journal (0600) with their leases;
 *  - the database is stopped, pydhcp is killed with -9 and started again
 *    while the database is still down: it says it serves N leases from the
 *    snapshot of <time>, binds, and ACKs each client's renewal (ciaddr set,
 *    relayed) and an INIT-REBOOT with the same address and options as
 *    before; a new client's DISCOVER and a client the snapshot does not
 *    know get no reply; every answer's history event is in the journal;
 *  - the database comes back: pydhcp says so, the journaled events reach
 *    the history table once each, the renewed leases' new expiry reaches
 *    pydhcp_lease, and a new client is served again.
 * Then the start-up cases that keep the old behaviour: a damaged snapshot
 * is ignored with a WARN and the start waits for the database; a snapshot
 * of another database is ignored; with the database up the snapshot is not
 * read (the table is the truth).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { readSnapshot, writeSnapshot } from "../../src/server/lease-snapshot.ts";
import { ip } from "../support/client.ts";
import { privateEngines, type PrivateDb, type PrivateEngine } from "../support/private-db.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { Relay, alive, freeUdpPort, macOf, option82, optionsHex, replyType, serverConfig, text } from "./support.ts";

const CLIENTS = 12;
const DB = "pdr_snapshot";
const GRACE_S = 600;
const LEASE_S = 3600;

const clientMac = (i: number) => macOf(i, 0x0a);
const clientIp = (i: number) => `198.18.20.${10 + i}`;
const newcomerMac = macOf(1, 0x0b);
const rai = (i: number) => option82(text(`snap/${i}`));

interface Engine extends PrivateEngine {
  /** pydhcp_lease expires (epoch seconds) of a MAC */
  leaseExpires(db: PrivateDb, mac: string): Promise<number>;
}

const engines = privateEngines(DB);
const mariadb: Engine = {
  ...engines.mariadb,
  leaseExpires: async (db, mac) => Number((await db.sql(`select expires from ${DB}.pydhcp_lease where mac = '${mac}'`)).trim()),
};
const postgresql: Engine = {
  ...engines.postgresql,
  leaseExpires: async (db, mac) => Number((await db.sql(`select expires from pydhcp_lease where mac = '${mac}'`, DB)).trim()),
};

for (const engine of [mariadb, postgresql]) describe(engine.name, () => {
  let mdb: PrivateDb;
  let dir: string;
  let server: RunningServer | null = null;
  let relay: Relay;
  let serverPort: number;
  let snapshot: string;
  let journal: string;

  function config(): string {
    return serverConfig({
      serverPort,
      clientPort: 68,
      leaseTime: LEASE_S,
      database: engine.xml(mdb),
      offer: "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'",
      // the xid says which exchange wrote the row
      history: "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', '{xidhex}')",
      extra: `<leases><outageGrace>${GRACE_S}</outageGrace></leases><log><level>info</level></log>`,
    });
  }

  const historyRows = () => engine.history(mdb);

  async function until<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
      await Bun.sleep(200);
    }
  }

  const xidHex = (x: number) => x.toString(16).padStart(8, "0");
  /** the database the journal is for, as the server recorded it (db/settings.ts databaseOwner): the snapshot's owner too */
  const owner = () => readFileSync(journal + ".database", "utf8").trim();

  beforeAll(async () => {
    mdb = await engine.open();
    const users: string[] = [];
    for (let i = 0; i < CLIENTS; i++) users.push(`('${clientMac(i)}', '${clientIp(i)}', '255.255.255.0', '198.18.20.1', '198.18.0.53')`);
    users.push(`('${newcomerMac}', '198.18.21.10', '255.255.255.0', '198.18.21.1', '198.18.0.53')`);
    await engine.create(mdb, users);
    dir = mkdtempSync(join(tmpdir(), "pdr-snapshot-"));
    journal = join(dir, "pydhcp-history.spool");
    snapshot = journal + ".leases";
    serverPort = await freeUdpPort();
    relay = await Relay.open(serverPort);
  }, 90_000);

  afterAll(async () => {
    relay?.close();
    await server?.close();
    await mdb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`kill -9 while ${engine.name} is down, restart while it is still down: renewals ACKed from the snapshot, their history written once when it returns`, async () => {
    server = await startServer({ config: config(), dir });
    const before: Record<string, string>[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const r = await relay.dora(clientMac(i), rai(i), { xid: 0x5a000000 + i, tries: 3 });
      if ("failed" in r) throw new Error(`client ${i}: ${r.failed}`);
      expect(r.ack.yiaddr).toBe(clientIp(i));
      before[i] = optionsHex(r.ack);
    }
    // the snapshot is written within a few seconds of the leases changing, 0600, for this database
    const snap = await until("the snapshot with every client", () => readSnapshot(snapshot, owner()), (r) => r.ok && r.entries.filter((e) => e.lease.state === "bound").length === CLIENTS);
    expect(statSync(snapshot).mode & 0o777).toBe(0o600);
    if (snap.ok) expect(new Set(snap.entries.map((e) => e.lease.ip))).toEqual(new Set(Array.from({ length: CLIENTS }, (_, i) => clientIp(i))));
    // everything so far is in the table (each DORA: OFFER and ACK)
    await until("the DORA history rows", historyRows, (r) => r.length === 2 * CLIENTS);

    await mdb.stop();
    server.signal("SIGKILL");
    await server.proc.exited;
    server = await startServer({ config: config(), dir });
    const line = await server.waitFor(/database unreachable at start, serving \d+ leases from the snapshot of/, 5000);
    expect(line).toContain(`serving ${CLIENTS} leases from the snapshot of `);
    expect(line).toMatch(/WARN/);

    // renewals (ciaddr set, relayed): the same address and the same options as the database gave
    const renewXid = (i: number) => 0x5b000000 + i;
    for (let i = 0; i < CLIENTS; i++) {
      const r = await relay.renew(clientMac(i), clientIp(i), rai(i), renewXid(i), 2000);
      expect(replyType(r)).toBe("ACK");
      expect(r!.yiaddr).toBe(clientIp(i));
      expect(optionsHex(r!)).toEqual(before[i]!);
    }
    // INIT-REBOOT (requested address, no ciaddr) of a bound lease
    const reboot = await relay.exchange({ type: MessageType.REQUEST, mac: clientMac(0), xid: 0x5c000000, options: [[50, ip(clientIp(0))], [82, rai(0)]] }, 2000);
    expect(replyType(reboot)).toBe("ACK");
    expect(reboot!.yiaddr).toBe(clientIp(0));
    // what needs SQL gets no reply: a new client's DISCOVER, a renewal the snapshot does not know
    expect(await relay.exchange({ type: MessageType.DISCOVER, mac: newcomerMac, xid: 0x5d000000, options: [[82, option82(text("new/1"))]] }, 1500)).toBeNull();
    expect(await relay.renew(newcomerMac, "198.18.21.10", option82(text("new/1")), 0x5d000001, 1500)).toBeNull();
    // a renewal asking for another address than its lease: no reply either
    expect(await relay.renew(clientMac(1), clientIp(2), rai(1), 0x5d000002, 1500)).toBeNull();

    // SIGTERM while serving from the snapshot: exit 0, and the snapshot now holds the renewals, unwritten
    expect(await server.stop("SIGTERM")).toBe(0);
    const afterStop = readSnapshot(snapshot, owner());
    if (!afterStop.ok) throw new Error(afterStop.message);
    const renewed = afterStop.entries.find((e) => e.lease.mac === clientMac(5))!;
    expect(renewed.unwritten).toBe(true);
    expect(renewed.lease.expires).toBeGreaterThan(Math.floor(Date.now() / 1000) + LEASE_S - 60);
    // and a start still without the database serves from it again
    server = await startServer({ config: config(), dir });
    await server.waitFor(/database unreachable at start, serving \d+ leases from the snapshot of/, 5000);
    const again = await relay.renew(clientMac(5), clientIp(5), rai(5), 0x5b100005, 2000);
    expect(replyType(again)).toBe("ACK");
    expect(again!.yiaddr).toBe(clientIp(5));
    const pid2 = server.proc.pid;

    // every answer's event is in the journal, waiting
    const answered = [...Array.from({ length: CLIENTS }, (_, i) => xidHex(renewXid(i))), xidHex(0x5c000000), xidHex(0x5b100005)];
    const journaled = readFileSync(journal, "utf8");
    for (const x of answered) expect(journaled).toContain(`"${x}"`);
    await mdb.start();
    await server.waitFor(/database reachable after .* serving from the lease snapshot; serving from the database again/, 20_000);
    expect(alive(pid2)).toBe(true);

    // each journaled event reaches the table once
    const want = 2 * CLIENTS + answered.length;
    await until("the history rows of the answers from the snapshot", historyRows, (r) => r.length >= want);
    await Bun.sleep(1000);
    const final = await historyRows();
    expect(final.length).toBe(want);
    for (const x of answered) expect(final.filter((r) => r.comment === x).length).toBe(1);
    // the renewals' new expiry reaches pydhcp_lease (they were unwritten leases in memory)
    const renewedAt = Math.floor(Date.now() / 1000) - 30;
    await until("the renewed lease in pydhcp_lease", () => engine.leaseExpires(mdb, clientMac(3)), (e) => e >= renewedAt + LEASE_S - 60);

    // and the database answers again: a new client is served
    const n = await relay.dora(newcomerMac, option82(text("new/1")), { tries: 3 });
    if ("failed" in n) throw new Error(`newcomer after the database returned: ${n.failed}`);
    expect(n.ack.yiaddr).toBe("198.18.21.10");
    const out = server.output();
    console.log(out.split("\n").filter((l) => /snapshot|database (unreachable|reachable)|history waits|history rows are written/.test(l)).join("\n"));
    expect(out).toMatch(/history waits for the database/);
    expect(out).not.toMatch(/lease snapshot ignored/);
  }, 120_000);

  test("a damaged snapshot is ignored with a WARN and the start waits for the database, as without one", async () => {
    expect(await server!.stop("SIGTERM")).toBe(0);
    // the clean stop wrote a snapshot
    expect(readSnapshot(snapshot, owner()).ok).toBe(true);
    const whole = readFileSync(snapshot);
    writeFileSync(snapshot, whole.subarray(0, Math.floor(whole.length / 2)));
    await mdb.stop();
    server = await startServer({ config: config(), dir, ready: /lease snapshot ignored: it cannot be used; waiting for the database/ });
    await server.waitFor(/database unavailable, retrying/, 5000);
    expect(server.output()).not.toMatch(/listening/);
    expect(await relay.renew(clientMac(0), clientIp(0), rai(0), 0x5e000000, 1500)).toBeNull();
    await mdb.start();
    await server.waitFor(/listening/, 20_000);
    const r = await relay.renew(clientMac(0), clientIp(0), rai(0), 0x5e000001, 2000);
    expect(replyType(r)).toBe("ACK");
  }, 60_000);

  test("a snapshot of another database is ignored; with the database up no snapshot is read", async () => {
    expect(await server!.stop("SIGTERM")).toBe(0);
    const good = readSnapshot(snapshot, owner());
    if (!good.ok) throw new Error(good.message);
    // the same leases, said to be another database's
    await writeSnapshot(snapshot, "mysql database someone_else", good.entries, good.written);
    await mdb.stop();
    server = await startServer({ config: config(), dir, ready: /lease snapshot ignored: it is of another database/ });
    expect(server.output()).toContain("someone_else");
    expect(await relay.renew(clientMac(0), clientIp(0), rai(0), 0x5f000000, 1500)).toBeNull();
    await mdb.start();
    await server.waitFor(/listening/, 20_000);
    expect(await server.stop("SIGTERM")).toBe(0);

    // database up: a snapshot naming a client the table does not have is not read; that client gets no ACK
    const ghost = { ...good.entries[0]!.lease, clientKey: "0a00deadbeef", mac: "0a00deadbeef", ip: "198.18.22.10", updated: Math.floor(Date.now() / 1000) };
    await writeSnapshot(snapshot, owner(), [{ lease: ghost, unwritten: false }]);
    server = await startServer({ config: config(), dir });
    expect(server.output()).not.toMatch(/snapshot/);
    expect(await relay.renew("0a00deadbeef", "198.18.22.10", rai(0), 0x5f000001, 1500)).toBeNull();
    // the subscribers of the table are served as usual
    expect(replyType(await relay.renew(clientMac(1), clientIp(1), rai(1), 0x5f000002, 2000))).toBe("ACK");
  }, 60_000);
});
