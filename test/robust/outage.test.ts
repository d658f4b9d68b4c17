/**
 * Database outage under load, against the running server and a private
 * MariaDB, then a private PostgreSQL, that this test stops and starts
 * (never the machine's shared servers).
 *
 * 50 relayed clients complete DORA, then renew every ~200 ms (ciaddr set).
 * The database is stopped for 20 s with <outageGrace> 10 s:
 *  - the server never exits;
 *  - renewals within the grace are ACKed from lease memory with the same
 *    address and options as before; past the grace they get no answer;
 *  - new clients get no answer during the outage and are served after;
 *  - the outage is logged once when it starts and once, with its duration,
 *    when it ends;
 *  - the history table ends with exactly one row per OFFER and ACK the
 *    clients received, each client's rows in the order it was answered.
 * Then the journal across a restart of pydhcp: the database goes away again,
 * renewals are answered and journaled, pydhcp gets SIGTERM while the database
 * is still down, MariaDB comes back, pydhcp starts again and writes the
 * journal: every row arrives, none twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DhcpMessage } from "../../src/codec/message.ts";
import { MessageType } from "../../src/codec/message.ts";
import { privateEngines, type PrivateDb } from "../support/private-db.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { Relay, alive, freeUdpPort, macOf, option82, optionsHex, replyType, serverConfig, text } from "./support.ts";

const CLIENTS = 50;
const NEWCOMERS = 10;
const OUTAGE_MS = 20_000;
const GRACE_S = 10;
const DB = "pdr_outage";

const clientMac = (i: number) => macOf(i, 0x02);
const newcomerMac = (i: number) => macOf(i, 0x06);
const clientIp = (i: number) => `198.18.${1 + (i >> 8)}.${10 + (i & 255)}`;
const newcomerIp = (i: number) => `198.18.9.${10 + i}`;
const rai = (i: number) => option82(text(`eth0/${i}`));

const { mariadb, postgresql } = privateEngines(DB);

for (const engine of [mariadb, postgresql]) describe(engine.name, () => {
let mdb: PrivateDb;
let dir: string;
let server: RunningServer | null = null;
let relay: Relay;
let serverPort: number;

function config(): string {
  return serverConfig({
    serverPort,
    clientPort: 68,
    database: engine.xml(mdb),
    offer: "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'",
    // the xid says which exchange wrote the row (client index << 16 | sequence)
    history: "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', '{xidhex}')",
    extra: `<leases><outageGrace>${GRACE_S}</outageGrace></leases><log><level>info</level></log>`,
  });
}

const historyRows = () => engine.history(mdb);

const replies = (c: Record<string, number>) => (c.OFFER ?? 0) + (c.ACK ?? 0);

beforeAll(async () => {
  mdb = await engine.open();
  const users: string[] = [];
  for (let i = 0; i < CLIENTS; i++) users.push(`('${clientMac(i)}', '${clientIp(i)}', '255.255.0.0', '198.18.0.1', '198.18.0.53 198.18.0.54')`);
  for (let i = 0; i < NEWCOMERS; i++) users.push(`('${newcomerMac(i)}', '${newcomerIp(i)}', '255.255.0.0', '198.18.0.1', '198.18.0.53')`);
  await engine.create(mdb, users);
  dir = mkdtempSync(join(tmpdir(), "pdr-outage-"));
  serverPort = await freeUdpPort();
  server = await startServer({ config: config(), dir });
  relay = await Relay.open(serverPort);
}, 60_000);

afterAll(async () => {
  relay?.close();
  await server?.close();
  await mdb?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Renewal {
  client: number;
  sentAt: number;
  reply: DhcpMessage | null;
}

/** Each client renews every ~200 ms until stopped; per-client xids count up. */
function renewLoop(seq: number[], log: Renewal[]) {
  let running = true;
  const loops = Array.from({ length: CLIENTS }, async (_, i) => {
    await Bun.sleep(Math.random() * 200);
    while (running) {
      const sentAt = Date.now();
      const xid = ((i << 16) | ++seq[i]!) >>> 0;
      const reply = await relay.renew(clientMac(i), clientIp(i), rai(i), xid, 600);
      log.push({ client: i, sentAt, reply });
      await Bun.sleep(Math.max(0, 200 - (Date.now() - sentAt)));
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

test(`a 20 s ${engine.name} outage under renewal load: answers from lease memory, silence for strangers, one log line each way, every history row once`, async () => {
  const seq = new Array<number>(CLIENTS).fill(0);
  const pid = server!.proc.pid;
  const before: Record<string, string>[] = [];
  const dora = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => relay.dora(clientMac(i), rai(i), { xid: ((i << 16) | ++seq[i]!) >>> 0 })),
  );
  dora.forEach((r, i) => {
    if ("failed" in r) throw new Error(`client ${i}: ${r.failed}`);
    expect(r.ack.yiaddr).toBe(clientIp(i));
    before[i] = optionsHex(r.ack);
  });

  const log: Renewal[] = [];
  const stopLoops = renewLoop(seq, log);
  await Bun.sleep(2000);

  const outputAt = server!.output().length;
  const downAt = Date.now();
  await mdb.stop();
  // strangers (in the users table, unknown to lease memory) during the outage
  const strangers: (DhcpMessage | null)[] = [];
  const strangerRuns = (async () => {
    for (let i = 0; i < NEWCOMERS && Date.now() - downAt < OUTAGE_MS - 2500; i++) {
      strangers.push(await relay.exchange({ type: MessageType.DISCOVER, mac: newcomerMac(i), options: [[82, option82(text(`new/${i}`))]] }, 1500));
      await Bun.sleep(300);
    }
  })();
  await Bun.sleep(OUTAGE_MS - (Date.now() - downAt));
  await strangerRuns;
  expect(alive(pid)).toBe(true);
  await mdb.start();
  const upAt = Date.now();
  const back = await server!.waitFor(/database reconnected/, 15_000, outputAt);
  await Bun.sleep(1500);
  await stopLoops();
  expect(alive(pid)).toBe(true);

  // after the outage the strangers are served
  for (let i = 0; i < NEWCOMERS; i++) {
    const r = await relay.dora(newcomerMac(i), option82(text(`new/${i}`)));
    if ("failed" in r) throw new Error(`newcomer ${i} after the outage: ${r.failed}`);
    expect(r.ack.yiaddr).toBe(newcomerIp(i));
  }

  // renewals: before the outage all ACKed from the database; during it ACKed
  // from memory while within the grace, unanswered after it
  const during = log.filter((r) => r.sentAt >= downAt + 200 && r.sentAt < upAt);
  const inGrace = during.filter((r) => r.sentAt < downAt + (GRACE_S - 1.5) * 1000);
  const pastGrace = during.filter((r) => r.sentAt > downAt + (GRACE_S + 1.5) * 1000);
  expect(inGrace.length).toBeGreaterThan(CLIENTS * 20);
  expect(pastGrace.length).toBeGreaterThan(CLIENTS * 10);
  for (const r of inGrace) {
    expect(replyType(r.reply)).toBe("ACK");
    expect(r.reply!.yiaddr).toBe(clientIp(r.client));
    expect(optionsHex(r.reply!)).toEqual(before[r.client]!);
  }
  expect(pastGrace.filter((r) => r.reply !== null).length).toBe(0);
  const beforeOutage = log.filter((r) => r.sentAt < downAt - 700);
  expect(beforeOutage.every((r) => replyType(r.reply) === "ACK")).toBe(true);
  expect(strangers.length).toBeGreaterThanOrEqual(5);
  expect(strangers.filter((s) => s !== null).length).toBe(0);

  // one line when it started, one with its duration when it ended
  const out = server!.output().slice(outputAt);
  expect(out.match(/database connection lost/g)?.length).toBe(1);
  expect(out.match(/database reconnected/g)?.length).toBe(1);
  const downMs = Number(/downMs=(\d+)/.exec(back)?.[1]);
  expect(downMs).toBeGreaterThanOrEqual(OUTAGE_MS - 1000);
  expect(downMs).toBeLessThan(OUTAGE_MS + 8000);
  // no line per failed query or per failed lease/history write
  expect(out.match(/query offer_1 failed/g)?.length ?? 0).toBe(0);
  expect(out.match(/lease write failed/g)?.length ?? 0).toBeLessThanOrEqual(1);
  expect(out.match(/history write failed/g)?.length ?? 0).toBeLessThanOrEqual(1);

  // history: one row per OFFER/ACK received, each client's rows in order
  relay.drain();
  const expected = replies(relay.counts);
  let rows = await historyRows();
  for (let i = 0; i < 100 && rows.length < expected; i++) {
    await Bun.sleep(100);
    rows = await historyRows();
  }
  await Bun.sleep(500);
  rows = await historyRows();
  const spooled = Number(/spooled=(\d+)/.exec(server!.output())?.[1] ?? 0);
  console.log(
    `outage: ${((upAt - downAt) / 1000).toFixed(1)} s down, logged downMs=${downMs}; renewals during it ${during.length} (in grace ${inGrace.length} ACKed, past grace ${pastGrace.length} unanswered); ` +
      `replies OFFER=${relay.counts.OFFER} ACK=${relay.counts.ACK}; history rows expected ${expected}, found ${rows.length}`,
  );
  expect(rows.length).toBe(expected);
  assertOrdered(rows);
  void spooled;
}, 90_000);

/**
 * Each client's rows carry its xids in increasing order. A DORA writes two
 * rows with one xid (OFFER, ACK); any other exchange writes one.
 */
function assertOrdered(rows: { mac: string; comment: string }[]): void {
  const last = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const r of rows) {
    const k = r.mac + "/" + r.comment;
    const times = (seen.get(k) ?? 0) + 1;
    seen.set(k, times);
    const n = parseInt(r.comment, 16) & 0xffff;
    const dora = !r.mac.startsWith("02") || n === 1;
    expect(times).toBeLessThanOrEqual(dora ? 2 : 1);
    if (!r.mac.startsWith("02")) continue;
    expect(n).toBeGreaterThanOrEqual(last.get(r.mac) ?? 0);
    last.set(r.mac, n);
  }
}

test("history spooled while the database is down survives SIGTERM of pydhcp and is written once after its restart", async () => {
  const seq = new Array<number>(CLIENTS).fill(0x8000);
  const countsBefore = replies(relay.counts);
  const rowsBefore = (await historyRows()).length;
  expect(rowsBefore).toBe(countsBefore);

  const log: Renewal[] = [];
  await mdb.stop();
  const stopLoops = renewLoop(seq, log);
  await Bun.sleep(3000);
  await stopLoops();
  relay.drain();
  const answered = replies(relay.counts) - countsBefore;
  expect(answered).toBeGreaterThan(CLIENTS * 5);

  expect(await server!.stop("SIGTERM")).toBe(0);
  const spool = join(dir, "pydhcp-history.spool");
  expect(existsSync(spool)).toBe(true);
  // the journal holds every event; the stop line says how many are not yet in the database
  const spooledLines = Number(/stopped .*historyInJournal=(\d+)/.exec(server!.output())?.[1]);
  expect(spooledLines).toBe(answered);

  await mdb.start();
  server = await startServer({ config: config(), dir });
  await server.waitFor(/history journal holds events from an earlier run/, 15_000);
  let rows = await historyRows();
  for (let i = 0; i < 100 && rows.length < rowsBefore + answered; i++) {
    await Bun.sleep(100);
    rows = await historyRows();
  }
  await Bun.sleep(500);
  rows = await historyRows();
  console.log(`restart: ${answered} replies while down, ${spooledLines} rows in the journal at SIGTERM; history rows expected ${rowsBefore + answered}, found ${rows.length}`);
  expect(rows.length).toBe(rowsBefore + answered);
  assertOrdered(rows);
  expect(await server.stop("SIGTERM")).toBe(0);
  expect(readFileSync(spool, "utf8")).toBe("");
}, 60_000);
});
