/**
 * Writing a set-aside history journal into a database (`pydhcp history
 * replay`, cli/history-replay.ts). A journal found at start holding events
 * for another database is moved aside (journal.ts setAside) as
 * `<journal>[.sealed].<time>.other-database`, with `.database` (the
 * database it was for) and `.pos` (how far that one got) beside it. This
 * reads those files, never the live journal, and runs their lines with the
 * configuration's history statements, by name, with the stored values.
 *
 * Lines go in batches of one transaction each that also store the marks
 * (pydhcp_history_mark), as the history writer does: a line whose event id
 * the target already has is skipped, so a second run, or a run after an
 * interrupted one, writes no row twice. Lines before the saved position
 * are in the database the journal was for and are not written again.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import type { Backend, HistoryMark, PreparedQuery } from "../db/backend.ts";
import { DbError } from "../db/backend.ts";
import { isRowFault } from "../db/row-fault.ts";
import type { HistoryStatement } from "./history.ts";
import { parseLine, type ParsedLine, type Position } from "./journal.ts";

/** The files of one set-aside journal: the parts to read (sealed first), its owner and position files. */
export interface ReplayFiles {
  journals: string[];
  owner: string;
  pos: string;
}

const ASIDE = /^(.*)\.(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)\.other-database$/;

/**
 * The files that belong with `path`: given either part of a set-aside
 * journal, both parts (those that exist) and what lies beside them;
 * given any other journal file, it and its `.sealed`, `.database`, `.pos`.
 */
export function replayFiles(path: string, exists: (p: string) => boolean): ReplayFiles {
  const m = ASIDE.exec(path);
  let sealed: string;
  let active: string;
  if (m) {
    const base = m[1]!.endsWith(".sealed") ? m[1]!.slice(0, -".sealed".length) : m[1]!;
    active = `${base}.${m[2]}.other-database`;
    sealed = `${base}.sealed.${m[2]}.other-database`;
  } else {
    active = path;
    sealed = path + ".sealed";
  }
  return { journals: [sealed, active].filter((p) => p === path || exists(p)), owner: active + ".database", pos: active + ".pos" };
}

/** A line that was not written, and why. */
export interface Skipped {
  file: string;
  line: number;
  reason: string;
}

export interface ReplayReport {
  /** each part read, with its non-empty lines */
  files: { path: string; lines: number }[];
  /** lines before the saved position: in the database the journal was for */
  before: number;
  /** lines after it, by statement name */
  statements: Map<string, number>;
  /** the runs of pydhcp the lines after the position come from */
  runs: Set<string>;
  /** rows written (in a dry run: that would be) */
  written: number;
  /** transactions that wrote them */
  batches: number;
  /** lines whose event the target already has (its marks) */
  present: number;
  skipped: number;
  /** what stopped the replay, with where; null when it went to the end */
  error: string | null;
}

export interface ReplayOptions {
  backend: Backend;
  /** the configuration's history statements: the only ones run */
  statements: ReadonlyMap<string, HistoryStatement>;
  /** false: read and check everything, write nothing */
  write: boolean;
  /** each skipped line, as it is found */
  onSkip: (s: Skipped) => void;
}

const BATCH = 500;
/** as the journal's reader: a longer line was never written by pydhcp */
const MAX_LINE = 256 << 10;
const CHUNK = 256 << 10;

interface RawLine {
  lineNo: number;
  /** offset after the line */
  end: number;
  /** null: longer than MAX_LINE */
  text: string | null;
}

/** The lines of a file, read in chunks (a sealed journal can be 64 MiB); a last line without "\n" too. */
function* fileLines(path: string): Generator<RawLine> {
  const fd = openSync(path, "r");
  try {
    if (fstatSync(fd).isDirectory()) throw new Error(`${path}: is a directory`);
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer[] = [];
    let carryLen = 0;
    let tooLong = false;
    let offset = 0;
    let lineNo = 1;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, offset);
      if (n === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10); nl >= 0 && nl < n; nl = buf.indexOf(10, start)) {
        const long = tooLong || carryLen + nl - start > MAX_LINE;
        const text = long ? null : carryLen ? Buffer.concat([...carry, buf.subarray(start, nl)]).toString("utf8") : buf.toString("utf8", start, nl);
        yield { lineNo: lineNo++, end: offset + nl + 1, text };
        carry = [];
        carryLen = 0;
        tooLong = false;
        start = nl + 1;
      }
      if (start < n && !tooLong) {
        if (carryLen + n - start > MAX_LINE) {
          tooLong = true;
          carry = [];
          carryLen = 0;
        } else {
          carry.push(Buffer.from(buf.subarray(start, n)));
          carryLen += n - start;
        }
      }
      offset += n;
    }
    if (carryLen > 0 || tooLong) yield { lineNo, end: offset, text: tooLong ? null : Buffer.concat(carry).toString("utf8") };
  } finally {
    closeSync(fd);
  }
}

/** The saved position beside the files: per part, the offset before which lines are done. */
function doneTo(files: ReplayFiles): Map<string, number> {
  const out = new Map<string, number>();
  let p: Position;
  try {
    p = JSON.parse(readFileSync(files.pos, "utf8")) as Position;
  } catch {
    // none (set aside by an older pydhcp, or another journal): the marks alone decide
    return out;
  }
  if (![p.ino, p.offset, p.line].every((n) => Number.isSafeInteger(n) && n >= 0)) return out;
  for (let i = 0; i < files.journals.length; i++) {
    const st = statSync(files.journals[i]!);
    if (st.ino !== p.ino || p.offset > st.size) continue;
    // the position is in this part: the parts before it (the sealed one) were read to their end
    for (let k = 0; k < i; k++) out.set(files.journals[k]!, Infinity);
    out.set(files.journals[i]!, p.offset);
  }
  return out;
}

