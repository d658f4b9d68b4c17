/**
 * The README's first command serves with config.example.xml on SQLite and no
 * database server. Here: that file, unchanged, in a server namespace; the
 * database it creates on first start gets one subscriber, and a real
 * udhcpc with that MAC is given the address.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disposeAllClients, obtain } from "./clients.ts";
import { gate } from "./gate.ts";
import { createDirect, destroyAll, waitFor } from "./netns.ts";
import { REPO, startPydhcp } from "./pydhcp.ts";

const skip = gate("pydhcp example config", ["udhcpc", "ss"]);

describe.skipIf(skip !== null)("config.example.xml", () => {
  afterAll(async () => {
    await disposeAllClients();
    await destroyAll();
  });

  test("serves a subscriber from the SQLite database it creates", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pde2e-example-"));
    const topo = await createDirect();
    let server: Awaited<ReturnType<typeof startPydhcp>> | null = null;
    try {
      copyFileSync(join(REPO, "config.example.xml"), join(dir, "config.xml"));
      server = await startPydhcp(topo, await Bun.file(join(dir, "config.xml")).text(), dir);
      const dbPath = join(dir, "pydhcp.db");
      await waitFor("pydhcp.db", async () => (existsSync(dbPath) ? true : undefined), 5000);
      const db = new Database(dbPath);
      db.run("insert into users (ip, mask, router, dns, mac, port) values ('198.18.0.42', '255.255.255.0', '198.18.0.1', '198.18.0.53', '02005e300001', '')");
      db.close();
      const o = await obtain("udhcpc", topo.clientNs, topo.client.ifname, { mac: "02:00:5e:30:00:01" });
      try {
        expect(o.lease.address).toBe("198.18.0.42");
        expect(o.lease.mask).toBe("255.255.255.0");
        expect(o.lease.router).toBe("198.18.0.1");
        expect(o.lease.dns).toEqual(["198.18.0.53"]);
        expect(o.lease.leaseTime).toBe(86400);
      } finally {
        await o.run.dispose();
      }
    } finally {
      await server?.stop();
      await topo.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
