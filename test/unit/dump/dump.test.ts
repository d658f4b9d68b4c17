import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dumpPacket, parseHexText, readDumpInput, runLiveDump } from "../../../src/cli/dump.ts";
import type { Slice } from "../../../src/config/types.ts";
import { openUdp } from "../../support/udp.ts";
import { seedHexText } from "../variables/packets.ts";

const SLICES: Slice[] = [
  { source: "option_82_hex", name: "sw_port1", start: 20, end: 22 },
  { source: "option_82_hex", name: "sw_port2", start: 16, end: 18 },
  { source: "option_82_hex", name: "sw_mac", start: 26, end: 40 },
];

function seedBytes(): Uint8Array {
  const r = parseHexText(seedHexText());
  if (!r.ok) throw new Error(r.error);
  return r.bytes;
}

const tmp = mkdtempSync(join(tmpdir(), "pdc-dump-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("dumpPacket offline", () => {
  test("the reference packet matches the golden dump", () => {
    const golden = readFileSync(new URL("./seed-inform.dump.txt", import.meta.url), "utf8");
    expect(dumpPacket(seedBytes(), SLICES, { sender: { address: "172.30.114.25", port: 67 } })).toBe(golden);
  });

  test("names are sorted and each appears once", () => {
    const lines = dumpPacket(seedBytes(), SLICES).trimEnd().split("\n");
    expect(lines[0]).toBe("DHCPINFORM, 307 bytes");
    const names = lines.slice(1).map((l) => l.trim().split(" ")[0]!);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(lines).toContain("  sw_mac                            = 001e589eb2ad");
  });

  test("addVariables runs after the slices and its names are shown", () => {
    const out = dumpPacket(seedBytes(), SLICES, {
      addVariables: (v, m) => v.set("port", String(Number.parseInt(v.get("sw_port2")!, 16) + m.hops)),
    });
    expect(out).toContain("\n  port                              = 7\n");
  });

  test("json form carries the same map", () => {
    const j = JSON.parse(dumpPacket(seedBytes(), SLICES, { format: "json" }));
    expect(j.ok).toBe(true);
    expect(j.type).toBe("INFORM");
    expect(j.vars.sw_port1).toBe("08");
    expect(j.vars.option_82_hex).toBe("12010600040001000602080006001e589eb2ad");
    expect(Object.keys(j.vars)).toEqual(Object.keys(j.vars).sort());
  });

  test("a truncated option: kind, offset, bytes at the offset, fields decoded before it", () => {
    const out = dumpPacket(seedBytes().subarray(0, 300), SLICES);
    const lines = out.split("\n");
    expect(lines[0]).toBe("malformed packet, 300 bytes");
    expect(lines[1]).toStartWith("  error option-overrun at offset 286: ");
    expect(lines[2]).toBe("  bytes at offset 286: 52 12 01 06 00 04 00 01 00 06 02 08 00 06");
    expect(lines[3]).toBe("  decoded before the error:");
    expect(out).toContain("    xid       = 3c897d8c\n");
    expect(out).toContain("    giaddr    = 172.30.114.25\n");
    expect(out).toContain("    option 55 = 010f03062c2e2f1f21f92b\n");
    expect(out).not.toContain("    option 82 =");
  });

  test("a bad cookie and a short datagram", () => {
    const bad = seedBytes().slice();
    bad[236] = 0;
    const out = dumpPacket(bad, []);
    expect(out).toContain("error bad-cookie at offset 236");
    expect(out).toContain("bytes at offset 236: 00 82 53 63 35 01 08");
    const short = dumpPacket(Uint8Array.of(1, 1, 6), [], { sender: { address: "127.0.0.1", port: 68 } });
    expect(short).toStartWith("malformed packet from 127.0.0.1:68, 3 bytes\n  error truncated-header at offset 3");
    expect(short).toContain("bytes at offset 3: (end of packet)");
    expect(short).toContain("nothing decoded before the error");
  });

  test("json form of an error", () => {
    const j = JSON.parse(dumpPacket(seedBytes().subarray(0, 300), [], { format: "json" }));
    expect(j.ok).toBe(false);
    expect(j.error.kind).toBe("option-overrun");
    expect(j.error.offset).toBe(286);
    expect(j.partial.xid).toBe("3c897d8c");
  });
});

describe("input", () => {
  test("hex with spaces, colons, newlines and # comments", () => {
    const r = parseHexText("# a comment\n01:02 0304 # trailing\n\n  05-06,07\n");
    expect(r).toEqual({ ok: true, bytes: Uint8Array.of(1, 2, 3, 4, 5, 6, 7) });
  });

  test.each([
    ["0102 0", /line 1: "0" has an odd number/],
    ["01\n0g", /line 2: "0g" is not hex/],
    ["# only a comment\n", /no bytes/],
  ])("%p is an error", (text, re) => {
    const r = parseHexText(text);
    expect(!r.ok && re.test(r.error)).toBe(true);
  });

  test("a hex argument, a hex file, a binary file, stdin", async () => {
    expect(await readDumpInput("0102")).toEqual({ ok: true, bytes: Uint8Array.of(1, 2) });
    const hexFile = join(tmp, "p.hex");
    writeFileSync(hexFile, seedHexText());
    const binFile = join(tmp, "p.bin");
    writeFileSync(binFile, seedBytes());
    const fromHex = await readDumpInput(hexFile);
    const fromBin = await readDumpInput(binFile);
    expect(fromHex).toEqual({ ok: true, bytes: seedBytes() });
    expect(fromBin).toEqual({ ok: true, bytes: seedBytes() });
    const bad = join(tmp, "bad.hex");
    writeFileSync(bad, "01 02\nzz\n");
    const r = await readDumpInput(bad);
    expect(!r.ok && r.error.includes("bad.hex: line 2")).toBe(true);
    expect(await readDumpInput("-", async () => new TextEncoder().encode("ab cd\n"))).toEqual({
      ok: true,
      bytes: Uint8Array.of(0xab, 0xcd),
    });
    expect(await readDumpInput(undefined, async () => seedBytes())).toEqual({ ok: true, bytes: seedBytes() });
  });
});

describe("runLiveDump", () => {
  test("prints a good and a malformed datagram sent to 127.0.0.1, answers neither", async () => {
    const printed: string[] = [];
    let wake: () => void = () => {};
    const port = 20000 + Math.floor(Math.random() * 40000);
    const live = await runLiveDump({
      host: "127.0.0.1",
      port,
      slices: SLICES,
      out: (s) => {
        printed.push(s);
        wake();
      },
    });
    const replies: Uint8Array[] = [];
    const client = await openUdp({ onData: (buf) => void replies.push(new Uint8Array(buf)) });
    try {
      const waitFor = async (n: number) => {
        const deadline = Date.now() + 5000;
        while (printed.length < n && Date.now() < deadline) {
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 100);
          });
        }
      };
      client.send(Uint8Array.of(1, 1, 6, 0, 9), port, "127.0.0.1");
      await waitFor(1);
      client.send(seedBytes(), port, "127.0.0.1");
      await waitFor(2);
      expect(printed.length).toBe(2);
      expect(printed[0]).toStartWith(`malformed packet from 127.0.0.1:${client.port}, 5 bytes\n`);
      expect(printed[0]).toContain("error truncated-header at offset 5");
      expect(printed[1]).toStartWith(`DHCPINFORM from 127.0.0.1:${client.port}, 307 bytes\n`);
      expect(printed[1]).toContain("  sw_mac                            = 001e589eb2ad\n");
      await Bun.sleep(100);
      expect(replies.length).toBe(0);
    } finally {
      client.close();
      live.close();
    }
  });
});
