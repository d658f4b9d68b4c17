/**
 * The journal's reader gets the lines this process just appended from
 * memory (Journal's tail) while it is caught up, and from the file
 * otherwise. Either way every item must be exactly what the file holds at
 * that place: checked here against the bytes on disk through random
 * sequences of appends, reads, rewinds, commits, compaction and rotation.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { Journal, parseLine, rawText, rawValues, type JournalEntry, type ParsedLine, type ReadItem } from "../../src/server/journal.ts";

let dir = "";
const log = createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), `pydhcp-journal-tail-${process.pid}-`));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** xorshift: the same sequence for a seed, so a failure can be replayed */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const VALUES = ["0025224ad764", "198.18.0.7", "2026-12-03 08:00:00", 'quote " and \\ back', "ünïcødé ✓", "", "line\nbreak"];

/** The line ending at `end` in the file, parsed, and its 1-based number. */
function lineOnDisk(file: string, end: number): { line: ParsedLine | string; lineNo: number } {
  const buf = readFileSync(file);
  expect(buf[end - 1]).toBe(10);
  const start = buf.lastIndexOf(10, end - 2) + 1;
  let lineNo = 1;
  for (let i = buf.indexOf(10); i >= 0 && i < start; i = buf.indexOf(10, i + 1)) lineNo++;
  return { line: parseLine(buf.toString("utf8", start, end - 1)), lineNo };
}

function checkAgainstDisk(items: readonly ReadItem[]): void {
  for (const it of items) {
    const disk = lineOnDisk(it.file, it.end);
    expect(it.lineNo).toBe(disk.lineNo);
    if (it.kind === "line") expect(it.line).toEqual(disk.line as ParsedLine);
    else if (it.kind === "raw") {
      // the values' text is the line's, and parses to what the file's reader reads
      const { run, seq, s, values, n } = it.line;
      expect({ run, seq, s, v: rawValues(values) }).toEqual(disk.line as ParsedLine);
      expect(n).toBe((disk.line as ParsedLine).v.length);
      expect(rawText(it.line)).toBe(JSON.stringify({ i: `${run}-${seq}`, s, v: (disk.line as ParsedLine).v }));
    } else expect(typeof disk.line).toBe("string");
  }
}

/** The id of a line read, whatever the kind. */
const idOf = (it: ReadItem): string | null => (it.kind === "damaged" ? null : `${it.line.run}-${it.line.seq}`);

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`seed ${seed}: every line read is the file's line at that place, each once per pass and in order`, () => {
    const r = rng(seed);
    const j = new Journal(join(dir, "j"), { kind: "never" }, log, { compactBytes: 3000, rotateBytes: 6000 });
    j.open();
    const recorded: string[] = [];
    /** ids delivered and committed, in order */
    const committed: string[] = [];
    let pending: string[] = [];
    let last: ReturnType<Journal["read"]> | null = null;
    let rawRead = 0;
    for (let step = 0; step < 3000; step++) {
      const op = r();
      if (op < 0.45) {
        const events = 1 + Math.floor(r() * 4);
        const builds = Array.from({ length: events }, () => (id: string): JournalEntry[] => {
          const lines = 1 + Math.floor(r() * 2);
          return Array.from({ length: lines }, () => ({ s: "history_sql", v: [id, VALUES[Math.floor(r() * VALUES.length)]!, r() < 0.1 ? null : "x"] }));
        });
        const rec = j.recordMany(builds);
        expect(rec.error).toBeNull();
        for (const id of rec.ids) recorded.push(id);
      } else if (op < 0.8) {
        // raw or parsed, as the history writer asks for either
        const got = j.read(1 + Math.floor(r() * 40), r() < 0.5);
        checkAgainstDisk(got.items);
        for (const it of got.items) if (it.kind === "raw") rawRead++;
        for (const it of got.items) if (idOf(it)) pending.push(idOf(it)!);
        last = got;
      } else if (op < 0.95 && last) {
        j.commit(last.next, last.items.length);
        committed.push(...pending);
        pending = [];
        last = null;
      } else {
        j.rewind();
        pending = [];
        last = null;
      }
    }
    // drain: the reader reaches the end and has seen each line once since the last commit
    for (;;) {
      const got = j.read(500, true);
      checkAgainstDisk(got.items);
      for (const it of got.items) if (idOf(it)) pending.push(idOf(it)!);
      if (got.items.length === 0) {
        // what the history writer does: a sealed file read to its end goes on commit
        if (!j.caughtUp) j.commit(got.next, 0);
        committed.push(...pending);
        break;
      }
      j.commit(got.next, got.items.length);
      committed.push(...pending);
      pending = [];
    }
    expect(j.caughtUp).toBe(true);
    // every event's first line id, in order, each once
    const firsts = committed.filter((id) => recorded.includes(id));
    expect(firsts).toEqual(recorded);
    expect(new Set(committed).size).toBe(committed.length);
    // the tail handed lines on raw too
    expect(rawRead).toBeGreaterThan(0);
    j.close();
  });
}

