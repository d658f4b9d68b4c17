/**
 * The answer cache on a real SQLite database through the runtime's lookup:
 * hit, miss, negative hit, TTL expiry (a changed row is seen after the TTL,
 * not before), invalidation (all, by value, by reload), bounded size, and
 * failures never remembered.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import type { Backend } from "../../src/db/backend.ts";
import { AnswerCache, type CacheResult } from "../../src/server/answer-cache.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import type { Runtime } from "../../src/server/runtime.ts";
import type { Lookup } from "../../src/core/exchange.ts";
import { respond } from "../../src/core/respond.ts";
import { decode } from "../../src/codec/decode.ts";
import { explanationOf, renderExplanation } from "../../src/server/explain-render.ts";
import { buildRequest } from "../support/client.ts";
import { memoryLog } from "./mariadb.ts";
import { openCacheRig, type CacheRig } from "./cache-rig.ts";

const KNOWN = "080027059ed0";
const STRANGER = "0800270000ff";

let backend: Backend;
let db: Database;
let rt: Runtime;
let cache: AnswerCache;
let clock: number;
let ran: string[];
let counted: CacheResult[];

let rig: CacheRig;
beforeEach(async () => {
  clock = 1_000_000;
  ran = [];
  counted = [];
  rig = await openCacheRig({
    offers: [
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}' and port='{option_82_AgentCircuitId_port_hex}'",
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}'",
    ],
    maxEntries: 3,
    users: [["198.18.0.19", KNOWN]],
    now: () => clock,
    count: (r) => counted.push(r),
  });
  ({ backend, db, rt, cache } = rig);
});
afterEach(() => rig.close());

const lookup = (mac: string, port?: string): Promise<Lookup> => {
  const v = new Map([["ClientMacAddress", mac]]);
  if (port !== undefined) v.set("option_82_AgentCircuitId_port_hex", port);
  // the queries that ran for this lookup: a hit hands back the runs that found it, marked cached
  return Promise.resolve(rt.deps.lookup(v, performance.now() + 2000)).then((l) => {
    for (const q of l.tried) if (!q.cached) ran.push(q.name);
    return l;
  });
};
const ip = (l: Lookup) => (l.kind === "match" ? l.answer.ip : l.kind);

test("miss, then hit: the second lookup runs no query and says it came from the cache", async () => {
  const a = await lookup(KNOWN);
  expect(a).toMatchObject({ kind: "match", query: "offer_2" });
  expect(a.tried.map((q) => q.cached)).toEqual([undefined, undefined]);
  expect(ran).toEqual(["offer_1", "offer_2"]);
  const b = await lookup(KNOWN);
  // the decision still names the offer query (history's answer_query); the runs say they came from the cache
  expect(b).toMatchObject({ kind: "match", query: "offer_2" });
  expect(b.tried.map((q) => [q.name, q.cached, q.ms, q.rows])).toEqual([
    ["offer_1", true, 0, 0],
    ["offer_2", true, 0, 1],
  ]);
  expect(ip(b)).toBe("198.18.0.19");
  expect(ran).toEqual(["offer_1", "offer_2"]);
  expect(counted).toEqual(["miss", "hit"]);
  // another tuple of bound values is another entry
  await lookup(KNOWN, "06");
  expect(ran.length).toBe(4);
  expect(counted.at(-1)).toBe("miss");
});

test("a hit is handed back as it is, not as a promise: a cached DISCOVER does not wait (core/respond.ts)", async () => {
  const v = new Map([["ClientMacAddress", KNOWN]]);
  const miss = rt.deps.lookup(v, performance.now() + 2000);
  expect(miss).toBeInstanceOf(Promise);
  expect(await miss).toMatchObject({ kind: "match", query: "offer_2" });
  const hit = rt.deps.lookup(v, performance.now() + 2000);
  expect(hit).not.toBeInstanceOf(Promise);
  expect(hit).toMatchObject({ kind: "match", query: "offer_2", answer: { ip: "198.18.0.19" } });
  expect(counted).toEqual(["miss", "hit"]);
});

test("negative hit: a client no query knows is asked once per TTL", async () => {
  expect((await lookup(STRANGER)).kind).toBe("none");
  expect((await lookup(STRANGER)).kind).toBe("none");
  expect(ran).toEqual(["offer_1", "offer_2"]);
  expect(counted).toEqual(["miss", "negative_hit"]);
});

test("TTL expiry: a changed row is answered stale until the TTL passes, then fresh", async () => {
  expect(ip(await lookup(KNOWN))).toBe("198.18.0.19");
  db.run("update users set ip = '198.18.0.77' where mac = ?", [KNOWN]);
  db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.88', '', '', '', ?, '')", [STRANGER]);
  clock += 4_999;
  expect(ip(await lookup(KNOWN))).toBe("198.18.0.19");
  clock += 1;
  expect(ip(await lookup(KNOWN))).toBe("198.18.0.77");
  expect(counted).toEqual(["miss", "hit", "miss"]);
});

test("an expired entry asked again is refreshed in place when the database says the same, and replaced when it does not", async () => {
  const held = (l: Lookup) => (l.kind === "match" ? l.answer : null);
  // the map's entry for KNOWN, as the lookup keys it
  const stored = () => cache.stored(cache.key(cache.params(rt.offers, new Map([["ClientMacAddress", KNOWN]]))));
  const first = await lookup(KNOWN);
  const entry = stored();
  expect(entry).toBeDefined();
  clock += 5_000;
  // expired: the queries run again and find the same row; the entry is kept, not the new result
  const again = await lookup(KNOWN);
  expect(ran).toEqual(["offer_1", "offer_2", "offer_1", "offer_2"]);
  expect(ip(again)).toBe("198.18.0.19");
  expect(stored()).toBe(entry!);
  const hit = await lookup(KNOWN);
  expect(hit.tried.every((q) => q.cached)).toBe(true);
  expect(held(hit)).toEqual(held(first)!);
  clock += 4_999;
  expect(held(await lookup(KNOWN))).toEqual(held(first)!);
  // the refresh moved the expiry: still a hit 9,999 ms after the first lookup
  expect(counted).toEqual(["miss", "miss", "hit", "hit"]);
  expect(stored()).toBe(entry!);
  // a changed row replaces the entry after the TTL
  db.run("update users set dns = '198.18.0.54' where mac = ?", [KNOWN]);
  clock += 1;
  expect((held(await lookup(KNOWN)))?.dns).toEqual(["198.18.0.54"]);
  expect(stored()).not.toBe(entry!);
  expect(held(await lookup(KNOWN))?.dns).toEqual(["198.18.0.54"]);
  expect(cache.size).toBe(1);
  // a negative entry is refreshed the same way
  await lookup(STRANGER);
  clock += 5_000;
  expect((await lookup(STRANGER)).kind).toBe("none");
  expect((await lookup(STRANGER)).kind).toBe("none");
  expect(counted.slice(-3)).toEqual(["miss", "miss", "negative_hit"]);
});

test("invalidation: by a bound value (what `pydhcp lease release` calls), all, and by reload", async () => {
  await lookup(KNOWN);
  await lookup(STRANGER);
  db.run("update users set ip = '198.18.0.77' where mac = ?", [KNOWN]);
  expect(cache.invalidate(KNOWN)).toBe(1);
  expect(ip(await lookup(KNOWN))).toBe("198.18.0.77");
  expect(cache.size).toBe(2);
  expect(cache.invalidate()).toBe(2);
  expect(cache.size).toBe(0);
  await lookup(KNOWN);
  expect(cache.size).toBe(1);
  // a reload reconfigures and empties it
  cache.configure({ ttlSeconds: 5, maxEntries: 3 });
  expect(cache.size).toBe(0);
  const n = ran.length;
  await lookup(KNOWN);
  expect(ran.length).toBe(n + 2);
});

test("bounded: the oldest entry makes room; ttl 0 turns it off", async () => {
  for (const m of ["0800270000a1", "0800270000a2", "0800270000a3", "0800270000a4"]) await lookup(m);
  expect(cache.size).toBe(3);
  const before = ran.length;
  await lookup("0800270000a1"); // evicted: asked again
  await lookup("0800270000a4"); // kept: a hit
  expect(ran.length).toBe(before + 2);
  cache.configure({ ttlSeconds: 0, maxEntries: 3 });
  await lookup(KNOWN);
  await lookup(KNOWN);
  expect(cache.size).toBe(0);
  expect(ran.length).toBe(before + 6);
});

test("a refresh keeps the entry's place (the map is not written): a full cache drops the entry stored first, refreshed or not", async () => {
  for (const m of ["0800270000a1", "0800270000a2", "0800270000a3"]) await lookup(m);
  clock += 5_000;
  // expired and asked again: the database says the same, the entry stays where it was
  await lookup("0800270000a1");
  expect(counted.at(-1)).toBe("miss");
  expect((await lookup("0800270000a1")).kind).toBe("none");
  expect(counted.at(-1)).toBe("negative_hit");
  // a new client needs room: the first stored goes, though it was just refreshed
  await lookup("0800270000a4");
  expect(cache.size).toBe(3);
  await lookup("0800270000a1");
  expect(counted.at(-1)).toBe("miss");
});

test("failures are never remembered and empty the cache: a query error is asked again", async () => {
  await lookup(STRANGER);
  expect(cache.size).toBe(1);
  db.run("alter table users rename to users_away");
  expect((await lookup(KNOWN)).kind).toBe("error");
  expect(cache.size).toBe(0);
  db.run("alter table users_away rename to users");
  expect(ip(await lookup(KNOWN))).toBe("198.18.0.19");
  expect(cache.size).toBe(1);
});

test("through respond(): a hit is in the Exchange as query runs marked cached, and -d's rendering says so", async () => {
  const discover = async (xid: number) => {
    const m = decode(buildRequest({ type: 1, mac: KNOWN, xid }));
    if (!m.ok) throw new Error("decode");
    return respond({ msg: m.msg, type: 1, from: { address: "0.0.0.0", port: 68 }, arrived: performance.now() }, rt.deps);
  };
  const render = (ex: Awaited<ReturnType<typeof discover>>) =>
    renderExplanation(explanationOf(ex, { configured: ["offer_1", "offer_2"], sender: "0.0.0.0:68", historyHeading: "history statements queued:" }));
  const first = await discover(1);
  expect(first.queries.map((q) => q.cached ?? false)).toEqual([false, false]);
  expect(render(first)).not.toContain("answer cache");
  const second = await discover(2);
  expect(second.outcome).toMatchObject({ kind: "reply", query: "offer_2", ip: "198.18.0.19" });
  expect(second.queries.map((q) => [q.name, q.cached, q.ms])).toEqual([
    ["offer_1", true, 0],
    ["offer_2", true, 0],
  ]);
  const text = render(second);
  expect(text).toContain("offer_2  1 row  from the answer cache (not run)  <- decided");
  expect(text).toContain("offer_1  no rows  from the answer cache (not run)");
  expect(counted).toEqual(["miss", "hit"]);
});

test("a lease released elsewhere (`pydhcp lease release`, the API) empties the client's entries at the next sync", async () => {
  const log = memoryLog();
  const leases = new LeaseMemory(backend.leases, log);
  leases.onReleased = (l) => void cache.invalidate(l.mac);
  const now = Math.floor(Date.now() / 1000);
  await backend.leases.upsert([
    { clientKey: KNOWN, mac: KNOWN, ip: "198.18.0.19", option82: "", expires: now + 600, state: "bound", answer: "{}", updated: now - 10, relay: "", hostname: "" },
  ]);
  await leases.sync(now);
  await lookup(KNOWN);
  await lookup(STRANGER);
  expect(cache.size).toBe(2);
  // what `pydhcp lease release --mac` does from another process: the table only
  expect((await backend.leases.release({ mac: KNOWN }, now)).length).toBe(1);
  await leases.sync(now + 1);
  expect(cache.size).toBe(1);
  const n = ran.length;
  await lookup(KNOWN);
  expect(ran.length).toBe(n + 2);
});

test("with pools: the chain's choice of pool is remembered, the address is not: a DISCOVER again runs no query and the allocator still answers", async () => {
  const pr = await openCacheRig({
    offers: [
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}' and port='{option_82_AgentCircuitId_port_hex}'",
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}'",
      "select 'guest' as pool",
    ],
    maxEntries: 3,
    users: [],
    now: () => clock,
    count: (r) => counted.push(r),
    extra: `<pools><pool name="guest"><range>198.18.64.10-198.18.64.20</range><mask>255.255.255.0</mask><router>198.18.64.1</router><dns>198.18.0.53</dns></pool></pools>`,
  });
  try {
    const prt = pr.rt;
    const send = async (type: number, mac: string, xid: number, requested?: string) => {
      const options: [number, Uint8Array][] = requested ? [[50, Uint8Array.from(requested.split(".").map(Number))], [54, Uint8Array.of(198, 18, 0, 1)]] : [];
      const m = decode(buildRequest({ type, mac, xid, options }));
      if (!m.ok) throw new Error("decode");
      return respond({ msg: m.msg, type, from: { address: "0.0.0.0", port: 68 }, arrived: performance.now() }, prt.deps);
    };
    const ranIn = (ex: Awaited<ReturnType<typeof send>>) => ex.queries.filter((q) => !q.cached).map((q) => q.name);
    const offer = await send(1, STRANGER, 1);
    expect(offer.outcome).toMatchObject({ kind: "reply", query: "offer_3" });
    expect(ranIn(offer)).toEqual(["offer_1", "offer_2", "offer_3"]);
    const offered = (offer.outcome.kind === "reply" ? offer.outcome.ip : null) ?? "";
    expect(offered).toMatch(/^198\.18\.64\./);
    // a DISCOVER again (a client that lost the OFFER): the pool choice from the cache, the address from the allocator
    const again = await send(1, STRANGER, 3);
    expect(again.outcome).toMatchObject({ kind: "reply", type: 2, query: "offer_3", ip: offered });
    expect(ranIn(again)).toEqual([]);
    expect(again.queries.map((q) => q.cached)).toEqual([true, true, true]);
    const ack = await send(3, STRANGER, 3, offered);
    expect(ack.outcome).toMatchObject({ kind: "reply", type: 5, ip: offered });
    const row = pr.db.query("select state, ip from pydhcp_pool_lease where client_key like ?").get(`%${STRANGER}%`) as { state: string; ip: string } | null;
    expect(row).toEqual({ state: "bound", ip: offered });
    // another client is another tuple of bound values: its own lookups by MAC, its own address; the
    // catch-all binds no variable, so what it found is every client's and it does not run again
    const other = await send(1, "0800270000fe", 2);
    expect(ranIn(other)).toEqual(["offer_1", "offer_2"]);
    expect(other.queries.map((q) => [q.name, q.cached ?? false])).toEqual([["offer_1", false], ["offer_2", false], ["offer_3", true]]);
    expect(other.outcome).toMatchObject({ kind: "reply", type: 2, query: "offer_3" });
    expect(other.outcome.kind === "reply" ? other.outcome.ip : "").not.toBe(offered);
    expect(counted).toEqual(["miss", "hit", "miss"]);
  } finally {
    await pr.close();
  }
});
