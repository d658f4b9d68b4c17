/**
 * The lease snapshot's setting and what a start serves it for, against the
 * built binary and a private MariaDB, then a private PostgreSQL with
 * password logins over TCP (test/support/private-db.ts), that this test
 * stops and starts:
 *
 *  - <leases><snapshotInterval>0</snapshotInterval>: no `<journal>.leases`
 *    is written while clients bind, nor at stop; a SIGHUP to 1 writes it
 *    within seconds, back to 0 removes it, to 1 again writes it again;
 *  - with 0 and the database down, a start does not read a snapshot that is
 *    there and usable: it waits (no socket bound, no reply); a SIGHUP to 1
 *    during that wait makes it serve from the snapshot at once;
 *  - a wrong password (database up) is not an outage: the start does not
 *    serve from a usable snapshot, logs an ERROR saying the login was
 *    refused, retries, and serves once a SIGHUP gives the right password;
 *  - an unknown database likewise, even with a snapshot of that database.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSnapshot, writeSnapshot } from "../../src/server/lease-snapshot.ts";
import { privateEngines, type PrivateDb, type PrivateEngine } from "../support/private-db.ts";
import { startPrivatePostgres } from "../support/postgresql.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { Relay, freeUdpPort, macOf, option82, replyType, serverConfig, text } from "./support.ts";

const CLIENTS = 6;
const DB = "pdr_snapconf";
const PASSWORD = "snapconf-right";

const clientMac = (i: number) => macOf(i, 0x0c);
const clientIp = (i: number) => `198.18.24.${10 + i}`;
const rai = (i: number) => option82(text(`snapconf/${i}`));

interface Engine extends PrivateEngine {
  /** the <database> element with this password and database name */
  login(db: PrivateDb, password: string, database: string): string;
  /** what the server says when the password is wrong */
  wrongPassword: RegExp;
  /** ... and when the database does not exist */
  unknownDatabase: RegExp;
}

const engines = privateEngines(DB);
const mariadb: Engine = {
  ...engines.mariadb,
  // root has the empty password (test/support/mariadb.ts); any other is refused
  login: (db, password, database) =>
    `<mysql><host>localhost</host><socket>${db.socket}</socket><user>root</user><password>${password === PASSWORD ? "" : password}</password><database>${database}</database><poolSize>4</poolSize></mysql>`,
  wrongPassword: /Access denied for user/,
  unknownDatabase: /Unknown database/,
};
const postgresql: Engine = {
  ...engines.postgresql,
  // the socket trusts every login; TCP asks for the password
  open: async () => {
    const db = await startPrivatePostgres({ hostAuth: "scram-sha-256" });
    await db.sql(`alter role postgres password '${PASSWORD}'`);
    return db;
  },
  login: (db, password, database) =>
    `<postgresql><host>127.0.0.1</host><port>${db.port}</port><user>postgres</user><password>${password}</password><database>${database}</database><poolSize>4</poolSize></postgresql>`,
  wrongPassword: /password authentication failed/,
  unknownDatabase: /does not exist/,
};

