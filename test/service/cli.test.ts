/**
 * The binary's command line: --version, --help (every flag of the flags
 * table, the exit codes, the signals), exit 2 for bad usage and for a bad
 * configuration (naming the XML path), exit 0 on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { FLAGS } from "../../src/cli/args.ts";
import { pydhcpCommand } from "../support/server.ts";
import { configXml, freeUdpPort, makeSqlite, sqliteDatabase } from "./helpers.ts";

async function pydhcp(args: string[], cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([...pydhcpCommand(), ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", ...(cwd ? { cwd } : {}) });
  const t = setTimeout(() => p.kill("SIGKILL"), 15_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(t);
  return { code, out, err };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pdsvc-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pydhcp command line", () => {
  test("--version and -V print the version and exit 0", async () => {
    for (const f of ["--version", "-V"]) {
      const r = await pydhcp([f]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`pydhcp ${pkg.version} (bun ${Bun.version})\n`);
      expect(r.err).toBe("");
    }
  });

  test("--help lists every flag, the exit codes and the signals", async () => {
    const r = await pydhcp(["--help"]);
    expect(r.code).toBe(0);
    for (const f of FLAGS) {
      expect(r.out).toContain(`--${f.long}`);
      if (f.short) expect(r.out).toContain(`-${f.short}, --${f.long}`);
      expect(r.out).toContain(f.help);
    }
    expect(r.out).toMatch(/Exit codes:.*0.*1.*2/s);
    expect(r.out).toContain("SIGHUP");
    expect(r.out).toContain("SIGTERM");
    expect((await pydhcp(["-h"])).out).toBe(r.out);
  });

  const usage: [string, string[], RegExp][] = [
    ["an unknown option", ["--frobnicate"], /unknown option --frobnicate/],
    ["a missing value", ["-c"], /-c needs a value/],
    ["a value given to a switch", ["--debug=yes"], /takes no value/],
    ["a stray argument", ["serve"], /unexpected argument serve/],
    ["a bad --port", ["--port", "70000"], /not a UDP port/],
  ];
  for (const [what, args, msg] of usage) {
    test(`bad usage (${what}) exits 2 with a message on stderr`, async () => {
      const r = await pydhcp(args, dir);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe("");
    });
  }

  test("a missing config file exits 2 naming the file", async () => {
    const r = await pydhcp(["-c", join(dir, "nope.xml")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(join(dir, "nope.xml"));
  });

  const badConfigs: [string, (x: string) => string, string][] = [
    ["a bad address", (x) => x.replace("<DHCPServer>198.18.0.1</DHCPServer>", "<DHCPServer>198.18.0.300</DHCPServer>"), "config/dhcpserver/DHCPServer"],
    ["an unknown tag", (x) => x.replace("</dhcpserver>", "<leasetime>5</leasetime></dhcpserver>"), "config/dhcpserver/leasetime"],
    ["an unknown {variable}", (x) => x.replace("{ClientMacAddress}'</offer_1>", "{ClientMacAdress}'</offer_1>"), "config/query/offer_1"],
    ["a query the database cannot prepare", (x) => x.replace("from users where mac='{ClientMacAddress}'</offer_1>", "from userz where mac='{ClientMacAddress}'</offer_1>"), "config/query/offer_1"],
    ["bad XML", (x) => x.replace("</query>", ""), "config.xml"],
  ];
  for (const [what, edit, path] of badConfigs) {
    test(`a config with ${what} exits 2 naming ${path}`, async () => {
      const d = mkdtempSync(join(dir, "c-"));
      makeSqlite(join(d, "t.db"), []);
      const good = configXml({ port: await freeUdpPort(), clientPort: 9, database: sqliteDatabase(join(d, "t.db")) });
      const bad = edit(good);
      expect(bad).not.toBe(good);
      writeFileSync(join(d, "config.xml"), bad);
      const r = await pydhcp(["-c", join(d, "config.xml")], d);
      expect(r.code).toBe(2);
      expect(r.err).toContain(path);
      expect(r.out).not.toMatch(/listening/);
    });
  }

  test("SIGTERM and SIGINT on an idle server exit 0", async () => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const d = mkdtempSync(join(dir, "s-"));
      makeSqlite(join(d, "t.db"), []);
      writeFileSync(join(d, "config.xml"), configXml({ port: await freeUdpPort(), clientPort: 9, database: sqliteDatabase(join(d, "t.db")) }));
      const p = Bun.spawn([...pydhcpCommand(), "-c", join(d, "config.xml")], { stdout: "pipe", stderr: "pipe", cwd: d });
      const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while (!/listening/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toMatch(/listening/);
      p.kill(sig);
      const t = setTimeout(() => p.kill("SIGKILL"), 8000);
      expect(await p.exited).toBe(0);
      clearTimeout(t);
    }
  });
});
