/**
 * The benchmark's load generator (bench/perf/loadgen.c), compiled and run in
 * a network namespace of its own with only loopback: the packets it sends
 * (read by a peer that answers one exchange by hand), the report it prints
 * (read by the same parser as perfdhcp's) against the ceiling responder,
 * drops when nobody answers, and its exit codes. Skipped without a C
 * compiler or without root (namespaces).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileCeiling } from "../../bench/perf/ceiling.ts";
import { knownClients } from "../../bench/perf/clients.ts";
import { compileLoadgen } from "../../bench/perf/loadgen.ts";
import { parsePerfdhcp, perfdhcpArgv } from "../../bench/perf/perfdhcp.ts";
import { decode } from "../../src/codec/decode.ts";

const can = Bun.which("cc") !== null && process.getuid?.() === 0 && Bun.which("ip") !== null;
const NS = `pdb-lg-${process.pid}`;
const SERVER = "127.0.0.1";
const RELAY = "127.0.0.2";

function inNs(argv: string[]) {
  return ["ip", "netns", "exec", NS, ...argv];
}

function args(rate: number, seconds: number, server = SERVER, x: { timestamps?: boolean; leases?: boolean } = {}): string[] {
  return perfdhcpArgv({ local: RELAY, server, baseMac: "00:0c:01:00:00:00", clients: 10_000, rate, seconds, ...x }).slice(1);
}

/** A peer on SERVER:67 that answers one DISCOVER with an OFFER and prints both requests it saw, as hex. */
const PEER = `
const seen = [];
const sock = await Bun.udpSocket({
  hostname: "${SERVER}",
  port: 67,
  socket: {
    data(s, buf, port, addr) {
      const b = new Uint8Array(buf);
      seen.push(Buffer.from(b).toString("hex"));
      if (seen.length === 1) {
        const r = new Uint8Array(300);
        r[0] = 2; r[1] = 1; r[2] = 6;
        r.set(b.subarray(4, 8), 4);
        r.set([198, 19, 1, 7], 16);
        r.set(b.subarray(24, 44), 24);
        r.set([99, 130, 83, 99], 236);
        r.set([53, 1, 2, 54, 4, 198, 18, 9, 9, 255], 240);
        s.send(r, 67, addr);
      } else {
        console.log(JSON.stringify(seen));
        process.exit(0);
      }
    },
  },
});
setTimeout(() => process.exit(1), 5000);
`;

