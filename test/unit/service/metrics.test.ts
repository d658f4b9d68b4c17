import { describe, expect, test } from "bun:test";
import { Registry, formatValue } from "../../../src/service/registry.ts";
import { createMetrics, DROP_REASONS, METRIC_TABLE, QUERY_BUCKETS } from "../../../src/service/metrics.ts";
import { parseExposition } from "./exposition.ts";

describe("registry exposition", () => {
  test("counter with labels, HELP and TYPE", () => {
    const r = new Registry();
    const c = r.counter("t_requests_total", "Requests.", ["type"]);
    const d = c.labels("DISCOVER");
    d.inc();
    d.inc(2);
    d.inc(-5); // ignored: counters only go up
    c.labels("REQUEST");
    expect(r.expose()).toBe(
      [
        "# HELP t_requests_total Requests.",
        "# TYPE t_requests_total counter",
        't_requests_total{type="DISCOVER"} 3',
        't_requests_total{type="REQUEST"} 0',
        "",
      ].join("\n"),
    );
  });

  test("labels() returns the same child: resolve once, inc many", () => {
    const r = new Registry();
    const c = r.counter("t_total", "x", ["a", "b"]);
    expect(c.labels("1", "2")).toBe(c.labels("1", "2"));
    expect(c.labels("1\u00002", "")).not.toBe(c.labels("1", "2"));
    expect(() => c.labels("1")).toThrow("1 label values for 2 labels");
  });

  test("label values and HELP are escaped and read back exactly", () => {
    const r = new Registry();
    const nasty = 'a"b\\c\nd} e=1';
    r.counter("t_total", "Help with \\ and\nnewline.", ["v"]).labels(nasty).inc(7);
    const text = r.expose();
    expect(text).toContain('t_total{v="a\\"b\\\\c\\nd} e=1"} 7');
    const f = parseExposition(text).get("t_total")!;
    expect(f.help).toBe("Help with \\ and\nnewline.");
    expect(f.samples).toEqual([{ name: "t_total", labels: { v: nasty }, value: 7 }]);
  });

  test("gauge set/inc/dec; unlabelled series has no braces", () => {
    const r = new Registry();
    const g = r.gauge("t_depth", "Depth.").labels();
    g.set(10);
    g.inc();
    g.dec(3);
    expect(r.expose()).toContain("\nt_depth 8\n");
  });

  test("histogram buckets are cumulative and +Inf equals count", () => {
    const r = new Registry();
    const h = r.histogram("t_seconds", "Latency.", ["query"], [0.001, 0.01, 0.1]);
    const q = h.labels("offer_1");
    for (const v of [0.0005, 0.001, 0.002, 0.05, 0.05, 3, 0.1]) q.observe(v);
    const f = parseExposition(r.expose()).get("t_seconds")!;
    expect(f.type).toBe("histogram");
    const buckets = f.samples.filter((s) => s.name === "t_seconds_bucket");
    expect(buckets.map((s) => [s.labels.le, s.value])).toEqual([
      ["0.001", 2], // le is inclusive: 0.001 falls in the 0.001 bucket
      ["0.01", 3],
      ["0.1", 6],
      ["+Inf", 7],
    ]);
    for (const b of buckets) expect(b.labels.query).toBe("offer_1");
    const count = f.samples.find((s) => s.name === "t_seconds_count")!.value;
    const sum = f.samples.find((s) => s.name === "t_seconds_sum")!.value;
    expect(count).toBe(7);
    expect(buckets.at(-1)!.value).toBe(count);
    expect(sum).toBeCloseTo(3.2035, 10);
  });

  test("refuses bad names, reserved labels, duplicate names, unsorted buckets", () => {
    const r = new Registry();
    expect(() => r.counter("bad-name", "x")).toThrow("bad name");
    expect(() => r.histogram("h", "x", ["le"], [1])).toThrow("bad label name");
    expect(() => r.counter("c", "x", ["__x"])).toThrow("bad label name");
    r.counter("c", "x");
    expect(() => r.gauge("c", "x")).toThrow("already registered");
    expect(() => r.histogram("h2", "x", [], [1, 1])).toThrow("buckets must increase");
  });

  test("collect hooks refresh gauges before exposition; a failing hook is contained", () => {
    const r = new Registry();
    const g = r.gauge("t_leases", "x").labels();
    let n = 0;
    r.onCollect(() => g.set(++n));
    r.onCollect(() => {
      throw new Error("boom");
    });
    expect(r.expose()).toContain("t_leases 1\n");
    expect(r.expose()).toContain("t_leases 2\n");
  });

  test("special values", () => {
    expect(formatValue(Infinity)).toBe("+Inf");
    expect(formatValue(-Infinity)).toBe("-Inf");
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue(1e-7)).toBe("1e-7");
  });
});

