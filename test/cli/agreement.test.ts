/**
 * One packet, one lease state, three readers: `-d` on the live server,
 * `--explain` offline, and what the live server really bound (the history
 * row its statement wrote). They must agree on every variable and every
 * query value, for a relayed DISCOVER/REQUEST and for the renewal that
 * comes without Option 82 and is bound with the Option 82 its lease
 * remembers. Loopback only: the subscriber's address is 198.18.250.61
 * (127/8 is never leased), so the renewal's unicast reply to it cannot leave
 * this host (the socket is bound to 127.0.0.1); its decision and its history
 * row are what is compared.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testClient } from "../support/client.ts";
import { BUN, MAIN, ROOT, hexBytes, ip, option82, packet, pydhcp, toHex, varLines } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), `pdc-agree-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVER_ID = "198.18.30.1";
const ADDR = "198.18.250.61";
const config = (port: number, clientPort: number) => `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host><port>${port}</port><clientPort>${clientPort}</clientPort>
    <broadcast>127.0.0.1</broadcast><DHCPServer>${SERVER_ID}</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.250.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database><sqlite><path>${join(dir, "t.db")}</path></sqlite></database>
  <relay_profiles><default>auto</default></relay_profiles>
  <query>
    <offer_count>1</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac='{relay_mac_hex}' and port='{port}'</offer_1>
    <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','{xidhex} {relay_mac_hex} {port} {option_82_AgentCircuitId_port_hex}')</history_sql>
  </query>
</config>`;

/** D-Link port 6 on switch 00:1e:58:9e:b2:ad, and RFC 8357 sub-option 19 so relayed replies come back to our port. */
const RAI = option82([[1, Uint8Array.of(0, 4, 0, 1, 0, 6)], [2, hexBytes("0006001e589eb2ad")], [19, new Uint8Array(0)]]);
const MAC = "02:00:00:00:00:61";

/** An explanation's sections: the variables block, and per query its values and from lines. */
function sections(text: string): { vars: string; values: string[]; from: string[]; option82: string } {
  const lines = text.split("\n");
  const start = lines.indexOf("variables:");
  const end = lines.indexOf("", start);
  return {
    vars: lines.slice(start + 1, end).join("\n"),
    values: lines.filter((l) => l.startsWith("    values: ")),
    from: lines.filter((l) => l.startsWith("    from:   ")),
    option82: lines.find((l) => l.startsWith("  option 82: ")) ?? "",
  };
}

test("-d, --explain and the live server agree on every variable and query value, renewal through lease memory included", async () => {
  const db = new Database(join(dir, "t.db"), { create: true });
  db.exec(readFileSync(join(ROOT, "sql/sqlite.sql"), "utf8"));
  db.prepare("insert into users (ip, mac, port) values (?, '001e589eb2ad', '6')").run(ADDR);
  db.close();
  const c = await testClient(0, "0.0.0.0");
  const port = 20000 + (process.pid % 20000);
  const cfg = join(dir, "config.xml");
  writeFileSync(cfg, config(port, c.port));
  const proc = Bun.spawn([BUN, MAIN, "-c", cfg, "-d"], { stdout: "pipe", stderr: "pipe" });
  const discover = packet({ mac: MAC, xid: 0x61000001, giaddr: "127.0.0.1", rai: RAI });
  const select = packet({ type: 3, mac: MAC, xid: 0x61000001, giaddr: "127.0.0.1", rai: RAI, options: [[54, ip(SERVER_ID)], [50, ip(ADDR)]] });
  // RENEWING (RFC 2131 4.4.5): unicast from the client, ciaddr set, no relay, no Option 82
  const renew = packet({ type: 3, mac: MAC, xid: 0x61000002, ciaddr: ADDR });
  let out = "";
  try {
    let offer = null;
    for (let i = 0; i < 100 && !offer; i++) {
      try {
        c.send(discover, port);
      } catch {
        // not bound yet
      }
      offer = await c.reply(0x61000001, 100);
    }
    expect(offer?.yiaddr).toBe(ADDR);
    c.send(select, port);
    expect((await c.reply(0x61000001, 3000))?.options.get(53)).toEqual(Uint8Array.of(5));
    c.send(renew, port);
    // its ACK goes to ciaddr, off this host: wait for its history row instead
    const historyRows = () => {
      const h = new Database(join(dir, "t.db"), { readonly: true });
      try {
        return (h.query("select count(*) as n from history").get() as { n: number }).n;
      } finally {
        h.close();
      }
    };
    for (let i = 0; i < 100 && historyRows() < 3; i++) await Bun.sleep(30);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    out = await new Response(proc.stdout).text();
  } finally {
    proc.kill("SIGKILL");
    c.close();
  }
  const live = (xid: string) =>
    out
      .split("\n")
      .filter((l) => l.includes(`DEBUG explain ${xid} | `))
      // the text log escapes \ and " in messages
      .map((l) => l.slice(l.indexOf(" | ") + 3).replace(/\\(["\\])/g, "$1"))
      .join("\n");

  // what the live server bound: its history rows (one per OFFER and ACK)
  const rows = new Database(join(dir, "t.db")).query("select comment from history order by id").all() as { comment: string }[];
  expect(rows.map((r) => r.comment)).toEqual(["61000001 001e589eb2ad 6 06", "61000001 001e589eb2ad 6 06", "61000002 001e589eb2ad 6 06"]);

  // the renewal: -d (live) and --explain (offline, lease memory read back from the database) say the same
  const d = sections(live("61000002"));
  const explained = await pydhcp(["--explain", "-c", cfg, "--hex", toHex(renew)]);
  expect(explained.code).toBe(0);
  const e = sections(explained.out);
  expect(d.vars).not.toBe("");
  expect(e.vars).toBe(d.vars);
  expect(e.values).toEqual(d.values);
  expect(e.from).toEqual(d.from);
  // and both say what the query really bound: no variable shown as NULL beside a bound value
  expect(d.values).toEqual(['    values: ["001e589eb2ad","6"]']);
  expect(d.from).toEqual(["    from:   {relay_mac_hex} = 001e589eb2ad, {port} = 6"]);
  const v = varLines("\n" + d.vars + "\n");
  expect([v.get("relay_mac_hex"), v.get("port"), v.get("option_82_AgentCircuitId_port_hex"), v.get("xidhex")]).toEqual(["001e589eb2ad", "6", "06", "61000002"]);
  expect(d.option82).toBe("  option 82: circuit-id 000400010006, remote-id 0006001e589eb2ad, relay-source-port (empty)  (profile dlink)  (from lease memory: the request carried none)");
  expect(e.option82).toBe(d.option82);
  expect(live("61000002")).toContain(`decision: offer_1 matched: ${ADDR} (renewing)`);
  expect(explained.out).toContain(`decision: offer_1 matched: ${ADDR} (renewing)`);

  // the relayed DISCOVER: the same agreement with Option 82 in the packet
  const dd = sections(live("61000001").split("\npacket: ")[0]!);
  const ed = sections((await pydhcp(["--explain", "-c", cfg, "--hex", toHex(discover)])).out);
  expect(ed.vars).toBe(dd.vars);
  expect(ed.values).toEqual(dd.values);
  expect(ed.from).toEqual(dd.from);
}, 30_000);
