/**
 * The docs' shell commands, run, so a command that stops working fails here.
 *
 * - Every ```sh block in README.md and docs/*.md runs as one bash script
 *   (set -euo pipefail) in a fresh sandbox: a scratch directory holding
 *   config.xml and config.example.xml (copies of the example), sql/,
 *   contrib/, docs/ and dist/, with `pydhcp` (the built binary) on the
 *   PATH and Bun NOT on it (as after the README's `npm install`), inside a
 *   network namespace of its own with only loopback. A block that cannot
 *   run here says why in the line before it:
 *   `<!-- not run here: REASON -->`.
 * - Commands quoted in other blocks (`$ pydhcp ...` transcripts, command
 *   lists) and in inline code: every pydhcp flag must be one the program
 *   accepts, every `npm run X` a script in package.json, and none may
 *   call a bare `bun`, which is not on the PATH.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { FLAGS } from "../../src/cli/args.ts";
import { PROBE_FLAGS } from "../../src/cli/probe.ts";
import { gate } from "../e2e/gate.ts";
import { NS_PREFIX, deleteNs, must, nsMust, run } from "../e2e/netns.ts";

const REPO = join(import.meta.dir, "../..");
const FILES = ["README.md", ...readdirSync(join(REPO, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

export interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
  /** the reason from a `<!-- not run here: ... -->` line just before it */
  skip: string | null;
}

export function blocks(file: string, md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === "") j--;
    const m = j >= 0 ? /^<!-- not run here: (.+?) -->$/.exec(lines[j]!.trim()) : null;
    out.push({ file, line: start + 1, lang: open[1] ?? "", text: body.join("\n"), skip: m?.[1] ?? null });
  }
  return out;
}

const all = FILES.flatMap((f) => blocks(f, readFileSync(join(REPO, f), "utf8")));
const shBlocks = all.filter((b) => b.lang === "sh");

/** Command lines quoted anywhere: `$ cmd` in transcripts, lines of sh blocks, inline code. */
function quotedCommands(): { where: string; cmd: string }[] {
  const out: { where: string; cmd: string }[] = [];
  for (const b of all) {
    if (b.lang !== "" && b.lang !== "sh") continue;
    const lines = b.text.replace(/\\\n\s*/g, " ").split("\n");
    lines.forEach((l, k) => {
      const t = b.lang === "sh" ? l.trim() : /^\s*\$ (.*)$/.exec(l)?.[1] ?? (/^\s*(pydhcp |npm |bun )/.test(l) ? l.trim() : "");
      if (t && !t.startsWith("#")) out.push({ where: `${b.file}:${b.line + 1 + k}`, cmd: t });
    });
  }
  for (const f of FILES) {
    const md = readFileSync(join(REPO, f), "utf8").replace(/^```[\s\S]*?^```/gm, "");
    for (const m of md.matchAll(/`((?:pydhcp|npm|bun|\.\/dist\/pydhcp) [^`]*)`/g)) out.push({ where: f, cmd: m[1]! });
  }
  return out;
}

const KNOWN = new Set(FLAGS.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]));
const KNOWN_PROBE = new Set(PROBE_FLAGS.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]));

describe("commands quoted in the docs", () => {
  const cmds = quotedCommands();

  test("there are commands to check (the extraction works)", () => {
    expect(cmds.length).toBeGreaterThan(30);
    expect(shBlocks.length).toBeGreaterThan(3);
  });

  test("no command calls a bare `bun` (it is not on the PATH after npm install)", () => {
    const bad = cmds.filter((c) => /(^|[;&|]\s*)bun\s/.test(c.cmd)).map((c) => `${c.where}: ${c.cmd}`);
    expect(bad).toEqual([]);
  });

  test("every `npm run X` names a script in package.json", () => {
    const scripts = new Set(Object.keys(pkg.scripts));
    const bad = cmds.flatMap((c) => [...c.cmd.matchAll(/npm run ([\w:-]+)/g)].filter((m) => !scripts.has(m[1]!)).map(() => `${c.where}: ${c.cmd}`));
    expect(bad).toEqual([]);
  });

  test("every pydhcp flag is one the program accepts", () => {
    const bad: string[] = [];
    for (const c of cmds) {
      // pydhcp in command position: first, after ; & | or `--`, or as a path (./dist/pydhcp)
      for (const m of c.cmd.matchAll(/(?:^|[;&|]\s*|-- +)(?:\S*\/)?pydhcp((?: +[^|;&<>#\s]+)*)/g)) {
        const args = m[1]!.trim().split(/\s+/).filter(Boolean);
        const table = args[0] === "probe" ? KNOWN_PROBE : KNOWN;
        for (const a of args) {
          const flag = a.split("=")[0]!;
          // "[-c", "(--hex" in usage summaries: the flag without the brackets
          const f = flag.replace(/^[[(]+/, "").replace(/[\])|.:]+$/, "");
          if (/^--?[a-zA-Z]/.test(f) && !table.has(f)) bad.push(`${c.where}: ${f} in ${c.cmd}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});

