/**
 * The ARM64 binary (dist/pydhcp-linux-arm64) on this x86-64 machine under
 * qemu-user, with Debian's arm64 C library that test/setup.sh puts in
 * /var/cache/pydhcp-test/arm64-root: --version, --check on the example
 * config, and one DISCOVER/OFFER/REQUEST/ACK answered on loopback inside a
 * network namespace of its own, asked by the x86-64 `pydhcp probe`.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { gate } from "../e2e/gate.ts";
import { NS_PREFIX, deleteNs, must, nsMust, nsRun, run, spawnIn, waitFor } from "../e2e/netns.ts";

const REPO = join(import.meta.dir, "../..");
const ARM64 = join(REPO, "dist/pydhcp-linux-arm64");
const HOST = join(REPO, "dist/pydhcp");
const ROOT = process.env.PYDHCP_ARM64_ROOT ?? "/var/cache/pydhcp-test/arm64-root";
const QEMU = "qemu-aarch64";
const qemu = (args: string[]) => [QEMU, "-L", ROOT, ARM64, ...args];

const dir = mkdtempSync(join(tmpdir(), "pkgtest-arm64-"));
const ns = `${NS_PREFIX}${process.pid}-arm64`;
afterAll(async () => {
  await deleteNs(ns);
  rmSync(dir, { recursive: true, force: true });
});

test("the ARM64 binary, qemu-aarch64 and the arm64 C library are here (npm run build, test/setup.sh)", async () => {
  expect(existsSync(ARM64)).toBe(true);
  expect(existsSync(join(ROOT, "lib/ld-linux-aarch64.so.1"))).toBe(true);
  expect((await run(["file", "-b", ARM64])).stdout).toContain("ARM aarch64");
  expect((await run(["sh", "-c", `command -v ${QEMU}`])).code).toBe(0);
});

test("--version under qemu", async () => {
  const r = await run(qemu(["--version"]), { timeoutMs: 60_000 });
  expect(r.stderr).toBe("");
  expect(r.stdout).toStartWith(`pydhcp ${pkg.version} (bun `);
  expect(r.code).toBe(0);
}, 70_000);

test("--check on the example config under qemu", async () => {
  const conf = join(dir, "check.xml");
  copyFileSync(join(REPO, "config.example.xml"), conf);
  const r = await run(qemu(["--check", "-c", conf]), { timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("OK");
  // the example's SQLite database, made by the arm64 build's driver
  expect(existsSync(join(dir, "pydhcp.db"))).toBe(true);
}, 70_000);

// the exchange needs root (a network namespace, port 67); in CI as root a missing qemu fails instead
const skipExchange = gate("arm64", ["qemu-aarch64", "ss"]);

test.skipIf(skipExchange !== null)("a DISCOVER/REQUEST answered on loopback: the ARM64 server, the x86-64 probe", async () => {
  const srv = join(dir, "serve");
  await must(["mkdir", "-p", srv]);
  const db = new Database(join(srv, "pydhcp.db"), { create: true });
  db.exec(readFileSync(join(REPO, "sql/sqlite.sql"), "utf8"));
  db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)").run(
    "198.18.0.19", "255.255.255.0", "198.18.0.1", "198.18.0.53", "080027059ed0", "",
  );
  db.close();
  copyFileSync(join(REPO, "config.example.xml"), join(srv, "config.xml"));

  await must(["ip", "netns", "add", ns]);
  await nsMust(ns, ["ip", "link", "set", "dev", "lo", "up"]);
  const server = spawnIn(ns, "pydhcp-arm64", qemu(["-c", join(srv, "config.xml")]), join(srv, "server.log"));
  try {
    await waitFor(
      "the ARM64 server to bind UDP port 67",
      async () => {
        if (server.proc.exitCode !== null) throw new Error(`server exited ${server.proc.exitCode}: ${await server.log()}`);
        const ss = await nsRun(ns, ["ss", "-Hlun", "sport = :67"]);
        return ss.stdout.trim() !== "" ? true : undefined;
      },
      60_000,
      200,
    );
    const r = await nsRun(
      ns,
      [HOST, "probe", "--server", "127.0.0.1", "--source-port", "6767", "--mac", "08:00:27:05:9e:d0", "--request", "--json", "--timeout", "10000"],
      { timeoutMs: 30_000 },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result).toBe("ACK");
    expect(out.exchanges.map((e: { reply: { type: string } }) => e.reply.type)).toEqual(["OFFER", "ACK"]);
    expect(out.exchanges[1].reply.yiaddr).toBe("198.18.0.19");
    expect(out.exchanges[1].reply.options["1 subnet-mask"]).toBe("255.255.255.0");
  } finally {
    expect(await server.stop(10_000)).toBe(0);
  }
  const log = await server.log();
  expect(log).toContain("DISCOVER -> OFFER 198.18.0.19");
  expect(log).toContain("REQUEST -> ACK 198.18.0.19");
}, 120_000);
