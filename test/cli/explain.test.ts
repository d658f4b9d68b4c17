/**
 * `pydhcp --explain` against pydhcpdb's reference config and database, on
 * SQLite and on the shared MariaDB (a throwaway database and user loaded
 * from pydhcp.sql): which query matched, with what values and rows; the
 * reply; the no-match listing; and that nothing is sent or written.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import { createTempDb, loadPydhcpSql, rootPool, SOCKET, type TempDb } from "../db/mariadb.ts";
import { openUdp } from "../support/udp.ts";
import { DLINK_CIRCUIT, DLINK_REMOTE, ROOT, hexBytes, mysqlDatabase, option82, packet, pydhcp, referenceConfig, sqliteDatabase, toHex, varLines } from "./helpers.ts";

/** Subscribers beside the reference row (192.168.0.19 for 080027059ed0). */
const ROWS: [string, string, string][] = [
  // offer_1 form: the whole remote-id hex and the circuit-id port byte
  ["192.168.0.61", "0006001e589eb2ad", "06"],
  // offer_2 form: pydhcpdb's slices sw_mac and sw_port2
  ["192.168.0.62", "001e589eb2ae", "05"],
  // for the profile query: relay_mac_hex and the decimal port
  ["192.168.0.63", "001e589eb2af", "7"],
];

const PROFILE_QUERIES = `<relay_profiles><default>auto</default></relay_profiles>`;
const PROFILE_OFFERS = `<query>
        <offer_count>2</offer_count>
        <offer_1>select ip,mask,router,dns from users where mac='{relay_mac_hex}' and port='{port}'</offer_1>
        <offer_2>select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')</offer_2>
        <history_sql>insert into history (id,dt,mac,ip,comment) values (null,now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>
    </query>`;

interface Setup {
  name: string;
  database(): string;
  count(table: string): Promise<number>;
  close(): Promise<void>;
}

async function sqliteSetup(dir: string): Promise<Setup> {
  const path = join(dir, "ref.db");
  const db = new Database(path, { create: true });
  db.exec(readFileSync(join(ROOT, "sql/sqlite.sql"), "utf8"));
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '255.255.255.0', '192.168.0.1', '8.8.8.8', ?, ?)");
  ins.run("192.168.0.19", "080027059ed0", "");
  for (const r of ROWS) ins.run(...r);
  db.close();
  return {
    name: "sqlite",
    database: () => sqliteDatabase(path),
    async count(table) {
      const d = new Database(path, { readonly: true });
      try {
        return (d.query(`select count(*) as n from ${table}`).get() as { n: number }).n;
      } finally {
        d.close();
      }
    },
    async close() {},
  };
}

async function mariadbSetup(): Promise<Setup> {
  const root: Pool = await rootPool();
  let db: TempDb | null = null;
  try {
    db = await createTempDb(root, "pdcx");
    await loadPydhcpSql(root, db.database);
    for (const [ip, mac, port] of ROWS) {
      await root.query(`insert into \`${db.database}\`.users (ip, mask, router, dns, mac, port) values (?, '255.255.255.0', '192.168.0.1', '8.8.8.8', ?, ?)`, [ip, mac, port]);
    }
  } catch (e) {
    await db?.drop().catch(() => {});
    await root.end();
    throw e;
  }
  const t = db;
  return {
    name: "mariadb",
    database: () => mysqlDatabase({ socket: SOCKET, user: t.user, password: t.password, database: t.database }),
    async count(table) {
      const [rows] = (await root.query(`select count(*) as n from \`${t.database}\`.\`${table}\``)) as unknown as [{ n: number }[]];
      return Number(rows[0]!.n);
    },
    async close() {
      await t.drop();
      await root.end();
    },
  };
}

