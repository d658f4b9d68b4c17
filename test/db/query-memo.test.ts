/**
 * The answer cache's memory of single queries (QueryMemo) on a real SQLite
 * database, with pydhcpdb's chain: an Option 82 query first, then the MAC.
 * For clients of a relay that sends no Option 82, the first query's values
 * are the same for everyone (absent variables bind NULL): it runs once per
 * TTL, not once per client. A row the first query would find for those
 * values proves it: it is not answered before the TTL passes (the query did
 * not run), and is after. (The test's offer_1 maps an absent value to ''
 * with coalesce, so that a row can match it; pydhcpdb's `mac = NULL` never
 * matches anything.)
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { AnswerCache, type CacheResult } from "../../src/server/answer-cache.ts";
import type { Runtime } from "../../src/server/runtime.ts";
import type { Lookup } from "../../src/core/exchange.ts";
import { openCacheRig, type CacheRig } from "./cache-rig.ts";

const CLIENTS = ["0800270000a1", "0800270000a2", "0800270000a3"];
const STRANGER = "0800270000ff";

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
      "select ip,mask,router,dns from users where mac=coalesce('{option_82_AgentRemoteId_hex}', '') and port=coalesce('{option_82_AgentCircuitId_port_hex}', '')",
      "select ip,mask,router,dns from users where mac='{ClientMacAddress}'",
    ],
    maxEntries: 100,
    users: CLIENTS.map((mac, i) => [`198.18.0.${10 + i}`, mac]),
    now: () => clock,
    count: (r) => counted.push(r),
  });
  ({ db, rt, cache } = rig);
});
afterEach(() => rig.close());

/** A client without Option 82: offer_1's values are NULL. */
const lookup = (mac: string): Promise<Lookup> => {
  const v = new Map([["ClientMacAddress", mac]]);
  return Promise.resolve(rt.deps.lookup(v, performance.now() + 2000)).then((l) => {
    for (const q of l.tried) if (!q.cached) ran.push(q.name);
    return l;
  });
};
const ip = (l: Lookup) => (l.kind === "match" ? l.answer.ip : l.kind);

test("a query that found nothing for values every client shares runs once per TTL, not once per client", async () => {
  const answers = [];
  for (const mac of CLIENTS) answers.push(await lookup(mac));
  expect(answers.map(ip)).toEqual(["198.18.0.10", "198.18.0.11", "198.18.0.12"]);
  expect(ran).toEqual(["offer_1", "offer_2", "offer_2", "offer_2"]);
  // every client's answer is its own: these were misses of the whole-answer cache
  expect(counted).toEqual(["miss", "miss", "miss"]);
  // the skipped run is in the Exchange as a run from the cache, with what it found then
  expect(answers[1]!.tried.map((q) => [q.name, q.cached ?? false, q.rows, q.ms === 0])).toEqual([
    ["offer_1", true, 0, true],
    ["offer_2", false, 1, false],
  ]);
  expect(answers[1]).toMatchObject({ kind: "match", query: "offer_2" });
  expect(cache.queriesRemembered).toBe(1);
});

test("a row added for the remembered values is answered once the TTL passes, not before (the query did not run)", async () => {
  await lookup(CLIENTS[0]!);
  // a catch-all row for clients without Option 82: offer_1 would now decide
  db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.99', '255.255.255.0', '198.18.0.1', '198.18.0.53', '', '')");
  clock += 4_999;
  expect(ip(await lookup(CLIENTS[1]!))).toBe("198.18.0.11");
  clock += 1;
  const after = await lookup(CLIENTS[2]!);
  expect(after).toMatchObject({ kind: "match", query: "offer_1" });
  expect(ip(after)).toBe("198.18.0.99");
  expect(ran).toEqual(["offer_1", "offer_2", "offer_2", "offer_1"]);
  // CLIENTS[1]'s answer, found while the run was remembered, lives its own TTL: twice the TTL after the run
  // at most (docs/config.md), so that answers found with one shared run do not all expire together
  clock += 4_998;
  expect(ip(await lookup(CLIENTS[1]!))).toBe("198.18.0.11");
  clock += 1;
  expect(ip(await lookup(CLIENTS[1]!))).toBe("198.18.0.99");
});

