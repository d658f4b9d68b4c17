/**
 * The HTTP/1.1 listener over raw TCP: pipelined and keep-alive requests are
 * answered in order (Bun.serve answered none of two pipelined /health
 * requests whose handler awaited), and bad requests get a status and a
 * closed connection, never a hang or a crash.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { startHttp1, type EventSink, type Http1Server } from "../../../src/service/http1.ts";
import { startHttp, type HttpHandle } from "../../../src/service/http.ts";
import { createMetrics } from "../../../src/service/metrics.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { memorySink } from "../../../src/log/sink.ts";
import { rawHttp } from "../../support/rawhttp.ts";

const servers: { stop(): unknown }[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

function echo(opts: { delayMs?: number; maxHead?: number } = {}): Http1Server {
  const s = startHttp1({
    host: "127.0.0.1",
    port: 0,
    ...(opts.maxHead ? { maxHead: opts.maxHead } : {}),
    async handler(req) {
      // later requests answer sooner: order must come from the server, not timing
      const n = Number(req.query.get("n") ?? 0);
      await Bun.sleep((opts.delayMs ?? 0) / (n + 1));
      if (req.path === "/boom") throw new Error("handler failure");
      return { status: 200, headers: { "content-type": "text/plain" }, body: `${req.method} ${req.path} n=${n} ${JSON.stringify([...req.query])}` };
    },
    onError() {},
  });
  servers.push(s);
  return s;
}

const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

describe("pipelining and keep-alive", () => {
  test("two pipelined /health requests on the real listener: two 200s, in order", async () => {
    const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
    const h: HttpHandle = startHttp({
      host: "127.0.0.1",
      port: 0,
      metrics: createMetrics(),
      log,
      health: async () => {
        await Bun.sleep(20);
        return true;
      },
    });
    servers.push(h);
    const r = await rawHttp(h.port, get("/health") + get("/metrics"), 2);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(r.responses[0]!.body).toBe("ok\n");
    expect(r.responses[1]!.body).toContain("# TYPE pydhcp_packets_received_total counter");
  });

  test("five pipelined requests whose handlers finish in reverse order come back in request order", async () => {
    const s = echo({ delayMs: 100 });
    const payload = [0, 1, 2, 3, 4].map((n) => get(`/x?n=${n}`)).join("");
    const r = await rawHttp(s.port, payload, 5);
    expect(r.responses.map((x) => x.body.split(" ")[2])).toEqual(["n=0", "n=1", "n=2", "n=3", "n=4"]);
  });

  test("a request split across TCP segments, then a second on the same connection", async () => {
    const s = echo();
    let raw = "";
    const done = Promise.withResolvers<void>();
    const sock = await Bun.connect({
      hostname: "127.0.0.1",
      port: s.port,
      socket: {
        data(_s, d) {
          raw += Buffer.from(d).toString();
          if ((raw.match(/HTTP\/1\.1 200/g) ?? []).length === 2) done.resolve();
        },
      },
    });
    sock.write("GET /a?n=1 HT");
    await Bun.sleep(30);
    sock.write("TP/1.1\r\nHost: t\r\n\r\n");
    await Bun.sleep(30);
    sock.write(get("/b?n=2"));
    await Promise.race([done.promise, Bun.sleep(2000)]);
    sock.end();
    expect(raw).toContain("GET /a n=1");
    expect(raw).toContain("GET /b n=2");
    expect(raw.indexOf("GET /a")).toBeLessThan(raw.indexOf("GET /b"));
  });

  test("HEAD has the length but no body; Connection: close closes after the answer", async () => {
    const s = echo();
    const r = await rawHttp(s.port, `HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n` + get("/c", "Connection: close\r\n") + get("/never"), 9, 2000);
    expect(r.raw.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    expect(r.raw).toContain("GET /c n=0");
    expect(r.raw).not.toContain("/never");
    expect(r.raw).not.toContain("HEAD /h");
    expect(r.closed).toBe(true);
  });

  test("HTTP/1.0 without keep-alive closes", async () => {
    const s = echo();
    const r = await rawHttp(s.port, "GET /old HTTP/1.0\r\n\r\n", 2, 2000);
    expect(r.responses.length).toBe(1);
    expect(r.closed).toBe(true);
  });

  test("a handler that throws answers 500 and the connection keeps serving", async () => {
    const s = echo();
    const r = await rawHttp(s.port, get("/boom") + get("/ok"), 2);
    expect(r.responses.map((x) => x.status)).toEqual([500, 200]);
  });
});

describe("bad requests: a status and a closed connection", () => {
  const cases: [string, string | Uint8Array, number][] = [
    ["garbage request line", "HELLO\r\n\r\n", 400],
    ["absolute-form target", "GET http://x/ HTTP/1.1\r\nHost: t\r\n\r\n", 400],
    ["raw non-ASCII bytes in the target", Buffer.concat([Buffer.from("GET /api/leases?mac="), Buffer.from("Сергей", "utf8"), Buffer.from(" HTTP/1.1\r\nHost: t\r\n\r\n")]), 400],
    ["header without colon", "GET / HTTP/1.1\r\nHost t\r\n\r\n", 400],
    ["chunked body", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501],
    ["negative content-length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400],
    ["huge content-length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413],
    ["oversized query", get("/api/leases?mac=" + "a".repeat(20000)), 414],
    ["oversized headers", "GET / HTTP/1.1\r\n" + "X-A: b\r\n".repeat(3000) + "\r\n", 431],
    ["bad percent-encoding in the path", get("/api/%zz"), 400],
  ];
  for (const [name, payload, status] of cases) {
    test(name, async () => {
      const s = echo();
      const r = await rawHttp(s.port, payload, 1, 2000);
      expect(r.responses[0]?.status).toBe(status);
      expect(r.responses[0]?.headers.get("connection")).toBe("close");
    });
  }

  test("a head that never ends is closed at the idle timeout", async () => {
    const s = startHttp1({ host: "127.0.0.1", port: 0, idleSeconds: 1, handler: () => ({ status: 200 }), onError() {} });
    servers.push(s);
    const t0 = performance.now();
    const r = await rawHttp(s.port, "GET / HTTP/1.1\r\nHost: t\r\n", 1, 5000);
    expect(r.closed).toBe(true);
    expect(performance.now() - t0).toBeLessThan(4500);
  });
});

describe("server-sent events", () => {
  test("frames each line as data:, a newline in a value cannot forge an event", async () => {
    let sink: EventSink | null = null;
    const closed = Promise.withResolvers<void>();
    const s = startHttp1({
      host: "127.0.0.1",
      port: 0,
      handler: () => ({
        status: 200,
        events: (k) => {
          sink = k;
          k.onClose(() => closed.resolve());
          k.send("first");
          k.send("two\n\nevent: forged\ndata: x", "exchange");
        },
      }),
      onError() {},
    });
    servers.push(s);
    let raw = "";
    const sock = await Bun.connect({
      hostname: "127.0.0.1",
      port: s.port,
      socket: {
        data(_s, d) {
          raw += Buffer.from(d).toString();
        },
      },
    });
    sock.write(get("/api/exchanges/stream"));
    await Bun.sleep(150);
    expect(raw).toContain("content-type: text/event-stream");
    expect(raw).toContain("data: first\n\n");
    expect(raw).toContain("event: exchange\ndata: two\ndata: \ndata: event: forged\ndata: data: x\n\n");
    sock.end();
    await Promise.race([closed.promise, Bun.sleep(2000)]);
    expect(sink!.closed).toBe(true);
    expect(sink!.send("late")).toBe(false);
  });
});
