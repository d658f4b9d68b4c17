/**
 * SIGHUP reload against the built binary: a changed query takes effect; a
 * broken config (bad XML, unknown tag, unknown variable, SQL the database
 * cannot prepare) is refused whole and the old one keeps serving; no packet
 * is lost or answered twice while reloads happen under traffic.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Database } from "bun:sqlite";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, testClient, type TestClient } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import {
  configXml,
  discover,
  freeTcpPort,
  freeUdpPort,
  makeSqlite,
  messageType,
  nextXid,
  OFFER_BY_MAC,
  scrape,
  sqliteDatabase,
  sqliteRows,
  until,
  type ConfigSpec,
} from "./helpers.ts";

const MAC = "021800000001";
const A = "198.18.1.10";

let server: RunningServer | null = null;
let client: TestClient | null = null;
let dir: string | null = null;
afterEach(async () => {
  await server?.close();
  client?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = null;
  client = null;
  dir = null;
});

async function setup(extra: Partial<ConfigSpec> = {}): Promise<{ spec: ConfigSpec; write(spec: ConfigSpec | string): void }> {
  dir = mkdtempSync(join(tmpdir(), "pdsvc-reload-"));
  makeSqlite(join(dir, "t.db"), [[MAC, A]]);
  client = await testClient();
  const spec: ConfigSpec = {
    port: await freeUdpPort(),
    clientPort: client.port,
    database: sqliteDatabase(),
    metricsPort: freeTcpPort(),
    ...extra,
  };
  server = await startServer({ config: configXml(spec), dir });
  const d = dir;
  return {
    spec,
    write: (s) => writeFileSync(join(d, "config.xml"), (typeof s === "string" ? s : configXml(s)).replaceAll("{dir}", d)),
  };
}

async function reloaded(s: RunningServer, re: RegExp): Promise<string> {
  const from = s.output().length;
  s.signal("SIGHUP");
  return s.waitFor(re, 5000, from);
}

describe("SIGHUP reload", () => {
  test("SIGHUPs during a reload are queued and logged; the last one wins", async () => {
    const { spec, write } = await setup();
    // a MySQL server that accepts and never answers: the reload naming it takes its connect timeout
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const offer = (addr: string) => [`select '${addr}' as ip, '255.255.0.0' as mask, '' as router, '' as dns from users where mac='{ClientMacAddress}'`];
      write({ ...spec, database: `<database><mysql><host>127.0.0.1</host><port>${silent.port}</port><user>u</user><password>p</password><database>d</database></mysql></database>`, query: "<timeout>1500</timeout>" });
      let from = server!.output().length;
      server!.signal("SIGHUP");
      await server!.waitFor(/SIGHUP: reloading/, 2000, from);
      write({ ...spec, offers: offer("198.18.6.6") });
      from = server!.output().length;
      server!.signal("SIGHUP");
      expect(await server!.waitFor(/reload requested/, 2000, from)).toContain("reload requested while one is running");
      write({ ...spec, offers: offer("198.18.7.7") });
      from = server!.output().length;
      server!.signal("SIGHUP");
      expect(await server!.waitFor(/reload requested/, 2000, from)).toContain("reload requested again while one is running");
      // the slow reload fails, then one more reload reads the file as it is now
      await server!.waitFor(/reload failed/, 5000);
      await server!.waitFor(/configuration reloaded/, 5000);
      const after = await discover(client!, spec.port, MAC);
      expect(after?.yiaddr).toBe("198.18.7.7");
      const m = await scrape(spec.metricsPort!);
      expect(m.get('pydhcp_reloads_total{result="ok"}')).toBe(1);
      expect(m.get('pydhcp_reloads_total{result="failed"}')).toBe(1);
    } finally {
      silent.stop(true);
    }
  }, 20_000);

  test("a changed offer query takes effect on the next DISCOVER", async () => {
    const { spec, write } = await setup();
    const before = await discover(client!, spec.port, MAC);
    expect(messageType(before)).toBe(MessageType.OFFER);
    expect(before!.yiaddr).toBe(A);

    write({ ...spec, offers: ["select '198.18.5.5' as ip, '255.255.0.0' as mask, '' as router, '' as dns from users where mac='{ClientMacAddress}'"] });
    const line = await reloaded(server!, /configuration reloaded|reload failed|reload refused/);
    expect(line).toContain("configuration reloaded");

    const after = await discover(client!, spec.port, MAC);
    expect(messageType(after)).toBe(MessageType.OFFER);
    expect(after!.yiaddr).toBe("198.18.5.5");
    expect([...after!.options.get(1)!]).toEqual([255, 255, 0, 0]);

    const m = await scrape(spec.metricsPort!);
    expect(m.get('pydhcp_reloads_total{result="ok"}')).toBe(1);
    expect(m.get('pydhcp_reloads_total{result="failed"}')).toBe(0);
  });

  test("the answer cache: a changed row is answered from the cache until SIGHUP empties it", async () => {
    const { spec } = await setup({ extra: "<answerCache><ttl>600</ttl></answerCache>" });
    expect((await discover(client!, spec.port, MAC))?.yiaddr).toBe(A);
    const db = new Database(join(dir!, "t.db"));
    try {
      db.run("update users set ip = '198.18.9.9' where mac = ?", [MAC.replaceAll(":", "")]);
    } finally {
      db.close();
    }
    // within the TTL the remembered answer stands (documented staleness)
    expect((await discover(client!, spec.port, MAC))?.yiaddr).toBe(A);
    await server!.waitFor(/query="?offer_1 \(cached\)/, 3000);
    expect(await reloaded(server!, /configuration reloaded|reload failed|reload refused/)).toContain("configuration reloaded");
    expect((await discover(client!, spec.port, MAC))?.yiaddr).toBe("198.18.9.9");
    const m = await scrape(spec.metricsPort!);
    expect(m.get('pydhcp_answer_cache_lookups_total{result="hit"}')).toBe(1);
    expect(m.get('pydhcp_answer_cache_lookups_total{result="miss"}')).toBe(2);
  });

  test("a reload naming another database serves from it, history included", async () => {
    const { spec, write } = await setup();
    const before = await discover(client!, spec.port, MAC);
    expect(before?.yiaddr).toBe(A);
    makeSqlite(join(dir!, "t2.db"), [[MAC, "198.18.2.20"]]);
    write({ ...spec, database: sqliteDatabase("{dir}/t2.db") });
    expect(await reloaded(server!, /configuration reloaded|reload failed|reload refused/)).toContain("configuration reloaded");
    const after = await discover(client!, spec.port, MAC);
    expect(after?.yiaddr).toBe("198.18.2.20");
    const hex = (x: number) => x.toString(16).padStart(8, "0");
    // each exchange's history row is in the database of the configuration that answered it
    const comments = async (file: string, n: number) =>
      (await until(() => sqliteRows<{ comment: string }>(join(dir!, file), "select comment from history"), (r) => r.length >= n, 3000)).map((r) => r.comment);
    expect(await comments("t2.db", 1)).toEqual([`DHCPDISCOVER/${hex(after!.xid)}`]);
    expect(await comments("t.db", 1)).toEqual([`DHCPDISCOVER/${hex(before!.xid)}`]);
  });

  test("the listen address and log settings wait for a restart; the rest of the same reload applies", async () => {
    const { spec, write } = await setup();
    const other = await freeUdpPort();
    write({
      ...spec,
      port: other,
      offers: [OFFER_BY_MAC.replace("select ip", "select '198.18.6.6' as ip")],
      extra: "<log><format>json</format></log>",
    });
    const from = server!.output().length;
    server!.signal("SIGHUP");
    const warn = await server!.waitFor(/take effect only at restart/, 5000, from);
    expect(warn).toContain("dhcpserver/port");
    expect(warn).toContain("log");
    expect(await server!.waitFor(/configuration reloaded/, 5000, from)).toMatch(/^\S+ INFO configuration reloaded/);
    // still on the old port, with the new query
    expect((await discover(client!, spec.port, MAC))?.yiaddr).toBe("198.18.6.6");
    expect(await discover(client!, other, MAC, 500)).toBeNull();
  });

  const broken: [string, (spec: ConfigSpec) => string, RegExp][] = [
    ["bad XML", (s) => configXml(s).replace("</query>", "</qery>"), /config\.xml/],
    ["an unknown tag", (s) => configXml({ ...s, extra: "<colour>blue</colour>" }), /config\/colour/],
    ["an unknown {variable}", (s) => configXml({ ...s, offers: ["select ip from users where mac='{NoSuchVariable}'"] }), /NoSuchVariable/],
    ["a query the database cannot prepare", (s) => configXml({ ...s, offers: ["select ip from no_such_table where mac='{ClientMacAddress}'"] }), /offer_1.*no_such_table|no_such_table/],
  ];
  for (const [what, make, mentions] of broken) {
    test(`a config with ${what} is refused and the old one keeps serving`, async () => {
      const { spec, write } = await setup();
      expect((await discover(client!, spec.port, MAC))?.yiaddr).toBe(A);
      // the bad config also changes the answer, so serving it would show
      write(make({ ...spec, offers: [OFFER_BY_MAC.replace("select ip", "select '198.18.9.9' as ip")] }));
      const line = await reloaded(server!, /configuration reloaded|reload failed|reload refused/);
      expect(line).toMatch(/reload (failed|refused)/);
      expect(line).toMatch(mentions);
      expect(server!.proc.exitCode).toBeNull();

      const after = await discover(client!, spec.port, MAC);
      expect(messageType(after)).toBe(MessageType.OFFER);
      expect(after!.yiaddr).toBe(A);
      const m = await scrape(spec.metricsPort!);
      expect(m.get('pydhcp_reloads_total{result="failed"}')).toBe(1);
      expect(m.get('pydhcp_reloads_total{result="ok"}')).toBe(0);

      // and a good config afterwards still reloads
      write(spec);
      expect(await reloaded(server!, /configuration reloaded|reload failed|reload refused/)).toContain("configuration reloaded");
    });
  }

  test("no request is lost or answered twice across repeated reloads", async () => {
    // one MAC at hundreds of requests a second: flood control off
    const { spec, write } = await setup({ rateLimit: false });
    const MIN = 600;
    const xids: number[] = [];
    const replies = new Map<number, number>();
    // alternate two equivalent configs so every reload really swaps the runtime
    const alt = { ...spec, offers: ["select ip, mask, router, dns from users where mac = '{ClientMacAddress}'"] };
    let reloading = true;
    const reloads = (async () => {
      for (let i = 0; i < 6; i++) {
        await Bun.sleep(100);
        write(i % 2 === 0 ? alt : spec);
        await reloaded(server!, /configuration reloaded|reload failed|reload refused/);
      }
    })().finally(() => (reloading = false));
    // requests flow the whole time the reloads happen; a bounded window in
    // flight keeps the loopback socket buffers from overflowing
    const window = 16;
    const inflight = new Set<Promise<void>>();
    while (reloading || xids.length < MIN) {
      const xid = nextXid();
      xids.push(xid);
      client!.send(buildRequest({ type: MessageType.DISCOVER, mac: MAC, xid }), spec.port);
      const p = client!.reply(xid, 3000).then((m) => {
        if (m) replies.set(m.xid, (replies.get(m.xid) ?? 0) + 1);
        inflight.delete(p);
      });
      inflight.add(p);
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await reloads;
    await Bun.sleep(300);
    // anything that arrived after its waiter: a second answer to the same xid
    for (const m of client!.drain()) replies.set(m.xid, (replies.get(m.xid) ?? 0) + 1);

    const out = server!.output();
    expect((out.match(/configuration reloaded/g) ?? []).length).toBe(6);
    expect(xids.filter((x) => !replies.has(x))).toEqual([]);
    expect([...replies.values()].filter((n) => n !== 1)).toEqual([]);
    expect(replies.size).toBe(xids.length);
    const m = await scrape(spec.metricsPort!);
    expect(m.get('pydhcp_reloads_total{result="ok"}')).toBe(6);
    expect(m.get('pydhcp_replies_sent_total{type="OFFER"}')).toBe(xids.length);
    expect(m.get('pydhcp_packets_received_total{type="DISCOVER"}')).toBe(xids.length);
    console.log(`reload under traffic: ${xids.length} requests, ${replies.size} answered once, 6 reloads`);
  }, 30_000);
});

describe("housekeeping", () => {
  test("history older than retentionDays is pruned and expired leases are removed, while serving", async () => {
    dir = mkdtempSync(join(tmpdir(), "pdsvc-house-"));
    const db = join(dir, "t.db");
    makeSqlite(db, [[MAC, A]]);
    const w = new Database(db);
    w.run("insert into history (dt, mac, ip, comment) values (datetime('now', '-40 days'), 'old', '', 'old'), (datetime('now', '-2 days'), 'recent', '', 'recent')");
    // a lease that expired an hour ago
    const now = Math.floor(Date.now() / 1000);
    w.run(
      "insert into pydhcp_lease (client_key, mac, ip, option82, expires, state, answer, updated) values ('0218000000ff', '0218000000ff', '198.18.1.99', '', ?, 'bound', '{}', ?)",
      [now - 3600, now - 7200],
    );
    w.close();
    client = await testClient();
    const port = await freeUdpPort();
    const spec: ConfigSpec = {
      port,
      clientPort: client.port,
      database: sqliteDatabase(),
      extra: "<history><retentionDays>30</retentionDays></history><leases><cleanupInterval>1</cleanupInterval></leases>",
    };
    server = await startServer({ config: configXml(spec), dir });
    await server.waitFor(/old history rows pruned/, 5000);
    await server.waitFor(/expired leases removed/, 5000);
    expect(sqliteRows<{ mac: string }>(db, "select mac from history order by id").map((r) => r.mac)).toEqual(["recent"]);
    expect(sqliteRows(db, "select * from pydhcp_lease where client_key = '0218000000ff'")).toEqual([]);
    expect((await discover(client, port, MAC))?.yiaddr).toBe(A);
  });
});
