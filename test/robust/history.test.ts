/**
 * History an operator can prove, against the built binary on SQLite and on
 * MariaDB: the row names the address the client got and the time of the
 * exchange (even when written later from the journal); kill -9 with the
 * database healthy loses no row of a reply the client received; kill -9
 * during replay doubles none; a missing history table does not stop DHCP;
 * damaged or foreign journal lines are quarantined and never run as SQL;
 * RELEASE is logged at info and not counted as dropped.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { Database } from "bun:sqlite";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { ROOT, startServer, type RunningServer } from "../support/server.ts";
import { createTempDb, rootPool, type TempDb } from "../db/mariadb.ts";
import { configXml, discover, freeTcpPort, freeUdpPort, health, ipOf, macOf, makeSqlite, messageType, nextXid, scrape, sqliteDatabase, until } from "../service/helpers.ts";

/** one row per event: the answer's address, the event, its xid and its id */
const HISTORY = "insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{answer_ip}','{event}/{xidhex}/{event_id}')";
const hex8 = (x: number) => x.toString(16).padStart(8, "0");
const LOOP_MAC = "0aaaaaaaaa05";
/** a subscriber whose renewal and INFORM come through a relay on loopback (a reply to ciaddr itself could not leave this host) */
const LOOP_IP = "198.18.250.5";
/** option 82 with RFC 8357 relay-source-port: the reply goes to the relay's own port, the test client's */
const RELAY_SOURCE_PORT: [number, Uint8Array] = [82, Uint8Array.of(19, 0)];

interface Row {
  dt: string;
  mac: string;
  ip: string;
  comment: string;
}

/** One database kind: how to make it, point pydhcp at it, read rows, take the history table away and back. */
interface Db {
  name: string;
  database(): string;
  rows(): Promise<Row[]>;
  hideTable(): Promise<void>;
  restoreTable(): Promise<void>;
  exec(sql: string): Promise<void>;
}

const CLIENTS = 400;
const REPLAY_CLIENTS = 1500;

function sqliteDb(dir: () => string): Db {
  const path = () => join(dir(), "t.db");
  const exec = async (sql: string) => {
    const db = new Database(path());
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  };
  return {
    name: "SQLite",
    database: () => sqliteDatabase(path()),
    async rows() {
      const db = new Database(path(), { readonly: true });
      try {
        return db.query("select dt, mac, ip, comment from history order by id").all() as Row[];
      } finally {
        db.close();
      }
    },
    hideTable: () => exec("alter table history rename to history_away"),
    restoreTable: () => exec("alter table history_away rename to history"),
    exec,
  };
}

function mariaDb(get: () => { root: Pool; db: TempDb }): Db {
  const q = async (sql: string) => {
    const { root, db } = get();
    const conn = await root.getConnection();
    try {
      await conn.query(`USE \`${db.database}\``);
      return (await conn.query(sql))[0];
    } finally {
      conn.release();
    }
  };
  return {
    name: "MariaDB",
    database: () => {
      const { db } = get();
      return `<database><mysql><host>127.0.0.1</host><port>3306</port><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></mysql></database>`;
    },
    rows: async () => (await q("select DATE_FORMAT(dt, '%Y-%m-%d %H:%i:%s') as dt, mac, ip, comment from history order by id")) as Row[],
    hideTable: async () => void (await q("rename table history to history_away")),
    restoreTable: async () => void (await q("rename table history_away to history")),
    exec: async (sql) => void (await q(sql)),
  };
}

/** Local 'YYYY-MM-DD HH:MM:SS' (what now() stores) as epoch ms. */
const localMs = (dt: string) => new Date(dt.replace(" ", "T")).getTime();

