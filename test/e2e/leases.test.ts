/**
 * Leases you can see and control, with real clients in namespaces:
 *  - SQLite, udhcpc behind dhcrelay: after the DORA the lease shows in
 *    `pydhcp leases`, in GET /api/leases and on the help-desk page (Chromium
 *    in the server's namespace); `pydhcp lease release` makes the running
 *    server offer the address to the client the database now names.
 *  - MariaDB, two servers sharing one database: server B refuses an address
 *    server A leased (it learned the lease from the table), and deleting the
 *    row by hand frees it for B's client at B's next packet.
 *  - A listener on a namespace address (not loopback): /api/ answers 401
 *    without a configured token, and only the right Bearer with one.
 * The times from release/delete to the new client's lease are printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disposeAllClients, obtain, startClient } from "./clients.ts";
import { macHex } from "./dhcpwire.ts";
import { gate } from "./gate.ts";
import { type Topology, createDirect, createRelayed, destroyAll, nsRun, run, sweepStale, waitFor } from "./netns.ts";
import { type PydhcpServer, type TestDb, configXml, mysqlDb, pydhcpCommand, sqliteDb, startPydhcp, sweepStaleMysql, REPO } from "./pydhcp.ts";
import { type Relay, startRelay } from "./relay.ts";
import { browserMissing, launchBrowser } from "../support/browser.ts";

const skip = gate("leases", ["udhcpc", "dhcrelay", "ss", "mariadb"]);
const noBrowser = browserMissing();
if (noBrowser && process.env.CI === "true" && skip === null) throw new Error(`leases e2e: ${noBrowser} (CI=true: browser tests must run)`);

const T = 60_000;
const MPORT = 9167;
const DNS = "198.18.0.53";

/** config as the other e2e tests use, with the HTTP listener on the namespace's loopback */
function withMetrics(xml: string): string {
  return xml.replace("</config>", `  <metrics><host>127.0.0.1</host><port>${MPORT}</port></metrics>\n  <leases><syncInterval>1</syncInterval></leases>\n</config>`);
}

