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
    // the packet's block: every line tagged with its xid, in order
    const tag = lines.find((l) => /DEBUG explain [0-9a-f]{8} \| packet: DISCOVER/.test(l));
    expect(tag).toBeDefined();
    const xid = /explain ([0-9a-f]{8})/.exec(tag!)![1]!;
    const block = lines.filter((l) => l.includes(`DEBUG explain ${xid} |`)).map((l) => l.slice(l.indexOf("|") + 2));
    const text = block.join("\n");
    // variables
    expect(text).toMatch(new RegExp(`^\\s+ClientMacAddress\\s+= ${MAC}$`, "m"));
    expect(text).toMatch(/^\s+op\s+= DHCPDISCOVER$/m);
    // each query: name, SQL as sent, the bound MAC, and its rows
    const at = (re: RegExp) => block.findIndex((l) => re.test(l));
    const q1 = at(/^\s+offer_1\s+no rows/);
    const q2 = at(/^\s+offer_2\s+1 row.*decided/);
    expect(q1).toBeGreaterThan(at(/^variables:/));
    expect(q2).toBeGreaterThan(q1);
    expect(block.slice(q1, q2).join("\n")).toContain("sql:    select ip,mask,router,dns from users where mac=? and port='no-such-port'");
    expect(block.slice(q1, q2).join("\n")).toContain(`values: [\\"${MAC}\\"]`);
    const q2text = block.slice(q2, q2 + 6).join("\n");
    expect(q2text).toContain("sql:    select ip,mask,router,dns from users where mac=?");
    expect(q2text).toContain(MAC);
    expect(q2text).toContain(`"ip\\":\\"${ADDR}`);
    // the reply
    expect(text).toContain(`reply: OFFER ${ADDR}`);
    expect(text).toMatch(/53 dhcp-message-type\s+2 \(DHCPOFFER\)/);
    expect(text).toMatch(/54 dhcp-server-identifier\s+198\.18\.0\.1/);
    // before the exchange line
    expect(lines.findIndex((l) => l.includes(`explain ${xid} | reply:`))).toBeLessThan(lines.findIndex((l) => /DISCOVER -> OFFER/.test(l)));
  });

  test("without -d none of it is printed", async () => {
    const out = await run([]);
    expect(out).toContain("DISCOVER -> OFFER");
    expect(out).not.toContain("DEBUG");
    expect(out).not.toContain("ClientMacAddress");
  });
});
