/**
 * The lease snapshot file (src/server/lease-snapshot.ts) on a real disk:
 * what is written is read back exactly; a file cut anywhere, damaged,
 * empty, of another format version or of another database is refused with
 * a reason, never thrown; the file is 0600 and the write is atomic (no
 * temporary file left, an old snapshot untouched by a failed write). And
 * lease memory's side: what it puts in a snapshot and how it takes one
 * back. The cost at 50,000 leases is measured and printed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lease, LeaseStore } from "../../src/db/backend.ts";
import { readSnapshot, snapshotPath, writeSnapshot, type SnapshotEntry } from "../../src/server/lease-snapshot.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import { OfflineBackend } from "../../src/db/offline.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";

const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });
const OWNER = "mysql database isp";
const now = Math.floor(Date.now() / 1000);
let dir: string;
let path: string;

const lease = (i: number, over: Partial<Lease> = {}): Lease => {
  const mac = "02" + i.toString(16).padStart(10, "0");
  const ip = `198.18.${(i >> 8) & 255}.${i & 255}`;
  return {
    clientKey: mac,
    mac,
    ip,
    option82: "0107657468302f311300",
    expires: now + 3600,
    state: "bound",
    answer: JSON.stringify({ ip, mask: "255.255.0.0", router: "198.18.0.1", dns: ["198.18.0.53"], leaseTime: 3600, options: [[1, "ffff0000"]], query: "offer_1", row: 0 }),
    updated: now - 10,
    relay: "198.18.0.2",
    hostname: `host-${i}`,
    ...over,
  };
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), `pydhcp-snapshot-${process.pid}-`));
  path = snapshotPath(join(dir, "pydhcp-history.spool"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the file", () => {
  test("round trip: every field of every lease, the unwritten mark, the owner and the time", async () => {
    const entries: SnapshotEntry[] = [
      { lease: lease(1), unwritten: false },
      // a name in Cyrillic, quotes, a newline and a line separator: text survives as text
      { lease: lease(2, { hostname: 'Сергей-ПК "x"\n\u2028', clientKey: "id:ff00aa", option82: "", relay: "" }), unwritten: true },
      { lease: lease(3, { state: "released", expires: now }), unwritten: true },
    ];
    await writeSnapshot(path, OWNER, entries, 1_800_000_000_123);
    const r = readSnapshot(path, OWNER);
    if (!r.ok) throw new Error(r.message);
    expect(r.database).toBe(OWNER);
    expect(r.written).toBe(1_800_000_000_123);
    expect(r.entries).toEqual(entries);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["pydhcp-history.spool.leases"]);
  });

  test("an empty lease memory is a valid snapshot of no leases", async () => {
    await writeSnapshot(path, OWNER, []);
    const r = readSnapshot(path, OWNER);
    expect(r.ok && r.entries.length).toBe(0);
  });

  test("a snapshot left 0644 (or a stale .tmp) is 0600 after the next write", async () => {
    writeFileSync(path + ".tmp", "left by a crash", { mode: 0o644 });
    chmodSync(path + ".tmp", 0o644);
    await writeSnapshot(path, OWNER, [{ lease: lease(1), unwritten: false }]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(path + ".tmp")).toBe(false);
  });

  test("missing: said so, not thrown", () => {
    const r = readSnapshot(path, OWNER);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.why).toBe("missing");
  });

  test("of another database: refused as foreign, naming it", async () => {
    await writeSnapshot(path, "postgresql database other", [{ lease: lease(1), unwritten: false }]);
    const r = readSnapshot(path, OWNER);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.why).toBe("foreign");
    expect(r.message).toContain("postgresql database other");
    expect(r.message).toContain(OWNER);
  });

  test("cut at every length: refused as damaged, never a partial set of leases", async () => {
    await writeSnapshot(path, OWNER, [1, 2, 3, 4].map((i) => ({ lease: lease(i), unwritten: i === 2 })));
    const whole = readFileSync(path);
    let refused = 0;
    for (let n = 0; n < whole.length; n++) {
      writeFileSync(path, whole.subarray(0, n));
      const r = readSnapshot(path, OWNER);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.why).toBe("damaged");
      refused++;
    }
    expect(refused).toBe(whole.length);
    writeFileSync(path, whole);
    expect(readSnapshot(path, OWNER).ok).toBe(true);
  });

  test("one byte changed anywhere in the leases: refused (checksum), as are garbage, an empty file and another version", async () => {
    await writeSnapshot(path, OWNER, [1, 2, 3].map((i) => ({ lease: lease(i), unwritten: false })));
    const whole = readFileSync(path);
    const bodyStart = whole.indexOf(10) + 1;
    const bodyEnd = whole.lastIndexOf(10, whole.length - 2);
    for (let at = bodyStart; at < bodyEnd; at += 7) {
      const b = Buffer.from(whole);
      // 198.18.0.1 -> 198.18.0.3 would be a wrong address served: the checksum must catch it
      b[at] = b[at] === 0x31 ? 0x33 : 0x31;
      writeFileSync(path, b);
      const r = readSnapshot(path, OWNER);
      expect(r.ok).toBe(false);
    }
    const cases: [string, string | Buffer][] = [
      ["garbage", Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0a, 0x0a])],
      ["empty", ""],
      ["a journal, not a snapshot", '{"i":"abc-1","s":"history_sql","v":[]}\n'],
      ["another version", readFileSync(path, "utf8").replace('"version":1', '"version":2')],
      ["a header alone", '{"pydhcp":"lease-snapshot","version":1,"database":"mysql database isp","written":1,"leases":0}\n'],
    ];
    for (const [name, text] of cases) {
      writeFileSync(path, text);
      const r = readSnapshot(path, OWNER);
      if (r.ok) throw new Error(`${name}: accepted`);
      expect(r.why).toBe("damaged");
      expect(r.message.length).toBeGreaterThan(5);
    }
  });

  test("a well-formed file whose lines are not leases is refused", async () => {
    const { crc32 } = await import("node:zlib");
    const body = '["x"]\n';
    writeFileSync(path, `{"pydhcp":"lease-snapshot","version":1,"database":"${OWNER}","written":1,"leases":1}\n${body}{"end":1,"crc32":${crc32(body)}}\n`);
    const r = readSnapshot(path, OWNER);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain("not a lease");
  });

  test("a failed write leaves the old snapshot as it was", async () => {
    await writeSnapshot(path, OWNER, [{ lease: lease(1), unwritten: false }]);
    const before = readFileSync(path);
    // the temporary file cannot be created: a directory stands in its place
    mkdirSync(path + ".tmp");
    await expect(writeSnapshot(path, OWNER, [{ lease: lease(2), unwritten: false }])).rejects.toThrow();
    expect(readFileSync(path)).toEqual(before);
    rmSync(path + ".tmp", { recursive: true });
  });

  test("50,000 leases: written, read back, and how long the event loop was held", async () => {
    const N = 50_000;
    const entries = Array.from({ length: N }, (_, i) => ({ lease: lease(i), unwritten: false }));
    // the event loop's longest stall while the snapshot is written (packets wait that long at most)
    let last = performance.now();
    let stall = 0;
    const probe = setInterval(() => {
      const t = performance.now();
      stall = Math.max(stall, t - last);
      last = t;
    }, 1);
    const times: number[] = [];
    let bytes = 0;
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now();
      bytes = (await writeSnapshot(path, OWNER, entries)).bytes;
      times.push(performance.now() - t0);
    }
    clearInterval(probe);
    const t1 = performance.now();
    const r = readSnapshot(path, OWNER);
    const readMs = performance.now() - t1;
    expect(r.ok && r.entries.length).toBe(N);
    console.log(
      `snapshot of ${N} leases: ${(bytes / 1e6).toFixed(1)} MB, written in ${times.map((t) => t.toFixed(0)).join(", ")} ms (3 runs), ` +
        `longest event-loop stall ${stall.toFixed(1)} ms, read and checked in ${readMs.toFixed(0)} ms`,
    );
    expect(Math.min(...times)).toBeLessThan(5000);
  }, 60_000);
});

describe("lease memory", () => {
  const offline = (): LeaseStore => new OfflineBackend("mysql", "test").leases;

  test("keeps bound unexpired leases and unwritten ones, not OFFER holds or expired leases", async () => {
    const m = new LeaseMemory(offline(), log);
    const v0 = m.version;
    m.restore(
      [
        { lease: lease(1), unwritten: false },
        { lease: lease(2, { expires: now - 1 }), unwritten: false },
        { lease: lease(3, { state: "released", expires: now }), unwritten: true },
      ],
      now - 5,
    );
    m.hold(lease(4, { state: "offered", expires: now + 60 }));
    expect(m.version).toBeGreaterThan(v0);
    expect(m.pending).toBe(1);
    const got = (await m.snapshotEntries(now)).map((e) => [e.lease.mac, e.unwritten]);
    expect(got).toEqual([
      [lease(1).mac, false],
      [lease(3).mac, true],
    ]);
    // a renewal answered while the database is away is unwritten until it is written
    m.set({ ...lease(1), expires: now + 7200 });
    const e1 = (await m.snapshotEntries(now)).find((e) => e.lease.mac === lease(1).mac)!;
    expect(e1.unwritten).toBe(true);
    expect(e1.lease.expires).toBe(now + 7200);
    // a failed write keeps them unwritten
    await m.flush();
    expect((await m.snapshotEntries(now)).filter((e) => e.unwritten).length).toBe(2);
  });

  test("lease memory is read for the snapshot a slice per event-loop turn, and a change between slices is not lost from memory", async () => {
    const m = new LeaseMemory(offline(), log);
    for (let i = 0; i < 2500; i++) m.restore([{ lease: lease(i), unwritten: false }], now);
    let turns = 0;
    const tick = (): void => {
      turns++;
      if (turns < 100) setImmediate(tick);
    };
    setImmediate(tick);
    const scan = m.snapshotEntries(now, 1000);
    // packets (here: immediates) run while the scan is under way
    m.set({ ...lease(2400), expires: now + 9000 });
    const got = await scan;
    expect(turns).toBeGreaterThanOrEqual(2);
    expect(got.length).toBe(2500);
    // the lease changed during the scan is read as it is when its slice comes, and marked unwritten
    const e = got.find((x) => x.lease.mac === lease(2400).mac)!;
    expect(e.lease.expires).toBe(now + 9000);
    expect(e.unwritten).toBe(true);
  });

  test("a snapshot written from memory restores the same leases into a fresh memory", async () => {
    const m = new LeaseMemory(offline(), log);
    for (let i = 0; i < 100; i++) m.restore([{ lease: lease(i), unwritten: i % 10 === 0 }], now);
    await writeSnapshot(path, OWNER, await m.snapshotEntries(now));
    const r = readSnapshot(path, OWNER);
    if (!r.ok) throw new Error(r.message);
    const m2 = new LeaseMemory(offline(), log);
    m2.restore(r.entries, Math.floor(r.written / 1000));
    expect(m2.size).toBe(100);
    expect(m2.pending).toBe(10);
    expect(m2.holder(lease(42).ip, now)?.mac).toBe(lease(42).mac);
    expect(m2.get(lease(7).clientKey)).toEqual(lease(7));
  });
});
