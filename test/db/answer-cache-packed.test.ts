/**
 * The answer cache keeps an entry as its JSON when JSON gives it back
 * (server/packed-chain.ts), and as objects when not: rows with bytes (a
 * SQLite BLOB), answers with extra options. Either way a hit answers what
 * the miss answered, on a real SQLite database through the runtime's lookup.
 */
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { NO_OPTIONS } from "../../src/core/answer.ts";
import type { Lookup } from "../../src/core/exchange.ts";
import type { ChainResult } from "../../src/db/chain.ts";
import { packChain, packRun, unpackChain } from "../../src/server/packed-chain.ts";
import { openCacheRig, type CacheRig } from "./cache-rig.ts";

const MAC = "080027059ed0";
let rig: CacheRig | null = null;
afterEach(() => rig?.close());

async function open(offer: string): Promise<CacheRig> {
  rig = await openCacheRig({ offers: [offer], maxEntries: 10, users: [["198.18.0.19", MAC]], now: () => 1_000_000, count: () => {} });
  return rig;
}

function lookup(r: CacheRig): Promise<Lookup> {
  return Promise.resolve(r.rt.deps.lookup(new Map([["ClientMacAddress", MAC]]), performance.now() + 2000));
}

/** The entry the map holds for MAC: packed (a string) or objects. */
function stored(r: CacheRig): { packed: string | null; value: unknown } {
  return r.cache.stored(r.cache.key(r.cache.params(r.rt.offers, new Map([["ClientMacAddress", MAC]])))) as { packed: string | null; value: unknown };
}

/** What a hit hands on, without its `cached` marks and times (the miss has none). */
function bare(l: Lookup): unknown {
  return { ...l, tried: l.tried.map(({ cached: _c, ms: _m, ...q }) => q) };
}

test("text columns: kept as one string; every hit gives what the miss gave, as objects of its own, options NO_OPTIONS", async () => {
  const r = await open("select ip,mask,router,dns,7 as n from users where mac='{ClientMacAddress}'");
  const miss = await lookup(r);
  expect(miss.kind).toBe("match");
  const e = stored(r);
  expect(typeof e.packed).toBe("string");
  expect(e.value).toBeNull();
  const a = await lookup(r);
  const b = await lookup(r);
  expect(bare(a)).toEqual(bare(miss));
  expect(a.tried[0]!.result).toEqual([{ ip: "198.18.0.19", mask: "255.255.255.0", router: "198.18.0.1", dns: "198.18.0.53", n: 7 }]);
  expect(a.tried[0]!.cached).toBe(true);
  if (a.kind !== "match" || b.kind !== "match") throw new Error("no match");
  expect(a.answer.options).toBe(NO_OPTIONS);
  // a hit's objects are its own: what one exchange does with them is not the next one's answer
  expect(a.answer).not.toBe(b.answer);
  (a.answer.dns as string[]).push("198.18.0.99");
  a.tried[0]!.result![0]!.ip = "198.18.0.99";
  expect(bare(await lookup(r))).toEqual(bare(miss));
  expect(b.answer.dns).toEqual(["198.18.0.53"]);
});

test("a BLOB column: kept as objects, and a hit gives the bytes back", async () => {
  const r = await open("select ip,mask,router,dns,x'00ff10' as tag from users where mac='{ClientMacAddress}'");
  const miss = await lookup(r);
  const e = stored(r);
  expect(e.packed).toBeNull();
  expect(e.value).not.toBeNull();
  const hit = await lookup(r);
  expect(hit.tried[0]!.cached).toBe(true);
  expect(hit.tried[0]!.result![0]!.tag).toEqual(new Uint8Array([0, 255, 16]));
  expect(bare(hit)).toEqual(bare(miss));
});

test("an answer with an extra option: kept as objects, the option's bytes intact", async () => {
  const r = await open("select ip,mask,router,dns,'tftp.example' as option_66 from users where mac='{ClientMacAddress}'");
  const miss = await lookup(r);
  if (miss.kind !== "match") throw new Error("no match");
  expect(miss.answer.options.size).toBe(1);
  expect(stored(r).packed).toBeNull();
  const hit = await lookup(r);
  if (hit.kind !== "match") throw new Error("no match");
  expect(new TextDecoder().decode(hit.answer.options.get(66))).toBe("tftp.example");
});

test("what JSON would not give back is never packed", () => {
  const db = new Database(":memory:");
  const row = (sql: string) => db.query(sql).all() as Record<string, unknown>[];
  const run = (result: Record<string, unknown>[]) => ({ name: "offer_1", sql: "select", names: [], params: [], rows: result.length, result, ms: 0 });
  const chain = (result: Record<string, unknown>[]): ChainResult => ({ answer: null, tried: [run(result)] });
  expect(packChain(chain(row("select 'a' as t, 1.5 as n, null as z")))).not.toBeNull();
  for (const v of [new Date(0), Buffer.from("x"), new Uint8Array(1), 10n, NaN, Infinity, [undefined], new Map(), () => 1]) {
    expect(packChain(chain([{ ip: "198.18.0.1", v }]))).toBeNull();
    expect(packRun(run([{ ip: "198.18.0.1", v }]))).toBeNull();
  }
  // a pool choice and a negative result round-trip
  const pool: ChainResult = { answer: null, pool: { pool: "guest", row: { pool: "guest" }, rowIndex: 0 }, query: "offer_1", rows: 1, tried: [run([{ pool: "guest" }])] };
  expect(unpackChain(packChain(pool)!)).toEqual(pool);
  const none: ChainResult = { answer: null, tried: [run([])], failure: undefined };
  const back = unpackChain(packChain(none)!);
  expect(back.failure).toBeUndefined();
  expect(back.tried).toEqual(none.tried);
});
