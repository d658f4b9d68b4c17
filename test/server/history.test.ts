/**
 * The history writer on a real SQLite database: a burst larger than the
 * in-memory bound goes through the spool file and every row still arrives,
 * once, in order.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBackend } from "../../src/db/open.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { HistoryWriter } from "../../src/server/history.ts";

test("a 25,000-row burst (past the 20,000-row memory bound) is spooled, then written in order, none twice", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pydhcp-history-"));
  try {
    const sink = memorySink();
    const log = createLogger({ level: "info", format: "text", out: sink, err: sink });
    const backend = await openBackend({ kind: "sqlite", path: join(dir, "h.db") }, log, 2000);
    const q = await backend.prepare("history_sql", "insert into history (dt, mac, ip, comment) values (datetime('now'), ?, ?, 'x')");
    const spool = join(dir, "spool");
    const w = new HistoryWriter(backend, spool, log);
    const N = 25_000;
    // synchronously: the writer gets no turn to drain, as under a storm
    for (let i = 0; i < N; i++) w.add(q, [`m${i}`, String(i)]);
    expect(existsSync(spool)).toBe(true);
    expect(readFileSync(spool, "utf8").split("\n").filter(Boolean).length).toBeGreaterThan(20_000);
    await w.close();
    await backend.close();
    const db = new Database(join(dir, "h.db"));
    const rows = db.query("select ip from history order by id").all() as { ip: string }[];
    db.close();
    expect(rows.length).toBe(N);
    expect(rows.every((r, i) => r.ip === String(i))).toBe(true);
    expect(readFileSync(spool, "utf8")).toBe("");
    log.flush();
    expect(sink.text()).toContain("moved to the spool");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
