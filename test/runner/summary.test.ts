/**
 * The suite's last lines (test/summary.sh with test/failures.awk): an
 * unhandled error between tests fails the run even when every test passed,
 * and the failure lines name the file that raised it, not only the file bun
 * was running when it surfaced. Runs a real `bun test` on throwaway files.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pdc-runner-"));
  // a.test.ts passes, then throws from a timer once b.test.ts's tests are under way (b says so). A fixed
  // 5 ms fired while a loaded machine was still loading b.test.ts, and bun then ran none of b's tests
  writeFileSync(
    join(dir, "a.test.ts"),
    `import { expect, test } from "bun:test";\ntest("passes", () => {\n  const t = setInterval(() => { if ((globalThis as { bStarted?: boolean }).bStarted) { clearInterval(t); throw new Error("late error from a"); } }, 1);\n  expect(1).toBe(1);\n});\n`,
  );
  writeFileSync(
    join(dir, "b.test.ts"),
    `import { beforeAll, expect, test } from "bun:test";\nbeforeAll(() => { (globalThis as { bStarted?: boolean }).bStarted = true; return Bun.sleep(100); });\ntest("passes too", () => expect(2).toBe(2));\n`,
  );
  writeFileSync(join(dir, "c.test.ts"), `import { expect, test } from "bun:test";\ntest("fine", () => expect(3).toBe(3));\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bunTest(files: string[]): Promise<{ rc: number; log: string }> {
  const p = Bun.spawn([BUN, "test", ...files.map((f) => `./${f}`)], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [out, err, rc] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const log = join(dir, `log-${files.join("-")}.txt`);
  writeFileSync(log, out + err);
  return { rc, log };
}

async function summary(log: string, ...rcs: number[]): Promise<{ code: number; lines: string[] }> {
  const p = Bun.spawn(["bash", join(ROOT, "test/summary.sh"), log, ...rcs.map(String)], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { code, lines: out.trimEnd().split("\n") };
}

test("an unhandled error between tests fails the run with every test passed, and names a.test.ts", async () => {
  const r = await bunTest(["a.test.ts", "b.test.ts"]);
  expect(r.rc).not.toBe(0);
  const s = await summary(r.log, r.rc, 0);
  expect(s.code).not.toBe(0);
  expect(s.lines.at(-1)).toBe("2 passed, 1 failed");
  expect(s.lines).toContain("--- failures ---");
  expect(s.lines.some((l) => l.startsWith("unhandled error between tests, while running "))).toBe(true);
  expect(s.lines.some((l) => l.includes("error: late error from a") && l.includes("a.test.ts:3"))).toBe(true);
});

test("a clean run ends with the count alone and exits 0", async () => {
  const r = await bunTest(["c.test.ts"]);
  expect(r.rc).toBe(0);
  const s = await summary(r.log, r.rc, 0);
  expect(s).toEqual({ code: 0, lines: expect.arrayContaining(["1 passed, 0 failed"]) });
  expect(s.lines).not.toContain("--- failures ---");
  expect(s.lines.at(-1)).toBe("1 passed, 0 failed");
});
