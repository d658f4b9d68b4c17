/**
 * What the built binary prints when piped or given bad input: a dump larger
 * than a pipe's buffer reaches a slow reader whole; a missing --file is "cannot
 * read", not "not hex"; a long bad --hex is not echoed back; an empty config
 * says it is empty.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encode } from "../../src/codec/encode.ts";
import { emptyMessage } from "../../src/codec/header.ts";
import { run } from "../e2e/netns.ts";

const REPO = join(import.meta.dir, "../..");
const BIN = process.env.PYDHCP_BIN ?? join(REPO, "dist/pydhcp");
const cmd = existsSync(BIN) ? [BIN] : [process.execPath, join(REPO, "src/cli/main.ts")];
const dir = mkdtempSync(join(tmpdir(), "pydhcp-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 60 KB DISCOVER: 127 options of 480 bytes each, so the JSON dump is ~700 KB. */
function bigPacketHex(): string {
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(1)]]);
  for (let c = 128; c < 255; c++) options.set(c, new Uint8Array(480).fill(c));
  const chaddr = new Uint8Array(16);
  chaddr.set([2, 0, 0x5e, 0, 0, 1]);
  const r = encode({ ...emptyMessage(), op: 1, htype: 1, hlen: 6, xid: 1, chaddr, options });
  if (!r.ok) throw new Error(r.error.message);
  return Buffer.from(r.bytes).toString("hex") + "\n";
}

test("--dump --json of a big packet reaches a slow reader whole (exit waits for the pipe)", async () => {
  const hex = join(dir, "big.hex");
  writeFileSync(hex, bigPacketHex());
  const direct = join(dir, "direct.json");
  const slow = join(dir, "slow.json");
  const q = (s: string) => `'${s}'`;
  const bin = cmd.map(q).join(" ");
  // to a file: never short
  expect((await run(["sh", "-c", `${bin} --dump --json --file ${q(hex)} > ${q(direct)}`])).code).toBe(0);
  // to a reader that starts after a second: the writer must wait for it
  const r = await run(["sh", "-c", `${bin} --dump --json --file ${q(hex)} | (sleep 1; cat > ${q(slow)})`], { timeoutMs: 30_000 });
  expect(r.code).toBe(0);
  const a = Bun.file(direct).size;
  expect(a).toBeGreaterThan(600_000);
  expect(Bun.file(slow).size).toBe(a);
  const parsed = JSON.parse(await Bun.file(slow).text());
  expect(parsed.ok).toBe(true);
  expect(parsed.vars.ClientMacAddress).toBe("02005e000001");
}, 40_000);

test("--dump to a reader that leaves early ends instead of waiting for ever", async () => {
  const hex = join(dir, "big2.hex");
  writeFileSync(hex, bigPacketHex());
  const bin = cmd.map((s) => `'${s}'`).join(" ");
  const r = await run(["sh", "-c", `${bin} --dump --json --file '${hex}' | head -c 100 > /dev/null`], { timeoutMs: 20_000 });
  expect(r.timedOut).toBe(false);
}, 30_000);

test("--dump --file with a path that does not exist says it cannot be read", async () => {
  for (const path of ["/nonexistent", "missing.hex"]) {
    const r = await run([...cmd, "--dump", "--file", path], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot read ${path}`);
    expect(r.stderr).not.toContain("not hex");
  }
});

test("an odd-length 100 KB --hex is reported in one short line, not echoed", async () => {
  const big = "a".repeat(100_001);
  const r = await run([...cmd, "--dump", "--hex", big]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("odd number of hex digits (100001)");
  expect(r.stderr.length).toBeLessThan(200);
  const bad = await run([...cmd, "--dump", "--hex", "zz".repeat(50_000)]);
  expect(bad.stderr).toContain("is not hex");
  expect(bad.stderr.length).toBeLessThan(200);
});

test("an empty or blank config file: a clear message, exit 2", async () => {
  for (const [name, text] of [["empty.xml", ""], ["blank.xml", "  \n\n"]] as const) {
    const p = join(dir, name);
    writeFileSync(p, text);
    for (const args of [["--check", "-c", p], ["-c", p]]) {
      const r = await run([...cmd, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("the file is empty");
      expect(r.stderr).not.toContain("undefined");
    }
  }
});
