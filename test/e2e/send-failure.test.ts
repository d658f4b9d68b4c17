/**
 * The operator's case: a server in a namespace with no default route, so a
 * broadcast OFFER (limited broadcast follows the routing table) fails with
 * ENETUNREACH. Each failed reply gives send_error 1, the exchange is "OFFER
 * not sent" in /api/exchanges, and the log has one WARN line naming it (the
 * second, same destination and error within 10 s, is left out). The client
 * and the HTTP reads run inside the namespace, over its loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../src/codec/hex.ts";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest } from "../support/client.ts";
import { BUN, startServer, type RunningServer } from "../support/server.ts";
import { configXml, ipOf, macOf, makeSqlite, nextXid, sqliteDatabase } from "../service/helpers.ts";
import { gate } from "./gate.ts";
import { deleteNs, inNs, must, NS_PREFIX, nsMust, sweepStale } from "./netns.ts";

const skip = gate("send failure", ["curl"]);
const NS = `${NS_PREFIX}${process.pid}-sf-s`;
const PORT = 6767;
const CLIENT_PORT = 6868;
const MPORT = 9467;
const TOKEN = "t0ken-" + "n".repeat(26);

describe.skipIf(skip !== null)("a broadcast reply in a namespace with no route", () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    await sweepStale();
    await must(["ip", "netns", "add", NS]);
    // loopback only: no default route, so 255.255.255.255 is unreachable
    await nsMust(NS, ["ip", "link", "set", "dev", "lo", "up"]);
    dir = mkdtempSync(join(tmpdir(), `pde2e-sendfail-${process.pid}-`));
    makeSqlite(join(dir, "t.db"), [1, 2].map((i) => [macOf(i), ipOf(i)]));
    const cfg = configXml({ port: PORT, clientPort: CLIENT_PORT, database: sqliteDatabase(), rateLimit: false })
      .replace("<host>127.0.0.1</host>", "<host>0.0.0.0</host>")
      .replace("<broadcast>127.0.0.1</broadcast>", "<broadcast>255.255.255.255</broadcast>")
      .replace("</config>", `<metrics><host>127.0.0.1</host><port>${MPORT}</port><token>${TOKEN}</token></metrics></config>`);
    server = await startServer({ config: cfg, dir, prefix: inNs(NS, []), ready: /http listening/ });
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    await deleteNs(NS);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string) => nsMust(NS, ["curl", "-sf", "-H", `authorization: Bearer ${TOKEN}`, `http://127.0.0.1:${MPORT}${path}`]);

  test("two OFFERs fail with ENETUNREACH: send_error 2, both 'OFFER not sent', one WARN line", async () => {
    const xids = [nextXid(), nextXid()];
    const packets = [1, 2].map((i) => toHex(buildRequest({ type: MessageType.DISCOVER, mac: macOf(i), xid: xids[i - 1] })));
    // a client on the namespace's loopback: the server answers it by broadcast (no ciaddr, no giaddr)
    const script = `const s = await Bun.udpSocket({ port: ${CLIENT_PORT} });
for (const h of process.argv.filter((a) => /^[0-9a-f]{480,}$/.test(a))) s.send(Buffer.from(h, "hex"), ${PORT}, "127.0.0.1");
await Bun.sleep(50); s.close();`;
    await nsMust(NS, [BUN, "-e", script, ...packets]);

    let list: any[] = [];
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (list = (JSON.parse(await get("/api/exchanges")) as { exchanges: any[] }).exchanges).length < 2) await Bun.sleep(50);
    expect(list.length).toBe(2);
    for (const x of list) {
      const i = xids.indexOf(parseInt(x.xid, 16));
      expect(i).toBeGreaterThanOrEqual(0);
      expect(x.result).toBe("OFFER not sent");
      expect(x.ip).toBe(ipOf(i + 1));
      expect(x.reason).toBe("send-error");
      expect(x.sendError).toMatch(/^ENETUNREACH/);
    }
    const metrics = await get("/metrics");
    expect(metrics).toMatch(/^pydhcp_dropped_total\{reason="send_error"\} 2$/m);
    expect(metrics).not.toMatch(/^pydhcp_replies_sent_total\{type="OFFER"\} [1-9]/m);

    await Bun.sleep(200);
    const lines = server.output().split("\n").filter((l) => l.includes("DISCOVER") || l.includes("socket error"));
    expect(lines.length).toBe(1);
    const m = /WARN DISCOVER -> OFFER (\S+) not sent mac=(\w+) xid=(\w+) query=offer_1 to=255\.255\.255\.255:6868 iface=any error="ENETUNREACH: network is unreachable, send" ms=/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    const i = xids.indexOf(parseInt(m![3]!, 16));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(m![2]).toBe(macOf(i + 1));
    expect(m![1]).toBe(ipOf(i + 1));
  }, 20_000);
});
