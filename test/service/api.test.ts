/**
 * The HTTP API of the running server (loopback, SQLite, the test client):
 * the token on every /api/ endpoint, leases after a real DORA, the exchange
 * ring with its explanations, /api/explain agreeing with the server and
 * changing nothing, DELETE /api/leases/{ip} freeing an address for the
 * client the database now names, the event stream, and bad requests of
 * every kind (wrong token, oversized, non-ASCII, SQL in parameters).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { rawHttp } from "../support/rawhttp.ts";
import { pydhcpCommand, startServer, type RunningServer } from "../support/server.ts";
import { configXml, freeTcpPort, freeUdpPort, makeSqlite, messageType, nextXid, sqliteRows } from "./helpers.ts";

const TOKEN = "t0ken-" + "a".repeat(26);
const A = "020000aa0001";
const B = "020000aa0002";
const X = "198.18.5.10";
const Y = "198.18.5.11";
const EVIL_HOST = '<script>alert("x")</script>';

let dir: string;
let server: RunningServer;
let c: TestClient;
let port: number;
let mport: number;
let base: string;
const auth = { authorization: `Bearer ${TOKEN}` };

async function get(path: string, headers: Record<string, string> = auth, method = "GET") {
  const r = await fetch(base + path, { headers, method });
  const text = await r.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, body, text, headers: r.headers };
}

async function dora(mac: string, hostname?: Uint8Array): Promise<string | null> {
  const opts: [number, Uint8Array][] = hostname ? [[12, hostname]] : [];
  const xid = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac, xid, options: opts }), port);
  const o = await c.reply(xid, 2000);
  if (messageType(o) !== MessageType.OFFER) return null;
  c.send(buildRequest({ type: MessageType.REQUEST, mac, xid, options: [...opts, [54, ip("198.18.0.1")], [50, ip(o!.yiaddr)]] }), port);
  const a = await c.reply(xid, 2000);
  return messageType(a) === MessageType.ACK ? a!.yiaddr : null;
}

/** `pydhcp --explain -c <the server's config> --mac MAC`: its output. */
async function cliExplain(mac: string): Promise<string> {
  const p = Bun.spawn([...pydhcpCommand(), "--explain", "-c", server.configPath, "--mac", mac], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return out + err;
}

async function offer(mac: string, timeoutMs = 1500): Promise<string | null> {
  const xid = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac, xid }), port);
  const o = await c.reply(xid, timeoutMs);
  return messageType(o) === MessageType.OFFER ? o!.yiaddr : null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdsvc-api-${process.pid}-`));
  makeSqlite(join(dir, "t.db"), [[A, X], [B, Y]]);
  c = await testClient();
  port = await freeUdpPort();
  mport = freeTcpPort();
  base = `http://127.0.0.1:${mport}`;
  const cfg = configXml({ port, clientPort: c.port, database: `<database><sqlite><path>{dir}/t.db</path></sqlite></database>`, rateLimit: false })
    .replace("</config>", `<metrics><host>127.0.0.1</host><port>${mport}</port><token>${TOKEN}</token></metrics></config>`);
  server = await startServer({ config: cfg, dir, ready: /http listening/ });
});
afterAll(async () => {
  await server?.close();
  c?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ENDPOINTS: [string, string][] = [
  ["GET", "/api/leases"],
  ["GET", `/api/leases?mac=${A}`],
  ["DELETE", `/api/leases/${X}`],
  ["GET", `/api/explain?mac=${A}`],
  ["GET", "/api/exchanges"],
  ["GET", "/api/exchanges/stream"],
  ["GET", "/api/counters"],
  ["GET", "/api/nope"],
];

describe("the token", () => {
  for (const [method, path] of ENDPOINTS) {
    test(`${method} ${path}: 401 without a token and with a wrong one`, async () => {
      const tries: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token-wrong-token" }, { authorization: TOKEN }, { authorization: `Basic ${btoa("x:" + TOKEN)}` }, { authorization: `Bearer ${TOKEN}x` }];
      for (const h of tries) {
        const r = await get(path, h, method);
        expect(r.status).toBe(401);
        expect(r.headers.get("www-authenticate")).toBe('Bearer realm="pydhcp"');
      }
    });
  }

  test("/metrics, /health and the page need none", async () => {
    expect((await get("/metrics", {})).status).toBe(200);
    expect((await get("/health", {})).status).toBe(200);
    const page = await get("/", {});
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.text).toContain("pydhcp help desk");
  });
});

describe("leases and exchanges after a DORA", () => {
  test("the lease shows in GET /api/leases with its host name as text, and in the table", async () => {
    expect(await dora(A, new TextEncoder().encode(EVIL_HOST))).toBe(X);
    const r = await get(`/api/leases?mac=${A.match(/../g)!.join(":")}`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(r.body.leases).toHaveLength(1);
    expect(r.body.leases[0]).toMatchObject({ mac: "02:00:00:aa:00:01", ip: X, state: "bound", hostname: EVIL_HOST });
    expect(r.body.leases[0].expiresIn).toMatch(/^in 5\dm|^in 1h/);
    // the server writes leases off the reply path, every 100 ms (a loaded machine may take longer)
    const row = () => sqliteRows<{ ip: string; hostname: string }>(join(dir, "t.db"), "select ip, hostname from pydhcp_lease where mac = ?", A);
    for (let i = 0; i < 30 && row().length === 0; i++) await Bun.sleep(100);
    expect(row()).toEqual([{ ip: X, hostname: EVIL_HOST }]);
    expect((await get(`/api/leases?ip=${X}`)).body.leases.map((l: { mac: string }) => l.mac)).toEqual(["02:00:00:aa:00:01"]);
  });

  test("GET /api/exchanges?mac= has the DISCOVER and REQUEST with their explanations", async () => {
    const r = await get(`/api/exchanges?mac=${A}`);
    expect(r.status).toBe(200);
    const xs = r.body.exchanges as any[];
    expect(xs.map((x) => `${x.type}->${x.result}`)).toEqual(["REQUEST->ACK", "DISCOVER->OFFER"]);
    const d = xs[1];
    expect(d).toMatchObject({ mac: "02:00:00:aa:00:01", ip: X, query: "offer_1", hostname: EVIL_HOST });
    expect(d.queries[0]).toMatchObject({ name: "offer_1", params: [A], rowCount: 1 });
    expect(d.queries[0].rows[0].ip).toBe(X);
    expect(d.explanation).toContain("decision:");
    expect(d.explanation).toContain("offer_1");
    expect(d.variables.hostname_text).toBe(EVIL_HOST);
    // the ring of another client is not this one's
    expect((await get(`/api/exchanges?mac=${B}`)).body.exchanges).toEqual([]);
    // what the ring keeps, for the help-desk page to say
    expect(r.body.keeps).toEqual({ capacity: 1000, busySize: 200, busyRate: 1000 });
  });

  test("/api/counters counts the exchanges", async () => {
    const r = await get("/api/counters");
    expect(r.status).toBe(200);
    expect(r.body.receivedTotal).toBeGreaterThanOrEqual(2);
    expect(r.body.sentTotal).toBeGreaterThanOrEqual(2);
    expect(r.body.leasesInMemory).toBeGreaterThanOrEqual(1);
  });
});

describe("explain and release", () => {
  test("explain agrees with the server, changes nothing, and DELETE frees the address for the client the database now names", async () => {
    // the subscriber moved: B is now given X, which A still holds
    const db = new Database(join(dir, "t.db"));
    db.query("update users set ip = ? where mac = ?").run(X, B);
    db.close();
    const e1 = await get(`/api/explain?mac=${B}`);
    expect(e1.status).toBe(200);
    expect(e1.body).toMatchObject({ type: "DISCOVER", result: "no reply", reason: "address-in-use", query: "offer_1" });
    expect(await offer(B, 800)).toBeNull();
    // pydhcp --explain, a separate process reading the table, agrees
    expect(await cliExplain(B)).toMatch(/address-in-use/);
    // explaining a REQUEST grants nothing
    const e2 = await get(`/api/explain?mac=${B}&type=REQUEST&requested_ip=${Y}`);
    expect(e2.status).toBe(200);
    expect((await get(`/api/leases?mac=${B}`)).body.leases).toEqual([]);

    const t0 = performance.now();
    const del = await get(`/api/leases/${X}`, auth, "DELETE");
    expect(del.status).toBe(200);
    expect(del.body.released[0]).toMatchObject({ ip: X, mac: "02:00:00:aa:00:01", state: "released" });
    const e3 = await get(`/api/explain?mac=${B}`);
    expect(e3.body).toMatchObject({ result: "OFFER", ip: X });
    expect(await offer(B)).toBe(X);
    expect(await cliExplain(B)).toMatch(new RegExp(`reply: OFFER ${X.replace(/\./g, "\\.")}`));
    console.log(`[api] DELETE to the next OFFER of ${X} to the newly named client: ${(performance.now() - t0).toFixed(0)} ms`);
    expect((await get(`/api/leases/${X}`, auth, "DELETE")).status).toBe(404);
  });
});

describe("the event stream", () => {
  test("an exchange arrives as an event while the stream is open", async () => {
    const ctl = new AbortController();
    const r = await fetch(`${base}/api/exchanges/stream?mac=${B}`, { headers: auth, signal: ctl.signal });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = r.body!.getReader();
    let text = "";
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
        if (text.includes("event: exchange")) return;
      }
    })();
    await Bun.sleep(100);
    await offer(B);
    await Promise.race([read, Bun.sleep(3000)]);
    ctl.abort();
    expect(text).toContain("event: hello");
    const line = text.split("\n").find((l) => l.startsWith("data: {") && l.includes('"type":"DISCOVER"'))!;
    expect(JSON.parse(line.slice(6))).toMatchObject({ mac: "02:00:00:aa:00:02", result: "OFFER" });
  });
});

