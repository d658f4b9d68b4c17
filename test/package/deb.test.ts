/**
 * The .deb packages `npm run package` made (test/run.sh builds them before
 * the suite): their contents, lintian, and a real install, upgrade, remove
 * and purge of the amd64 package on this machine, with the unit checked by
 * `systemd-analyze verify`. Skipped (with a reason) when pydhcp is already
 * installed here by other means, so an operator's installation is never
 * touched. Everything the test creates (the package, the pydhcp user when
 * it did not exist) is removed at the end.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { isRoot } from "../e2e/gate.ts";
import { run } from "../e2e/netns.ts";

const REPO = join(import.meta.dir, "../..");
const deb = (arch: string) => join(REPO, "dist", `pydhcp_${pkg.version}_${arch}.deb`);
const built = existsSync(deb("amd64")) && existsSync(deb("arm64"));

const hostHasPydhcp =
  existsSync("/usr/bin/pydhcp") ||
  existsSync("/etc/pydhcp") ||
  existsSync("/var/lib/pydhcp") ||
  (await run(["dpkg-query", "-W", "-f=${Status}", "pydhcp"])).stdout.includes("installed");
const userExisted = (await run(["getent", "passwd", "pydhcp"])).code === 0;

/** dpkg waits for no one: retry while another apt/dpkg holds the lock. */
async function dpkg(args: string[]) {
  for (let i = 0; ; i++) {
    const r = await run(["dpkg", ...args], { timeoutMs: 120_000, env: { DEBIAN_FRONTEND: "noninteractive" } });
    if (r.code === 0 || i >= 60 || !/lock/i.test(r.stderr)) return r;
    await Bun.sleep(1000);
  }
}