for (const backend of ["sqlite", "mariadb"] as const) {
  describe(`--explain on ${backend}`, () => {
    const dir = mkdtempSync(join(tmpdir(), `pdc-explain-${backend}-`));
    let s: Setup;
    let cfg: string;
    let profileCfg: string;
    let before: { history: number; leases: number };
    let clientPort = 0;
    let listener: { port: number; close(): void };
    let received = 0;

    beforeAll(async () => {
      s = backend === "sqlite" ? await sqliteSetup(dir) : await mariadbSetup();
      // the reply to a client without a relay goes to <broadcast>:clientPort: a loopback port we watch
      listener = await openUdp({ onData: () => void received++ });
      clientPort = listener.port;
      const loop = (x: string) =>
        x.replace("<broadcast>255.255.255.255</broadcast>", `<broadcast>127.0.0.1</broadcast><clientPort>${clientPort}</clientPort>`);
      cfg = join(dir, "config.xml");
      writeFileSync(cfg, loop(referenceConfig(s.database())));
      profileCfg = join(dir, "profiles.xml");
      writeFileSync(profileCfg, loop(referenceConfig(s.database(), PROFILE_QUERIES)).replace(/<query>[\s\S]*<\/query>/, PROFILE_OFFERS));
      // the first open creates pydhcp_lease on MySQL (pydhcp's own table); counts start after it
      const check = await pydhcp(["--check", "-c", cfg]);
      expect(check.code).toBe(0);
      before = { history: await s.count("history"), leases: await s.count("pydhcp_lease") };
      // the hook runs the binary (--check): on a loaded machine that can take more than the default 5 s
    }, 30_000);

    afterAll(async () => {
      listener?.close();
      await s?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("a relayed packet matching by the whole remote-id: offer_1 decides, OFFER to giaddr:67 with option 82 echoed", async () => {
      const p = packet({ mac: "00:25:22:4a:d7:64", giaddr: "198.18.20.1", rai: option82([[1, DLINK_CIRCUIT], [2, DLINK_REMOTE]]) });
      const r = await pydhcp(["--explain", "-c", cfg, "--hex", toHex(p)]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const out = r.out;
      expect(out).toStartWith("packet: DISCOVER from 00:25:22:4a:d7:64 via relay 198.18.20.1, 300 bytes, xid 5eed0001\n");
      // no <relay_profiles>: profiles decoded by auto
      expect(out).toContain("  option 82: circuit-id 000400010006, remote-id 0006001e589eb2ad  (profile dlink)\n");
      expect(out).toContain(
        "  offer_1  1 row  ",
      );
      expect(out).toMatch(/ {2}offer_1 {2}1 row {2}[\d.]+ ms {2}<- decided\n/);
      expect(out).toContain('    values: ["0006001e589eb2ad","06"]\n');
      expect(out).toContain("    from:   {option_82_AgentRemoteId_hex} = 0006001e589eb2ad, {option_82_AgentCircuitId_port_hex} = 06\n");
      expect(out).toContain('    row:    {"ip":"192.168.0.61","mask":"255.255.255.0","router":"192.168.0.1","dns":"8.8.8.8"}\n');
      expect(out).toContain("  not run: offer_2, offer_3\n");
      expect(out).toContain("decision: offer_1 matched: 192.168.0.61 (offer)\n");
      expect(out).toContain("reply: OFFER 192.168.0.61 to 198.18.20.1:67 (relay), ");
      expect(out).toContain("  yiaddr 192.168.0.61  ciaddr 0.0.0.0  siaddr 0.0.0.0  giaddr 198.18.20.1  flags 0000\n");
      expect(out).toContain("     82 dhcp-agent-options       circuit-id 000400010006, remote-id 0006001e589eb2ad  (echoed from the request, RFC 3046 2.2)\n");
      expect(out).toContain("     53 dhcp-message-type        2 (DHCPOFFER)\n");
      expect(out).toContain("     54 dhcp-server-identifier   192.168.0.71\n");
    });

    test("another switch matching by pydhcpdb's slices: offer_1 has no rows, offer_2 decides", async () => {
      const p = packet({ mac: "00:25:22:4a:d7:65", giaddr: "198.18.20.1", rai: option82([[1, hexBytes("000400010005")], [2, hexBytes("0006001e589eb2ae")]]) });
      const r = await pydhcp(["--explain", "-c", cfg, "--hex", toHex(p)]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/ {2}offer_1 {2}no rows {2}[\d.]+ ms\n {4}sql: {4}select ip,mask,router,dns from users where upper\(mac\)=upper\(\?\) and upper\(port\)=upper\(\?\)\n {4}values: \["0006001e589eb2ae","05"\]\n/);
      expect(r.out).toMatch(/ {2}offer_2 {2}1 row {2}[\d.]+ ms {2}<- decided\n/);
      expect(r.out).toContain('    values: ["001e589eb2ae","05"]\n    from:   {sw_mac} = 001e589eb2ae, {sw_port2} = 05\n');
      expect(r.out).toContain("decision: offer_2 matched: 192.168.0.62 (offer)\n");
      expect(r.out).toContain("reply: OFFER 192.168.0.62 to 198.18.20.1:67 (relay)");
      expect(r.out).toContain("  yiaddr 192.168.0.62 ");
    });

    test("--mac 08:00:27:05:9e:d0 gets 192.168.0.19 from the reference row via offer_3", async () => {
      const r = await pydhcp(["--explain", "-c", cfg, "--mac", "08:00:27:05:9e:d0"]);
      expect(r.code).toBe(0);
      expect(r.out).toStartWith("packet: DISCOVER from 08:00:27:05:9e:d0, xid 12345678\n");
      expect(r.out).toContain('    values: [null,null]\n    from:   {option_82_AgentRemoteId_hex} = (not set: NULL), {option_82_AgentCircuitId_port_hex} = (not set: NULL)\n');
      expect(r.out).toMatch(/ {2}offer_3 {2}1 row {2}[\d.]+ ms {2}<- decided\n {4}sql: {4}select ip,mask,router,dns from users where upper\(mac\)=upper\(\?\)\n {4}values: \["080027059ed0"\]\n/);
      expect(r.out).toContain("decision: offer_3 matched: 192.168.0.19 (offer)\n");
      expect(r.out).toContain(`reply: OFFER 192.168.0.19 to 127.0.0.1:${clientPort} (broadcast-fallback), `);
      expect(r.out).toContain("      1 subnet-mask              255.255.255.0\n      3 routers                  192.168.0.1\n      6 domain-name-servers      8.8.8.8\n");
      // the answer and the event as a history statement would see them, then the statement with now() as a bound event time
      expect(r.out).toContain("history statements that would run (not run by --explain):\n  event = OFFER\n");
      expect(r.out).toContain("  answer_ip = 192.168.0.19\n  answer_mask = 255.255.255.0\n  answer_router = 192.168.0.1\n  answer_dns = 8.8.8.8\n  answer_lease_time = 8600\n  answer_query = offer_3\n");
      expect(r.out).toContain("  offer: history_sql  insert into history (id,dt,mac,ip,comment) values (null,?,?,?,'DHCPACK/INFORM')  values [");
      expect(r.out).toMatch(/values \["\d{4}-\d\d-\d\d \d\d:\d\d:\d\d","080027059ed0","0.0.0.0"\]/);
    });

    test("a packet that matches nothing says so and lists every query tried", async () => {
      const r = await pydhcp(["--explain", "-c", cfg, "--mac", "02:00:00:00:00:01", "--giaddr", "198.18.20.1", "--circuit-id", "0x000400010009", "--remote-id", "0x000600aabbccddee"]);
      expect(r.code).toBe(0);
      for (const q of ["offer_1", "offer_2", "offer_3"]) expect(r.out).toMatch(new RegExp(` {2}${q} {2}no rows {2}[\\d.]+ ms\\n`));
      expect(r.out).toContain('    values: ["000600aabbccddee","09"]\n');
      expect(r.out).toContain('    values: ["00aabbccddee","09"]\n');
      expect(r.out).toContain('    values: ["020000000001"]\n');
      expect(r.out).toContain("decision: no query matched (tried offer_1, offer_2, offer_3); no reply\nreply: none\n");
      expect(r.out).not.toContain("not run:");
    });

    test("<relay_profiles> and a query on {relay_mac_hex} and {port}, with a sub-option ahead of the circuit-id", async () => {
      const rai = option82([[6, new TextEncoder().encode("cust-42")], [1, hexBytes("000400010007")], [2, hexBytes("0006001e589eb2af")]]);
      const p = packet({ mac: "00:25:22:4a:d7:66", giaddr: "198.18.20.1", rai });
      const r = await pydhcp(["--explain", "-c", profileCfg, "--hex", toHex(p)]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain("  option 82: subscriber-id 637573742d3432, circuit-id 000400010007, remote-id 0006001e589eb2af  (profile dlink)\n");
      const v = varLines(r.out);
      expect(v.get("relay_mac_hex")).toBe("001e589eb2af");
      expect(v.get("port")).toBe("7");
      expect(v.get("vlan")).toBe("1");
      expect(r.out).toMatch(/ {2}offer_1 {2}1 row {2}[\d.]+ ms {2}<- decided\n {4}sql: {4}select ip,mask,router,dns from users where mac=\? and port=\?\n {4}values: \["001e589eb2af","7"\]\n {4}from: {3}\{relay_mac_hex\} = 001e589eb2af, \{port\} = 7\n/);
      expect(r.out).toContain("decision: offer_1 matched: 192.168.0.63 (offer)\n");
      expect(r.out).toContain("reply: OFFER 192.168.0.63 to 198.18.20.1:67 (relay)");
      expect(r.out).toContain("     82 dhcp-agent-options       subscriber-id 637573742d3432, circuit-id 000400010007, remote-id 0006001e589eb2af  (echoed");
    });

    test("--explain sent nothing and wrote nothing", async () => {
      // one more reply-producing explain to the watched loopback port, then settle
      const r = await pydhcp(["--explain", "-c", cfg, "--mac", "08:00:27:05:9e:d0", "--type", "REQUEST", "--requested-ip", "192.168.0.19"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`reply: ACK 192.168.0.19 to 127.0.0.1:${clientPort}`);
      expect(r.out).toContain("  ack: history_sql  insert into history");
      await Bun.sleep(200);
      expect(received).toBe(0);
      expect(await s.count("history")).toBe(before.history);
      expect(await s.count("pydhcp_lease")).toBe(before.leases);
      expect(before.history).toBe(0);
      expect(before.leases).toBe(0);
    });
  });
}

describe("--explain usage errors", () => {
  test("a missing SQLite file is not created", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdc-explain-missing-"));
    try {
      const cfg = join(dir, "config.xml");
      writeFileSync(cfg, referenceConfig(sqliteDatabase(join(dir, "none.db"))));
      const r = await pydhcp(["--explain", "-c", cfg, "--mac", "08:00:27:05:9e:d0"]);
      expect(r.code).toBe(1);
      expect(r.err).toBe(`pydhcp: ${join(dir, "none.db")}: no such database; --explain reads an existing one (start the server once to create it)\n`);
      expect(await Bun.file(join(dir, "none.db")).exists()).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("no packet, a bad MAC, option 82 without a relay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdc-explain-usage-"));
    try {
      const cfg = join(dir, "config.xml");
      writeFileSync(cfg, referenceConfig(sqliteDatabase("x.db")));
      expect((await pydhcp(["--explain", "-c", cfg])).err).toBe("pydhcp: --explain needs a packet: --hex, --file, --stdin, or --mac\n");
      const bad = await pydhcp(["--explain", "-c", cfg, "--mac", "08:00:27"]);
      expect(bad.code).toBe(2);
      expect(bad.err).toBe("pydhcp: --mac 08:00:27: not a MAC address\n");
      const norelay = await pydhcp(["--explain", "-c", cfg, "--mac", "08:00:27:05:9e:d0", "--circuit-id", "0x000400010006"]);
      expect(norelay.code).toBe(2);
      expect(norelay.err).toBe("pydhcp: --circuit-id/--remote-id need --giaddr (the relay that adds option 82)\n");
      const cut = await pydhcp(["--explain", "-c", cfg, "--hex", "0101060000"]);
      expect(cut.code).toBe(2);
      expect(cut.err).toStartWith("pydhcp: cannot decode the packet: ");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