async function dora(c: TestClient, port: number, mac: string, timeoutMs = 2000): Promise<{ offer: string; ack: string; xid: number; at: number } | null> {
  const xid = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac, xid }), port);
  const offer = await c.reply(xid, timeoutMs);
  if (messageType(offer) !== MessageType.OFFER) return null;
  const at = Date.now();
  c.send(buildRequest({ type: MessageType.REQUEST, mac, xid, options: [[54, ip("198.18.0.1")], [50, ip(offer!.yiaddr)]] }), port);
  const ack = await c.reply(xid, timeoutMs);
  if (messageType(ack) !== MessageType.ACK) return null;
  return { offer: offer!.yiaddr, ack: ack!.yiaddr, xid, at };
}

/** DORA for many clients, `window` at a time; what the client received, as `EVENT/xid` strings. */
async function doras(c: TestClient, port: number, n: number, window = 32, onDone?: (k: number) => boolean | void): Promise<string[]> {
  const got: string[] = [];
  let next = 0;
  let done = 0;
  let stop = false;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < n && !stop) {
        const i = next++;
        const mac = macOf(i);
        const xid = nextXid();
        try {
          c.send(buildRequest({ type: MessageType.DISCOVER, mac, xid }), port);
        } catch {
          return;
        }
        const offer = await c.reply(xid, 1500);
        if (messageType(offer) !== MessageType.OFFER) continue;
        got.push(`OFFER/${hex8(xid)}`);
        try {
          c.send(buildRequest({ type: MessageType.REQUEST, mac, xid, options: [[54, ip("198.18.0.1")], [50, ip(offer!.yiaddr)]] }), port);
        } catch {
          return;
        }
        const ack = await c.reply(xid, 1500);
        if (messageType(ack) === MessageType.ACK) got.push(`ACK/${hex8(xid)}`);
        if (onDone?.(++done) === true) stop = true;
      }
    }),
  );
  return got;
}

const keyOf = (r: Row) => r.comment.split("/").slice(0, 2).join("/");
const idOf = (r: Row) => r.comment.split("/")[2]!;

/** Every reply received has its row; no event id and no reply appears twice. */
function expectEveryReplyOnce(rows: Row[], received: string[]): void {
  const ids = rows.map(idOf);
  expect(new Set(ids).size).toBe(ids.length);
  const keys = rows.map(keyOf);
  expect(new Set(keys).size).toBe(keys.length);
  const have = new Set(keys);
  expect(received.filter((r) => !have.has(r))).toEqual([]);
}

