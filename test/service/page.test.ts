/**
 * The help-desk page in a real headless Chromium against the running server
 * (loopback, SQLite, the test client): search a MAC that just got a lease,
 * see its address, host name, the exchanges with their explanation and the
 * counters; a host name carrying markup and script is shown as text and
 * runs nothing; a token-protected server asks for the token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { browserMissing, launchBrowser } from "../support/browser.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { configXml, freeTcpPort, freeUdpPort, makeSqlite, messageType, nextXid } from "./helpers.ts";

// functions passed to waitForFunction run in the page; this file compiles without the DOM
// types, so they reach the document through globalThis

const missing = browserMissing();
if (missing && process.env.CI === "true") throw new Error(`page tests: ${missing} (CI=true: browser tests must run)`);
if (missing) console.warn(`[page] skipped: ${missing}`);

const MAC = "020000dd0001";
const ADDR = "198.18.8.10";
// markup, an inline handler and a script: each must arrive on the page as text
const EVIL = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>&amp;`;
const TOKEN = "page-token-" + "b".repeat(21);

describe.skipIf(missing !== null)("help-desk page in Chromium", () => {
  let dir: string;
  let c: TestClient;
  let port: number;
  let server: RunningServer;
  let base: string;
  let close: () => Promise<void>;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `pdsvc-page-${process.pid}-`));
    makeSqlite(join(dir, "t.db"), [[MAC, ADDR]]);
    c = await testClient();
    port = await freeUdpPort();
    const mport = freeTcpPort();
    base = `http://127.0.0.1:${mport}`;
    const cfg = configXml({ port, clientPort: c.port, database: `<database><sqlite><path>{dir}/t.db</path></sqlite></database>`, rateLimit: false }).replace(
      "</config>",
      `<metrics><host>127.0.0.1</host><port>${mport}</port><token>${TOKEN}</token></metrics></config>`,
    );
    server = await startServer({ config: cfg, dir, ready: /http listening/ });
    ({ browser, close } = await launchBrowser());
    // a DORA carrying the hostile host name
    const host = new TextEncoder().encode(EVIL);
    const xid = nextXid();
    c.send(buildRequest({ type: MessageType.DISCOVER, mac: MAC, xid, options: [[12, host]] }), port);
    const o = await c.reply(xid, 2000);
    expect(messageType(o)).toBe(MessageType.OFFER);
    c.send(buildRequest({ type: MessageType.REQUEST, mac: MAC, xid, options: [[12, host], [54, ip("198.18.0.1")], [50, ip(ADDR)]] }), port);
    expect(messageType(await c.reply(xid, 2000))).toBe(MessageType.ACK);
  }, 60_000);
  afterAll(async () => {
    await close?.();
    await server?.close();
    c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("asks for the token, then shows the lease, the exchanges and the counters; markup stays text", async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => void dialogs.push(d.message()));
    await page.goto(base + "/");
    await page.fill("#q", "02:00:00:dd:00:01");
    await page.click("button[type=submit]");
    await page.waitForSelector("#tokenbox", { state: "visible" });
    // the status line is written just after the field shows
    await page.waitForFunction(() => String((globalThis as any).document.getElementById("status").textContent).includes("needs an API token"));
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector("#leases tbody tr");
    const cells = await page.$$eval("#leases tbody tr td", (tds) => tds.map((t) => t.textContent));
    expect(cells[0]).toBe("02:00:00:dd:00:01");
    expect(cells[1]).toBe(ADDR);
    expect(cells[2]).toBe("bound");
    expect(cells[3]).toMatch(/\(in 5\dm|\(in 1h/);
    expect(cells[4]).toBe(EVIL);
    await page.waitForSelector("#exchanges .ex");
    const ex = await page.$$eval("#exchanges .ex .head", (hs) => hs.map((h) => h.textContent));
    expect(ex[0]).toContain("REQUEST → ACK " + ADDR);
    expect(ex[1]).toContain("DISCOVER → OFFER " + ADDR);
    expect(ex[1]).toContain("decided by offer_1");
    const explanation = await page.$eval("#exchanges .ex details pre", (p) => p.textContent);
    expect(explanation).toContain("decision:");
    // nothing from the packet became markup or ran
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    expect(await page.$$eval("script", (s) => s.length)).toBe(1);
    expect(await page.$$eval("img", (s) => s.length)).toBe(0);
    expect(dialogs).toEqual([]);
    await page.waitForFunction(() => Number((globalThis as any).document.getElementById("c-rx").textContent) >= 2);
    await page.close();
  }, 60_000);

  test("a search with nothing found says so; a bad MAC gets the server's reason", async () => {
    const page = await browser.newPage();
    await page.goto(base + "/");
    await page.evaluate(`sessionStorage.setItem("pydhcp-token", ${JSON.stringify(TOKEN)})`);
    await page.goto(base + "/?ip=198.18.8.99");
    await page.waitForFunction(() => String((globalThis as any).document.getElementById("status").textContent).includes("no lease found"));
    // a MAC the server never saw: the exchanges part says how many exchanges it looked through
    await page.goto(base + "/?mac=02:00:5e:00:00:99");
    await page.waitForSelector("#exchanges p.muted");
    // the sizes come from the server (GET /api/exchanges "keeps"), not from the page's text
    expect(await page.textContent("#exchanges p.muted")).toMatch(/^no exchanges with this client among the last [1-9]\d* the server keeps \(1000, or 200 while more than 1000 a second come\)$/);
    await page.fill("#q", "");
    await page.fill("#relay", "not-a-switch'--");
    await page.fill("#port", "3");
    await page.click("button[type=submit]");
    await page.waitForFunction(() => (globalThis as any).document.getElementById("status").className === "error");
    expect(await page.textContent("#status")).toContain("neither an IPv4 address nor a MAC address");
    await page.close();
  }, 60_000);

  test("readable on a phone: the table becomes one card per lease", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await page.goto(base + "/");
    await page.evaluate(`sessionStorage.setItem("pydhcp-token", ${JSON.stringify(TOKEN)})`);
    await page.goto(base + "/?mac=" + MAC);
    await page.waitForSelector("#leases tbody tr");
    const width = Number(await page.evaluate("document.documentElement.scrollWidth"));
    expect(width).toBeLessThanOrEqual(390);
    await page.close();
  }, 60_000);
});
