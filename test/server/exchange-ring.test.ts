/**
 * The exchange ring keeps the datagrams and a few values, and rebuilds the
 * rest when read (server/exchange-ring.ts): every view of an entry must be
 * what the whole Exchange gives. Exchanges of each kind run through
 * respond() in process, and each one's JSON (API, event stream, page) is
 * compared with the JSON of the whole Exchange.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../../src/codec/decode.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Exchange, Request } from "../../src/core/exchange.ts";
import type { Backend } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { parseRelayAgentInfo } from "../../src/option82/parse.ts";
import { AnswerCache } from "../../src/server/answer-cache.ts";
import { ExchangeRing, ringEntry, type ExchangeEntry } from "../../src/server/exchange-ring.ts";
import { exchangeJson } from "../../src/server/exchange-view.ts";
import { eventEntries } from "../../src/server/history-event.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import { buildRuntime, type Runtime } from "../../src/server/runtime.ts";
import { buildRequest, ip } from "../support/client.ts";
import { memoryLog } from "../db/mariadb.ts";

const SERVER_ID = "198.18.0.1";
const OPTION_82 = Uint8Array.from(Buffer.from("010600040001000602080006001e589eb2ad", "hex"));
const REMOTE_ID = "0006001e589eb2ad";

const xml = (path: string, unrelated: "use" | "ignore", ttl: number) => `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host><broadcast>127.0.0.1</broadcast><DHCPServer>${SERVER_ID}</DHCPServer>
    <LeaseTime>600</LeaseTime><ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
    <unrelayedOption82>${unrelated}</unrelayedOption82>
  </dhcpserver>
  <database><sqlite><path>${path}</path></sqlite></database>
  <answerCache><ttl>${ttl}</ttl></answerCache>
  <query>
    <offer_count>2</offer_count>
    <offer_1>select ip, mask, router, dns from users where mac = '{option_82_AgentRemoteId_hex}' and port = '{ClientMacAddress}'</offer_1>
    <offer_2>select ip, mask, router, dns, 'h"1' as hostname from users where mac = '{ClientMacAddress}'</offer_2>
    <history_sql>insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', 'it''s "{op}"')</history_sql>
  </query>
</config>`;

let dir: string;
let backend: Backend;
const rts: Record<string, Runtime> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdc-ring-${process.pid}-`));
  const path = join(dir, "t.db");
  const log = memoryLog();
  let leases: LeaseMemory | undefined;
  for (const [name, unrelated, ttl] of [["use", "use", 0], ["ignore", "ignore", 0], ["cached", "use", 60]] as const) {
    const loaded = parseConfig(xml(path, unrelated, ttl), join(dir, "config.xml"));
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const config = loaded.config;
    backend ??= await openBackend(config.database, log);
    leases ??= new LeaseMemory(backend.leases, log);
    rts[name] = await buildRuntime({ config, backend, leases, cache: new AnswerCache(config.answerCache), log });
  }
  const db = new Database(path);
  db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.5.10', '255.255.255.0', '198.18.5.1', '198.18.0.53', ?, '0c0100000001')", [REMOTE_ID]);
  db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.6.20', '', '', '', '0c0100000002', '')");
  db.close();
});

afterAll(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One request through respond() as the server runs it, history recorded when it has any. */
async function run(rt: Runtime, bytes: Uint8Array, from: Request["from"]): Promise<{ ex: Exchange; buf: Uint8Array }> {
  const buf = bytes.slice();
  const d = decode(buf);
  if (!d.ok) throw new Error(d.error.message);
  const msg = d.msg;
  const rai = msg.options.get(82);
  const req: Request = { msg, type: msg.options.get(53)![0]!, size: buf.length, from, arrived: performance.now() };
  if (rai) req.relay = parseRelayAgentInfo(rai);
  const ex = await respond(req, rt);
  eventEntries(ex, 600)?.("ev-1");
  return { ex, buf };
}

async function respond(req: Request, rt: Runtime): Promise<Exchange> {
  const { respond } = await import("../../src/core/respond.ts");
  return respond(req, rt.deps);
}

/** The views of the ring's entry and of the whole Exchange (as the ring kept it before: variables bound again). */
function views(rt: Runtime, ex: Exchange, buf: Uint8Array, sendError?: Error): [string, string, ExchangeEntry] {
  const ring = new ExchangeRing(2);
  ring.push(ringEntry(ex, buf, rt, 1.5, sendError));
  const kept = ring.recent(1)[0]!;
  const whole: ExchangeEntry = { ...kept, kept: undefined, ex: { ...ex, vars: null } };
  return [JSON.stringify(exchangeJson(kept)), JSON.stringify(exchangeJson(whole)), kept];
}

