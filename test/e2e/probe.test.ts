/**
 * `pydhcp probe` (the built binary) against the real server in network
 * namespaces (198.18.0.0/15 only): as a relay straight to the server, as a
 * client through ISC dhcrelay, and as a client on the server's own link.
 * Checks what it prints, the addresses the server's database gave, the
 * history rows its REQUEST and RELEASE wrote, and its exit codes: 0 for an
 * answer, 1 for a NAK or silence, 2 for bad usage.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gate } from "./gate.ts";
import { type Topology, createDirect, createRelayed, destroyAll, nsRun, run, sweepStale, waitFor } from "./netns.ts";
import { type PydhcpServer, type TestDb, REPO, configXml, sqliteDb, startPydhcp } from "./pydhcp.ts";
import { type Relay, startRelay } from "./relay.ts";

const skip = gate("probe", ["dhcrelay", "ss"]);
const BIN = process.env.PYDHCP_BIN ?? join(REPO, "dist/pydhcp");
const T = 30_000;

/** Runs the probe in a namespace; --json output parsed when asked for. */
async function probe(ns: string, args: string[]) {
  const r = await nsRun(ns, [BIN, "probe", ...args], { timeoutMs: 20_000 });
  let json: { ok: boolean; result: string; exchanges: { sent: string; reply: { type: string; yiaddr: string; options: Record<string, string> } | null; from: string | null; ms: number }[] } | null = null;
  if (args.includes("--json") && r.stdout.trim().startsWith("{")) json = JSON.parse(r.stdout);
  return { ...r, json };
}