describe.skipIf(!built)("the .deb contents", () => {
  for (const [arch, elf] of [["amd64", "x86-64"], ["arm64", "aarch64"]] as const) {
    test(`${arch}: control fields, files, conffile, maintainer scripts`, async () => {
      const info = await run(["dpkg-deb", "-I", deb(arch)]);
      expect(info.code).toBe(0);
      expect(info.stdout).toContain(`Architecture: ${arch}`);
      expect(info.stdout).toContain(`Version: ${pkg.version}`);
      expect(info.stdout).toMatch(/Depends: adduser/);
      const ctl = await run(["dpkg-deb", "-f", deb(arch), "Package"]);
      expect(ctl.stdout.trim()).toBe("pydhcp");
      const list = (await run(["dpkg-deb", "-c", deb(arch)])).stdout;
      for (const f of [
        "./usr/bin/pydhcp",
        "./lib/systemd/system/pydhcp.service",
        "./etc/pydhcp/config.xml",
        "./usr/share/doc/pydhcp/copyright",
        "./usr/share/doc/pydhcp/changelog.gz",
        "./usr/share/man/man8/pydhcp.8.gz",
      ]) {
        expect(list).toContain(f);
      }
      expect(list).toMatch(/-rwxr-xr-x root\/root .* \.\/usr\/bin\/pydhcp/);
      // the binary inside is the architecture's
      const dir = (await run(["mktemp", "-d", "/tmp/pkgtest-deb-XXXXXX"])).stdout.trim();
      try {
        expect((await run(["dpkg-deb", "-x", deb(arch), dir])).code).toBe(0);
        expect((await run(["file", "-b", join(dir, "usr/bin/pydhcp")])).stdout).toContain(elf);
        const conffiles = (await run(["dpkg-deb", "--ctrl-tarfile", deb(arch)])).code;
        expect(conffiles).toBe(0);
        const unit = readFileSync(join(dir, "lib/systemd/system/pydhcp.service"), "utf8");
        expect(unit).toContain("ExecStart=/usr/bin/pydhcp -c /etc/pydhcp/config.xml");
        const conf = readFileSync(join(dir, "etc/pydhcp/config.xml"), "utf8");
        expect(conf).toContain("<path>/var/lib/pydhcp/pydhcp.sqlite</path>");
        expect(conf).toContain("<journal>/var/lib/pydhcp/history.journal</journal>");
      } finally {
        await run(["rm", "-rf", dir]);
      }
      const ctrl = (await run(["sh", "-c", `dpkg-deb --ctrl-tarfile '${deb(arch)}' | tar -xO ./conffiles`])).stdout;
      expect(ctrl).toBe("/etc/pydhcp/config.xml\n");
    }, 120_000);

    test(`${arch}: lintian reports no errors`, async () => {
      // lintian leaves its scratch files (mldbm-elf-*) in TMPDIR: a directory of the test's own
      const tmp = mkdtempSync(join(tmpdir(), "pkgtest-lintian-"));
      try {
        const r = await run(["lintian", "--tag-display-limit", "0", deb(arch)], { timeoutMs: 180_000, env: { TMPDIR: tmp } });
        const errors = r.stdout.split("\n").filter((l) => l.startsWith("E:"));
        expect(errors).toEqual([]);
        expect(r.code).toBe(0);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }, 200_000);
  }
});

if (hostHasPydhcp) console.warn("[package] pydhcp is installed on this machine: the install test is skipped so it is not touched");
if (!isRoot()) console.warn("[package] not root: the install test is skipped");
describe.skipIf(!built || hostHasPydhcp || process.arch !== "x64" || !isRoot())("install, upgrade, remove, purge (amd64, this machine)", () => {
  afterAll(async () => {
    if (hostHasPydhcp) return;
    const p = await dpkg(["--purge", "pydhcp"]);
    // a dpkg killed half-way leaves the package "reinstreq": reinstall, then purge
    if (p.code !== 0 && /reinstall/.test(p.stderr)) {
      await dpkg(["-i", deb("amd64")]);
      await dpkg(["--purge", "pydhcp"]);
    }
    if (!userExisted && (await run(["getent", "passwd", "pydhcp"])).code === 0) {
      await run(["deluser", "--quiet", "--system", "pydhcp"]);
      await run(["delgroup", "--quiet", "--system", "pydhcp"]);
    }
  });

  test("install: binary, unit, conffile modes, state dir, system user; nothing enabled or started", async () => {
    const r = await dpkg(["-i", deb("amd64")]);
    expect(r.stderr + r.stdout).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("pydhcp is installed but not started");

    const v = await run(["/usr/bin/pydhcp", "--version"]);
    expect(v.stdout).toStartWith(`pydhcp ${pkg.version}`);

    const pw = (await run(["getent", "passwd", "pydhcp"])).stdout.trim().split(":");
    expect(Number(pw[2])).toBeLessThan(1000); // a system user
    expect(pw[5]).toBe("/var/lib/pydhcp");
    expect(pw[6]).toBe("/usr/sbin/nologin");

    const stat = async (p: string) => (await run(["stat", "-c", "%U:%G %a", p])).stdout.trim();
    expect(await stat("/etc/pydhcp/config.xml")).toBe("root:pydhcp 640");
    expect(await stat("/var/lib/pydhcp")).toBe("pydhcp:pydhcp 750");
    expect(await stat("/usr/bin/pydhcp")).toBe("root:root 755");

    // nothing enabled, nothing running
    expect(existsSync("/etc/systemd/system/multi-user.target.wants/pydhcp.service")).toBe(false);
    // (other pydhcp processes may run here, e.g. tests: only the installed binary counts)
    expect((await run(["pgrep", "-f", "^/usr/bin/pydhcp"])).stdout.trim()).toBe("");
  }, 120_000);

  test("systemd-analyze verify accepts the installed unit with no warning", async () => {
    const r = await run(["systemd-analyze", "verify", "/lib/systemd/system/pydhcp.service"], { timeoutMs: 60_000 });
    const mine = (r.stdout + r.stderr).split("\n").filter((l) => l.includes("pydhcp"));
    expect(mine).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);

  test("the packaged config passes --check as the pydhcp user and its database lands in /var/lib/pydhcp", async () => {
    const r = await run(["runuser", "-u", "pydhcp", "--", "/usr/bin/pydhcp", "--check", "-c", "/etc/pydhcp/config.xml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync("/var/lib/pydhcp/pydhcp.sqlite")).toBe(true);
    expect((await run(["stat", "-c", "%U", "/var/lib/pydhcp/pydhcp.sqlite"])).stdout.trim()).toBe("pydhcp");
  }, 120_000);

  test("reinstalling (an upgrade) keeps the operator's edit of the conffile", async () => {
    const before = readFileSync("/etc/pydhcp/config.xml", "utf8");
    await Bun.write("/etc/pydhcp/config.xml", before + "<!-- operator edit -->\n");
    const r = await dpkg(["-i", "--force-confold", deb("amd64")]);
    expect(r.code).toBe(0);
    expect(readFileSync("/etc/pydhcp/config.xml", "utf8")).toContain("<!-- operator edit -->");
    expect((statSync("/etc/pydhcp/config.xml").mode & 0o777).toString(8)).toBe("640");
  }, 120_000);

  test("remove keeps config and data; purge removes them", async () => {
    const r = await dpkg(["--remove", "pydhcp"]);
    expect(r.code).toBe(0);
    expect(existsSync("/usr/bin/pydhcp")).toBe(false);
    expect(existsSync("/lib/systemd/system/pydhcp.service")).toBe(false);
    expect(readFileSync("/etc/pydhcp/config.xml", "utf8")).toContain("<!-- operator edit -->");
    expect(existsSync("/var/lib/pydhcp/pydhcp.sqlite")).toBe(true);

    const p = await dpkg(["--purge", "pydhcp"]);
    expect(p.code).toBe(0);
    expect(existsSync("/etc/pydhcp")).toBe(false);
    expect(existsSync("/var/lib/pydhcp")).toBe(false);
    expect((await run(["dpkg-statoverride", "--list", "/etc/pydhcp/config.xml"])).code).not.toBe(0);
  }, 120_000);
});

test.skipIf(built)("the .deb packages are built (npm run package)", () => {
  throw new Error(`dist/pydhcp_${pkg.version}_{amd64,arm64}.deb missing: run npm run package (test/run.sh does)`);
});