/** An HTTP request made from inside a namespace (the listener is on its loopback unless `host` says otherwise). */
async function nsHttp(ns: string, path: string, method = "GET", host = "127.0.0.1", headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const script = `const r = await fetch(${JSON.stringify(`http://${host}:${MPORT}${path}`)}, { method: ${JSON.stringify(method)}, headers: ${JSON.stringify(headers)} });
    console.log(JSON.stringify({ status: r.status, body: await r.text() }));`;
  const r = await nsRun(ns, [process.execPath, "-e", script], { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`fetch in ${ns} failed: ${r.stderr}`);
  const o = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { status: number; body: string };
  let body: unknown = o.body;
  try {
    body = JSON.parse(o.body);
  } catch {
    /* text */
  }
  return { status: o.status, body };
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const cmd = pydhcpCommand("unused").slice(0, -2);
  const r = await run([...cmd, ...args], { timeoutMs: 20_000 });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  if (skip) return;
  await sweepStale();
  await sweepStaleMysql();
});
afterAll(async () => {
  await disposeAllClients();
  await destroyAll();
});

describe.skipIf(skip !== null)("SQLite, udhcpc behind dhcrelay", () => {
  let topo: Topology;
  let db: TestDb;
  let server: PydhcpServer;
  let relay: Relay | undefined;
  let dir: string;
  let config: string;
  const M1 = "02:00:5e:30:00:01";
  const M2 = "02:00:5e:30:00:02";
  const X = "198.18.1.81";
  const Y = "198.18.1.82";
  const HOST = "pc-<i>Сергей</i>";

  beforeAll(async () => {
    topo = await createRelayed();
    dir = mkdtempSync(join(tmpdir(), `pde2e-leases-${process.pid}-`));
    const port = topo.relayDown!.ifname;
    db = await sqliteDb(dir, [
      { ip: X, mask: "255.255.255.0", router: "198.18.1.1", dns: DNS, mac: macHex(M1), port },
      { ip: Y, mask: "255.255.255.0", router: "198.18.1.1", dns: DNS, mac: macHex(M2), port },
    ]);
    relay = await startRelay(topo);
    server = await startPydhcp(topo, withMetrics(configXml({ serverId: topo.serverIp, leaseTime: 3600, db })), dir);
    config = server.configPath;
  }, T);
  afterAll(async () => {
    await disposeAllClients();
    await server?.stop();
    // its log directory goes with it
    await relay?.stop();
    await topo?.destroy();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("after the DORA the lease shows in pydhcp leases, GET /api/leases and the page", async () => {
    const got = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: M1, hostname: HOST });
    expect(got.lease.address).toBe(X);

    const fromCli = await waitFor(
      "the lease row",
      async () => {
        const r = await cli(["leases", "-c", config, "--mac", M1, "--json"]);
        return r.code === 0 && r.out.trim() ? JSON.parse(r.out.trim()) : undefined;
      },
      5000,
      200,
    );
    expect(fromCli).toMatchObject({ mac: M1, ip: X, state: "bound", relay: "198.18.1.1", circuitId: topo.relayDown!.ifname, hostname: HOST });
    const table = await cli(["leases", "-c", config]);
    expect(table.out).toContain(M1);
    expect(table.out).toMatch(new RegExp(`${X.replace(/\./g, "\\.")} +bound +.*\\(in 59m|\\(in 1h`));

    const api = await nsHttp(topo.serverNs, `/api/leases?mac=${M1}`);
    expect(api.status).toBe(200);
    expect(api.body.leases[0]).toMatchObject({ mac: M1, ip: X, relay: "198.18.1.1", hostname: HOST });

    if (noBrowser) {
      console.warn(`[e2e] leases: page check skipped: ${noBrowser}`);
      return;
    }
    const b = await launchBrowser(topo.serverNs);
    try {
      const page = await b.browser.newPage({ viewport: { width: 1200, height: 720 } });
      await page.goto(`http://127.0.0.1:${MPORT}/?mac=${M1}`);
      await page.waitForSelector("#leases tbody tr");
      await page.waitForSelector("#exchanges .ex");
      const cells = await page.$$eval("#leases tbody tr td", (tds) => tds.map((t) => t.textContent));
      expect(cells[0]).toBe(M1);
      expect(cells[1]).toBe(X);
      expect(cells[4]).toBe(HOST);
      expect(cells[5]).toBe("198.18.1.1");
      expect(cells[7]).toBe(topo.relayDown!.ifname);
      expect(await page.$$eval("i", (e) => e.length)).toBe(0);
      if (process.env.PYDHCP_SCREENSHOT) {
        await page.$eval("#exchanges .ex details", (d) => d.setAttribute("open", ""));
        await page.screenshot({ path: join(REPO, "docs/help-desk.png"), fullPage: false });
      }
      await page.close();
    } finally {
      await b.close();
    }
  }, T);

  test("a client back with a full DORA within a quarter of its lease gets the time left; its row is not written, its history is (<leases><cacheThreshold>)", async () => {
    const lease = async () => {
      const r = await cli(["leases", "-c", config, "--mac", M2, "--json"]);
      return r.code === 0 && r.out.trim() ? (JSON.parse(r.out.trim()) as { ip: string; state: string; expires: number; lastSeen: number }) : undefined;
    };
    // history_sql runs for the OFFER and the ACK, as pydhcpdb's does
    const rows = async () => (await db.history()).filter((h) => h.mac.toLowerCase() === macHex(M2) && h.comment === "DHCPACK/INFORM").length;
    const first = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: M2 });
    expect(first.lease.address).toBe(Y);
    expect(first.lease.leaseTime).toBe(3600);
    await first.run.dispose();
    const before = await waitFor("the lease row", async () => ((await lease())?.state === "bound" ? lease() : undefined), 5000, 200);
    await waitFor("the first DORA's history rows", async () => ((await rows()) === 2 ? true : undefined), 5000, 200);
    // two seconds of the lease used: what the client is told must show it
    await Bun.sleep(2100);
    const again = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: M2 });
    const told = again.lease.leaseTime!;
    await again.run.dispose();
    expect(again.lease.address).toBe(Y);
    expect(told).toBeLessThan(3600);
    expect(Math.abs(told - (before!.expires - Math.floor(Date.now() / 1000)))).toBeLessThanOrEqual(2);
    await waitFor("the second DORA's history rows", async () => ((await rows()) === 4 ? true : undefined), 5000, 200);
    // a lease write would have moved both within the 100 ms flush; the table is read after two
    await Bun.sleep(300);
    const after = await lease();
    expect({ ip: after!.ip, state: after!.state, expires: after!.expires, lastSeen: after!.lastSeen }).toEqual({ ip: Y, state: "bound", expires: before!.expires, lastSeen: before!.lastSeen });
    const m = (await nsHttp(topo.serverNs, "/metrics")).body as string;
    expect(/^pydhcp_leases_reused_total (\S+)$/m.exec(m)?.[1]).toBe("1");
    expect(await server.log()).toContain("lease reused");
  }, T);
});