describe.skipIf(!can)("loadgen", () => {
  let dir = "";
  let loadgen = "";
  let ceiling = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pdb-loadgen-"));
    loadgen = compileLoadgen(dir);
    ceiling = compileCeiling(dir);
    for (const argv of [["ip", "netns", "add", NS], inNs(["ip", "link", "set", "lo", "up"])]) {
      const r = Bun.spawnSync(argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
    }
  });

  afterAll(() => {
    Bun.spawnSync(["ip", "netns", "del", NS]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("sends perfdhcp's DISCOVER, then on the OFFER a REQUEST for the offered address to the offering server", async () => {
    const script = join(dir, "peer.ts");
    writeFileSync(script, PEER);
    const peer = Bun.spawn(inNs([process.execPath, script]), { stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(300);
    // one exchange, nothing else: -r 1 -p 1
    const gen = Bun.spawn(inNs([loadgen, ...args(1, 1)]), { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(peer.stdout).text(), peer.exited]);
    await gen.exited;
    expect(code).toBe(0);
    const [d, r] = (JSON.parse(out) as string[]).map((h) => Buffer.from(h, "hex"));
    const discover = decode(new Uint8Array(d!));
    const request = decode(new Uint8Array(r!));
    if (!discover.ok || !request.ok) throw new Error("undecodable request");
    const mac = Array.from(discover.msg.chaddr.subarray(0, 6));
    for (const m of [discover.msg, request.msg]) {
      expect(m.op).toBe(1);
      expect(m.hops).toBe(1);
      expect(m.giaddr).toBe(RELAY);
      expect(m.ciaddr).toBe("0.0.0.0");
      expect(Array.from(m.chaddr.subarray(0, 6))).toEqual(mac);
      expect(m.options.get(55)).toEqual(Uint8Array.of(1, 28, 2, 3, 15, 6, 12));
      expect(m.options.get(61)).toEqual(Uint8Array.of(1, ...mac));
    }
    // one of the 10,000 clients (00:0c:01:00:00:00 + r, r < 10,000)
    expect(mac.slice(0, 4)).toEqual([0x00, 0x0c, 0x01, 0x00]);
    expect(mac[4]! * 256 + mac[5]!).toBeLessThan(10_000);
    expect(discover.msg.options.get(53)).toEqual(Uint8Array.of(1));
    expect(discover.msg.options.has(50)).toBe(false);
    expect(d!.length).toBe(262); // perfdhcp's DISCOVER: no padding
    expect(request.msg.xid).toBe(discover.msg.xid);
    expect(request.msg.options.get(53)).toEqual(Uint8Array.of(3));
    expect(request.msg.options.get(50)).toEqual(Uint8Array.of(198, 19, 1, 7));
    expect(request.msg.options.get(54)).toEqual(Uint8Array.of(198, 18, 9, 9));
  });

  test("against the ceiling responder: every exchange completes with the reserved address, in the report perfdhcp.ts reads", async () => {
    const srv = Bun.spawn(inNs([ceiling, SERVER, "67", SERVER]), { stdout: "ignore", stderr: "pipe" });
    try {
      await Bun.sleep(200);
      const gen = Bun.spawn(inNs([loadgen, ...args(500, 2, SERVER, { timestamps: true, leases: true })]), { stdout: "pipe", stderr: "pipe" });
      const [out, code] = await Promise.all([new Response(gen.stdout).text(), gen.exited]);
      expect(code).toBe(0);
      const rep = parsePerfdhcp(out);
      expect(rep.do).toMatchObject({ sent: 1000, received: 1000, drops: 0 });
      expect(rep.ra).toMatchObject({ sent: 1000, received: 1000, drops: 0 });
      expect(rep.loss).toBe(0);
      expect(rep.doDelaysMs.length).toBe(1000);
      expect(rep.raDelaysMs.length).toBe(1000);
      for (const ms of [...rep.doDelaysMs, ...rep.raDelaysMs]) {
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(1000);
      }
      expect(rep.do.avgMs).toBeGreaterThan(0);
      // clients drawn at random from the 10,000: about 951 distinct in 1,000 draws
      const want = new Map(knownClients(10_000).map((c) => [`01${c.hex}`, c.ip]));
      expect(rep.ackLeases.size).toBeGreaterThan(900);
      for (const [id, addr] of rep.ackLeases) expect(addr).toBe(want.get(id)!);
      expect(rep.rate).toBeGreaterThan(400);
    } finally {
      srv.kill("SIGKILL");
      await srv.exited;
    }
  });

  test("nobody answering: every DISCOVER is a drop, loss 100%, exit 3", async () => {
    const gen = Bun.spawn(inNs([loadgen, ...args(100, 1, "127.0.0.3"), ]), { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(gen.stdout).text(), gen.exited]);
    expect(code).toBe(3);
    const rep = parsePerfdhcp(out);
    expect(rep.do).toMatchObject({ sent: 100, received: 0, drops: 100, minMs: null });
    expect(rep.ra.sent).toBe(0);
    expect(rep.loss).toBe(1);
  });

  test("a bad command line exits 2 with the usage", () => {
    for (const bad of [[], ["-r", "10", SERVER], ["-4", "-l", RELAY, "-r", "x", "-p", "1", SERVER], ["-4", "-l", RELAY, "-r", "10", "-p", "1", "-q", "1", SERVER]]) {
      const r = Bun.spawnSync([loadgen, ...bad]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.toString()).toContain("usage:");
    }
  });
});