describe("pydhcp metric set", () => {
  test("every table row is exposed with HELP, TYPE and its initial series", () => {
    const m = createMetrics(() => 1_764_064_800_123);
    const fams = parseExposition(m.registry.expose());
    for (const row of Object.values(METRIC_TABLE)) {
      const f = fams.get(row.name);
      expect(f?.type).toBe(row.kind);
      expect(f!.help.length).toBeGreaterThan(10);
      const init = "init" in row ? row.init : [];
      if (row.labels.length === 0) expect(f!.samples.length).toBeGreaterThan(0);
      for (const v of init) expect(f!.samples.some((s) => s.labels[row.labels[0]!] === v)).toBe(true);
    }
    expect(fams.get("pydhcp_start_time_seconds")!.samples[0]!.value).toBe(1_764_064_800);
    expect(fams.get("pydhcp_dropped_total")!.samples.map((s) => s.labels.reason)).toEqual([...DROP_REASONS]);
  });

  test("the hot-path pattern counts what it should", () => {
    const m = createMetrics();
    const rx = m.packetsReceived.labels("DISCOVER");
    const off = m.repliesSent.labels("OFFER");
    const q = m.queryDuration.labels("offer_1");
    for (let i = 0; i < 1000; i++) {
      rx.inc();
      off.inc();
      q.observe(0.0004);
    }
    m.noMatch.inc();
    m.dropped.labels("queue_full").inc(3);
    m.queueDepth.set(5);
    m.leasesInMemory.set(42);
    m.reloads.labels("failed").inc();
    const fams = parseExposition(m.registry.expose());
    const val = (name: string, labels: Record<string, string> = {}) =>
      fams
        .get(name.replace(/_(bucket|sum|count)$/, ""))!
        .samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))!.value;
    expect(val("pydhcp_packets_received_total", { type: "DISCOVER" })).toBe(1000);
    expect(val("pydhcp_packets_received_total", { type: "REQUEST" })).toBe(0);
    expect(val("pydhcp_replies_sent_total", { type: "OFFER" })).toBe(1000);
    expect(val("pydhcp_no_match_total")).toBe(1);
    expect(val("pydhcp_dropped_total", { reason: "queue_full" })).toBe(3);
    expect(val("pydhcp_queue_depth")).toBe(5);
    expect(val("pydhcp_leases_in_memory")).toBe(42);
    expect(val("pydhcp_reloads_total", { result: "failed" })).toBe(1);
    expect(val("pydhcp_reloads_total", { result: "ok" })).toBe(0);
    const b = fams.get("pydhcp_query_duration_seconds")!.samples;
    expect(b.filter((s) => s.name.endsWith("_bucket")).map((s) => s.labels.le)).toEqual([
      ...QUERY_BUCKETS.map(String),
      "+Inf",
    ]);
    expect(val("pydhcp_query_duration_seconds_bucket", { le: "0.00025" })).toBe(0);
    expect(val("pydhcp_query_duration_seconds_bucket", { le: "0.0005" })).toBe(1000);
    expect(val("pydhcp_query_duration_seconds_count", { query: "offer_1" })).toBe(1000);
  });
});