test("a line the file's reader would refuse (a value that is not text) comes back damaged, as from the file", () => {
  const j = new Journal(join(dir, "j"), { kind: "never" }, log);
  j.open();
  j.recordMany([(id) => [{ s: "history_sql", v: [id] }]]);
  const first = j.read(10);
  expect(first.items.map((i) => i.kind)).toEqual(["line"]);
  j.commit(first.next, 1);
  // a number where text belongs: the file's reader refuses it
  j.recordMany([(id) => [{ s: "history_sql", v: [id, 7 as unknown as string] }], (id) => [{ s: "history_sql", v: [id] }]]);
  // read raw from the tail: the refused line is not handed on as text
  const raw = j.read(10, true);
  checkAgainstDisk(raw.items);
  expect(raw.items.map((i) => i.kind)).toEqual(["damaged", "raw"]);
  // from the file, parsed
  j.rewind();
  const got = j.read(10);
  checkAgainstDisk(got.items);
  expect(got.items.map((i) => i.kind)).toEqual(["damaged", "line"]);
  expect(got.items[0]!.kind === "damaged" && got.items[0]!.reason).toBe("values are not a list of text or null");
  j.close();
});

test("read raw from the tail: values with quotes, backslashes, newlines, non-ASCII, NULL and the text \"v\": come back as recorded", () => {
  const j = new Journal(join(dir, "j"), { kind: "never" }, log);
  j.open();
  const odd = ['say "v":[1]', ...VALUES, null, '","v":'];
  const rec = j.recordMany([(id) => [{ s: "history_sql", v: [id, ...odd] }, { s: "history_other", v: [] }]]);
  const got = j.read(10, true);
  expect(got.items.map((i) => i.kind)).toEqual(["raw", "raw"]);
  checkAgainstDisk(got.items);
  const first = got.items[0]!;
  if (first.kind !== "raw") throw new Error("not raw");
  expect(rawValues(first.line.values)).toEqual([rec.ids[0]!, ...odd]);
  expect(first.line.n).toBe(odd.length + 1);
  j.close();
});

test("lines appended behind a rotation are read from the sealed file, then the new one, in order", () => {
  const j = new Journal(join(dir, "j"), { kind: "never" }, log, { compactBytes: 100, rotateBytes: 400 });
  j.open();
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push(...j.recordMany([(id) => [{ s: "history_sql", v: [id, "a"] }]]).ids);
  // a partial read and commit of a large file seals it
  const part = j.read(3);
  j.commit(part.next, 3);
  expect(existsSync(join(dir, "j.sealed"))).toBe(true);
  for (let i = 0; i < 5; i++) ids.push(...j.recordMany([(id) => [{ s: "history_sql", v: [id, "b"] }]]).ids);
  const seen = part.items.map((i) => (i.kind === "line" ? `${i.line.run}-${i.line.seq}` : "?"));
  for (;;) {
    const got = j.read(4);
    checkAgainstDisk(got.items);
    if (got.items.length === 0) break;
    for (const i of got.items) seen.push(i.kind === "line" ? `${i.line.run}-${i.line.seq}` : "?");
    j.commit(got.next, got.items.length);
  }
  expect(seen).toEqual(ids);
  expect(existsSync(join(dir, "j.sealed"))).toBe(false);
  j.close();
});