describe.skipIf(skip !== null)("SQLite, udhcpc on the server's link", () => {
  let topo: Topology;
  let db: TestDb;
  let server: PydhcpServer;
  let dir: string;
  let config: string;
  const M1 = "02:00:5e:30:00:05";
  const M2 = "02:00:5e:30:00:06";
  const X = "198.18.0.85";
  const Y = "198.18.0.86";

  beforeAll(async () => {
    topo = await createDirect();
    dir = mkdtempSync(join(tmpdir(), `pde2e-leases-${process.pid}-`));
    db = await sqliteDb(dir, [
      { ip: X, mask: "255.255.255.0", router: "198.18.0.1", dns: DNS, mac: macHex(M1), port: "" },
      { ip: Y, mask: "255.255.255.0", router: "198.18.0.1", dns: DNS, mac: macHex(M2), port: "" },
    ]);
    server = await startPydhcp(topo, withMetrics(configXml({ serverId: topo.serverIp, leaseTime: 3600, db })), dir);
    config = server.configPath;
  }, T);
  afterAll(async () => {
    await disposeAllClients();
    await server?.stop();
    await topo?.destroy();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("pydhcp lease release: the running server offers the address to the client the database now names", async () => {
    const got = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: M1 });
    expect(got.lease.address).toBe(X);
    // M1's client goes away without releasing: its lease stays in the table
    await disposeAllClients();
    await db.setUserIp(macHex(M2), "", X);
    const from = (await server.log()).length;
    const c2 = await startClient("udhcpc", topo.clientNs, topo.client.ifname, { mac: M2 });
    // held by M1: refused, and the server says why
    await waitFor("address-in-use", async () => ((await server.log()).slice(from).includes("address-in-use") ? true : undefined), 8000, 100);
    expect((await c2.events()).some((e) => e.reason === "bound")).toBe(false);
    const t0 = performance.now();
    const rel = await cli(["lease", "release", "-c", config, "--ip", X]);
    expect(rel.code).toBe(0);
    expect(rel.out).toContain(`released ${X}`);
    const t1 = performance.now();
    const lease = await c2.waitBound(10_000);
    const ms = performance.now() - t0;
    expect(lease.address).toBe(X);
    console.log(
      `[e2e] leases: pydhcp lease release -> ${X} bound by the newly named client in ${ms.toFixed(0)} ms ` +
        `(${(t1 - t0).toFixed(0)} ms of it the CLI itself; udhcpc retries DISCOVER every 1 s)`,
    );
    expect(ms).toBeLessThan(5000);
  }, T);
});

describe.skipIf(skip !== null)("MariaDB, two servers sharing one database", () => {
  let a: Topology;
  let b: Topology;
  let db: TestDb;
  let sa: PydhcpServer;
  let sb: PydhcpServer;
  const M3 = "02:00:5e:30:00:03";
  const M4 = "02:00:5e:30:00:04";
  const X = "198.18.0.83";
  const Y = "198.18.0.84";

  beforeAll(async () => {
    a = await createDirect();
    b = await createDirect();
    db = await mysqlDb([
      { ip: X, mask: "255.255.255.0", router: "198.18.0.1", dns: DNS, mac: macHex(M3), port: "" },
      { ip: Y, mask: "255.255.255.0", router: "198.18.0.1", dns: DNS, mac: macHex(M4), port: "" },
    ]);
    sa = await startPydhcp(a, withMetrics(configXml({ serverId: a.serverIp, leaseTime: 3600, db })));
    sb = await startPydhcp(b, withMetrics(configXml({ serverId: b.serverIp, leaseTime: 3600, db })));
  }, T);
  afterAll(async () => {
    await disposeAllClients();
    await sa?.stop();
    await sb?.stop();
    await a?.destroy();
    await b?.destroy();
    await db?.drop();
    for (const s of [sa, sb]) if (s) rmSync(s.dir, { recursive: true, force: true });
  });

  test("B refuses what A leased; deleting the row frees it for B's client at B's next packet", async () => {
    const got = await obtain("udhcpc", a.clientNs, a.client.ifname, { mac: M3 });
    expect(got.lease.address).toBe(X);
    // B sees A's lease in the table, and in its own memory within the sync interval
    await waitFor(
      "B to list A's lease",
      async () => {
        const r = await nsHttp(b.serverNs, `/api/leases?mac=${M3}`);
        return r.body.leases?.[0]?.ip === X ? true : undefined;
      },
      5000,
      200,
    );
    await db.setUserIp(macHex(M4), "", X);
    const e1 = await waitFor(
      "B's explain to refuse",
      async () => {
        const r = await nsHttp(b.serverNs, `/api/explain?mac=${M4}`);
        return r.body.reason === "address-in-use" ? r.body : undefined;
      },
      5000,
      200,
    );
    expect(e1.note).toContain(macHex(M3));
    const from = (await sb.log()).length;
    const c4 = await startClient("udhcpc", b.clientNs, b.client.ifname, { mac: M4 });
    await waitFor("B refuses", async () => ((await sb.log()).slice(from).includes("address-in-use") ? true : undefined), 8000, 100);
    expect((await c4.events()).some((e) => e.reason === "bound")).toBe(false);

    const t0 = performance.now();
    await db.run("DELETE FROM pydhcp_lease WHERE ip = ?", [X]);
    const lease = await c4.waitBound(10_000);
    const ms = performance.now() - t0;
    expect(lease.address).toBe(X);
    console.log(`[e2e] leases: row deleted by hand -> ${X} bound through the other server in ${ms.toFixed(0)} ms (udhcpc retries DISCOVER every 1 s)`);
    expect(ms).toBeLessThan(5000);
    // and A learns B's lease back
    await waitFor(
      "A to list B's lease",
      async () => {
        const r = await nsHttp(a.serverNs, `/api/leases?ip=${X}`);
        return r.body.leases?.some((l: { mac: string; state: string }) => l.mac === M4 && l.state === "bound") ? true : undefined;
      },
      5000,
      200,
    );
  }, T);
});