/**
 * Whether the files hold journal lines: true when one of the first lines
 * parses (or there are none); false for another kind of file, before
 * every line of it is reported as damaged.
 */
export function looksLikeJournal(files: ReplayFiles): boolean {
  let seen = 0;
  for (const file of files.journals) {
    for (const raw of fileLines(file)) {
      if (raw.text !== null && raw.text.trim() === "") continue;
      if (raw.text !== null && typeof parseLine(raw.text) !== "string") return true;
      if (++seen >= 100) return false;
    }
  }
  return seen === 0;
}

/** When a run of pydhcp started, from its id (journal.ts newRunId: base-36 milliseconds, 6 hex digits); null if not one. */
export function runStarted(run: string): number | null {
  if (run.length <= 6) return null;
  const ms = parseInt(run.slice(0, -6), 36);
  // a run id of another shape reads as a time far off
  return Number.isSafeInteger(ms) && ms > Date.UTC(2020, 0, 1) && ms < Date.now() + 86_400_000 ? ms : null;
}

interface Pending {
  file: string;
  lineNo: number;
  line: ParsedLine;
  query: PreparedQuery;
}

/** Reads every part in order and writes (or, without `write`, counts) what the target lacks. */
export async function replayJournal(files: ReplayFiles, o: ReplayOptions): Promise<ReplayReport> {
  const r: ReplayReport = { files: [], before: 0, statements: new Map(), runs: new Set(), written: 0, batches: 0, present: 0, skipped: 0, error: null };
  const done = doneTo(files);
  const marks = new Map<string, number>();
  const prepared = new Map<string, PreparedQuery>();
  const skip = (file: string, line: number, reason: string) => {
    r.skipped++;
    o.onSkip({ file, line, reason });
  };
  const markOf = async (run: string): Promise<number> => {
    let m = marks.get(run);
    if (m === undefined) marks.set(run, (m = await o.backend.historyMark(run)));
    return m;
  };
  let pending: Pending[] = [];

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    const rows: Pending[] = [];
    /** the marks this batch moves: a line at or below its run's is in the target, or in this batch already */
    const moved = new Map<string, number>();
    for (const p of batch) {
      const { run, seq } = p.line;
      let mark: number;
      try {
        mark = await markOf(run);
      } catch (e) {
        throw new Stop(p, e);
      }
      if (seq <= Math.max(mark, moved.get(run) ?? 0)) {
        r.present++;
        continue;
      }
      rows.push(p);
      moved.set(run, seq);
    }
    if (rows.length === 0) return;
    if (!o.write) {
      for (const [run, seq] of moved) marks.set(run, seq);
      r.written += rows.length;
      r.batches++;
      return;
    }
    const list: HistoryMark[] = [...moved].map(([run, seq]) => ({ run, seq }));
    try {
      await o.backend.runBatch(rows.map((p) => ({ query: p.query, params: p.line.v })), list);
      for (const [run, seq] of moved) marks.set(run, seq);
      r.written += rows.length;
      r.batches++;
      return;
    } catch (e) {
      if (!refusedRow(e)) throw new Stop(rows[0]!, e);
    }
    // a row the database refuses for its values: the batch goes a row at a time, and that row is skipped
    for (const p of rows) {
      const { run, seq } = p.line;
      try {
        await o.backend.runBatch([{ query: p.query, params: p.line.v }], [{ run, seq }]);
      } catch (e) {
        if (!refusedRow(e)) throw new Stop(p, e);
        skip(p.file, p.lineNo, `the database refused the row: ${(e as Error).message}`);
        continue;
      }
      marks.set(run, Math.max(marks.get(run) ?? 0, seq));
      r.written++;
      r.batches++;
    }
  };

  try {
    for (const file of files.journals) {
      const part = { path: file, lines: 0 };
      r.files.push(part);
      const upTo = done.get(file) ?? 0;
      for (const raw of fileLines(file)) {
        if (raw.text !== null && raw.text.trim() === "") continue;
        part.lines++;
        if (raw.end <= upTo) {
          r.before++;
          continue;
        }
        if (raw.text === null) {
          skip(file, raw.lineNo, "damaged: longer than 256 KiB");
          continue;
        }
        const line = parseLine(raw.text);
        if (typeof line === "string") {
          skip(file, raw.lineNo, `damaged: ${line}`);
          continue;
        }
        r.statements.set(line.s, (r.statements.get(line.s) ?? 0) + 1);
        r.runs.add(line.run);
        const def = o.statements.get(line.s);
        if (!def) {
          skip(file, raw.lineNo, `statement ${line.s} is not in the configuration`);
          continue;
        }
        if (def.params !== line.v.length) {
          skip(file, raw.lineNo, `statement ${line.s} now takes ${def.params} values, the line has ${line.v.length}`);
          continue;
        }
        let query = prepared.get(line.s);
        if (!query) {
          try {
            query = await o.backend.prepare(line.s, def.sql);
          } catch (e) {
            throw new Stop({ file, lineNo: raw.lineNo }, e);
          }
          prepared.set(line.s, query);
        }
        pending.push({ file, lineNo: raw.lineNo, line, query });
        if (pending.length >= BATCH) await flush();
      }
    }
    await flush();
  } catch (e) {
    r.error = e instanceof Stop ? e.message : `cannot read the journal: ${e instanceof Error ? e.message : String(e)}`;
  }
  return r;
}

function refusedRow(e: unknown): boolean {
  return e instanceof DbError && e.kind === "query" && isRowFault(e.code);
}

/** A database error, with the line the replay stopped at. */
class Stop extends Error {
  constructor(at: { file: string; lineNo: number }, e: unknown) {
    super(`${at.file}:${at.lineNo}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
