/**
 * `pydhcp history replay`: writes a history journal that was set aside at
 * start (it held events for another database: docs/reliability.md) into
 * the database the configuration names, with the configuration's history
 * statements (server/history-replay.ts). It reads only the set-aside files
 * and writes only to the database, so it runs beside a serving pydhcp.
 *
 *   pydhcp history replay -c FILE --file PATH [--dry-run]
 *
 * Exit 0 when every line is in the database, 1 when a line was skipped or
 * the replay stopped (the rest is written by running it again) or another
 * replay holds the journal's lock, 2 for bad usage or a bad configuration.
 */
import { existsSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { formatConfigError, loadConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import type { Backend } from "../db/backend.ts";
import { openBackend } from "../db/open.ts";
import { databaseOwner } from "../db/settings.ts";
import { compileTemplate } from "../db/template.ts";
import { createLogger } from "../log/logger.ts";
import type { HistoryStatement } from "../server/history.ts";
import { looksLikeJournal, replayFiles, replayJournal, runStarted, type ReplayFiles, type ReplayReport, type Skipped } from "../server/history-replay.ts";
import { localTime } from "../server/lease-view.ts";

type Flags = Map<string, string | true>;

/** skipped lines listed one by one; past this only counted */
const SHOW_SKIPPED = 100;

const fail = (message: string, code: number): number => {
  process.stderr.write(`pydhcp: ${message}\n`);
  return code;
};

export async function historyReplayCommand(f: Flags, configPath: string): Promise<number> {
  const file = f.get("file");
  if (typeof file !== "string") return fail("history replay needs --file PATH: a journal set aside as <journal>.<time>.other-database", 2);
  const path = resolve(file);
  if (!existsSync(path)) return fail(`${path}: no such file`, 1);
  const loaded = loadConfig(configPath);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
    return 2;
  }
  const config = loaded.config;
  // the server appends to these and writes them itself: replaying them beside it would write rows twice
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  if ([config.spoolPath, config.spoolPath + ".sealed"].some((p) => real(p) === real(path))) {
    return fail(`${path} is the history journal this configuration serves with; pydhcp writes it itself. history replay reads journals set aside (<journal>.<time>.other-database)`, 2);
  }
  const files = replayFiles(path, existsSync);
  try {
    if (!looksLikeJournal(files)) return fail(`${path}: not a history journal (none of its first lines is a journal entry)`, 1);
  } catch (e) {
    return fail(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  // two replays of one journal at once would both find an event missing and both write it
  const lock = f.has("dry-run") ? { ok: true as const, release() {} } : takeLock(files.pos.slice(0, -".pos".length) + ".replay-lock");
  if (!lock.ok) return fail(lock.message, 1);
  try {
    return await replayWith(f, config, files);
  } finally {
    lock.release();
  }
}

type Lock = { ok: true; release(): void } | { ok: false; message: string };

/**
 * The journal's replay lock: a file created exclusively, holding the pid.
 * One left by a replay that died (its pid gone) is taken over.
 */
function takeLock(path: string): Lock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return { ok: true, release: () => rmSync(path, { force: true }) };
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") return { ok: false, message: `cannot create ${path}: ${e instanceof Error ? e.message : String(e)}` };
    }
    const pid = Number.parseInt(readText(path), 10);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      return { ok: false, message: `another history replay (pid ${pid}) is writing this journal; run it again when that one has ended (lock: ${path})` };
    }
    rmSync(path, { force: true });
  }
  return { ok: false, message: `cannot take ${path}: another replay keeps creating it` };
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else
    return (e as { code?: string }).code === "EPERM";
  }
}