function suite(kind: "SQLite" | "MariaDB"): void {
  describe(kind, () => {
    let dir = "";
    let c: TestClient;
    let server: RunningServer | null = null;
    let port = 0;
    let mport = 0;
    let root: Pool;
    let tmp: TempDb;
    const db = kind === "SQLite" ? sqliteDb(() => dir) : mariaDb(() => ({ root, db: tmp }));
    const users = [...Array.from({ length: REPLAY_CLIENTS }, (_, i) => [macOf(i), ipOf(i)] as const), [LOOP_MAC, LOOP_IP] as const];

    const start = async (extra = "") =>
      (server = await startServer({
        config: configXml({ port, clientPort: c.port, database: db.database(), history: HISTORY, metricsPort: mport, extra, rateLimit: false }),
        dir,
      }));

    beforeAll(async () => {
      if (kind === "MariaDB") root = await rootPool();
    });
    afterAll(async () => {
      if (kind === "MariaDB") await root.end();
    });
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), `pydhcp-hist-${process.pid}-`));
      // bound to every loopback address: renewals and INFORMs are answered to ciaddr 127.0.0.5
      c = await testClient(0, "0.0.0.0");
      port = await freeUdpPort();
      mport = freeTcpPort();
      if (kind === "SQLite") makeSqlite(join(dir, "t.db"), users);
      else {
        tmp = await createTempDb(root, "pdhist");
        const conn = await root.getConnection();
        try {
          await conn.query(`USE \`${tmp.database}\``);
          await conn.query(readFileSync(join(ROOT, "sql/mysql.sql"), "utf8"));
          await conn.query("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ?", [users.map(([m, a]) => [a, "", "", "", m, ""])]);
        } finally {
          conn.release();
        }
      }
    });
    afterEach(async () => {
      await server?.close();
      server = null;
      c.close();
      if (kind === "MariaDB") await tmp.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("DORA, renewal and INFORM: each row names the address the client got and the time of the exchange", async () => {
      await start();
      const d = await dora(c, port, LOOP_MAC);
      expect(d).not.toBeNull();
      // REBINDING through a relay: ciaddr, no option 50 ({RequestedIpAddress} is 0.0.0.0 here)
      const rx = nextXid();
      c.send(buildRequest({ type: MessageType.REQUEST, mac: LOOP_MAC, xid: rx, ciaddr: LOOP_IP, giaddr: "127.0.0.1", options: [RELAY_SOURCE_PORT] }), port);
      const renewed = await c.reply(rx);
      expect(messageType(renewed)).toBe(MessageType.ACK);
      const renewAt = Date.now();
      const ix = nextXid();
      c.send(buildRequest({ type: MessageType.INFORM, mac: LOOP_MAC, xid: ix, ciaddr: LOOP_IP, giaddr: "127.0.0.1", options: [RELAY_SOURCE_PORT] }), port);
      expect(messageType(await c.reply(ix))).toBe(MessageType.ACK);
      const rows = await until(() => db.rows(), (r) => r.length >= 4, 5000);
      expect(rows.map((r) => [r.ip, r.comment.split("/")[0]])).toEqual([
        [LOOP_IP, "OFFER"],
        [LOOP_IP, "ACK"],
        [LOOP_IP, "ACK"],
        [LOOP_IP, "INFORM"],
      ]);
      expect(rows[0]!.comment.split("/")[1]).toBe(hex8(d!.xid));
      // now() stores whole seconds: the exchange's second, at most one off
      expect(Math.abs(localMs(rows[1]!.dt) - Math.floor(d!.at / 1000) * 1000)).toBeLessThanOrEqual(1000);
      expect(Math.abs(localMs(rows[2]!.dt) - Math.floor(renewAt / 1000) * 1000)).toBeLessThanOrEqual(1000);
    }, 30_000);

    test("history table missing at start: DHCP serves, /health and /metrics say so, one WARN; rows come later with the exchange time", async () => {
      await db.hideTable();
      await start();
      const d = await dora(c, port, macOf(7));
      expect(d).toEqual(expect.objectContaining({ offer: ipOf(7), ack: ipOf(7) }));
      expect(await health(mport)).toBe(200);
      const body = await (await fetch(`http://127.0.0.1:${mport}/health`)).text();
      expect(body).toMatch(/^degraded\nhistory: 2 events wait in the journal/);
      const m = await until(() => scrape(mport), (x) => x.get("pydhcp_history_backlog_rows") === 2, 3000);
      expect(m.get("pydhcp_history_writable")).toBe(0);
      // the outage lasts well past a second: the rows' time must still be the exchange's
      await Bun.sleep(3500);
      expect((await db.rows().catch(() => [])).length).toBe(0);
      await db.restoreTable();
      const rows = await until(() => db.rows(), (r) => r.length >= 2, 8000);
      const writtenAt = Date.now();
      expect(rows.map((r) => r.ip)).toEqual([ipOf(7), ipOf(7)]);
      expect(writtenAt - d!.at).toBeGreaterThan(3000);
      for (const r of rows) expect(Math.abs(localMs(r.dt) - Math.floor(d!.at / 1000) * 1000)).toBeLessThanOrEqual(1000);
      const m2 = await until(() => scrape(mport), (x) => x.get("pydhcp_history_writable") === 1, 3000);
      expect(m2.get("pydhcp_history_backlog_rows")).toBe(0);
      expect(await (await fetch(`http://127.0.0.1:${mport}/health`)).text()).toBe("ok\n");
      const out = server!.output();
      expect(out.match(/WARN history rows cannot be written/g)?.length).toBe(1);
      expect(out).toMatch(/INFO history rows are written again/);
    }, 40_000);

    test("history table renamed away while serving and back 4 s later: every row arrives, in order; none quarantined", async () => {
      await start();
      expect(await dora(c, port, macOf(7))).toEqual(expect.objectContaining({ ack: ipOf(7) }));
      await until(() => db.rows(), (r) => r.length >= 2, 5000);
      await db.hideTable();
      for (const i of [8, 9]) expect(await dora(c, port, macOf(i))).toEqual(expect.objectContaining({ ack: ipOf(i) }));
      // past the writer's second try of a single row (a second apart): a row fault would be quarantined by now
      await Bun.sleep(4000);
      await db.restoreTable();
      const rows = await until(() => db.rows(), (r) => r.length >= 6, 10_000);
      expect(rows.map((r) => r.ip)).toEqual([ipOf(7), ipOf(7), ipOf(8), ipOf(8), ipOf(9), ipOf(9)]);
      const m = await until(() => scrape(mport), (x) => x.get("pydhcp_history_backlog_rows") === 0, 3000);
      expect(m.get("pydhcp_history_quarantined_total") ?? 0).toBe(0);
      expect(existsSync(join(dir, "pydhcp-history.spool.quarantine"))).toBe(false);
      const out = server!.output();
      expect(out).not.toMatch(/quarantine;/);
      expect(out).toMatch(/INFO history rows are written again/);
    }, 40_000);

    test("kill -9 mid-load with the database healthy: every reply received has its row, none twice", async () => {
      await start();
      const s = server!;
      const received = await doras(c, port, CLIENTS, 32, (k) => {
        if (k !== Math.floor(CLIENTS / 2)) return false;
        s.signal("SIGKILL");
        // the exchanges in flight end with what they got; no new ones start
        return true;
      });
      await s.proc.exited;
      expect(received.length).toBeGreaterThanOrEqual(CLIENTS);
      server = null;
      await start();
      const rows = await until(() => db.rows(), (r) => new Set(r.map(keyOf)).size >= received.length, 10_000);
      console.log(`${kind} kill -9 mid-load: ${received.length} replies received before the kill, ${rows.length} rows after the restart`);
      expectEveryReplyOnce(rows, received);
    }, 60_000);

    test("kill -9 again and again during replay: no event lost, none doubled", async () => {
      await db.hideTable();
      await start();
      // 3,000 events wait in the journal, as in the report of doubled rows
      const received = await doras(c, port, REPLAY_CLIENTS, 64);
      expect(received.length).toBe(2 * REPLAY_CLIENTS);
      server!.signal("SIGKILL");
      await server!.proc.exited;
      await db.restoreTable();
      const atKill: number[] = [];
      for (const delay of [60, 100, 130, 160, 190, 220, 260, 300, 400]) {
        const s = await startServer({
          config: configXml({ port, clientPort: c.port, database: db.database(), history: HISTORY, rateLimit: false }),
          dir,
          ready: null,
        });
        await Bun.sleep(delay);
        s.signal("SIGKILL");
        await s.proc.exited;
        atKill.push((await db.rows()).length);
      }
      await start();
      const rows = await until(() => db.rows(), (r) => r.length >= received.length, 15_000);
      await Bun.sleep(300);
      const final = await db.rows();
      console.log(`${kind} replay killed at rows ${atKill.join(", ")} of ${received.length}; final ${final.length}`);
      expect(rows.length).toBe(received.length);
      expect(final.length).toBe(received.length);
      expectEveryReplyOnce(final, received);
    }, 90_000);

    test("damaged, cut and foreign journal lines go to quarantine with a WARN naming file and line; SQL in the journal never runs; files are 0600", async () => {
      await db.exec("create table victim (x int)");
      const journal = join(dir, "pydhcp-history.spool");
      const line = (seq: number, addr: string) =>
        JSON.stringify({ i: `old1-${seq}`, s: "history_sql", v: ["2026-01-01 00:00:00", "0a0000000001", addr, `ACK/0000000${seq}/old1-${seq}`] });
      writeFileSync(
        journal,
        [
          line(1, "198.18.200.1"),
          '{"name":"history_sql","sql":"drop table victim","params":[]}',
          "}}} not json",
          line(2, "198.18.200.2"),
          JSON.stringify({ i: "old1-3", s: "history_drop", v: [] }),
          line(4, "198.18.200.4"),
          '{"i":"old1-5","s":"history_sql","v":["2026-01-01 00:0',
        ].join("\n"),
      );
      chmodSync(journal, 0o644);
      await start();
      const d = await dora(c, port, macOf(3));
      expect(d).not.toBeNull();
      const rows = await until(() => db.rows(), (r) => r.length >= 5, 5000);
      expect(rows.map((r) => r.ip)).toEqual(["198.18.200.1", "198.18.200.2", "198.18.200.4", ipOf(3), ipOf(3)]);
      await db.exec("select count(*) from victim");
      const out = server!.output();
      for (const n of [2, 3, 7]) expect(out).toMatch(new RegExp(`WARN damaged history journal line moved to quarantine.*line=${n} `));
      expect(out).toMatch(/WARN history journal line refused.*line=5 reason="statement history_drop is not in the current configuration"/);
      const q = readFileSync(journal + ".quarantine", "utf8").trim().split("\n");
      expect(q.length).toBe(4);
      for (const f of [journal, journal + ".quarantine", journal + ".pos"]) expect(statSync(f).mode & 0o777).toBe(0o600);
      expect(existsSync(journal + ".sealed")).toBe(false);
    }, 30_000);

    test("a burst of 64 DISCOVERs at once (replies of one turn leave together): every client gets its own OFFER, and each OFFER has its row", async () => {
      await start();
      const n = 64;
      const xids = Array.from({ length: n }, () => nextXid());
      for (let i = 0; i < n; i++) c.send(buildRequest({ type: MessageType.DISCOVER, mac: macOf(i), xid: xids[i]! }), port);
      const offers = await Promise.all(xids.map((x) => c.reply(x, 3000)));
      // on the wire: one OFFER per client, to its own address
      expect(offers.map((o) => [messageType(o), o?.yiaddr])).toEqual(xids.map((_, i) => [MessageType.OFFER, ipOf(i)]));
      const rows = await until(() => db.rows(), (r) => r.length >= n, 10_000);
      expect(rows.map((r) => `${r.ip} ${keyOf(r)}`).sort()).toEqual(xids.map((x, i) => `${ipOf(i)} OFFER/${hex8(x)}`).sort());
    }, 30_000);

    test("RELEASE is logged at info and not counted as dropped", async () => {
      await start();
      const d = await dora(c, port, LOOP_MAC);
      expect(d).not.toBeNull();
      const before = await scrape(mport);
      const dropped = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith("pydhcp_dropped_total")).reduce((s, [, v]) => s + v, 0);
      const xid = nextXid();
      c.send(buildRequest({ type: MessageType.RELEASE, mac: LOOP_MAC, xid, ciaddr: LOOP_IP, options: [[54, ip("198.18.0.1")]] }), port);
      await server!.waitFor(/INFO RELEASE recorded/, 3000);
      const after = await until(() => scrape(mport), (m) => (m.get('pydhcp_packets_received_total{type="RELEASE"}') ?? 0) >= 1, 3000);
      expect(after.get('pydhcp_packets_received_total{type="RELEASE"}')).toBe(1);
      expect(dropped(after)).toBe(dropped(before));
    }, 30_000);
  });
}