for (const engine of [mariadb, postgresql]) describe(engine.name, () => {
  let mdb: PrivateDb;
  let dir: string;
  let server: RunningServer | null = null;
  let relay: Relay;
  let serverPort: number;
  let snapshot: string;
  let journal: string;

  function config(o: { interval?: number; password?: string; database?: string } = {}): string {
    return serverConfig({
      serverPort,
      clientPort: 68,
      database: engine.login(mdb, o.password ?? PASSWORD, o.database ?? DB),
      offer: "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'",
      history: "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', '{xidhex}')",
      extra: `<leases><outageGrace>600</outageGrace>${o.interval === undefined ? "" : `<snapshotInterval>${o.interval}</snapshotInterval>`}</leases><log><level>info</level></log>`,
    });
  }

  /** rewrites the config and sends SIGHUP; resolves once the reload is logged */
  async function reload(o: Parameters<typeof config>[0], done: RegExp = /configuration reloaded/): Promise<void> {
    const from = server!.output().length;
    writeFileSync(server!.configPath, config(o));
    server!.signal("SIGHUP");
    await server!.waitFor(done, 10_000, from);
  }

  async function until<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
      await Bun.sleep(100);
    }
  }

  const owner = () => readFileSync(journal + ".database", "utf8").trim();
  const boundInSnapshot = (): number => {
    const r = readSnapshot(snapshot, owner());
    return r.ok ? r.entries.filter((e) => e.lease.state === "bound").length : -1;
  };

  beforeAll(async () => {
    mdb = await engine.open();
    const users: string[] = [];
    for (let i = 0; i < CLIENTS; i++) users.push(`('${clientMac(i)}', '${clientIp(i)}', '255.255.255.0', '198.18.24.1', '198.18.0.53')`);
    await engine.create(mdb, users);
    dir = mkdtempSync(join(tmpdir(), "pdr-snapconf-"));
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

  test("<snapshotInterval> 0: none written; a start with the database down waits; SIGHUP changes it at once", async () => {
    server = await startServer({ config: config({ interval: 0 }), dir });
    for (let i = 0; i < CLIENTS; i++) {
      const r = await relay.dora(clientMac(i), rai(i), { tries: 3 });
      if ("failed" in r) throw new Error(`client ${i}: ${r.failed}`);
      expect(r.ack.yiaddr).toBe(clientIp(i));
    }
    // longer than the default interval (5 s) after the leases changed: nothing on disk
    await Bun.sleep(6500);
    expect(existsSync(snapshot)).toBe(false);
    expect(existsSync(snapshot + ".tmp")).toBe(false);

    // a reload turns it on: written within the new interval, every lease in it
    await reload({ interval: 1 });
    await until("the snapshot after the reload to 1 s", boundInSnapshot, (n) => n === CLIENTS, 5000);
    // off again: the file nothing keeps current is removed
    await reload({ interval: 0 }, /lease snapshot off .*the old one removed/);
    expect(existsSync(snapshot)).toBe(false);
    // on again: written though no lease changed meanwhile
    await reload({ interval: 1 });
    await until("the snapshot after the reload back to 1 s", boundInSnapshot, (n) => n === CLIENTS, 5000);
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(boundInSnapshot()).toBe(CLIENTS);

    // database down, snapshot usable, <snapshotInterval> 0: the start waits for the database
    await mdb.stop();
    server = await startServer({ config: config({ interval: 0 }), dir, ready: /database unavailable, retrying/ });
    expect(server.output()).toMatch(/lease snapshot off \(<leases><snapshotInterval> 0\): not read; waiting for the database/);
    expect(server.output()).not.toMatch(/serving \d+ leases from the snapshot|listening/);
    expect(await relay.renew(clientMac(0), clientIp(0), rai(0), 0x6a000000, 1500)).toBeNull();
    // the file stays: only a serving process with the setting 0 removes it
    expect(boundInSnapshot()).toBe(CLIENTS);

    // a SIGHUP turning it on during the wait: the snapshot is read at the next attempt, and serves
    const from = server.output().length;
    writeFileSync(server.configPath, config({ interval: 1 }));
    server.signal("SIGHUP");
    const line = await server.waitFor(/database unreachable at start, serving \d+ leases from the snapshot of/, 10_000, from);
    expect(line).toContain(`serving ${CLIENTS} leases from the snapshot`);
    const r = await relay.renew(clientMac(1), clientIp(1), rai(1), 0x6a000001, 2000);
    expect(replyType(r)).toBe("ACK");
    expect(r!.yiaddr).toBe(clientIp(1));

    await mdb.start();
    await server.waitFor(/database reachable after .* serving from the database again/, 20_000);
    expect(await server.stop("SIGTERM")).toBe(0);
  }, 90_000);

  test("a wrong password with the database up: no serving from the snapshot, an ERROR saying the login was refused, retried", async () => {
    // a snapshot this start would serve from if the database were away
    const snap = readSnapshot(snapshot, owner());
    if (!snap.ok) throw new Error(snap.message);
    expect(snap.entries.filter((e) => e.lease.state === "bound").length).toBe(CLIENTS);

    server = await startServer({ config: config({ password: "wrong-password" }), dir, ready: /database refused the login or the database name/ });
    const first = server.output().split("\n").find((l) => /database refused the login/.test(l))!;
    expect(first).toMatch(/ERROR/);
    expect(first).toMatch(engine.wrongPassword);
    expect(first).toContain("check <user>, <password> and <database>");
    // retried with backoff, each time said the same way
    await server.waitFor(/database refused the login or the database name/, 5000, server.output().indexOf(first) + first.length);
    const out = server.output();
    expect(out).not.toMatch(/serving \d+ leases from the snapshot|database unavailable|unreachable|listening/);
    expect(await relay.renew(clientMac(2), clientIp(2), rai(2), 0x6b000000, 1500)).toBeNull();

    // the right password by SIGHUP: served from the database
    writeFileSync(server.configPath, config({}));
    server.signal("SIGHUP");
    await server.waitFor(/listening/, 20_000);
    const r = await relay.renew(clientMac(2), clientIp(2), rai(2), 0x6b000001, 2000);
    expect(replyType(r)).toBe("ACK");
    expect(server.output()).not.toMatch(/serving \d+ leases from the snapshot/);
    expect(await server.stop("SIGTERM")).toBe(0);
  }, 60_000);

  test("an unknown database is refused too, even with a usable snapshot of that database", async () => {
    const snap = readSnapshot(snapshot, owner());
    if (!snap.ok) throw new Error(snap.message);
    const other = `${DB}_none`;
    // the same leases, as a snapshot of the database the config names
    const otherOwner = owner().replace(` database ${DB} on `, ` database ${other} on `);
    expect(otherOwner).not.toBe(owner());
    await writeSnapshot(snapshot, otherOwner, snap.entries);

    server = await startServer({ config: config({ database: other }), dir, ready: /database refused the login or the database name/ });
    const out = server.output();
    expect(out).toMatch(engine.unknownDatabase);
    expect(out).not.toMatch(/serving \d+ leases from the snapshot|lease snapshot ignored|listening/);
    expect(await relay.renew(clientMac(3), clientIp(3), rai(3), 0x6c000000, 1500)).toBeNull();
    // a stop during the wait: exit 0, nothing served
    expect(await server.stop("SIGTERM")).toBe(0);
    server = null;
  }, 60_000);
});
