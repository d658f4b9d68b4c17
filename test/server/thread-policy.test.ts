/**
 * Housekeeping threads under SCHED_IDLE, read back from the kernel
 * (/proc/<pid>/task/<tid>/stat, field 41): a worker thread of this process
 * moves and the calling thread does not; in the running binary, the SQLite
 * workers and the allocator's purge thread are idle and the serving thread
 * is not, and the server still answers.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOUSEKEEPING_THREADS, idleHousekeeping } from "../../src/server/thread-policy.ts";
import { testClient, type TestClient } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { configXml, discover, freeUdpPort, makeSqlite, sqliteDatabase } from "../service/helpers.ts";

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

/** name and scheduling policy of each thread of `pid` */
function threads(pid: number | "self"): { tid: number; name: string; policy: number }[] {
  const out: { tid: number; name: string; policy: number }[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      // fields after the parenthesised name: state is field 3, policy field 41
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ tid: Number(t), name: readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim(), policy: Number(rest[41 - 3]) });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

describe("idleHousekeeping", () => {
  test("moves a worker thread to SCHED_IDLE, leaves the calling thread, and does it once", async () => {
    const before = new Set(threads("self").map((t) => t.tid));
    const w = new Worker(URL.createObjectURL(new Blob(["setInterval(() => {}, 1000)"], { type: "application/javascript" })));
    try {
      const mine = await until(() => threads("self").find((t) => t.name === "Worker" && !before.has(t.tid)));
      expect(mine.policy).toBe(SCHED_OTHER);
      const r = idleHousekeeping();
      expect(r.problem).toBeNull();
      expect(r.moved).toContain(`Worker/${mine.tid}`);
      const after = threads("self");
      expect(after.find((t) => t.tid === mine.tid)!.policy).toBe(SCHED_IDLE);
      // the calling thread (the process's first) keeps its policy
      expect(after.find((t) => t.tid === process.pid)!.policy).toBe(SCHED_OTHER);
      // threads not in the table keep theirs
      for (const t of after) if (!Object.hasOwn(HOUSEKEEPING_THREADS, t.name)) expect(t.policy).toBe(SCHED_OTHER);
      // already there: nothing to move
      expect(idleHousekeeping()).toEqual({ moved: [], problem: null });
    } finally {
      w.terminate();
    }
  });
});

describe("the running server", () => {
  let server: RunningServer | null = null;
  let c: TestClient | null = null;
  let dir = "";
  afterEach(async () => {
    await server?.close();
    c?.close();
    rmSync(dir, { recursive: true, force: true });
    server = null;
    c = null;
  });

  test("runs its SQLite workers and the allocator's purge thread at idle priority, and serves at normal", async () => {
    dir = mkdtempSync(join(tmpdir(), "pd-threads-"));
    makeSqlite(join(dir, "t.db"), [["02180000e0e0", "198.18.4.9"]]);
    c = await testClient();
    const port = await freeUdpPort();
    server = await startServer({ config: configXml({ port, clientPort: c.port, database: sqliteDatabase(), offers: ["select ip,mask,router,dns from users where mac='{ClientMacAddress}'"] }), dir });
    expect((await discover(c, port, "02180000e0e0"))?.yiaddr).toBe("198.18.4.9");
    const pid = server.proc.pid;
    // the history writer and the checkpoint worker, moved when serving starts
    const workers = await until(() => {
      const w = threads(pid).filter((t) => t.name === "Worker");
      return w.length >= 2 && w.every((t) => t.policy === SCHED_IDLE) ? w : undefined;
    });
    expect(workers.length).toBe(2);
    const all = threads(pid);
    expect(all.find((t) => t.tid === pid)!.policy).toBe(SCHED_OTHER);
    // the purge thread starts with the allocator's first purge; when it runs, it is idle (checked again every 30 s)
    for (const t of all.filter((t) => t.name === "mi-scavenger")) expect(t.policy).toBe(SCHED_IDLE);
    for (const t of all) if (!Object.hasOwn(HOUSEKEEPING_THREADS, t.name)) expect(t.policy).toBe(SCHED_OTHER);
    // and it still answers
    expect((await discover(c, port, "02180000e0e0"))?.yiaddr).toBe("198.18.4.9");
  });
});
