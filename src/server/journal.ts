/**
 * The history journal: an append-only local file of history events, written
 * before the reply leaves (one write() for the events of an event-loop turn), read back in order by the
 * history writer (history.ts). Each line is one statement to run:
 *
 *   {"i":"mi5x2kq0a1f3-4711","s":"history_sql","v":["0025224ad764","198.51.100.7","2026-12-01 21:29:04"]}
 *
 * `i` is the run (one per start of pydhcp) and a sequence number, `s` the
 * statement's config name, `v` its bound values. Never SQL text: replay runs
 * only statements of the current configuration.
 *
 * Files: `<path>` (active, appended to), `<path>.sealed` (an older active
 * file, read before it; exists only while its lines are not all written),
 * `<path>.pos` (how far the writer got: inode, byte offset, line number;
 * a hint only, the database's marks decide what was written), and
 * `<path>.quarantine` (damaged or refused lines). All are created 0600: they
 * hold MACs and addresses. Events for another database are set aside as
 * `<path>[.sealed].<time>.other-database`, with that database's name and
 * position beside it (`.database`, `.pos`), for `pydhcp history replay`
 * (history-replay.ts).
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import type { Param } from "../db/backend.ts";
import type { Logger } from "../log/types.ts";
import { MODE, openPrivate, PosFile } from "./journal-pos.ts";

import type { FsyncPolicy } from "../config/types.ts";

export type { FsyncPolicy };

/** One statement of an event, as the journal holds it. */
export interface JournalEntry {
  /** statement config name */
  s: string;
  /** bound values */
  v: Param[];
}

export interface ParsedLine extends JournalEntry {
  run: string;
  seq: number;
}

/** A place in the journal files. */
export interface Position {
  /** inode of the file the offset is in */
  ino: number;
  offset: number;
  /** 1-based number of the next line, for messages */
  line: number;
}

/** Where a line is: file path and 1-based line number (for messages), inode and the offset after it. */
export interface LineAt {
  file: string;
  lineNo: number;
  ino: number;
  end: number;
}

/**
 * A line of the tail as read(max, true) hands it on: its values as the JSON
 * array text the line holds, never parsed on the serving thread (history.ts
 * gives them to a backend that takes them so: SQLite's writer thread).
 */
export interface RawLine {
  run: string;
  seq: number;
  /** statement config name */
  s: string;
  /** how many values */
  n: number;
  /** the values' JSON array text */
  values: string;
}

export type ReadItem = ({ kind: "line"; line: ParsedLine } | { kind: "raw"; line: RawLine } | { kind: "damaged"; text: string; reason: string }) & LineAt;

/** A raw line's values (RawLine.values), parsed. */
export function rawValues(values: string): Param[] {
  return JSON.parse(values) as Param[];
}

/** The line as the journal holds it (without the newline), for quarantine. */
export function rawText(l: RawLine): string {
  return `{"i":"${l.run}-${l.seq}","s":"${l.s}","v":${l.values}}`;
}

/** A line in Journal's tail: where it is in the active file, and its text with the newline. */
interface TailLine {
  start: number;
  end: number;
  lineNo: number;
  ino: number;
  text: string;
  /** what the line was made of: its statement, how many values, its sequence number */
  s: string;
  n: number;
  seq: number;
}

const ID = /^([0-9a-z]{1,40})-([0-9]{1,15})$/;
/** a batch of 500 lines is ~70 KiB; a line longer than this was never written by pydhcp */
const READ_CHUNK = 256 << 10;
export interface JournalLimits {
  /** a caught-up journal larger than this is emptied */
  compactBytes: number;
  /** a journal larger than this, not caught up, is sealed and a new one started */
  rotateBytes: number;
}

const LIMITS: JournalLimits = { compactBytes: 1 << 20, rotateBytes: 64 << 20 };
/** lines kept for the reader (Journal.tail); beyond this the database is behind and the file is read */
const TAIL_MAX = 5000;

/** The journal could not take an event: its reply must not leave. */
export class JournalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JournalError";
  }
}

/** What recordMany did: the events' ids, how many of them (in order) are wholly in the file, the lines that are. */
export interface Recorded {
  ids: string[];
  /** events, from the first, wholly written: the ones whose replies may leave */
  written: number;
  /** complete lines in the file (the backlog grew by these) */
  lines: number;
  error: JournalError | null;
}

