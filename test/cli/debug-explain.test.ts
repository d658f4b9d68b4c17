/**
 * `-d` on the running server (sources): each exchange explained as
 * --explain explains it, on loopback through a relay using RFC 8357's
 * relay-source-port (replies go to giaddr 127.0.0.1 and our port, never
 * to the 198.18 addresses handed out). Two relayed DISCOVERs in flight at once each get their
 * own queries and values; a packet that matches nothing lists every query.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testClient } from "../support/client.ts";
import { BUN, MAIN, ROOT, hexBytes, option82, packet } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "pdc-debug-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (port: number, clientPort: number) => `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host><port>${port}</port><clientPort>${clientPort}</clientPort>
    <broadcast>127.0.0.1</broadcast><DHCPServer>198.18.30.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.30.1</defaultRouter><defaultDNS>198.18.30.53</defaultDNS>
  </dhcpserver>
  <database><sqlite><path>${join(dir, "t.db")}</path></sqlite></database>
  <relay_profiles><default>auto</default></relay_profiles>
  <query>
    <offer_count>2</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac='{relay_mac_hex}' and port='{port}'</offer_1>
    <offer_2>select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')</offer_2>
  </query>
</config>`;

/** D-Link circuit-id for a port, remote-id for a switch, and sub-option 19 so the reply comes back to our port. */
const rai = (port: number, sw: string) => option82([[1, Uint8Array.of(0, 4, 0, 1, 0, port)], [2, hexBytes("0006" + sw)], [19, new Uint8Array(0)]]);

test("-d explains each live exchange: variables, queries with values and rows, decision, reply", async () => {
  const db = new Database(join(dir, "t.db"), { create: true });
  db.exec(readFileSync(join(ROOT, "sql/sqlite.sql"), "utf8"));
  db.prepare("insert into users (ip, mac, port) values ('198.18.30.61', '001e589eb2ad', '6'), ('198.18.30.62', '001e589eb2ae', '5'), ('198.18.30.70', '020000000007', '')").run();
  db.close();
  const relay = await testClient();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const cfg = join(dir, "config.xml");
  writeFileSync(cfg, config(port, relay.port));
  const proc = Bun.spawn([BUN, MAIN, "-c", cfg, "-d"], { stdout: "pipe", stderr: "pipe" });
  try {
    // wait for the socket: a DISCOVER matched by offer_2, every 100 ms until answered
    const probe = packet({ mac: "02:00:00:00:00:07", xid: 0x07070707 });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      try {
        relay.send(probe, port);
      } catch {
        // ECONNREFUSED until the server binds
      }
      up = (await relay.reply(0x07070707, 100)) !== null;
    }
    if (!up) {
      proc.kill("SIGTERM");
      await proc.exited;
      throw new Error("the server never answered:\n" + (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text()));
    }
    relay.send(packet({ mac: "02:00:00:00:00:09", xid: 0x0b0b0b0b, giaddr: "127.0.0.1", rai: rai(9, "00aabbccddee") }), port);
    const a = packet({ mac: "02:00:00:00:00:0a", xid: 0x0a0a0a0a, giaddr: "127.0.0.1", rai: rai(6, "001e589eb2ad") });
    const b = packet({ mac: "02:00:00:00:00:0b", xid: 0x0c0c0c0c, giaddr: "127.0.0.1", rai: rai(5, "001e589eb2ae") });
    relay.send(a, port);
    relay.send(b, port);
    const [ra, rb] = await Promise.all([relay.reply(0x0a0a0a0a, 3000), relay.reply(0x0c0c0c0c, 3000)]);
    await Bun.sleep(200);
    expect(ra?.yiaddr).toBe("198.18.30.61");
    expect(rb?.yiaddr).toBe("198.18.30.62");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const out = await new Response(proc.stdout).text();
    const block = (xid: string) =>
      out
        .split("\n")
        .filter((l) => l.includes(`DEBUG explain ${xid} | `))
        // the text log escapes \ and " in messages
        .map((l) => l.slice(l.indexOf(" | ") + 3).replace(/\\(["\\])/g, "$1"))
        .join("\n");

    const ea = block("0a0a0a0a");
    expect(ea).toStartWith(`packet: DISCOVER from 02:00:00:00:00:0a via relay 127.0.0.1 (sender 127.0.0.1:${relay.port}), ${a.length} bytes, xid 0a0a0a0a\n`);
    expect(ea).toContain("  option 82: circuit-id 000400010006, remote-id 0006001e589eb2ad, relay-source-port (empty)  (profile dlink)");
    expect(ea).toContain("\n  port                              = 6\n");
    expect(ea).toMatch(/ {2}offer_1 {2}1 row {2}[\d.]+ ms {2}<- decided\n {4}sql: {4}select ip,mask,router,dns from users where mac=\? and port=\?\n {4}values: \["001e589eb2ad","6"\]\n {4}from: {3}\{relay_mac_hex\} = 001e589eb2ad, \{port\} = 6\n {4}row: {4}\{"ip":"198.18.30.61"/);
    expect(ea).toContain("  not run: offer_2");
    expect(ea).toContain("decision: offer_1 matched: 198.18.30.61 (offer)");
    expect(ea).toContain(`reply: OFFER 198.18.30.61 to 127.0.0.1:${relay.port} (relay-source-port), `);
    expect(ea).toContain("  yiaddr 198.18.30.61  ciaddr 0.0.0.0");
    expect(ea).toContain("     82 dhcp-agent-options       circuit-id 000400010006, remote-id 0006001e589eb2ad, relay-source-port (empty)  (echoed");

    const eb = block("0c0c0c0c");
    expect(eb).toContain('    values: ["001e589eb2ae","5"]');
    expect(eb).not.toContain('"001e589eb2ad"');
    expect(eb).toContain("decision: offer_1 matched: 198.18.30.62 (offer)");

    const none = block("0b0b0b0b");
    expect(none).toContain('    values: ["00aabbccddee","9"]');
    expect(none).toContain('    values: ["020000000009"]');
    expect(none).toContain("decision: no query matched (tried offer_1, offer_2); no reply\nreply: none");
  } finally {
    proc.kill("SIGKILL");
    relay.close();
  }
}, 20_000);
