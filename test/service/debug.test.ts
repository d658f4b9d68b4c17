/**
 * -d on the running binary: for a packet, its variables, each query's SQL
 * with its bound values and rows, and the reply; nothing of that without -d.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testClient, type TestClient } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { configXml, discover, freeUdpPort, makeSqlite, sqliteDatabase } from "./helpers.ts";

const MAC = "02180000d0d0";
const ADDR = "198.18.4.4";
const OFFERS = [
  "select ip,mask,router,dns from users where mac='{ClientMacAddress}' and port='no-such-port'",
  "select ip,mask,router,dns from users where mac='{ClientMacAddress}'",
];

let server: RunningServer | null = null;
let c: TestClient | null = null;
let dir = "";
afterEach(async () => {
  await server?.close();
  c?.close();
  rmSync(dir, { recursive: true, force: true });
  server = null;
  c = null;
});

async function run(args: string[]): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), "pdsvc-debug-"));
  makeSqlite(join(dir, "t.db"), [[MAC, ADDR]]);
  c = await testClient();
  const port = await freeUdpPort();
  server = await startServer({ config: configXml({ port, clientPort: c.port, database: sqliteDatabase(), offers: OFFERS }), dir, args });
  const from = server.output().length;
  expect((await discover(c, port, MAC))?.yiaddr).toBe(ADDR);
  await server.waitFor(/DISCOVER -> OFFER/, 3000, from);
  // stdout is buffered: stop so every line is out
  expect(await server.stop()).toBe(0);
  return server.output();
}

describe("-d", () => {
  test("prints the variables, each query with its SQL, bound values and rows, and the reply", async () => {
    const out = await run(["-d"]);
    const lines = out.split("\n");
    const find = (re: RegExp) => lines.find((l) => re.test(l)) ?? "";
    // the packet's variables
    const vars = find(/DEBUG DISCOVER variables/);
    expect(vars).toContain(`ClientMacAddress=${MAC}`);
    expect(vars).toContain("op=DHCPDISCOVER");
    // each query's SQL (placeholders) and, per packet, its bound values and rows
    expect(find(/DEBUG query offer_1 sql/)).toContain("sql=\"select ip,mask,router,dns from users where mac=? and port='no-such-port'\"");
    expect(find(/DEBUG query offer_2 sql/)).toContain("where mac=?");
    const q1 = find(/DEBUG query offer_1 params/);
    expect(q1).toContain(MAC);
    expect(q1).toContain("rows=[]");
    const q2 = find(/DEBUG query offer_2 params/);
    expect(q2).toContain(MAC);
    expect(q2).toContain(ADDR);
    // the reply, with its options
    const reply = find(/DEBUG OFFER reply/);
    expect(reply).toContain(`yiaddr=${ADDR}`);
    expect(reply).toContain("option53=02");
    expect(reply).toContain("option54=c6120001");
    // in packet order: variables, offer_1, offer_2, reply
    const order = [/DISCOVER variables/, /query offer_1 params/, /query offer_2 params/, /OFFER reply/, /DISCOVER -> OFFER/].map((re) =>
      lines.findIndex((l) => re.test(l)),
    );
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  test("without -d none of it is printed", async () => {
    const out = await run([]);
    expect(out).toContain("DISCOVER -> OFFER");
    expect(out).not.toContain("DEBUG");
    expect(out).not.toContain("ClientMacAddress");
  });
});