/**
 * After a write of `parts` from index `from` that stopped at byte `done`:
 * the events wholly in the file, their lines, and the bytes up to the end
 * of the last of them (a "\n" ending a cut line counts with the first).
 */
function wholeEvents(parts: readonly string[], ends: readonly number[], lines: readonly number[], done: number, from: number): { events: number; lines: number; bytes: number } {
  let bytes = 0;
  let p = from;
  let events = 0;
  let complete = 0;
  let kept = 0;
  for (let i = 0; i < ends.length; i++) {
    if (ends[i]! <= from) continue;
    for (; p < ends[i]!; p++) bytes += Buffer.byteLength(parts[p]!);
    if (bytes > done) break;
    events++;
    complete += lines[i]!;
    kept = bytes;
  }
  return { events, lines: complete, bytes: kept };
}

/** A new run id: start time and randomness, so runs never collide (several servers, clock steps). */
export function newRunId(): string {
  return Date.now().toString(36) + randomBytes(3).toString("hex");
}

const STATEMENT = /^history_[a-z_]{1,40}$/;

function textValues(v: unknown): v is Param[] {
  return Array.isArray(v) && v.every((x) => x === null || typeof x === "string");
}

/** Parses one journal line; a reason when it is not one. */
export function parseLine(text: string): ParsedLine | string {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return "not JSON (cut or damaged)";
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) return "not a journal entry";
  const o = j as Record<string, unknown>;
  const m = typeof o.i === "string" ? ID.exec(o.i) : null;
  if (!m) return "no event id";
  if (typeof o.s !== "string" || !STATEMENT.test(o.s)) return "no history statement name";
  if (!textValues(o.v)) return "values are not a list of text or null";
  if (Object.keys(o).length !== 3) return "unexpected fields";
  return { run: m[1]!, seq: Number(m[2]), s: o.s, v: o.v as Param[] };
}


export class Journal {
  readonly run = newRunId();
  private seq = 0;
  private fd = -1;
  private ino = 0;
  private size = 0;
  private syncTimer: ReturnType<typeof setInterval> | null = null;
  /** the last write stopped mid-line (disk full): the next one starts on a new line */
  private cut = false;
  private dirty = false;
  /** where the writer reads next (not yet committed) */
  private cursor: Position = { ino: 0, offset: 0, line: 1 };
  /** what the writer has committed */
  private committed: Position = { ino: 0, offset: 0, line: 1 };
  /** damaged lines before this (per inode) were already quarantined */
  private quarantinedTo = new Map<number, number>();
  /** the last position save failed (warned once until one succeeds) */
  private posFailing = false;
  /** lines after `committed`: what the database still has to get */
  backlog = 0;
  /** why the last write failed, until one succeeds: no reply leaves meanwhile */
  writeProblem: string | null = null;
  private readBuf: Buffer | null = null;
  /**
   * The lines appended while the reader was caught up, as the text that was
   * written, so the writer does not read back what was just written (a
   * fifth of the server's work under load). read() parses them as it
   * parses the file, and takes them only while the first one starts at its
   * cursor; a rewind, a failed or cut write, compaction, rotation or a
   * backlog past TAIL_MAX empties it, and the file is read as before.
   *
   * Kept as text, one string per line: the lines wait here for the writer
   * (tens of ms), long enough for some to be promoted to the old
   * generation, and a parsed line was four objects (with the values' list
   * and strings) for a full collection to free. Parsing when read costs
   * about a microsecond a line. read(max, true) does not parse them: the
   * values go on as the text they are (RawLine), and SQLite's writer
   * thread parses them, so a batch waiting for its transaction is a string
   * per line, not a parsed line's objects.
   */
  private tail: TailLine[] = [];
  private tailHead = 0;
  readonly sealedPath: string;
  readonly posPath: string;
  private readonly pos: PosFile;
  readonly quarantinePath: string;

