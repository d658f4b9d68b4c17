import { afterEach, describe, expect, test } from "bun:test";
import { startHttp, type HttpHandle } from "../../../src/service/http.ts";
import { createMetrics } from "../../../src/service/metrics.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { memorySink } from "../../../src/log/sink.ts";
import { parseExposition } from "./exposition.ts";

const started: HttpHandle[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.stop();
});

function start(health: () => Promise<boolean>, healthTimeoutMs = 300) {
  const out = memorySink();
  const err = memorySink();
  const log = createLogger({ level: "info", format: "text", out, err });
  const metrics = createMetrics();
  const h = startHttp({ host: "127.0.0.1", port: 0, metrics, health, log, healthTimeoutMs });
  started.push(h);
  return { h, metrics, base: `http://127.0.0.1:${h.port}`, out, err };
}

describe("http endpoints", () => {
  test("binds a random port on loopback and logs it", () => {
    const { h, out } = start(async () => true);
    expect(h.port).toBeGreaterThan(0);
    expect(out.text()).toContain(`http listening host=127.0.0.1 port=${h.port}`);
  });

  test("/metrics serves the live registry in text format 0.0.4", async () => {
    const { base, metrics } = start(async () => true);
    metrics.packetsReceived.labels("DISCOVER").inc(5);
    metrics.queryDuration.labels("offer_1").observe(0.002);
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const fams = parseExposition(await r.text());
    const rx = fams.get("pydhcp_packets_received_total")!.samples.find((s) => s.labels.type === "DISCOVER")!;
    expect(rx.value).toBe(5);
    const count = fams.get("pydhcp_query_duration_seconds")!.samples.find((s) => s.name.endsWith("_count"))!;
    expect(count.value).toBe(1);
    metrics.packetsReceived.labels("DISCOVER").inc();
    const again = parseExposition(await (await fetch(`${base}/metrics`)).text());
    expect(again.get("pydhcp_packets_received_total")!.samples.find((s) => s.labels.type === "DISCOVER")!.value).toBe(6);
  });

  test("/health: 200 ok while the callback says yes, 503 when it says no or throws", async () => {
    let mode: "up" | "down" | "throw" = "up";
    const { base } = start(async () => {
      if (mode === "throw") throw new Error("ECONNREFUSED");
      return mode === "up";
    });
    let r = await fetch(`${base}/health`);
    expect([r.status, await r.text()]).toEqual([200, "ok\n"]);
    mode = "down";
    r = await fetch(`${base}/health`);
    expect([r.status, await r.text()]).toEqual([503, "database unavailable\n"]);
    mode = "throw";
    r = await fetch(`${base}/health`);
    expect([r.status, await r.text()]).toEqual([503, "database unavailable\n"]);
    mode = "up";
    r = await fetch(`${base}/health`);
    expect(r.status).toBe(200);
    await r.text();
  });

  test("/health: a hung database gives 503 at the timeout, not a hung check", async () => {
    const { base, err } = start(() => new Promise<boolean>(() => {}), 200);
    const t0 = performance.now();
    const r = await fetch(`${base}/health`);
    const ms = performance.now() - t0;
    expect([r.status, await r.text()]).toEqual([503, "database unavailable\n"]);
    // generous bounds: proves the deadline fired rather than measuring speed
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(5000);
    expect(err.text()).toContain("WARN health check timed out timeout_ms=200");
  });

  test("concurrent /health requests share one probe", async () => {
    let calls = 0;
    const { base } = start(async () => {
      calls++;
      await Bun.sleep(50);
      return true;
    });
    const rs = await Promise.all(Array.from({ length: 5 }, () => fetch(`${base}/health`)));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(calls).toBe(1);
  });

  test("unknown paths 404, other methods 405", async () => {
    const { base } = start(async () => true);
    let r = await fetch(`${base}/`);
    expect(r.status).toBe(404);
    r = await fetch(`${base}/metrics/../etc/passwd`);
    expect(r.status).toBe(404);
    r = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, HEAD");
  });

  test("stop() closes the port", async () => {
    const { h, base } = start(async () => true);
    started.pop();
    await h.stop();
    let failed = false;
    try {
      await fetch(`${base}/metrics`);
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
  });
});
