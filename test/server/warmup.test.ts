/**
 * The start-up warm-up runs the packet path on synthetic exchanges and must
 * leave no trace: no history row, no lease row or lease in memory, no query
 * run against the database, no metric counted, and the first real exchange
 * afterwards is answered from the database as if the warm-up never ran.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../../src/codec/decode.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openBackend } from "../../src/db/open.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { handle } from "../../src/server/handle.ts";
import { HistoryWriter } from "../../src/server/history.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import { buildRuntime } from "../../src/server/runtime.ts";
import { serverMetrics } from "../../src/server/stats.ts";
import { warmUp } from "../../src/server/warmup.ts";
import { createMetrics } from "../../src/service/metrics.ts";
import { buildRequest, ip } from "../support/client.ts";

function xml(dir: string, extra: string): string {
  return `<?xml version="1.0"?>
<config>
  <dhcpserver><host>127.0.0.1</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>4</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
  <database><sqlite><path>${dir}/w.db</path></sqlite></database>
  ${extra}
  <query><offer_count>2</offer_count>
    <offer_1>select ip,mask,router,dns from users where mac='{relay_mac_hex}' and port='{port}'</offer_1>
    <offer_2>select ip,mask,router,dns from users where mac='{ClientMacAddress}'</offer_2>
    <history_sql>insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')</history_sql>
  </query>
</config>`;
}

const PROFILES_AND_SLICES = `<options><option>option_82_hex:sw_port2:16:18</option></options>
  <relay_profiles><default>auto</default><relay giaddr="198.18.0.0/24" profile="dlink"/></relay_profiles>`;

for (const [name, extra] of [["plain config", ""], ["slices and relay profiles", PROFILES_AND_SLICES]] as const) {
  test(`warm-up (${name}): synthetic exchanges run, nothing is written, run or counted, the real path answers from the database`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "pydhcp-warmup-"));
    try {
      const parsed = parseConfig(xml(dir, extra), join(dir, "config.xml"));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      const config = parsed.config;
      const sink = memorySink();
      const log = createLogger({ level: "debug", format: "text", out: sink, err: sink });
      const backend = await openBackend(config.database, log, 2000);
      const leases = new LeaseMemory(backend.leases, log);
      const history = new HistoryWriter(backend, join(dir, "spool"), log);
      const metrics = createMetrics();
      const rt = await buildRuntime({ config, backend, leases, history, log, metrics: serverMetrics(metrics) });
      const db = new Database(join(dir, "w.db"));
      db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.7.9', '255.255.0.0', '198.18.0.1', '198.18.0.53', '0c0100000005', '')");

      const w = await warmUp(rt, log, 150);
      expect(w.exchanges).toBeGreaterThan(50);
      expect(w.ms).toBeGreaterThanOrEqual(150);
      expect(w.ms).toBeLessThan(2000);

      // nothing left behind
      expect(history.pending).toBe(0);
      expect(leases.size).toBe(0);
      expect(leases.pending).toBe(0);
      await leases.flush();
      await history.close();
      expect(db.query("select count(*) as n from history").get()).toEqual({ n: 0 });
      expect(db.query("select count(*) as n from pydhcp_lease").get()).toEqual({ n: 0 });
      const text = metrics.registry.expose();
      expect(text).not.toMatch(/^pydhcp_query_duration_seconds_count\{[^}]*\} [1-9]/m);
      expect(text).not.toMatch(/^pydhcp_replies_sent_total\{[^}]*\} [1-9]/m);
      log.flush();
      expect(sink.text()).not.toContain("warm-up stopped early");

      // the real path: a DISCOVER for the subscriber is offered the database's address
      const d = decode(buildRequest({ type: 1, mac: "0c0100000005", xid: 77, options: [[55, Uint8Array.of(1, 3, 6)]] }));
      if (!d.ok) throw new Error(d.error.message);
      const o = await handle(d.msg, 1, rt.handleDeps);
      expect(o.kind).toBe("reply");
      if (o.kind !== "reply") return;
      expect(o.reply.yiaddr).toBe("198.18.7.9");
      expect(o.query).toBe("offer_2");
      // and an unknown client still gets silence: the stand-in row never leaks into the real chain
      const u = decode(buildRequest({ type: 1, mac: "020000000001", xid: 78, options: [[50, ip("198.18.1.1")]] }));
      if (!u.ok) throw new Error(u.error.message);
      const none = await handle(u.msg, 1, rt.handleDeps);
      expect(none.kind).toBe("silent");
      db.close();
      await backend.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