  constructor(
    readonly path: string,
    private readonly fsync: FsyncPolicy,
    private readonly log: Logger,
    private readonly limits: JournalLimits = LIMITS,
  ) {
    this.sealedPath = path + ".sealed";
    this.posPath = path + ".pos";
    this.pos = new PosFile(this.posPath);
    this.quarantinePath = path + ".quarantine";
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  /**
   * Opens (creating 0600) the active file and finds where the writer left
   * off. With `owner` (the database the rows go to), events left for
   * another database (two configurations sharing one journal file) are set
   * aside in a file of their own instead of being written here. `former`
   * is the same database as an older pydhcp named it: a journal claimed
   * with it is this database's, and the owner file is rewritten.
   */
  open(owner: string | null = null, former: string | null = null): void {
    this.fd = openPrivate(this.path, "a");
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.size = st.size;
    if (this.size > 0 && !this.endsWithNewline()) {
      // a line cut by a crash: end it so the next entry starts on its own line
      // (the cut one goes to quarantine when read); on a full disk the next write does
      try {
        writeSync(this.fd, "\n");
        this.size++;
      } catch {
        this.cut = true;
      }
    }
    const start = this.firstFile();
    const pos = this.loadPos();
    this.committed = pos && pos.ino === start.ino && pos.offset <= start.size ? pos : { ino: start.ino, offset: 0, line: 1 };
    this.cursor = { ...this.committed };
    this.backlog = this.countFrom(this.committed);
    if (owner !== null) {
      const before = this.ownerOnFile();
      if (before !== null && before !== owner && before !== former && this.backlog > 0) this.setAside(before, owner);
      this.claim(owner);
    }
    if (this.fsync.kind === "interval") {
      const ms = this.fsync.ms;
      this.syncTimer = setInterval(() => this.syncSoon(), ms);
    }
  }

  get ownerPath(): string {
    return this.path + ".database";
  }

  private ownerOnFile(): string | null {
    try {
      return readFileSync(this.ownerPath, "utf8").trim();
    } catch {
      // none: a journal from before owners were kept, or a new one
      return null;
    }
  }

  /** Records that the events in the journal go to `owner`. */
  claim(owner: string): void {
    if (this.ownerOnFile() === owner) return;
    try {
      writeFileSync(this.ownerPath, owner + "\n", { mode: MODE });
    } catch (e) {
      this.log.warn("cannot record which database the history journal is for", { journal: this.ownerPath, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Moves the journal (and a sealed one) aside, named for the database it was for, and starts an empty one. */
  private setAside(was: string, now: string): void {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const moved: string[] = [];
    closeSync(this.fd);
    for (const p of [this.sealedPath, this.path]) {
      if (!existsSync(p)) continue;
      const to = `${p}.${stamp}.other-database`;
      renameSync(p, to);
      moved.push(to);
    }
    // beside the moved journal, for `pydhcp history replay`: how far its database got, and which one it was
    const aside = `${this.path}.${stamp}.other-database`;
    try {
      this.pos.close();
      renameSync(this.posPath, aside + ".pos");
    } catch {
      // none
    }
    try {
      writeFileSync(aside + ".database", was + "\n", { mode: MODE });
    } catch {
      // the ERROR below names it too
    }
    this.log.error("history journal holds events for another database: set aside, not written to this one", {
      journal: this.path,
      rows: this.backlog,
      for: was,
      database: now,
      setAside: moved.join(" "),
    });
    this.fd = openPrivate(this.path, "a");
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.size = st.size;
    this.committed = { ino: this.ino, offset: 0, line: 1 };
    this.cursor = { ...this.committed };
    this.backlog = 0;
  }

  private endsWithNewline(): boolean {
    const b = Buffer.alloc(1);
    const r = openSync(this.path, "r");
    try {
      readSync(r, b, 0, 1, this.size - 1);
    } finally {
      closeSync(r);
    }
    return b[0] === 10;
  }

  /** The file read first: the sealed one while it exists. */
  private firstFile(): { path: string; ino: number; size: number } {
    if (existsSync(this.sealedPath)) {
      const st = statSync(this.sealedPath);
      return { path: this.sealedPath, ino: st.ino, size: st.size };
    }
    return { path: this.path, ino: this.ino, size: this.size };
  }

  private loadPos(): Position | null {
    try {
      const j = JSON.parse(readFileSync(this.posPath, "utf8")) as Position;
      if ([j.ino, j.offset, j.line].every((n) => Number.isSafeInteger(n) && n >= 0)) return j;
    } catch {
      // missing or torn: start at the beginning, the database's marks skip what was written
    }
    return null;
  }

  /** Lines after `p`, read in chunks: a journal left by a long outage can be large. */
  private countFrom(p: Position): number {
    let n = 0;
    const buf = (this.readBuf ??= Buffer.allocUnsafe(READ_CHUNK));
    for (const f of this.files()) {
      const fd = openSync(f.path, "r");
      try {
        for (let off = f.ino === p.ino ? p.offset : 0; ; ) {
          const got = readSync(fd, buf, 0, READ_CHUNK, off);
          if (got === 0) break;
          for (let i = buf.indexOf(10); i >= 0 && i < got; i = buf.indexOf(10, i + 1)) n++;
          off += got;
        }
      } finally {
        closeSync(fd);
      }
    }
    return n;
  }

  private files(): { path: string; ino: number; size: number }[] {
    const out = [];
    if (existsSync(this.sealedPath)) {
      const st = statSync(this.sealedPath);
      out.push({ path: this.sealedPath, ino: st.ino, size: st.size });
    }
    out.push({ path: this.path, ino: this.ino, size: this.size });
    return out;
  }

  /**
   * Appends one event's statements with one write(); returns the event id.
   * Throws when the file cannot be written: the caller must not reply.
   */
  record(build: (eventId: string) => JournalEntry[]): string {
    const r = this.recordMany([build]);
    if (r.error) throw r.error;
    return r.ids[0]!;
  }

  /**
   * Appends several events, in order, with one write() (the events of one
   * event-loop turn). Never throws: when the write fails or stops short,
   * `written` says how many events (a prefix) are wholly in the file, and so
   * may be answered; `error` says why the rest are not. With fsync "always"
   * a failed fdatasync leaves none answerable.
   */
  recordMany(builds: readonly ((eventId: string) => JournalEntry[])[]): Recorded {
    const ids: string[] = [];
    const before = this.size;
    /** whether the lines can go to the tail */
    const keep = this.tailContinues(before);
    // a line cut by a failed write is ended first; it is quarantined when read
    const parts: string[] = this.cut ? ["\n"] : [];
    /** per event: its index in `parts` after its last line, and its lines */
    const ends: number[] = [];
    const lines: number[] = [];
    /** per line, for the tail: statement, value count, sequence number */
    const metas: (string | number)[] = [];
    for (const build of builds) {
      const first = this.seq + 1;
      const id = `${this.run}-${first}`;
      ids.push(id);
      const entries = build(id);
      // ids are used once, written or not: a line that reached the file must never share its id
      this.seq = first + entries.length - 1;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k]!;
        // statement names are config names (history_[a-z_]+): nothing to escape; values are
        parts.push(`{"i":"${k === 0 ? id : `${this.run}-${first + k}`}","s":"${e.s}","v":${JSON.stringify(e.v)}}\n`);
        // -1: a value that is not text or null, which the reader refuses: the tail does not hand it on raw
        if (keep) metas.push(e.s, textValues(e.v) ? e.v.length : -1, first + k);
      }
      ends.push(parts.length);
      lines.push(entries.length);
    }
    const all = builds.length;
    if (parts.length === 0) return { ids, written: all, lines: 0, error: null };
    let n = 0;
    for (const l of lines) n += l;
    let failure: unknown = null;
    /** where the successful write began */
    let wroteAt = 0;
    /** the parts this attempt writes start here ("\n" for a cut line first) */
    let from = 0;
    for (let attempt = 0; ; attempt++) {
      const at = this.size;
      const text = from > 0 ? parts.slice(from).join("") : parts.length === 1 ? parts[0]! : parts.join("");
      const total = Buffer.byteLength(text);
      let done = 0;
      failure = null;
      try {
        // the string goes straight out; a short write (a full disk) goes on from bytes
        done = writeSync(this.fd, text);
        if (done < total) {
          const bytes = Buffer.from(text);
          while (done < total) done += writeSync(this.fd, bytes, done, total - done);
        }
      } catch (e) {
        failure = e;
      }
      if (failure === null) {
        wroteAt = at;
        this.size += total;
        this.cut = false;
        break;
      }
      this.clearTail();
      // nothing of this call is answered yet: when every line before it is in the database, the
      // journal is emptied (a small disk fills with lines already written) and the events go again
      if (attempt === 0 && this.emptyAt(at)) {
        from = this.cut ? 0 : parts[0] === "\n" ? 1 : 0;
        continue;
      }
      const error = new JournalError(`cannot write the history journal ${this.path}: ${failure instanceof Error ? failure.message : String(failure)}`);
      this.writeProblem = error.message;
      // whole events stay; torn bytes and the lines of an event cut short go: their replies do not leave
      const whole = wholeEvents(parts, ends, lines, done, from);
      try {
        if (done > whole.bytes) ftruncateSync(this.fd, at + whole.bytes);
        this.size = at + whole.bytes;
        if (whole.events > 0) this.cut = false;
      } catch {
        // the cut line stays; the next write ends it and the reader quarantines it
        this.size = at + done;
        if (done > 0) this.cut = true;
      }
      this.backlog += whole.lines;
      return { ids, written: whole.events, lines: whole.lines, error };
    }
    if (this.fsync.kind === "always") {
      try {
        fdatasyncSync(this.fd);
      } catch (e) {
        this.clearTail();
        // in the file, so written to the database later, but not answerable
        this.backlog += n;
        const error = new JournalError(`cannot write the history journal ${this.path}: ${e instanceof Error ? e.message : String(e)}`);
        this.writeProblem = error.message;
        return { ids, written: 0, lines: n, error };
      }
    }
    this.writeProblem = null;
    // with `keep` no write was cut before this one: parts are the lines, one each (from is 0)
    if (keep && from === 0) this.keepTail(parts, metas, wroteAt);
    else this.clearTail();
    this.backlog += n;
    if (this.fsync.kind !== "always") this.dirty = true;
    return { ids, written: all, lines: n, error: null };
  }

  /**
   * After a failed write at `at`: when everything before `at` is in the
   * database, empties the journal (position first, as compact() does; on a
   * full disk the position file is removed instead: the database's marks
   * skip what was written). True when it did.
   */
  private emptyAt(at: number): boolean {
    const c = this.committed;
    if (at === 0 || c.ino !== this.ino || c.offset < at || existsSync(this.sealedPath)) return false;
    const zero = { ino: this.ino, offset: 0, line: 1 };
    try {
      try {
        this.savePos(zero);
      } catch {
        this.pos.close();
        unlinkSync(this.posPath);
      }
      ftruncateSync(this.fd, 0);
    } catch {
      return false;
    }
    this.size = 0;
    this.cut = false;
    this.committed = zero;
    this.cursor = { ...zero };
    this.log.info("history journal emptied to make room: every line in it was already in the database", { journal: this.path });
    return true;
  }

  /** Whether lines appended at `offset` of the active file follow on from the tail (or start it: the reader is there). */
  private tailContinues(offset: number): boolean {
    if (this.cut) return false;
    const pending = this.tail.length - this.tailHead;
    if (pending === 0) return this.cursor.ino === this.ino && this.cursor.offset === offset;
    const last = this.tail[this.tail.length - 1]!;
    return pending < TAIL_MAX && last.ino === this.ino && last.end === offset;
  }

  private keepTail(parts: readonly string[], metas: readonly (string | number)[], offset: number): void {
    const pending = this.tail.length > this.tailHead;
    let lineNo = pending ? this.tail[this.tail.length - 1]!.lineNo + 1 : this.cursor.line;
    let at = offset;
    for (let i = 0; i < parts.length; i++) {
      const text = parts[i]!;
      const end = at + Buffer.byteLength(text);
      this.tail.push({ start: at, end, lineNo: lineNo++, ino: this.ino, text, s: metas[3 * i] as string, n: metas[3 * i + 1] as number, seq: metas[3 * i + 2] as number });
      at = end;
    }
  }

  private clearTail(): void {
    this.tail = [];
    this.tailHead = 0;
  }

  /** Up to `max` lines from the tail, whose first starts at the cursor; `raw`: see read(). */
  private readTail(max: number, raw: boolean): { items: ReadItem[]; next: Position } {
    const stop = Math.min(this.tail.length, this.tailHead + max);
    const items: ReadItem[] = [];
    const last = this.tail[stop - 1]!;
    for (let i = this.tailHead; i < stop; i++) {
      const t = this.tail[i]!;
      const where = { file: this.path, lineNo: t.lineNo, ino: t.ino, end: t.end };
      // this process wrote the line from these: the values are the text after "v": (run and statement hold no such text)
      if (raw && t.n >= 0 && STATEMENT.test(t.s)) {
        items.push({ kind: "raw", line: { run: this.run, seq: t.seq, s: t.s, n: t.n, values: t.text.slice(t.text.indexOf('"v":') + 4, -2) }, ...where });
        continue;
      }
      // as read() makes an item of the same bytes in the file
      const text = t.text.slice(0, -1);
      const parsed = parseLine(text);
      if (typeof parsed !== "string") items.push({ kind: "line", line: parsed, ...where });
      else if (t.start >= (this.quarantinedTo.get(t.ino) ?? 0)) items.push({ kind: "damaged", text, reason: parsed, ...where });
    }
    this.tailHead = stop;
    if (this.tailHead === this.tail.length) this.clearTail();
    else if (this.tailHead >= 4096) {
      this.tail = this.tail.slice(this.tailHead);
      this.tailHead = 0;
    }
    this.cursor = { ino: last.ino, offset: last.end, line: last.lineNo + 1 };
    return { items, next: { ...this.cursor } };
  }

  private syncSoon(): void {
    if (!this.dirty || this.fd < 0) return;
    this.dirty = false;
    fdatasync(this.fd, (e) => {
      if (e) this.log.warn("history journal fsync failed", { journal: this.path, error: e.message });
    });
  }

  /**
   * Up to `max` entries after the read cursor, in order; damaged lines come
   * as such (once each). Moves the read cursor; commit() makes it durable.
   * With `raw`, lines taken from the tail come as RawLine (their values
   * unparsed); lines read from the file are parsed as always.
   */
  read(max: number, raw = false): { items: ReadItem[]; next: Position } {
    if (this.tailHead < this.tail.length && max > 0) {
      const head = this.tail[this.tailHead]!;
      if (head.ino === this.cursor.ino && head.start === this.cursor.offset) return this.readTail(max, raw);
      this.clearTail();
    }
    const items: ReadItem[] = [];
    let p = { ...this.cursor };
    for (;;) {
      const f = this.fileOf(p);
      if (!f) break;
      const r = openSync(f.path, "r");
      // one buffer for the journal's life: lines are copied out as strings
      const buf = (this.readBuf ??= Buffer.allocUnsafe(READ_CHUNK));
      try {
        while (items.length < max) {
          const n = readSync(r, buf, 0, READ_CHUNK, p.offset);
          if (n === 0) break;
          let start = 0;
          let nl = buf.indexOf(10, 0);
          if (nl < 0 || nl >= n) {
            // one line longer than the chunk: never written by pydhcp; skip it whole
            if (n < READ_CHUNK) break;
            const end = this.findNewline(r, p.offset + n);
            if (end < 0) break;
            items.push({ kind: "damaged", text: "(line longer than 256 KiB)", file: f.path, lineNo: p.line, ino: f.ino, end: end + 1, reason: "too long" });
            p = { ino: f.ino, offset: end + 1, line: p.line + 1 };
            continue;
          }
          while (nl >= 0 && nl < n && items.length < max) {
            const text = buf.toString("utf8", start, nl);
            const at = p.offset + start;
            if (text.trim() !== "") {
              const where = { file: f.path, lineNo: p.line, ino: f.ino, end: p.offset + nl + 1 };
              const parsed = parseLine(text);
              if (typeof parsed === "string") {
                if (at >= (this.quarantinedTo.get(f.ino) ?? 0)) items.push({ kind: "damaged", text, reason: parsed, ...where });
              } else items.push({ kind: "line", line: parsed, ...where });
            }
            p.line++;
            start = nl + 1;
            nl = buf.indexOf(10, start);
          }
          p = { ino: f.ino, offset: p.offset + start, line: p.line };
        }
      } finally {
        closeSync(r);
      }
      if (items.length >= max) break;
      // the sealed file is done: go on in the active one
      if (f.path === this.sealedPath && p.offset >= statSync(this.sealedPath).size) {
        p = { ino: this.ino, offset: 0, line: 1 };
        continue;
      }
      break;
    }
    this.cursor = p;
    return { items, next: p };
  }

  private findNewline(fd: number, from: number): number {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (let off = from; ; off += READ_CHUNK) {
      const n = readSync(fd, buf, 0, READ_CHUNK, off);
      if (n === 0) return -1;
      const i = buf.indexOf(10);
      if (i >= 0 && i < n) return off + i;
    }
  }

  private fileOf(p: Position): { path: string; ino: number } | null {
    if (p.ino === this.ino) return { path: this.path, ino: this.ino };
    if (existsSync(this.sealedPath)) {
      const ino = statSync(this.sealedPath).ino;
      if (ino === p.ino) return { path: this.sealedPath, ino };
    }
    return null;
  }

  /** Moves a damaged or refused line to the quarantine file (0600), once. */
  quarantine(at: LineAt, text: string, reason: string): boolean {
    if (at.end <= (this.quarantinedTo.get(at.ino) ?? 0)) return false;
    const fd = openPrivate(this.quarantinePath, "a");
    try {
      writeSync(fd, JSON.stringify({ file: at.file, line: at.lineNo, reason, text }) + "\n");
    } finally {
      closeSync(fd);
    }
    this.quarantinedTo.set(at.ino, Math.max(this.quarantinedTo.get(at.ino) ?? 0, at.end));
    return true;
  }

  /** Back to the last commit (a write failed: the same lines are read again). */
  rewind(): void {
    this.cursor = { ...this.committed };
  }

  /** Lines up to `p` are in the database (or quarantined); `lines` of them. */
  commit(p: Position, lines: number): void {
    this.committed = { ...p };
    this.backlog = Math.max(0, this.backlog - lines);
    try {
      this.savePos(p);
      this.compact();
      this.posFailing = false;
    } catch (e) {
      // the position is a hint (the database's marks decide what was written): a full
      // disk must not stop the writer; the file is emptied only after the position is saved
      if (!this.posFailing) this.log.warn("cannot save the history journal position; rows are still written", { journal: this.posPath, error: e instanceof Error ? e.message : String(e) });
      this.posFailing = true;
    }
  }

  /** True when every line read so far is committed and nothing is left to read. */
  get caughtUp(): boolean {
    return this.committed.ino === this.ino && this.committed.offset >= this.size && !existsSync(this.sealedPath);
  }

  private savePos(p: Position): void {
    this.pos.save(p);
  }

  private compact(): void {
    const c = this.committed;
    if (existsSync(this.sealedPath)) {
      const st = statSync(this.sealedPath);
      // a position in the active file means the sealed one was read to its end
      if (c.ino !== this.ino && !(c.ino === st.ino && c.offset >= st.size)) return;
      if (c.ino !== this.ino) {
        // the position moves to the active file before the sealed one goes
        const p = { ino: this.ino, offset: 0, line: 1 };
        this.savePos(p);
        this.committed = p;
        if (this.cursor.ino === st.ino) this.cursor = { ...p };
      }
      unlinkSync(this.sealedPath);
      return;
    }
    if (c.ino !== this.ino) return;
    if (c.offset >= this.size) {
      // after a failed write (a full disk) the written lines go at once: they may be what fills it
      if (this.size < this.limits.compactBytes && this.writeProblem === null) return;
      // all written: the position is saved as 0 before the file is emptied (a crash between re-reads, marks skip)
      const p = { ino: this.ino, offset: 0, line: 1 };
      this.savePos(p);
      ftruncateSync(this.fd, 0);
      if (this.writeProblem !== null) this.log.info("history journal emptied to make room: every line in it was already in the database", { journal: this.path });
      this.size = 0;
      this.clearTail();
      this.committed = p;
      this.cursor = { ...p };
      return;
    }
    if (this.size >= this.limits.rotateBytes) {
      // not caught up and large (an outage): seal it, so it can go as soon as it is written
      this.clearTail();
      renameSync(this.path, this.sealedPath);
      closeSync(this.fd);
      this.fd = openPrivate(this.path, "a");
      const sealed = this.size;
      const st = fstatSync(this.fd);
      this.ino = st.ino;
      this.size = st.size;
      this.log.info("history journal sealed; new events go to a new file, the sealed one is removed once written", {
        sealed: this.sealedPath,
        bytes: sealed,
      });
    }
  }

  /** Flushes to disk and closes. */
  close(): void {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    if (this.fd < 0) return;
    if (this.caughtUp && this.size > 0) {
      // everything is in the database: leave an empty journal (position first, as in compact)
      this.savePos({ ino: this.ino, offset: 0, line: 1 });
      ftruncateSync(this.fd, 0);
      this.size = 0;
    }
    try {
      if (this.fsync.kind !== "never") fdatasyncSync(this.fd);
    } catch {
      // closing anyway; a killed process would not have synced either
    }
    closeSync(this.fd);
    this.fd = -1;
    this.pos.close();
  }
}