describe.skipIf(skip !== null)("pydhcp probe against the server", () => {
  const dirs: string[] = [];
  const mkdir = () => {
    const d = mkdtempSync(join(tmpdir(), "pde2e-probe-"));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    await sweepStale();
  });
  afterAll(async () => {
    await destroyAll();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe("as a relay, straight to the server", () => {
    let topo: Topology;
    let db: TestDb;
    let server: PydhcpServer;
    const MAC = "02:00:5e:30:00:01";
    beforeAll(async () => {
      topo = await createRelayed();
      const dir = mkdir();
      db = await sqliteDb(dir, [
        { ip: "198.18.1.50", mask: "255.255.255.0", router: "198.18.1.1", dns: "198.18.0.53", mac: "02005e300001", port: "sw1-port7" },
      ]);
      server = await startPydhcp(topo, configXml({ serverId: topo.serverIp, leaseTime: 600, db }), dir);
    }, T);
    afterAll(async () => {
      await server?.stop();
      await topo?.destroy();
    });

    test("DISCOVER -> OFFER, REQUEST -> ACK with the database's answer; exit 0; the text names each reply and its time", async () => {
      const ns = topo.relayNs!;
      const args = ["--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", MAC, "--circuit-id", "sw1-port7", "--request"];
      const r = await probe(ns, args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^DISCOVER -> OFFER 198\.18\.1\.50 from 198\.18\.2\.1:67 in \d+(\.\d+)? ms$/m);
      expect(r.stdout).toMatch(/^REQUEST -> ACK 198\.18\.1\.50 from 198\.18\.2\.1:67 in \d+(\.\d+)? ms$/m);
      expect(r.stdout).toMatch(/^ {2}1 subnet-mask +255\.255\.255\.0$/m);
      expect(r.stdout).toMatch(/^ {2}3 routers +198\.18\.1\.1$/m);
      expect(r.stdout).toMatch(/^ {2}54 dhcp-server-identifier +198\.18\.2\.1$/m);
      expect(r.stdout).toMatch(/^ {2}51 dhcp-lease-time +600$/m);
    }, T);

    test("--json: one object, option 82 echoed by the server; --release writes the server's RELEASE history", async () => {
      const ns = topo.relayNs!;
      const args = ["--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", MAC, "--circuit-id", "0x737731", "--remote-id", "sw1-port7"];
      // circuit-id "sw1" (hex) matches no row: the query keys on circuit id text, so no answer
      const miss = await probe(ns, [...args, "--timeout", "1000", "--json"]);
      expect(miss.code).toBe(1);
      expect(miss.json?.result).toBe("none");

      const r = await probe(ns, ["--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", MAC, "--circuit-id", "sw1-port7", "--release", "--json"]);
      expect(r.code).toBe(0);
      expect(r.json?.ok).toBe(true);
      expect(r.json?.result).toBe("ACK");
      expect(r.json?.exchanges.map((e) => e.sent)).toEqual(["DISCOVER", "REQUEST", "RELEASE"]);
      const ack = r.json!.exchanges[1]!;
      expect(ack.reply?.yiaddr).toBe("198.18.1.50");
      // 01 09 "sw1-port7": the relay agent information the probe sent, echoed (RFC 3046 2.2)
      expect(ack.reply?.options["82 dhcp-agent-options"]).toContain("0109" + Buffer.from("sw1-port7").toString("hex"));
      expect(ack.from).toBe("198.18.2.1:67");
      const hist = await waitRows(db, (h) => h.some((x) => x.comment === "RELEASE"));
      expect(hist.filter((h) => h.comment === "RELEASE").map((h) => [h.mac, h.ip])).toEqual([["02005e300001", "198.18.1.50"]]);
      expect(hist.some((h) => h.comment === "DHCPACK/INFORM" && h.ip === "198.18.1.50")).toBe(true);
    }, T);

    test("--requested-ip (INIT-REBOOT): ACK for the database's address (exit 0), NAK for another (exit 1)", async () => {
      const ns = topo.relayNs!;
      const base = ["--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", MAC, "--circuit-id", "sw1-port7"];
      const ok = await probe(ns, [...base, "--requested-ip", "198.18.1.50"]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^REQUEST -> ACK 198\.18\.1\.50 /m);
      const nak = await probe(ns, [...base, "--requested-ip", "198.18.1.99", "--json"]);
      expect(nak.code).toBe(1);
      expect(nak.json?.ok).toBe(false);
      expect(nak.json?.result).toBe("NAK");
      expect(nak.json?.exchanges[0]?.reply?.type).toBe("NAK");
      const text = await probe(ns, [...base, "--requested-ip", "198.18.1.99"]);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^REQUEST -> NAK from 198\.18\.2\.1:67 in /m);
    }, T);

    test("a MAC the database does not know: no answer, exit 1, says how long it waited", async () => {
      const r = await probe(topo.relayNs!, ["--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", "02:00:5e:30:00:99", "--timeout", "800"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe(`DISCOVER -> no answer from ${topo.serverIp}:67 within 800 ms\n`);
      expect(await server.log()).toContain("no reply: no-match mac=02005e300099");
    }, T);

    test("--tries: the same DISCOVER (same xid) sent again after each timeout", async () => {
      const r = await probe(topo.relayNs!, [
        "--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", "02:00:5e:30:00:97", "--timeout", "300", "--tries", "3", "--json",
      ]);
      expect(r.code).toBe(1);
      const xid = (JSON.parse(r.stdout) as { xid: string }).xid;
      const seen = async () => (await server.log()).split("\n").filter((l) => l.includes(`no-match mac=02005e300097 xid=${xid}`)).length;
      const end = Date.now() + 5000;
      while ((await seen()) < 3 && Date.now() < end) await Bun.sleep(100);
      expect(await seen()).toBe(3);
      const text = await probe(topo.relayNs!, ["--server", topo.serverIp, "--giaddr", topo.relayIp!, "--mac", "02:00:5e:30:00:97", "--timeout", "200", "--tries", "2"]);
      expect(text.stdout).toBe(`DISCOVER -> no answer from ${topo.serverIp}:67 within 200 ms (sent 2 times)\n`);
    }, T);

    test("--source-port: listens on an unprivileged port and the server answers there (RFC 8357)", async () => {
      const r = await probe(topo.relayNs!, [
        "--server", topo.serverIp, "--giaddr", topo.relayIp!, "--source-port", "6767", "--mac", MAC, "--circuit-id", "sw1-port7", "--json",
      ]);
      expect(r.code).toBe(0);
      expect(r.json?.result).toBe("OFFER");
      // the reply leaves before its exchange line is written: wait for the line, not only for the reply
      const want = `to=${topo.relayIp}:6767`;
      await waitFor(want, async () => ((await server.log()).includes(want) ? true : undefined), 5000).catch(() => undefined);
      expect(await server.log()).toContain(want);
    }, T);
  });

  describe("as a client through ISC dhcrelay", () => {
    let topo: Topology;
    let db: TestDb;
    let server: PydhcpServer;
    let relay: Relay;
    beforeAll(async () => {
      topo = await createRelayed();
      relay = await startRelay(topo);
      const dir = mkdir();
      db = await sqliteDb(dir, [
        // dhcrelay -a puts its downstream interface name in the circuit id
        { ip: "198.18.1.60", mask: "255.255.255.0", router: "198.18.1.1", dns: "198.18.0.53", mac: "02005e300002", port: relay.circuitId },
      ]);
      server = await startPydhcp(topo, configXml({ serverId: topo.serverIp, leaseTime: 600, db }), dir);
    }, T);
    afterAll(async () => {
      await server?.stop();
      await relay?.stop();
      await topo?.destroy();
    });

    test("--broadcast: DORA relayed by dhcrelay (option 82 added and stripped by it); exit 0", async () => {
      const r = await probe(topo.clientNs, ["--broadcast", topo.client.ifname, "--mac", "02:00:5e:30:00:02", "--request", "--json"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.json?.result).toBe("ACK");
      const [offer, ack] = r.json!.exchanges;
      expect(offer?.reply?.type).toBe("OFFER");
      expect(ack?.reply?.yiaddr).toBe("198.18.1.60");
      expect(ack?.reply?.options["3 routers"]).toBe("198.18.1.1");
      // the reply came from the relay, which removed option 82 before passing it on
      expect(ack?.from).toBe(`${topo.relayIp}:67`);
      expect(ack?.reply?.options["82 dhcp-agent-options"]).toBeUndefined();
      const log = await server.log();
      expect(log).toContain(`relay=${topo.relayIp}`);
    }, T);

    test("through the relay, an unknown MAC gets silence and exit 1", async () => {
      const r = await probe(topo.clientNs, ["--broadcast", topo.client.ifname, "--mac", "02:00:5e:30:00:98", "--timeout", "1000"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("DISCOVER -> no answer from 255.255.255.255:67 within 1000 ms");
    }, T);
  });

  describe("as a client on the server's link", () => {
    let topo: Topology;
    let server: PydhcpServer;
    beforeAll(async () => {
      topo = await createDirect();
      const dir = mkdir();
      const db = await sqliteDb(dir, [
        { ip: "198.18.0.70", mask: "255.255.255.0", router: "198.18.0.1", dns: "198.18.0.53", mac: "02005e300003", port: "" },
      ]);
      server = await startPydhcp(topo, configXml({ serverId: topo.serverIp, leaseTime: 600, db }), dir);
    }, T);
    afterAll(async () => {
      await server?.stop();
      await topo?.destroy();
    });

    test("--broadcast: the server's broadcast OFFER and ACK; exit 0", async () => {
      const r = await probe(topo.clientNs, ["--broadcast", topo.client.ifname, "--mac", "02:00:5e:30:00:03", "--request"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^DISCOVER -> OFFER 198\.18\.0\.70 from 198\.18\.0\.1:67 in /m);
      expect(r.stdout).toMatch(/^REQUEST -> ACK 198\.18\.0\.70 from 198\.18\.0\.1:67 in /m);
    }, T);
  });
});

test("bad usage exits 2 with the reason; --help exits 0", async () => {
  const cases: [string[], RegExp][] = [
    [["--server", "198.18.0.1"], /probe needs --mac MAC/],
    [["--server", "198.18.0.1", "--mac", "zz"], /--mac zz: not a MAC address/],
    [["--mac", "02:00:00:00:00:01"], /probe needs --server ADDR/],
    [["--server", "example", "--mac", "02:00:00:00:00:01"], /--server example: not an IPv4 address/],
    [["--server", "198.18.0.1", "--mac", "02:00:00:00:00:01", "--port", "0"], /--port 0: not a UDP port/],
    [["--broadcast", "eth9", "--giaddr", "198.18.0.2", "--mac", "02:00:00:00:00:01"], /--giaddr is for relay mode/],
    [["--server", "198.18.0.1", "--mac", "02:00:00:00:00:01", "--circuit-id", "0xabc"], /--circuit-id 0xabc: 1-255 bytes/],
    [["--server", "198.18.0.1", "--mac", "02:00:00:00:00:01", "--frobnicate"], /unknown option --frobnicate/],
    [["--server", "198.18.0.1", "--mac", "02:00:00:00:00:01", "--tries", "0"], /--tries 0: a count from 1 to 100/],
  ];
  for (const [args, why] of cases) {
    const r = await run([BIN, "probe", ...args]);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(why);
    expect(r.stdout).toBe("");
  }
  const h = await run([BIN, "probe", "--help"]);
  expect(h.code).toBe(0);
  expect(h.stdout).toContain("Exit codes: 0 answered");
}, T);

test("a probe that cannot listen says why and exits 1 (nothing is sent)", async () => {
  // 198.18.255.254 is on no interface here: the bind fails before any datagram leaves
  const a = await run([BIN, "probe", "--server", "198.18.255.253", "--giaddr", "198.18.255.254", "--mac", "02:00:00:00:00:01"]);
  expect(a.code).toBe(1);
  expect(a.stderr).toContain("--giaddr must be an address of this host");
  const b = await run([BIN, "probe", "--broadcast", "nosuchif0", "--mac", "02:00:00:00:00:01"]);
  expect(b.code).toBe(1);
  expect(b.stderr).toContain("(no such interface)");
  // without privileges: port 67 (relay) and 68 (client) are refused, and the hint says what to do
  // (only where `nobody` can reach the binary: a checkout under /root is closed to it)
  if ((await run(["runuser", "-u", "nobody", "--", "test", "-x", BIN])).code !== 0) return;
  const c = await run(["runuser", "-u", "nobody", "--", BIN, "probe", "--server", "198.18.255.253", "--giaddr", "127.0.0.1", "--mac", "02:00:00:00:00:01"]);
  expect(c.code).toBe(1);
  expect(c.stderr).toContain("as a relay, --source-port avoids it");
  const d = await run(["runuser", "-u", "nobody", "--", BIN, "probe", "--broadcast", "lo", "--mac", "02:00:00:00:00:01"]);
  expect(d.code).toBe(1);
  expect(d.stderr).toContain("a client probe binds port 68: run it as root");
}, T);

async function waitRows(db: TestDb, ok: (h: Awaited<ReturnType<TestDb["history"]>>) => boolean) {
  const end = Date.now() + 5000;
  for (;;) {
    const h = await db.history();
    if (ok(h) || Date.now() > end) return h;
    await Bun.sleep(100);
  }
}