async function replayWith(f: Flags, config: Config, files: ReplayFiles): Promise<number> {
  const into = databaseOwner(config.database);
  // opening a missing SQLite file would create an empty one
  if (config.database.kind === "sqlite" && !existsSync(config.database.path)) return fail(`${config.database.path}: no such database`, 1);
  let backend: Backend;
  try {
    backend = await openBackend(config.database, createLogger({ level: "error", format: "text" }), config.queryTimeoutMs);
  } catch (e) {
    return fail(`cannot open the database (${into}): ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  try {
    const statements = new Map<string, HistoryStatement>();
    for (const n of [config.history, ...Object.values(config.historyEvents)]) {
      if (!n) continue;
      const t = compileTemplate(n.name, n.sql, backend.kind);
      // the configuration loaded, so its statements compile
      if (t.kind === "template") statements.set(n.name, { name: n.name, sql: t.sql, params: t.bind(new Map(), 0).length });
    }
    const dryRun = f.has("dry-run");
    let shown = 0;
    const onSkip = (s: Skipped) => {
      if (++shown <= SHOW_SKIPPED) process.stderr.write(`pydhcp: ${s.file}:${s.line}: skipped: ${s.reason}\n`);
    };
    const r = await replayJournal(files, { backend, statements, write: !dryRun, onSkip });
    if (shown > SHOW_SKIPPED) process.stderr.write(`pydhcp: ${shown - SHOW_SKIPPED} more skipped lines not listed\n`);
    process.stdout.write(summary(r, { dryRun, owner: ownerOf(files.owner), into, statements, lastWritten: lastWritten(files.journals) }));
    if (r.error) process.stderr.write(`pydhcp: history replay stopped: ${r.error}\n`);
    return r.error || r.skipped > 0 ? 1 : 0;
  } finally {
    await backend.close().catch(() => {});
  }
}

function ownerOf(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim() || null;
  } catch {
    // set aside by an older pydhcp, which kept no owner beside it
    return null;
  }
}

/** The newest modification time of the parts, epoch seconds: about when their last event was recorded. */
function lastWritten(paths: readonly string[]): number | null {
  let t = 0;
  for (const p of paths) t = Math.max(t, statSync(p).mtimeMs);
  return t > 0 ? Math.floor(t / 1000) : null;
}

interface Context {
  dryRun: boolean;
  /** the database the journal was for, from the owner file beside it */
  owner: string | null;
  into: string;
  statements: ReadonlyMap<string, HistoryStatement>;
  lastWritten: number | null;
}

const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** What was (or, in a dry run, would be) done, as a person reads it. */
export function summary(r: ReplayReport, c: Context): string {
  const out: string[] = [];
  const row = (label: string, value: string) => out.push(`${(label ? label + ":" : "").padEnd(15)}${value}`);
  out.push(c.dryRun ? "history replay, dry run: nothing is written" : "history replay");
  r.files.forEach((p, i) => row(i === 0 ? "journal" : "", `${p.path} (${count(p.lines, "line")})`));
  row("for", c.owner ?? "not known (no .database file beside the journal)");
  row("into", c.into);
  if (r.before > 0) row("done before", `${count(r.before, "line")} ${r.before === 1 ? "was" : "were"} written to ${c.owner ?? "the database it was for"} before it was set aside (its saved position): not written again`);
  const started = [...r.runs].map(runStarted).filter((t): t is number => t !== null).sort((a, b) => a - b);
  if (r.runs.size > 0) {
    const when = started.length ? `, the first started ${localTime(started[0]! / 1000)}${started.length > 1 ? `, the last ${localTime(started[started.length - 1]! / 1000)}` : ""}` : "";
    row("runs", `${r.runs.size} of pydhcp${when}`);
  }
  if (c.lastWritten !== null) row("last written", `${localTime(c.lastWritten)} (the journal's modification time)`);
  if (r.statements.size > 0) {
    out.push("statements:");
    const width = Math.max(...[...r.statements.keys()].map((n) => n.length));
    for (const [name, n] of [...r.statements].sort((a, b) => a[0].localeCompare(b[0]))) {
      out.push(`  ${name.padEnd(width)}  ${String(n).padStart(7)}${c.statements.has(name) ? "" : "  not in the configuration: skipped"}`);
    }
  }
  row("already there", `${count(r.present, "line")} (${c.into} has their event ids)`);
  row(c.dryRun ? "would write" : "written", `${count(r.written, "row")}${c.dryRun ? "" : ` in ${count(r.batches, "transaction")}`}`);
  row(c.dryRun ? "would skip" : "skipped", `${count(r.skipped, "line")}${r.skipped > 0 ? " (listed on stderr)" : ""}`);
  if (r.error) row("stopped", c.dryRun ? r.error : `${r.error}; running it again goes on from there, writing nothing twice`);
  return out.join("\n") + "\n";
}