describe.skipIf(skip !== null)("a listener that is not loopback", () => {
  let topo: Topology;
  let db: TestDb;
  let dir: string;
  const TOKEN = "e2e-token-" + "c".repeat(22);

  beforeAll(async () => {
    topo = await createDirect();
    dir = mkdtempSync(join(tmpdir(), `pde2e-leases-tok-${process.pid}-`));
    db = await sqliteDb(dir, [{ ip: "198.18.0.87", mask: "255.255.255.0", router: "198.18.0.1", dns: DNS, mac: "02005e300007", port: "" }]);
  }, T);
  afterAll(async () => {
    await topo?.destroy();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** the listener answers (stdout and stderr share the log file, so its lines are not waited for) */
  const httpUp = () =>
    waitFor("the HTTP listener", async () => ((await nsHttp(topo.serverNs, "/health", "GET", topo.serverIp).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 10_000, 100);

  const config = (token: string) =>
    configXml({ serverId: topo.serverIp, leaseTime: 3600, db }).replace(
      "</config>",
      `  <metrics><host>${topo.serverIp}</host><port>${MPORT}</port>${token}</metrics>\n</config>`,
    );

  test("without <token> every /api/ request is 401 (and /metrics still answers); with it, only the right Bearer passes", async () => {
    const open = await startPydhcp(topo, config(""), dir);
    try {
      await httpUp();
      expect((await open.log())).toContain("http /api/ is closed: the listener is not loopback");
      for (const path of ["/api/leases", "/api/counters", "/api/exchanges", "/api/explain?mac=02005e300007"]) {
        const r = await nsHttp(topo.serverNs, path, "GET", topo.serverIp);
        expect([path, r.status]).toEqual([path, 401]);
      }
      expect((await nsHttp(topo.serverNs, "/api/leases/198.18.0.87", "DELETE", topo.serverIp)).status).toBe(401);
      expect((await nsHttp(topo.serverNs, "/metrics", "GET", topo.serverIp)).status).toBe(200);
    } finally {
      await open.stop();
    }
    const closed = await startPydhcp(topo, config(`<token>${TOKEN}</token>`), dir);
    try {
      await httpUp();
      expect((await nsHttp(topo.serverNs, "/api/leases", "GET", topo.serverIp)).status).toBe(401);
      expect((await nsHttp(topo.serverNs, "/api/leases", "GET", topo.serverIp, { authorization: "Bearer wrong-wrong-wrong-wrong" })).status).toBe(401);
      const ok = await nsHttp(topo.serverNs, "/api/leases", "GET", topo.serverIp, { authorization: `Bearer ${TOKEN}` });
      expect(ok.status).toBe(200);
      expect(ok.body.leases).toEqual([]);
    } finally {
      await closed.stop();
    }
  }, T);
});