suite("SQLite");
suite("MariaDB");

describe("the journal on a full disk", () => {
  let dir = "";
  let mnt = "";
  let c: TestClient;
  let server: RunningServer | null = null;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), `pydhcp-hist-full-${process.pid}-`));
    mnt = join(dir, "small");
    Bun.spawnSync(["mkdir", mnt]);
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", `pydhcp-test-${process.pid}`, mnt]);
    if (m.exitCode !== 0) throw new Error(`mount tmpfs: ${m.stderr.toString()}`);
    c = await testClient();
  });
  /** SQLite with these subscribers; the journal on the 64 KiB file system */
  async function startOnSmallDisk(users: readonly (readonly [string, string])[]): Promise<{ port: number; mport: number }> {
    makeSqlite(join(dir, "t.db"), users);
    const port = await freeUdpPort();
    const mport = freeTcpPort();
    server = await startServer({
      config: configXml({
        port, clientPort: c.port, database: sqliteDatabase(join(dir, "t.db")), history: HISTORY, metricsPort: mport, rateLimit: false,
        extra: `<history><journal>${mnt}/journal</journal></history>`,
      }),
      dir,
    });
    return { port, mport };
  }
  afterEach(async () => {
    await server?.close();
    server = null;
    c.close();
    Bun.spawnSync(["umount", mnt]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("no reply leaves without its record: unanswered while the journal cannot be written (ERROR, history_unrecorded), served and recorded once there is room", async () => {
    const { port, mport } = await startOnSmallDisk([[macOf(1), ipOf(1)], [macOf(2), ipOf(2)]]);
    // fill the file system to the last byte
    const filler = join(mnt, "filler");
    try {
      writeFileSync(filler, Buffer.alloc(128 * 1024));
    } catch {
      // ENOSPC: as much as fits was written, which is the point
    }
    expect(await dora(c, port, macOf(1), 800)).toBeNull();
    await server!.waitFor(/ERROR DISCOVER no reply: history-unrecorded .*cannot write the history journal/, 3000);
    // every request fails alike: counted each, logged once per 10 s
    for (let i = 0; i < 5; i++) expect(await discover(c, port, macOf(1), 200)).toBeNull();
    const m = await scrape(mport);
    expect(m.get('pydhcp_dropped_total{reason="history_unrecorded"}')).toBeGreaterThanOrEqual(6);
    expect(server!.output().match(/no reply: history-unrecorded/g)?.length).toBe(1);
    expect(m.get('pydhcp_replies_sent_total{type="OFFER"}') ?? 0).toBe(0);
    // the database answers, but no reply leaves: a supervisor must see it
    const h = await fetch(`http://127.0.0.1:${mport}/health`);
    expect(h.status).toBe(503);
    expect(await h.text()).toMatch(/^cannot write the history journal .*ENOSPC.*: no replies leave\n$/);
    rmSync(filler);
    const d = await dora(c, port, macOf(2));
    expect(d).toEqual(expect.objectContaining({ offer: ipOf(2), ack: ipOf(2) }));
    expect(await health(mport)).toBe(200);
    const rows = await until(() => sqliteDb(() => dir).rows(), (r) => r.length >= 2, 5000);
    expect(rows.map((r) => [r.ip, r.comment.split("/")[0]])).toEqual([[ipOf(2), "OFFER"], [ipOf(2), "ACK"]]);
  }, 30_000);

  test("a journal on a small file system filled by lines already written is emptied to make room: every client served, every row written once", async () => {
    const n = 400;
    const { port, mport } = await startOnSmallDisk(Array.from({ length: n }, (_, i) => [macOf(i), ipOf(i)] as const));
    // 800 events of ~130 bytes: twice what the 64 KiB file system holds, all written to the database as they come.
    // An exchange that meets the full disk before the journal is emptied is not answered: the client tries again, as real ones do.
    let retried = 0;
    for (let i = 0; i < n; i++) {
      let d = await dora(c, port, macOf(i), 500);
      if (d === null) {
        retried++;
        d = await dora(c, port, macOf(i));
      }
      expect(d).toEqual(expect.objectContaining({ ack: ipOf(i) }));
    }
    expect(retried).toBeLessThan(10);
    const rows = await until(() => sqliteDb(() => dir).rows(), (r) => r.filter((x) => x.comment.startsWith("ACK/")).length >= n, 8000);
    await Bun.sleep(300);
    const all = await sqliteDb(() => dir).rows();
    // one ACK row per client; OFFER rows only for replies that left (a retried client may have two)
    const acks = all.filter((r) => r.comment.startsWith("ACK/"));
    expect(acks.length).toBe(n);
    expect(new Set(acks.map((r) => r.mac)).size).toBe(n);
    expect(all.length - acks.length).toBeGreaterThanOrEqual(n);
    expect(new Set(all.map((r) => r.comment)).size).toBe(all.length);
    expect(rows.length).toBeGreaterThanOrEqual(2 * n);
    const m = await scrape(mport);
    // each client that had to try again lost one reply to the full disk, counted
    if (retried === 0) expect(m.get('pydhcp_dropped_total{reason="history_unrecorded"}') ?? 0).toBe(0);
    else expect(m.get('pydhcp_dropped_total{reason="history_unrecorded"}')).toBeGreaterThanOrEqual(retried);
    expect(server!.output()).toMatch(/INFO history journal emptied to make room/);
    expect(await health(mport)).toBe(200);
  }, 60_000);

  test("a burst whose events only partly fit in the journal: exactly the clients whose events are wholly in the file get an OFFER; the others get no bytes and count as history_unrecorded", async () => {
    const n = 64;
    const { port, mport } = await startOnSmallDisk(Array.from({ length: n + 1 }, (_, i) => [macOf(i), ipOf(i)] as const));
    // one event while there is room: the journal's last page holds about 4 KiB more, room for some events of the burst and not all
    expect(await discover(c, port, macOf(n))).toEqual(expect.objectContaining({ yiaddr: ipOf(n) }));
    try {
      writeFileSync(join(mnt, "filler"), Buffer.alloc(128 * 1024));
    } catch {
      // ENOSPC: the file system is full, which is the point
    }
    const xids = Array.from({ length: n }, () => nextXid());
    for (let i = 0; i < n; i++) c.send(buildRequest({ type: MessageType.DISCOVER, mac: macOf(i), xid: xids[i]! }), port);
    await Bun.sleep(1500);
    const got = c.drain();
    const answered = new Set(got.map((m) => hex8(m.xid)));
    // each reply on the wire is the client's own OFFER
    for (const m of got) expect([messageType(m), m.yiaddr]).toEqual([MessageType.OFFER, ipOf(xids.indexOf(m.xid))]);
    expect(got.length).toBe(answered.size);
    expect(answered.size).toBeGreaterThan(0);
    expect(answered.size).toBeLessThan(n);
    const m = await scrape(mport);
    expect(m.get('pydhcp_dropped_total{reason="history_unrecorded"}')).toBe(n - answered.size);
    expect(m.get('pydhcp_replies_sent_total{type="OFFER"}')).toBe(1 + answered.size);
    // the rows (written from the journal once there is room again) are exactly the replies that left
    rmSync(join(mnt, "filler"));
    const rows = await until(() => sqliteDb(() => dir).rows(), (r) => r.length >= 1 + answered.size, 5000);
    await Bun.sleep(300);
    const burstRows = (await sqliteDb(() => dir).rows()).map(keyOf).filter((k) => xids.some((x) => k === `OFFER/${hex8(x)}`));
    expect(rows.length).toBeGreaterThanOrEqual(1 + answered.size);
    expect(burstRows.sort()).toEqual([...answered].map((x) => `OFFER/${x}`).sort());
  }, 30_000);
});
