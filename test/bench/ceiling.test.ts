/**
 * The benchmark's `ceiling` row (bench/perf/ceiling.c): compiled and run on
 * loopback, it answers the benchmark's clients with their reserved address,
 * ignores what is malformed or not one of them, keeps running after that,
 * and exits 0 on SIGTERM. Skipped only when there is no C compiler.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { compileCeiling } from "../../bench/perf/ceiling.ts";
import { SERVERS } from "../../bench/perf/servers.ts";
import { decode } from "../../src/codec/decode.ts";
import type { DhcpMessage } from "../../src/codec/message.ts";
import { buildRequest, ip } from "../support/client.ts";
import { freeUdpPort } from "../support/ports.ts";
import { openUdp } from "../support/udp.ts";

const hasCc = Bun.which("cc") !== null;
const SERVER_ID = "198.18.0.1";

/** A loopback UDP socket that keeps every datagram it receives, raw. */
async function rawSocket() {
  const inbox: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  // the readiness loop below sends before the responder has bound its port
  const sock = await openUdp({
    onData(buf) {
      inbox.push(new Uint8Array(buf));
      wake?.();
    },
  });
  return {
    send: (bytes: Uint8Array, port: number) => void sock.send(bytes, port),
    /** the next datagram, or null after ms */
    async next(ms: number): Promise<Uint8Array | null> {
      if (!inbox.length) {
        await Promise.race([new Promise<void>((r) => (wake = r)), Bun.sleep(ms)]);
        wake = null;
      }
      return inbox.shift() ?? null;
    },
    close: () => sock.close(),
  };
}

/** A request as perfdhcp sends it (option 61 = 01 + MAC), relay form with giaddr 0. */
function request(type: number, mac: string, xid: number): Uint8Array {
  const id = Uint8Array.from([1, ...mac.split(":").map((h) => parseInt(h, 16))]);
  return buildRequest({ type, mac, xid, options: [[61, id]] });
}

describe("ceiling responder", () => {
  let dir = "";
  let proc: Subprocess | null = null;
  let sock: Awaited<ReturnType<typeof rawSocket>>;
  let port = 0;
  let xid = 0x1000;

  /** sends bytes, returns the reply (raw and decoded) or null */
  async function exchange(bytes: Uint8Array, ms = 1000): Promise<{ raw: Uint8Array; msg: DhcpMessage } | null> {
    sock.send(bytes, port);
    const raw = await sock.next(ms);
    if (!raw) return null;
    const d = decode(raw);
    if (!d.ok) throw new Error(`undecodable reply: ${d.error.message}`);
    return { raw, msg: d.msg };
  }

  beforeAll(async () => {
    if (!hasCc) return;
    dir = mkdtempSync(join(tmpdir(), "pdb-ceiling-"));
    const bin = compileCeiling(dir);
    port = await freeUdpPort();
    proc = Bun.spawn([bin, "127.0.0.1", String(port), SERVER_ID], { stdout: "ignore", stderr: "pipe" });
    sock = await rawSocket();
    // ready = a DISCOVER answered
    for (let i = 0; i < 50; i++) {
      if (await exchange(request(1, "00:0c:01:00:00:00", ++xid), 100)) return;
    }
    throw new Error("ceiling did not answer within 5 s");
  });

  afterAll(async () => {
    sock?.close();
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.skipIf(!hasCc)("DISCOVER gets an OFFER and REQUEST an ACK with the client's reserved address", async () => {
    for (const [ask, answer] of [[1, 2], [3, 5]] as const) {
      const id = ++xid;
      const r = await exchange(request(ask, "00:0c:01:00:00:05", id));
      expect(r).not.toBeNull();
      const m = r!.msg;
      expect(r!.raw.length).toBeGreaterThanOrEqual(300);
      expect(m.op).toBe(2);
      expect(m.xid).toBe(id);
      expect(m.yiaddr).toBe("198.19.1.5");
      expect(m.giaddr).toBe("0.0.0.0");
      expect(Array.from(m.chaddr.subarray(0, 6))).toEqual([0x00, 0x0c, 0x01, 0x00, 0x00, 0x05]);
      expect(m.options.get(53)).toEqual(Uint8Array.of(answer));
      expect(m.options.get(54)).toEqual(ip(SERVER_ID));
      expect(m.options.get(51)).toEqual(Uint8Array.of(0, 1, 0x51, 0x80)); // 86400
      expect(m.options.get(1)).toEqual(ip("255.255.0.0"));
      expect(m.options.get(3)).toEqual(ip("198.19.0.1"));
      expect(m.options.get(6)).toEqual(ip(SERVER_ID));
      // echoed (RFC 6842): perfdhcp lists leases by it, the reservation check reads that list
      expect(m.options.get(61)).toEqual(Uint8Array.of(1, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x05));
    }
  });

  test.skipIf(!hasCc)("malformed datagrams get no reply and it keeps answering", async () => {
    const good = request(1, "00:0c:01:00:00:05", ++xid);
    const overrun = good.slice(0, 244);
    overrun[241] = 200; // option 53 claims 200 bytes, 4 are left
    const bad = [
      new Uint8Array(10),
      good.slice(0, 240), // header and cookie, no options, no end
      overrun,
      good.slice(0, 243), // option 53 complete but the end option cut off
      (() => { const b = good.slice(); b[236] = 0; return b; })(), // wrong magic cookie
      request(8, "00:0c:01:00:00:05", ++xid), // INFORM: not answered
    ];
    for (const b of bad) expect(await exchange(b, 300)).toBeNull();
    expect(proc!.exitCode).toBeNull();
    const id = ++xid;
    const r = await exchange(request(1, "00:0c:01:00:00:05", id));
    expect(r?.msg.xid).toBe(id);
  });

  test.skipIf(!hasCc)("a MAC that is not one of the benchmark's clients gets no reply", async () => {
    expect(await exchange(request(1, "00:0c:02:00:00:05", ++xid), 300)).toBeNull();
    // the last address inside 198.19.0.0/16 is answered, one more is not
    expect((await exchange(request(1, "00:0c:01:00:fe:fe", ++xid)))?.msg.yiaddr).toBe("198.19.255.254");
    expect(await exchange(request(1, "00:0c:01:00:fe:ff", ++xid), 300)).toBeNull();
    expect(await exchange(request(1, "00:0c:01:01:00:00", ++xid), 300)).toBeNull();
  });

  test.skipIf(!hasCc)("SIGTERM exits 0", async () => {
    proc!.kill("SIGTERM");
    expect(await proc!.exited).toBe(0);
  });
});

describe("ceiling row", () => {
  test("first in the table, a reference with no baseline or database", () => {
    const row = SERVERS[0]!;
    expect(row).toMatchObject({ name: "ceiling", family: "reference", backend: "none", enabled: true });
    expect(row.baseline).toBeUndefined();
    expect(row.unavailable()).toEqual(hasCc ? null : expect.stringContaining("cc"));
  });
});
