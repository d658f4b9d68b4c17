/**
 * Scenarios every SQL backend must pass the same way (mariadb.test.ts and
 * postgresql.test.ts run them on their own databases): a database restart
 * behind a proxy, a lease table made by an older pydhcp, and a sync that
 * leaves out the rows its own server wrote.
 */
import { expect } from "bun:test";
import type { Config } from "../../src/config/types.ts";
import type { Backend, Lease } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { prepareQueries } from "../../src/db/queries.ts";
import { memoryLog } from "./mariadb.ts";
import type { TcpProxy } from "./tcp-proxy.ts";

/**
 * `config` reaches the database through `proxy` (started) with pydhcpdb's
 * queries: while the proxy is stopped every lookup fails fast as a connection
 * error with one "connection lost" line; once it is back, lookups answer
 * again and an INFO line says so.
 */
export async function expectRestartRecovery(config: Config, proxy: TcpProxy): Promise<void> {
  const port = proxy.port;
  const log = memoryLog();
  const backend = await openBackend(config.database, log, config.queryTimeoutMs);
  try {
    const p = await prepareQueries(backend, config);
    if (!p.ok) throw new Error(p.problems.join("\n"));
    const offer3 = p.queries.offers[2]!.query;
    expect((await offer3.run(["080027059ed0"])).length).toBe(1);
    proxy.stop();
    await Bun.sleep(50);
    const kinds: string[] = [];
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      await offer3.run(["080027059ed0"]).then(
        () => kinds.push("ok"),
        (e) => kinds.push((e as { kind: string }).kind),
      );
      expect(performance.now() - t0).toBeLessThan(config.queryTimeoutMs + 500);
    }
    expect(kinds).toEqual(["connect", "connect", "connect"]);
    expect(log.lines.filter((l) => l.msg.includes("connection lost")).length).toBe(1);
    proxy.start(port);
    let ok = false;
    for (let k = 0; k < 100 && !ok; k++) {
      await Bun.sleep(100);
      ok = await offer3.run(["080027059ed0"]).then((r) => r.length === 1, () => false);
    }
    expect(ok).toBe(true);
    expect(log.lines.some((l) => l.level === "info" && l.msg.startsWith("database reconnected after"))).toBe(true);
  } finally {
    await backend.close();
    proxy.stop();
  }
}

/**
 * A backend opened on an older pydhcp's lease table holding client "k1"
 * (198.18.9.1, bound until after `now`): the new columns work, lookups by
 * relay find the new row, the sync reads back the older row (it has no
 * writer) but not the one this backend wrote, a hostile MAC finds nothing,
 * and release ends k1's lease once, which the sync reads back.
 */
export async function expectUpgradedLeases(backend: Backend, now: number): Promise<void> {
  expect(await backend.leases.get("k1")).toMatchObject({ ip: "198.18.9.1", relay: "", hostname: "" });
  await backend.leases.upsert([
    { clientKey: "k2", mac: "020000ee0002", ip: "198.18.9.2", option82: "", expires: now + 600, state: "bound", answer: "{}", updated: now + 1, relay: "198.18.1.1", hostname: "Сергей-ПК" },
  ]);
  expect((await backend.leases.list({ relayIp: "198.18.1.1" }, now, 10)).map((l) => l.hostname)).toEqual(["Сергей-ПК"]);
  expect((await backend.leases.list({ expired: false }, now, 10)).map((l) => l.clientKey).sort()).toEqual(["k1", "k2"]);
  expect((await backend.leases.changedSince(now)).map((l) => l.clientKey)).toEqual(["k1"]);
  expect(await backend.leases.changedSince(now + 1)).toEqual([]);
  expect(await backend.leases.list({ mac: "' OR 1=1 --" }, now, 10)).toEqual([]);
  const ended = await backend.leases.release({ mac: "020000ee0001" }, now + 2);
  expect(ended.map((l) => [l.ip, l.state])).toEqual([["198.18.9.1", "bound"]]);
  expect(await backend.leases.get("k1")).toMatchObject({ state: "released", expires: now + 2, updated: now + 2 });
  expect((await backend.leases.changedSince(now + 1)).map((l) => [l.clientKey, l.state])).toEqual([["k1", "released"]]);
  expect(await backend.leases.release({ ip: "198.18.9.1" }, now + 3)).toEqual([]);
  expect((await backend.leases.list({ expired: true }, now + 3, 10)).map((l) => l.clientKey)).toEqual(["k1"]);
}

function lease(key: string, ip: string, updated: number, over: Partial<Lease> = {}): Lease {
  const mac = `0200000000${key.slice(-2).padStart(2, "0")}`;
  return { clientKey: key, mac, ip, option82: "", expires: updated + 600, state: "bound", answer: "{}", updated, relay: "", hostname: "", ...over };
}

const keysOf = (ls: Lease[]) => ls.map((l) => l.clientKey).sort();

/**
 * Two servers on one empty lease table, `a` and `b` (opened with writer ids
 * of their own): each one's sync leaves out the rows it wrote and reads the
 * other's; a row one wrote and the other then overwrote (a later second or
 * the same one) is the other's; a release through either comes back to both,
 * the releasing one too.
 */
export async function expectOwnRowsSkipped(a: Backend, b: Backend, now: number): Promise<void> {
  const since = now - 2;
  await a.leases.upsert([lease("s01", "198.18.8.1", now), lease("s02", "198.18.8.2", now), lease("s03", "198.18.8.3", now)]);
  await b.leases.upsert([lease("s04", "198.18.8.4", now)]);
  expect(keysOf(await a.leases.changedSince(since))).toEqual(["s04"]);
  expect(keysOf(await b.leases.changedSince(since))).toEqual(["s01", "s02", "s03"]);

  // b overwrites a's s01 a second later and s02 in the same second: both are b's now
  await b.leases.upsert([lease("s01", "198.18.8.11", now + 1), lease("s02", "198.18.8.12", now)]);
  const seenByA = await a.leases.changedSince(since);
  expect(keysOf(seenByA)).toEqual(["s01", "s02", "s04"]);
  expect(seenByA.find((l) => l.clientKey === "s02")!.ip).toBe("198.18.8.12");
  expect(keysOf(await b.leases.changedSince(since))).toEqual(["s03"]);

  // and back: a's write of s01 (same second as b's) makes it a's again
  await a.leases.upsert([lease("s01", "198.18.8.21", now + 1)]);
  expect(keysOf(await a.leases.changedSince(since))).toEqual(["s02", "s04"]);
  expect((await b.leases.changedSince(since)).find((l) => l.clientKey === "s01")?.ip).toBe("198.18.8.21");

  // a release through a (as the API does in a's own process) reaches a's sync as well as b's
  const ended = await a.leases.release({ ip: "198.18.8.3" }, now + 2);
  expect(keysOf(ended)).toEqual(["s03"]);
  for (const s of [a, b]) {
    const back = (await s.leases.changedSince(now + 2)).filter((l) => l.clientKey === "s03");
    expect(back.map((l) => l.state)).toEqual(["released"]);
  }
}
