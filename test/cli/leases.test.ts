/**
 * `pydhcp leases` and `pydhcp lease release` on pydhcpdb's reference config
 * (SQLite): the table a person reads (client, address, state, expiry in
 * local time and relative, relay, switch, port and VLAN from option 82,
 * host name, last seen), JSON lines, the filters, and releases that end the
 * lease in the table. Bad flags exit 2 with the reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import type { Lease } from "../../src/db/backend.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { pydhcp, referenceConfig } from "./helpers.ts";

let dir: string;
let cfg: string;
let db: string;
const now = Math.floor(Date.now() / 1000);
// the seed's option 82: D-Link circuit id (vlan 1, port 6), remote id = switch MAC 00:1e:58:9e:b2:ad
const SEED_82 = "010600040001000602080006001e589eb2ad";
const lease = (mac: string, ip: string, over: Partial<Lease> = {}): Lease => ({
  clientKey: mac, mac, ip, option82: "", expires: now + 3 * 3600 + 12 * 60 + 30, state: "bound", answer: "{}", updated: now - 300, relay: "", hostname: "", ...over,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdcli-leases-${process.pid}-`));
  db = join(dir, "p.sqlite");
  const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
  const b = SqliteBackend.open({ path: db, timeoutMs: 1000 }, log);
  await b.leases.upsert([
    lease("0025224ad764", "172.30.128.13", { option82: SEED_82, relay: "172.30.114.25", hostname: "Сергей-ПК" }),
    lease("020000cc0002", "198.18.7.2"),
    lease("020000cc0003", "198.18.7.3", { expires: now - 60 }),
    lease("020000cc0004", "198.18.7.4", { hostname: "evil\x1b[31m<b>" }),
  ]);
  await b.close();
  cfg = join(dir, "config.xml");
  writeFileSync(cfg, referenceConfig(`<database><sqlite><path>${db}</path></sqlite></database>`));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pydhcp leases", () => {
  test("a table a person reads", async () => {
    const r = await pydhcp(["leases", "-c", cfg]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^CLIENT +ADDRESS +STATE +EXPIRES +RELAY +SWITCH +PORT +VLAN +HOSTNAME +LAST SEEN$/);
    const seed = lines.find((l) => l.startsWith("00:25:22:4a:d7:64"))!;
    expect(seed).toMatch(/172\.30\.128\.13 +bound +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 3h 12m\) +172\.30\.114\.25 +00:1e:58:9e:b2:ad +6 +1 +Сергей-ПК +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(5m ago\)$/);
    expect(lines.find((l) => l.startsWith("02:00:00:cc:00:03"))).toMatch(/ expired /);
    // a host name with a terminal escape and markup is quoted, never sent raw
    expect(r.out).not.toContain("\x1b");
    expect(r.out).toContain('"evil\\x1b[31m<b>"');
  });

  test("--json: one object per line", async () => {
    const r = await pydhcp(["leases", "-c", cfg, "--mac", "00-25-22-4A-D7-64", "--json"]);
    expect(r.code).toBe(0);
    const rows = r.out.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ mac: "00:25:22:4a:d7:64", ip: "172.30.128.13", state: "bound", relay: "172.30.114.25", relayMac: "00:1e:58:9e:b2:ad", port: "6", vlan: "1", hostname: "Сергей-ПК", expiresIn: "in 3h 12m" });
  });

  const filters: [string[], string[]][] = [
    [["--ip", "198.18.7.2"], ["02:00:00:cc:00:02"]],
    [["--relay", "172.30.114.25"], ["00:25:22:4a:d7:64"]],
    [["--relay", "00:1e:58:9e:b2:ad", "--port", "6"], ["00:25:22:4a:d7:64"]],
    [["--relay", "00:1e:58:9e:b2:ad", "--port", "7"], []],
    [["--expired"], ["02:00:00:cc:00:03"]],
  ];
  for (const [args, macs] of filters) {
    test(args.join(" "), async () => {
      const r = await pydhcp(["leases", "-c", cfg, ...args, "--json"]);
      expect(r.code).toBe(0);
      expect(r.out.trim() ? r.out.trim().split("\n").map((l) => JSON.parse(l).mac) : []).toEqual(macs);
    });
  }

  const bad: [string[], RegExp][] = [
    [["--mac", "' OR 1=1 --"], /not a MAC/],
    [["--ip", "198.18.7"], /not an IPv4/],
    [["--port", "6"], /needs relay/],
    [["--mac", "020000cc0002", "--ip", "198.18.7.2"], /one of/],
    [["--relay", "switch-7"], /neither/],
  ];
  for (const [args, re] of bad) {
    test(`bad: ${args.join(" ")}`, async () => {
      const r = await pydhcp(["leases", "-c", cfg, ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
    });
  }
});

describe("pydhcp lease release", () => {
  test("by address: the lease ends in the table at once", async () => {
    const r = await pydhcp(["lease", "release", "-c", cfg, "--ip", "198.18.7.2"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("released 198.18.7.2 (was bound to 02:00:00:cc:00:02)\n");
    const j = await pydhcp(["leases", "-c", cfg, "--ip", "198.18.7.2", "--json"]);
    expect(JSON.parse(j.out)).toMatchObject({ state: "released" });
    expect(JSON.parse(j.out).expires).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  test("by MAC, with its host name", async () => {
    const r = await pydhcp(["lease", "release", "-c", cfg, "--mac", "00:25:22:4a:d7:64"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("released 172.30.128.13 (was bound to 00:25:22:4a:d7:64 Сергей-ПК)\n");
  });

  test("nothing to release: exit 1; wrong usage: exit 2", async () => {
    const again = await pydhcp(["lease", "release", "-c", cfg, "--ip", "198.18.7.2"]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("no current lease for 198.18.7.2");
    expect((await pydhcp(["lease", "release", "-c", cfg])).code).toBe(2);
    expect((await pydhcp(["lease", "release", "-c", cfg, "--ip", "1.2.3.4", "--mac", "020000cc0002"])).code).toBe(2);
    const inj = await pydhcp(["lease", "release", "-c", cfg, "--ip", "1.1.1.1' OR '1'='1"]);
    expect(inj.code).toBe(2);
    expect(inj.err).toMatch(/not an IPv4/);
  });
});