test("invalidation drops remembered runs: all, by a bound value, and a run learned across an invalidation is not kept", async () => {
  await lookup(CLIENTS[0]!);
  expect(cache.queriesRemembered).toBe(1);
  // a MAC is not among offer_1's values: its run stays
  cache.invalidate(CLIENTS[0]!);
  expect(cache.queriesRemembered).toBe(1);
  // a client no query knows: offer_2's run with its MAC is remembered, and dropped by that MAC
  expect((await lookup(STRANGER)).kind).toBe("none");
  expect(cache.queriesRemembered).toBe(2);
  cache.invalidate(STRANGER);
  expect(cache.queriesRemembered).toBe(1);
  await lookup(CLIENTS[1]!);
  expect(cache.queriesRemembered).toBe(1);
  cache.invalidate();
  expect(cache.queriesRemembered).toBe(0);
  // a chain that began before an invalidation does not store what it found
  const memo = cache.memo()!;
  cache.invalidate();
  memo.remember("offer_1", "select 1", ["", ""], { name: "offer_1", sql: "select 1", names: [], params: ["", ""], rows: 0, ms: 1 });
  expect(cache.queriesRemembered).toBe(0);
  expect(ran).toEqual(["offer_1", "offer_2", "offer_2", "offer_2"]);
});

test("a query error empties the remembered runs; ttl 0 remembers nothing", async () => {
  await lookup(CLIENTS[0]!);
  db.run("alter table users rename to users_away");
  expect((await lookup(CLIENTS[1]!)).kind).toBe("error");
  expect(cache.queriesRemembered).toBe(0);
  db.run("alter table users_away rename to users");
  cache.configure({ ttlSeconds: 0, maxEntries: 100 });
  await lookup(CLIENTS[1]!);
  await lookup(CLIENTS[2]!);
  expect(cache.queriesRemembered).toBe(0);
  // the failing lookup skipped offer_1 (remembered) and failed in offer_2; with ttl 0 both lookups ran it
  expect(ran).toEqual(["offer_1", "offer_2", "offer_2", "offer_1", "offer_2", "offer_1", "offer_2"]);
});

test("a query binding no variable runs once per TTL for every client, whatever it found; a refused row and a volatile query are not remembered", async () => {
  const open = (catchAll: string) =>
    openCacheRig({ offers: ["select ip,mask,router,dns from users where mac='{ClientMacAddress}'", catchAll], maxEntries: 100, users: [], now: () => clock, count: () => {} });
  const lookupIn = async (r: CacheRig, mac: string) => {
    const l = await r.rt.deps.lookup(new Map([["ClientMacAddress", mac]]), performance.now() + 2000);
    return { l, ran: l.tried.filter((q) => !q.cached).map((q) => q.name) };
  };
  const r = await open("select ip,mask,router,dns from users where port='any'");
  try {
    r.db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.77', '255.255.255.0', '198.18.0.1', '198.18.0.53', '', 'any')");
    const a = await lookupIn(r, CLIENTS[0]!);
    expect([ip(a.l), a.ran]).toEqual(["198.18.0.77", ["offer_1", "offer_2"]]);
    // another client: its own MAC lookup, the catch-all's row from memory
    const b = await lookupIn(r, CLIENTS[1]!);
    expect([ip(b.l), b.ran]).toEqual(["198.18.0.77", ["offer_1"]]);
    expect(b.l).toMatchObject({ kind: "match", query: "offer_2" });
    // the row changes: seen once the TTL passes, not before
    r.db.run("update users set ip = '198.18.0.78' where port = 'any'");
    clock += 4_999;
    expect(ip((await lookupIn(r, CLIENTS[2]!)).l)).toBe("198.18.0.77");
    clock += 1;
    const d = await lookupIn(r, STRANGER);
    expect([ip(d.l), d.ran]).toEqual(["198.18.0.78", ["offer_1", "offer_2"]]);
    // a row the server refuses is never remembered: it is asked for again
    r.db.run("update users set ip = '198.18.0.300' where port = 'any'");
    clock += 5_000;
    const e = await lookupIn(r, CLIENTS[0]!);
    expect([e.l.kind, e.ran]).toEqual(["refused", ["offer_1", "offer_2"]]);
    const f = await lookupIn(r, CLIENTS[1]!);
    expect([f.l.kind, f.ran]).toEqual(["refused", ["offer_1", "offer_2"]]);
  } finally {
    await r.close();
  }
  // random() gives each run its own rows: run for every client
  const v = await open("select ip,mask,router,dns from users where port='any' and random() is not null");
  try {
    v.db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.77', '255.255.255.0', '198.18.0.1', '198.18.0.53', '', 'any')");
    expect((await lookupIn(v, CLIENTS[0]!)).ran).toEqual(["offer_1", "offer_2"]);
    expect((await lookupIn(v, CLIENTS[1]!)).ran).toEqual(["offer_1", "offer_2"]);
  } finally {
    await v.close();
  }
});
