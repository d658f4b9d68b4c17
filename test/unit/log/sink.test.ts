import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fdSink } from "../../../src/log/sink.ts";

const dir = mkdtempSync(join(tmpdir(), "svc-sink-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LOGGER = resolve(import.meta.dir, "../../../src/log/logger.ts");

describe("fd sink", () => {
  test("buffered: nothing written until the event loop turns, then all lines in order", async () => {
    const path = join(dir, "a.log");
    const fd = openSync(path, "w");
    const s = fdSink(fd);
    s.write("one\n");
    s.write("two\n");
    expect(readFileSync(path, "utf8")).toBe("");
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path, "utf8")).toBe("one\ntwo\n");
    closeSync(fd);
  });

  test("buffered: writes at once past the high-water mark", () => {
    const path = join(dir, "b.log");
    const fd = openSync(path, "w");
    const s = fdSink(fd, { highWater: 10 });
    s.write("12345\n");
    expect(readFileSync(path, "utf8")).toBe("");
    s.write("67890\n");
    expect(readFileSync(path, "utf8")).toBe("12345\n67890\n");
    closeSync(fd);
  });

  test("buffered: UTF-8 text, lines across the buffer's end and a line longer than the buffer, all in order", async () => {
    const path = join(dir, "d.log");
    const fd = openSync(path, "w");
    const s = fdSink(fd, { highWater: 100 });
    const want: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // host names as subscribers send them: Cyrillic, emoji, escapes
      const line = i % 997 === 0 ? "x".repeat(40_000) + ` ${i}\n` : `${i} Сергей-ПК 🖥 host=${"a".repeat(i % 50)}\n`;
      want.push(line);
      s.write(line);
    }
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path, "utf8")).toBe(want.join(""));
    closeSync(fd);
  });

  test("unbuffered: written at once", () => {
    const path = join(dir, "c.log");
    const fd = openSync(path, "w");
    fdSink(fd, { buffered: false }).write("now\n");
    expect(readFileSync(path, "utf8")).toBe("now\n");
    closeSync(fd);
  });

  test("a process that exits right after logging loses no line (default stdout/stderr sinks)", async () => {
    const script = join(dir, "exit.ts");
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(LOGGER)};
const log = createLogger({ level: "info", format: "text" });
for (let i = 0; i < 5000; i++) log.info("line", { i });
log.error("last");
process.exit(0);
`,
    );
    const p = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines.length).toBe(5000);
    expect(lines[4999]).toEndWith(" INFO line i=4999");
    expect(err).toEndWith(" ERROR last\n");
  });
});
