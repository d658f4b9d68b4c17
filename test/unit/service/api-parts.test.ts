/**
 * The pure parts behind the API: the token gate, lease views (relative
 * times, option 82 through the profiles, filters) and the exchange ring.
 */
import { describe, expect, test } from "bun:test";
import { authProblem, isLoopback } from "../../../src/service/http.ts";
import { countersFrom } from "../../../src/service/api.ts";
import { leaseView, normalizeMac, parseLeaseQuery, relative } from "../../../src/server/lease-view.ts";
import { ExchangeRing, type ExchangeEntry } from "../../../src/server/exchange-ring.ts";
import type { Lease } from "../../../src/db/backend.ts";
import { parseRelayProfiles } from "../../../src/config/profiles.ts";

describe("the token gate", () => {
  const T = "0123456789abcdef0123";
  const cases: [string, string | undefined, string | null, boolean, string | null][] = [
    ["loopback, no token configured: open", undefined, null, true, null],
    ["not loopback, no token configured: closed", `Bearer ${T}`, null, false, "this listener is not loopback: set <metrics><token> to use /api/"],
    ["token configured, none sent", undefined, T, true, "missing Authorization: Bearer <token>"],
    ["right token", `Bearer ${T}`, T, false, null],
    ["scheme in any case", `bearer ${T}`, T, true, null],
    ["wrong token", "Bearer 0123456789abcdef0124", T, true, "wrong token"],
    ["a prefix of the token", `Bearer ${T.slice(0, -1)}`, T, true, "wrong token"],
    ["Basic instead of Bearer", `Basic ${T}`, T, true, "missing Authorization: Bearer <token>"],
    ["two tokens", `Bearer ${T} ${T}`, T, true, "missing Authorization: Bearer <token>"],
  ];
  for (const [name, header, token, loopback, want] of cases) test(name, () => expect(authProblem(header, token, loopback)).toBe(want));

  test("loopback addresses", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "localhost"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "198.18.0.1", "10.0.0.1"].some(isLoopback)).toBe(false);
  });
});

describe("lease views", () => {
  const cases: [number, string][] = [
    [0, "now"], [45, "in 45s"], [-45, "45s ago"], [11_520, "in 3h 12m"], [-300, "5m ago"], [3600, "in 1h"], [90_000, "in 1d 1h"], [-86_400 * 3, "3d ago"],
  ];
  for (const [s, want] of cases) test(`relative(${s}) = ${want}`, () => expect(relative(s)).toBe(want));

  test("MACs in the forms operators paste", () => {
    for (const m of ["00:25:22:4A:D7:64", "00-25-22-4a-d7-64", "0025.224a.d764", "0025224ad764"]) expect(normalizeMac(m)).toBe("0025224ad764");
    for (const m of ["0025224ad76", "zz25224ad764", "00:25:22:4a:d7:64:00", "", "Сергей"]) expect(normalizeMac(m)).toBeNull();
  });

  const now = 1_800_000_000;
  const base: Lease = { clientKey: "k", mac: "0025224ad764", ip: "172.30.128.13", option82: "", expires: now + 60, state: "bound", answer: "{}", updated: now, relay: "", hostname: "" };
  test("the seed's option 82 through auto: switch MAC, port 6, VLAN 1", () => {
    const v = leaseView({ ...base, option82: "010600040001000602080006001e589eb2ad", relay: "172.30.114.25" }, now, null);
    expect(v).toMatchObject({ relayMac: "00:1e:58:9e:b2:ad", port: "6", vlan: "1", profile: "dlink", circuitId: "000400010006" });
  });
  test("a relay rule of none decodes nothing; the circuit id stays", () => {
    const rules = parseRelayProfiles({ relay: { "@_giaddr": "172.30.114.0/24", "@_profile": "none" } }, "config/relay_profiles");
    if (!rules.ok) throw new Error("rules");
    const v = leaseView({ ...base, option82: "010600040001000602080006001e589eb2ad", relay: "172.30.114.25" }, now, rules.rules);
    expect(v).toMatchObject({ port: "", vlan: "", relayMac: "", circuitId: "000400010006" });
  });
  test("a bound lease past its expiry is expired; a broken option 82 is ignored", () => {
    const v = leaseView({ ...base, expires: now - 1, option82: "01ff00" }, now, null);
    expect(v.state).toBe("expired");
    expect(v.circuitId).toBe("");
    expect(leaseView({ ...base, option82: "not hex" }, now, null).port).toBe("");
  });

  test("filters: relay as MAC narrows SQL by option 82 and is checked on the views, as IP goes to SQL; port needs relay", () => {
    const q = parseLeaseQuery({ relay: "00-1E-58-9E-B2-AD", port: "06" });
    expect(q).toEqual({ ok: true, value: { filter: { option82Contains: "001e589eb2ad" }, relayMac: "00:1e:58:9e:b2:ad", port: "6" } });
    expect(parseLeaseQuery({ relay: "172.30.114.25", expired: true })).toEqual({ ok: true, value: { filter: { relayIp: "172.30.114.25", expired: true } } });
    expect(parseLeaseQuery({ port: "6" }).ok).toBe(false);
    expect(parseLeaseQuery({ ip: "256.1.1.1" }).ok).toBe(false);
    const long = parseLeaseQuery({ mac: "x".repeat(500) });
    expect(!long.ok && long.error.length).toBeLessThan(100);
  });
});

