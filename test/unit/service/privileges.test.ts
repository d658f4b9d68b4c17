import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropPrivileges, resolveGroup, resolveUser } from "../../../src/service/privileges.ts";
import { openUdp, type Udp } from "../../support/udp.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { memorySink } from "../../../src/log/sink.ts";

const dir = mkdtempSync(join(tmpdir(), "svc-priv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const files = { passwd: join(dir, "passwd"), group: join(dir, "group") };
writeFileSync(
  files.passwd,
  [
    "root:x:0:0:root:/root:/bin/bash",
    "broken line without colons",
    "bad:x:notanumber:1::/:/bin/false",
    "pydhcp:x:998:997:pydhcp:/var/lib/pydhcp:/usr/sbin/nologin",
    "",
  ].join("\n"),
);
writeFileSync(files.group, ["root:x:0:", "pydhcp:x:997:", "netops:x:1500:alice,bob", ""].join("\n"));

const log = createLogger({ level: "info", format: "text", out: memorySink(), err: memorySink() });

describe("resolving names", () => {
  test("users by name and by number; malformed lines are skipped", () => {
    expect(resolveUser("pydhcp", files)).toEqual({ name: "pydhcp", uid: 998, gid: 997 });
    expect(resolveUser("998", files)).toEqual({ name: "pydhcp", uid: 998, gid: 997 });
    expect(resolveUser("bad", files)).toBeNull();
    expect(resolveUser("broken line without colons", files)).toBeNull();
    expect(resolveUser("nosuch", files)).toBeNull();
  });

  test("groups by name and by number (an unlisted number is still a gid)", () => {
    expect(resolveGroup("netops", files)).toBe(1500);
    expect(resolveGroup("997", files)).toBe(997);
    expect(resolveGroup("4242", files)).toBe(4242);
    expect(resolveGroup("nosuch", files)).toBeNull();
  });

  test("the real system files resolve nobody", () => {
    expect(resolveUser("nobody")?.uid).toBe(65534);
    expect(resolveGroup("nogroup")).toBe(65534);
  });

  test("unknown user or group: an error value naming it, nothing changed", () => {
    const uid = process.getuid!();
    const r1 = dropPrivileges("nosuch", null, log, files);
    expect(r1).toEqual({ ok: false, error: { kind: "unknown-user", message: expect.stringContaining('"nosuch"') } });
    const r2 = dropPrivileges("pydhcp", "nosuchgroup", log, files);
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.error.kind).toBe("unknown-group");
    expect(process.getuid!()).toBe(uid);
  });
});

interface ChildReport {
  port: number;
  result: { ok: boolean; uid?: number; gid?: number; changed?: boolean };
  again: { ok: boolean; uid?: number; gid?: number; changed?: boolean };
  back: { ok: boolean; error?: { kind: string } };
  self: { uid: string[]; gid: string[]; groups: string[]; capEff: string; capPrm: string };
  threads: { uid: string[]; gid: string[]; groups: string[]; capEff: string }[];
  secondBind: string;
  log: string[];
}

/** Runs the child as root, reads its report, then checks the socket bound before the drop still answers. */
async function runChild(args: string[]): Promise<{ report: ChildReport; echo: string }> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "privdrop-child.ts"), ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    if (!text.includes("\n")) throw new Error(`child gave no report: ${await new Response(child.stderr).text()}`);
    const report = JSON.parse(text.split("\n")[0]!) as ChildReport;
    const echo = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no echo from the pre-drop socket")), 5000);
      let sock: Udp | null = null;
      openUdp({
        onData(buf) {
          clearTimeout(timer);
          sock?.close();
          resolve(Buffer.from(buf).toString());
        },
      }).then((s) => {
        sock = s;
        s.send(Buffer.from("ping"), report.port);
      }, reject);
    });
    expect(await child.exited).toBe(0);
    return { report, echo };
  } finally {
    child.kill();
  }
}

describe.skipIf(process.getuid!() !== 0)("dropping root in a child process", () => {
  test("to nobody: every thread's ids change, caps are gone, the old socket works, new privileged binds fail", async () => {
    const { report, echo } = await runChild(["nobody"]);
    expect(report.result).toEqual({ ok: true, uid: 65534, gid: 65534, changed: true });
    // real, effective, saved, filesystem ids
    expect(report.self.uid).toEqual(["65534", "65534", "65534", "65534"]);
    expect(report.self.gid).toEqual(["65534", "65534", "65534", "65534"]);
    expect(report.self.groups).toEqual(["65534"]); // root's supplementary groups are gone
    expect(report.self.capEff).toBe("0000000000000000");
    expect(report.self.capPrm).toBe("0000000000000000");
    expect(report.threads.length).toBeGreaterThan(1); // Bun runs helper threads: all must drop
    for (const t of report.threads) {
      expect(t.uid).toEqual(["65534", "65534", "65534", "65534"]);
      expect(t.gid).toEqual(["65534", "65534", "65534", "65534"]);
      expect(t.capEff).toBe("0000000000000000");
    }
    expect(report.secondBind).toBe("EACCES");
    expect(report.again).toEqual({ ok: true, uid: 65534, gid: 65534, changed: false });
    expect(report.back.ok).toBe(false);
    expect(report.back.error?.kind).toBe("not-root");
    expect(report.log[0]).toContain('"msg":"privileges dropped","user":"nobody","uid":65534,"gid":65534');
    expect(echo).toBe("echo:ping");
  });

  test("to nobody with an explicit group (daemon)", async () => {
    const gid = resolveGroup("daemon")!;
    const { report, echo } = await runChild(["nobody", "daemon"]);
    expect(report.result).toEqual({ ok: true, uid: 65534, gid, changed: true });
    expect(report.self.gid).toEqual([gid, gid, gid, gid].map(String));
    expect(report.self.groups).toEqual([String(gid)]);
    expect(echo).toBe("echo:ping");
  });
});