describe("bad requests get a 4xx and a reason", () => {
  const cases: [string, string, number, RegExp][] = [
    ["a MAC that is not one", "/api/leases?mac=zz:zz", 400, /not a MAC/],
    ["SQL in mac", "/api/leases?mac=" + encodeURIComponent("' OR '1'='1"), 400, /not a MAC/],
    ["SQL in ip", "/api/leases?ip=" + encodeURIComponent("1.1.1.1' OR 1=1 --"), 400, /not an IPv4/],
    ["SQL in relay", "/api/leases?relay=" + encodeURIComponent("x'; DROP TABLE pydhcp_lease; --"), 400, /neither/],
    ["port without relay", "/api/leases?port=6", 400, /needs relay/],
    ["port not a number", "/api/leases?relay=198.18.1.1&port=6%20OR%201", 400, /not a port/],
    ["unknown parameter", "/api/leases?hostname=x", 400, /unknown parameter/],
    ["repeated parameter", `/api/leases?mac=${A}&mac=${B}`, 400, /twice/],
    ["non-ASCII value", "/api/leases?mac=" + encodeURIComponent("Сергей"), 400, /not a MAC/],
    ["long value", "/api/leases?mac=" + "a".repeat(700), 400, /longer than/],
    ["DELETE of not an address", "/api/leases/" + encodeURIComponent("1' OR '1'='1"), 400, /not an IPv4/],
    ["explain without mac", "/api/explain", 400, /needs a packet|mac/],
    ["explain with a bad giaddr", `/api/explain?mac=${A}&giaddr=` + encodeURIComponent("1.2.3.4; drop"), 400, /giaddr/],
    ["explain with circuit_id but no giaddr", `/api/explain?mac=${A}&circuit_id=eth0`, 400, /giaddr/],
    ["exchanges with a bad mac", "/api/exchanges?mac=" + encodeURIComponent("<script>"), 400, /not a MAC/],
    ["exchanges with a bad limit", "/api/exchanges?limit=-1", 400, /limit/],
    ["stream with an unknown parameter", "/api/exchanges/stream?x=1", 400, /unknown parameter/],
    ["counters with a parameter", "/api/counters?x=1", 400, /unknown parameter/],
    ["no such endpoint", "/api/leasez", 404, /no such endpoint/],
  ];
  for (const [name, path, status, re] of cases) {
    test(name, async () => {
      const r = await get(path, auth, path.startsWith("/api/leases/") ? "DELETE" : "GET");
      expect(r.status).toBe(status);
      expect(r.body.error).toMatch(re);
      // the error never echoes markup back unescaped as HTML: it is JSON
      expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    });
  }

  test("wrong methods", async () => {
    expect((await get("/api/leases", auth, "DELETE")).status).toBe(405);
    expect((await get(`/api/leases/${X}`, auth, "GET")).status).toBe(405);
    expect((await get("/api/explain", auth, "DELETE")).status).toBe(405);
  });

  test("oversized query: 414 from the listener, the server keeps serving", async () => {
    const r = await rawHttp(mport, `GET /api/leases?mac=${"a".repeat(9000)} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`, 1);
    expect(r.responses[0]?.status).toBe(414);
    expect((await get("/api/counters")).status).toBe(200);
  });

  test("the lease table is intact after all of it", () => {
    const n = sqliteRows<{ n: number }>(join(dir, "t.db"), "select count(*) as n from pydhcp_lease")[0]!.n;
    expect(n).toBeGreaterThanOrEqual(1);
  });

  test("pipelined API requests with the token come back in order", async () => {
    const h = `Host: t\r\nAuthorization: Bearer ${TOKEN}\r\n`;
    const r = await rawHttp(mport, `GET /api/leases?mac=${A} HTTP/1.1\r\n${h}\r\nGET /api/counters HTTP/1.1\r\n${h}\r\nGET /health HTTP/1.1\r\n${h}\r\n`, 3);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(r.responses[0]!.body).leases).toBeDefined();
    expect(JSON.parse(r.responses[1]!.body).receivedTotal).toBeGreaterThan(0);
    expect(r.responses[2]!.body).toBe("ok\n");
  });
});
