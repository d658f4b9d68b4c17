/**
 * What saving the journal's position costs the serving thread: the former
 * writeFileSync (open with O_TRUNC, write, close; on ext4 the close starts
 * writeback of a file truncated and rewritten) against PosFile (the same
 * 128 bytes overwritten in a file kept open). 3 interleaved rounds of 2,000
 * saves each, in a directory on the file system of `dir` (default: the
 * system's temporary directory; give the journal's, e.g. /var/lib/pydhcp).
 *
 *   ./node_modules/.bin/bun bench/journal-pos.ts [dir]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosFile } from "../src/server/journal-pos.ts";

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), "pydhcp-bench-pos-"));
const N = 2000;
const ways: Record<string, (p: { ino: number; offset: number; line: number }) => void> = {
  "writeFileSync (before)": (p) => writeFileSync(join(dir, "a.pos"), JSON.stringify(p), { mode: 0o600 }),
  "PosFile (now)": ((f) => (p: { ino: number; offset: number; line: number }) => f.save(p))(new PosFile(join(dir, "b.pos"))),
};
const q = (xs: number[], f: number): number => xs[Math.min(xs.length - 1, Math.floor(xs.length * f))]!;
const all = new Map<string, number[]>();
for (let r = 0; r < 3; r++) {
  for (const [name, save] of Object.entries(ways)) {
    const t = all.get(name) ?? [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      save({ ino: 1234567, offset: i * 97, line: i + 1 });
      t.push((performance.now() - t0) * 1000);
    }
    all.set(name, t);
  }
}
console.log("| way | p50 µs | p99 µs | max µs |\n| --- | --- | --- | --- |");
for (const [name, t] of all) {
  t.sort((a, b) => a - b);
  console.log(`| ${name} | ${q(t, 0.5).toFixed(1)} | ${q(t, 0.99).toFixed(1)} | ${t.at(-1)!.toFixed(1)} |`);
}
rmSync(dir, { recursive: true, force: true });