describe("exchange ring", () => {
  const entry = (mac: string): Omit<ExchangeEntry, "id"> => ({ mac } as unknown as Omit<ExchangeEntry, "id">);

  test("keeps the last N, newest first, by client", () => {
    const r = new ExchangeRing(3);
    for (const m of ["a", "b", "a", "c", "a"]) r.push(entry(m));
    expect(r.size).toBe(3);
    expect(r.recent(10).map((e) => `${e.id}${e.mac}`)).toEqual(["5a", "4c", "3a"]);
    expect(r.recent(10, "a").map((e) => e.id)).toEqual([5, 3]);
    expect(r.recent(1, "a").map((e) => e.id)).toEqual([5]);
    expect(r.recent(10, "b")).toEqual([]);
  });

  test("busy: past busyRate a second only the newest busySize are kept; slower, the ring fills again", () => {
    const at = (mac: string, t: number): Omit<ExchangeEntry, "id"> => ({ mac, at: t } as unknown as Omit<ExchangeEntry, "id">);
    // 10 kept, 4 while more than 1000 a second come (4 within 4 ms)
    const r = new ExchangeRing(10, 4, 1000);
    for (let i = 0; i < 10; i++) r.push(at("s", i * 10));
    expect(r.size).toBe(10);
    for (let i = 0; i < 12; i++) r.push(at("f", 200));
    expect(r.size).toBe(4);
    expect(r.recent(100).map((e) => e.id)).toEqual([22, 21, 20, 19]);
    // one a second again: every entry stays until the ring is full
    for (let i = 0; i < 10; i++) r.push(at("s", 1000 + i * 1000));
    expect(r.size).toBe(10);
    expect(r.recent(100).map((e) => e.id)).toEqual([32, 31, 30, 29, 28, 27, 26, 25, 24, 23]);
    // a burst of 4 within 4 ms is that rate: the one entry that left the newest 4 during it goes; the next slow one drops nothing
    for (let i = 0; i < 4; i++) r.push(at("f", 20_000));
    expect(r.size).toBe(9);
    r.push(at("s", 30_000));
    expect(r.size).toBe(9);
    expect(r.recent(100).map((e) => e.id)).toEqual([37, 36, 35, 34, 33, 31, 30, 29, 28]);
  });

  test("listeners hear each push; a throwing one does not stop the others; unsubscribe works", () => {
    const r = new ExchangeRing(2);
    const heard: number[] = [];
    const off1 = r.subscribe(() => {
      throw new Error("bad listener");
    });
    const off2 = r.subscribe((e) => void heard.push(e.id));
    r.push(entry("a"));
    off2();
    r.push(entry("b"));
    off1();
    expect(heard).toEqual([1]);
    expect(r.listening).toBe(0);
  });
});

test("counters read back from the exposition", () => {
  const text = [
    '# TYPE pydhcp_packets_received_total counter',
    'pydhcp_packets_received_total{type="DISCOVER"} 5',
    'pydhcp_packets_received_total{type="REQUEST"} 3',
    'pydhcp_replies_sent_total{type="OFFER"} 4',
    'pydhcp_dropped_total{reason="no_match"} 1',
    'pydhcp_dropped_total{reason="rate_limit"} 0',
  ].join("\n");
  expect(countersFrom(text)).toEqual({
    receivedTotal: 8, sentTotal: 4, droppedTotal: 1,
    received: { DISCOVER: 5, REQUEST: 3 }, sent: { OFFER: 4 }, dropped: { no_match: 1 },
  });
});