const relayed = { address: "198.18.0.2", port: 67 };
const discover = (mac: string, xid: number, options: [number, Uint8Array][] = [[82, OPTION_82]], giaddr = "198.18.0.2") =>
  buildRequest({ type: 1, mac, xid, giaddr, options: [[12, new TextEncoder().encode('host "q" \\ 1')], [55, Uint8Array.of(1, 3, 6, 12, 15)], ...options] });
const request = (mac: string, xid: number, want: string, options: [number, Uint8Array][] = [[82, OPTION_82]], giaddr = "198.18.0.2") =>
  buildRequest({ type: 3, mac, xid, giaddr, options: [[50, ip(want)], [54, ip(SERVER_ID)], ...options] });

describe("exchange ring entries read as the whole exchange", () => {
  test("relayed DISCOVER and REQUEST with Option 82, history recorded", async () => {
    for (const bytes of [discover("0c0100000001", 1), request("0c0100000001", 1, "198.18.5.10")]) {
      const { ex, buf } = await run(rts.use!, bytes, relayed);
      expect(ex.outcome.kind).toBe("reply");
      const [a, b, e] = views(rts.use!, ex, buf);
      expect(a).toBe(b);
      // the messages are decoded again, not kept
      expect(e.kept!.msg).toBeNull();
      expect(e.kept!.reply).toBeNull();
      expect(JSON.parse(a).explanation).toContain("reply: ");
    }
    const { ex } = await run(rts.use!, request("0c0100000001", 2, "198.18.5.10"), relayed);
    expect(ex.history.length).toBeGreaterThan(0);
    expect(views(rts.use!, ex, new Uint8Array(0))[1]).toContain("event_id = ev-1");
  });

  test("a renewal bound with the Option 82 lease memory lent it", async () => {
    const renew = buildRequest({ type: 3, mac: "0c0100000001", xid: 3, ciaddr: "198.18.5.10" });
    const { ex, buf } = await run(rts.use!, renew, { address: "198.18.5.10", port: 68 });
    expect(ex.option82?.source).toBe("lease memory");
    const [a, b] = views(rts.use!, ex, buf);
    expect(a).toBe(b);
    expect(a).toContain("from lease memory");
  });

  test("an unrelayed Option 82 respond ignored stays ignored", async () => {
    const { ex, buf } = await run(rts.ignore!, discover("0c0100000002", 4, [[82, OPTION_82]], "0.0.0.0"), { address: "0.0.0.0", port: 68 });
    expect(ex.request.msg.options.has(82)).toBe(false);
    const [a, b] = views(rts.ignore!, ex, buf);
    expect(a).toBe(b);
    expect(JSON.parse(a).variables.option_82_AgentRemoteId_hex ?? "").toBe("");
  });

  test("NAK, silence, no match, a send error", async () => {
    const cases: [Uint8Array, string][] = [
      [request("0c0100000002", 5, "198.18.9.9", []), "NAK"],
      [buildRequest({ type: 3, mac: "0c0100000002", xid: 6, giaddr: "198.18.0.2", options: [[50, ip("198.18.6.20")], [54, ip("198.18.0.99")]] }), "no reply"],
      [discover("0c0100000009", 7, []), "no reply"],
    ];
    for (const [bytes, result] of cases) {
      const { ex, buf } = await run(rts.use!, bytes, relayed);
      const [a, b] = views(rts.use!, ex, buf);
      expect(a).toBe(b);
      expect(JSON.parse(a).result).toBe(result);
    }
    const { ex, buf } = await run(rts.use!, discover("0c0100000002", 8, []), relayed);
    const [a, b] = views(rts.use!, ex, buf, new Error("EHOSTUNREACH"));
    expect(a).toBe(b);
    expect(JSON.parse(a).result).toBe("OFFER not sent");
  });

  test("answers from the answer cache (queries marked cached)", async () => {
    for (const xid of [9, 10]) {
      const { ex, buf } = await run(rts.cached!, discover("0c0100000002", xid, []), relayed);
      const [a, b] = views(rts.cached!, ex, buf);
      expect(a).toBe(b);
      if (xid === 10) expect(a).toContain("from the answer cache");
    }
  });

  test("a reply whose bytes would not decode to the same message is kept", async () => {
    const { ex, buf } = await run(rts.use!, discover("0c0100000001", 11), relayed);
    if (ex.outcome.kind !== "reply") throw new Error("no reply");
    // option 82 first in the map: the encoder writes it last
    const r = ex.outcome.reply;
    r.options = new Map([[82, r.options.get(82)!], ...[...r.options].filter(([c]) => c !== 82)]);
    const [a, b, e] = views(rts.use!, ex, buf);
    expect(e.kept!.reply).toBe(r);
    expect(a).toBe(b);
  });
});
