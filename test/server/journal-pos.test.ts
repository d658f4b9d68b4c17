import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosFile } from "../../src/server/journal-pos.ts";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pydhcp-pos-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (p: string): unknown => JSON.parse(readFileSync(p, "utf8"));

test("each save overwrites the same 128 bytes of the same file, which reads as the last position", () => {
  const path = join(dir, "j.pos");
  const pos = new PosFile(path);
  pos.save({ ino: 123456789012, offset: 67108864, line: 987654 });
  const first = statSync(path);
  pos.save({ ino: 5, offset: 0, line: 1 });
  const after = statSync(path);
  expect(after.ino).toBe(first.ino);
  expect(after.size).toBe(128);
  expect(read(path)).toEqual({ ino: 5, offset: 0, line: 1 });
  const text = readFileSync(path, "latin1");
  expect(text.endsWith(" \n")).toBe(true);
  expect(after.mode & 0o777).toBe(0o600);
  pos.close();
});

test("an existing file: its mode is tightened to 0600, longer text from another writer is cut", () => {
  const path = join(dir, "j.pos");
  writeFileSync(path, JSON.stringify({ ino: 1, offset: 2, line: 3 }) + " ".repeat(300) + "garbage");
  chmodSync(path, 0o644);
  const pos = new PosFile(path);
  pos.save({ ino: 7, offset: 8, line: 9 });
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(statSync(path).size).toBe(128);
  expect(read(path)).toEqual({ ino: 7, offset: 8, line: 9 });
  pos.close();
});

test("after close() the next save opens the path again: a file renamed away keeps its last position, a new one is made", () => {
  const path = join(dir, "j.pos");
  const pos = new PosFile(path);
  pos.save({ ino: 1, offset: 10, line: 2 });
  pos.close();
  renameSync(path, join(dir, "aside.pos"));
  pos.save({ ino: 2, offset: 0, line: 1 });
  expect(read(join(dir, "aside.pos"))).toEqual({ ino: 1, offset: 10, line: 2 });
  expect(read(path)).toEqual({ ino: 2, offset: 0, line: 1 });
  pos.close();
});

test("a save that cannot open its file throws (the journal warns once and goes on) and works once it can", () => {
  const path = join(dir, "sub", "j.pos");
  const pos = new PosFile(path);
  expect(() => pos.save({ ino: 1, offset: 0, line: 1 })).toThrow(/ENOENT/);
  expect(existsSync(path)).toBe(false);
  mkdirSync(join(dir, "sub"));
  pos.save({ ino: 1, offset: 0, line: 1 });
  expect(read(path)).toEqual({ ino: 1, offset: 0, line: 1 });
  pos.close();
});

test("a file removed or replaced by hand is noticed within a second and made again", () => {
  const path = join(dir, "j.pos");
  let now = 0;
  const pos = new PosFile(path, () => now);
  pos.save({ ino: 1, offset: 10, line: 2 });
  rmSync(path);
  now = 500;
  pos.save({ ino: 1, offset: 20, line: 3 });
  // within the second the save still goes to the removed file
  expect(existsSync(path)).toBe(false);
  now = 1600;
  pos.save({ ino: 1, offset: 30, line: 4 });
  expect(read(path)).toEqual({ ino: 1, offset: 30, line: 4 });
  // replaced (a new inode at the path): written to the new file after the next check
  writeFileSync(join(dir, "other"), "{}");
  renameSync(join(dir, "other"), path);
  now = 3000;
  pos.save({ ino: 1, offset: 40, line: 5 });
  expect(read(path)).toEqual({ ino: 1, offset: 40, line: 5 });
  expect(statSync(path).mode & 0o777).toBe(0o600);
  pos.close();
});