// running the blocks needs root (a network namespace; the first run serves on port 67)
const skipRuns = gate("docs", ["sqlite3"]);

describe("```sh blocks run here", () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const m of made) {
      if (m.startsWith("/")) rmSync(m, { recursive: true, force: true });
      else await deleteNs(m);
    }
  });

  test("every block that is not run says why", () => {
    for (const b of shBlocks) if (b.skip !== null) expect({ at: `${b.file}:${b.line}`, reason: b.skip.length > 10 }).toEqual({ at: `${b.file}:${b.line}`, reason: true });
  });

  // Blocks that change the machine itself (not the sandbox) must be marked, never run.
  const HOST_CHANGES = /^\s*(sudo |install |useradd |userdel |adduser |systemctl |dpkg -i|dpkg --(install|remove|purge)|apt(-get)? |sysctl -w|rm -rf \/)/m;
  test("no unmarked block changes the machine (install, useradd, systemctl, dpkg, apt, sysctl)", () => {
    const bad = shBlocks.filter((b) => b.skip === null && HOST_CHANGES.test(b.text)).map((b) => `${b.file}:${b.line}`);
    expect(bad).toEqual([]);
  });

  let n = 0;
  for (const b of shBlocks) {
    test.skipIf(b.skip !== null || HOST_CHANGES.test(b.text) || skipRuns !== null)(`${b.file}:${b.line}`, async () => {
      n += 1;
      const dir = mkdtempSync(join(tmpdir(), "pydhcp-docs-"));
      made.push(dir);
      for (const p of ["sql", "contrib", "docs"]) cpSync(join(REPO, p), join(dir, p), { recursive: true });
      cpSync(join(REPO, "config.example.xml"), join(dir, "config.example.xml"));
      cpSync(join(REPO, "config.example.xml"), join(dir, "config.xml"));
      symlinkSync(join(REPO, "dist"), join(dir, "dist"));
      mkdirSync(join(dir, "bin"));
      symlinkSync(join(REPO, "dist/pydhcp"), join(dir, "bin/pydhcp"));
      const ns = `${NS_PREFIX}${process.pid}-docs${n}`;
      made.push(ns);
      await must(["ip", "netns", "add", ns]);
      await nsMust(ns, ["ip", "link", "set", "dev", "lo", "up"]);
      const r = await run(
        ["ip", "netns", "exec", ns, "bash", "-euo", "pipefail", "-c", b.text],
        {
          cwd: dir,
          timeoutMs: 60_000,
          env: { PATH: `${join(dir, "bin")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: dir },
        },
      );
      await deleteNs(ns);
      if (r.code !== 0 || r.timedOut) {
        throw new Error(`${b.file}:${b.line} failed (${r.timedOut ? "timeout" : `exit ${r.code}`}):\n${b.text}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
      }
    }, 90_000);
  }
});
