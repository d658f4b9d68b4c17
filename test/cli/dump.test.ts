/**
 * `pydhcp --dump` as an operator runs it: offline from --hex, --file and
 * --stdin, and live on a loopback port, with pydhcpdb's reference config
 * (its <options> slices) plus <relay_profiles>, so the vendor-profile
 * variables show beside the legacy slices.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openUdp } from "../support/udp.ts";
import { BUN, DLINK_CIRCUIT, DLINK_REMOTE, MAIN, option82, packet, pydhcp, referenceConfig, sqliteDatabase, toHex, varLines } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "pdc-cli-dump-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PROFILES = "<relay_profiles><default>auto</default><relay giaddr=\"198.18.40.0/24\" profile=\"h3c\"/></relay_profiles>";
const withProfiles = join(tmp, "profiles.xml");
writeFileSync(withProfiles, referenceConfig(sqliteDatabase("ref.db"), PROFILES));
const plain = join(tmp, "plain.xml");
writeFileSync(plain, referenceConfig(sqliteDatabase("ref.db")));

/** The seed packet's relay, as a DISCOVER: D-Link circuit-id, remote-id with the switch MAC. */
const relayed = packet({
  mac: "00:25:22:4a:d7:64",
  giaddr: "198.18.20.1",
  rai: option82([
    [1, DLINK_CIRCUIT],
    [2, DLINK_REMOTE],
  ]),
});

describe("--dump offline with <relay_profiles>", () => {
  test("--hex: profile variables beside pydhcpdb's slices", async () => {
    const r = await pydhcp(["--dump", "-c", withProfiles, "--hex", toHex(relayed)]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe(`DHCPDISCOVER, ${relayed.length} bytes`);
    const v = varLines(r.out);
    // the vendor profile (auto picked dlink)
    expect(v.get("profile")).toBe("dlink");
    expect(v.get("port")).toBe("6");
    expect(v.get("vlan")).toBe("1");
    expect(v.get("module")).toBe("0");
    expect(v.get("relay_mac")).toBe("00:1e:58:9e:b2:ad");
    expect(v.get("relay_mac_hex")).toBe("001e589eb2ad");
    // pydhcpdb's names and slices, unchanged
    expect(v.get("sw_mac")).toBe("001e589eb2ad");
    expect(v.get("sw_port2")).toBe("06");
    expect(v.get("option_82_AgentCircuitId_port_hex")).toBe("06");
    expect(v.get("option_82_AgentRemoteId_hex")).toBe("0006001e589eb2ad");
  });

  test("--file (raw bytes and hex text) and --stdin give the same dump", async () => {
    const raw = join(tmp, "relayed.bin");
    writeFileSync(raw, relayed);
    const text = join(tmp, "relayed.hex");
    writeFileSync(text, "# relayed DISCOVER\n" + toHex(relayed).replace(/(..)/g, "$1 ") + "\n");
    const a = await pydhcp(["--dump", "-c", withProfiles, "--hex", toHex(relayed)]);
    const b = await pydhcp(["--dump", "-c", withProfiles, "--file", raw]);
    const c = await pydhcp(["--dump", "-c", withProfiles, "--file", text]);
    const d = await pydhcp(["--dump", "-c", withProfiles, "--stdin"], relayed);
    const e = await pydhcp(["--dump", "-c", withProfiles, "--stdin"], toHex(relayed));
    for (const x of [b, c, d, e]) {
      expect(x.code).toBe(0);
      expect(x.out).toBe(a.out);
    }
  });

  test("a giaddr rule picks its profile: h3c reads the port field as index + 1", async () => {
    const viaH3c = packet({ mac: "00:25:22:4a:d7:64", giaddr: "198.18.40.1", rai: option82([[1, DLINK_CIRCUIT], [2, DLINK_REMOTE]]) });
    const v = varLines((await pydhcp(["--dump", "-c", withProfiles, "--hex", toHex(viaH3c)])).out);
    expect(v.get("profile")).toBe("h3c");
    expect(v.get("port")).toBe("7");
    expect(v.get("sw_port2")).toBe("06");
  });

  test("without <relay_profiles> profiles are on (auto); <default>none</default> turns them off", async () => {
    const r = await pydhcp(["--dump", "-c", plain, "--hex", toHex(relayed)]);
    expect(r.code).toBe(0);
    const v = varLines(r.out);
    expect(v.get("profile")).toBe("dlink");
    expect(v.get("port")).toBe("6");
    expect(v.get("relay_mac_hex")).toBe("001e589eb2ad");
    expect(v.get("sw_mac")).toBe("001e589eb2ad");
    const none = join(tmp, "none.xml");
    writeFileSync(none, referenceConfig(sqliteDatabase("ref.db"), "<relay_profiles><default>none</default></relay_profiles>"));
    const off = varLines((await pydhcp(["--dump", "-c", none, "--hex", toHex(relayed)])).out);
    expect(off.has("port")).toBe(false);
    expect(off.has("relay_mac_hex")).toBe(false);
    expect(off.get("sw_mac")).toBe("001e589eb2ad");
  });

  test("with no config at all, a D-Link or a Juniper relay packet shows port, vlan, relay_mac", async () => {
    const empty = mkdtempSync(join(tmpdir(), `pdc-cli-noconf-${process.pid}-`));
    try {
      const d = await pydhcp(["--dump", "--hex", toHex(relayed)], undefined, empty);
      expect(d.err).toBe("");
      const dv = varLines(d.out);
      expect([dv.get("profile"), dv.get("port"), dv.get("vlan"), dv.get("relay_mac")]).toEqual(["dlink", "6", "1", "00:1e:58:9e:b2:ad"]);
      const juniper = packet({
        mac: "00:25:22:4a:d7:65",
        giaddr: "198.18.30.1",
        rai: option82([
          [1, new TextEncoder().encode("ge-0/0/10:100")],
          [2, Uint8Array.of(0x00, 0x06, 0x28, 0x8a, 0x1c, 0x00, 0x00, 0x01)],
        ]),
      });
      const j = await pydhcp(["--dump", "--hex", toHex(juniper)], undefined, empty);
      expect(j.err).toBe("");
      const jv = varLines(j.out);
      expect([jv.get("profile"), jv.get("port"), jv.get("vlan")]).toEqual(["juniper", "10", "100"]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("a relay that adds a sub-option ahead of the circuit-id: slices shift, profile variables do not", async () => {
    // RFC 3993 subscriber-id (sub-option 6) first, as some relays write it
    const more = packet({
      mac: "00:25:22:4a:d7:64",
      giaddr: "198.18.20.1",
      rai: option82([
        [6, new TextEncoder().encode("cust-42")],
        [1, DLINK_CIRCUIT],
        [2, DLINK_REMOTE],
      ]),
    });
    const v = varLines((await pydhcp(["--dump", "-c", withProfiles, "--hex", toHex(more)])).out);
    expect(v.get("port")).toBe("6");
    expect(v.get("relay_mac_hex")).toBe("001e589eb2ad");
    expect(v.get("sw_port2")).not.toBe("06");
    expect(v.get("sw_mac")).not.toBe("001e589eb2ad");
  });

  test("--json: one object with the same variables", async () => {
    const r = await pydhcp(["--dump", "--json", "-c", withProfiles, "--hex", toHex(relayed)]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(true);
    expect(j.type).toBe("DISCOVER");
    expect(j.vars.port).toBe("6");
    expect(j.vars.relay_mac_hex).toBe("001e589eb2ad");
    expect(j.vars.sw_port2).toBe("06");
  });

  test("a malformed packet prints its error and exits 1", async () => {
    // cut inside option 82 (after 236 header bytes, the cookie, options 53 and 55)
    const cut = relayed.subarray(0, 236 + 4 + 3 + 6 + 10);
    const r = await pydhcp(["--dump", "-c", withProfiles, "--hex", toHex(cut)]);
    expect(r.code).toBe(1);
    expect(r.out).toStartWith(`malformed packet, ${cut.length} bytes\n  error option-overrun at offset `);
    expect(r.out).toContain("  decoded before the error:\n");
    const j = await pydhcp(["--dump", "--json", "-c", withProfiles, "--hex", toHex(cut)]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out).error.kind).toBe("option-overrun");
  });

  test("input that is not hex exits 2 and says where", async () => {
    const r = await pydhcp(["--dump", "-c", withProfiles, "--hex", "01 01 0g"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('pydhcp: line 1: "0g" is not hex\n');
    expect(r.out).toBe("");
  });
});

describe("--dump live", () => {
  test("prints each relayed packet with its profile variables and answers none", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = join(tmp, "live.xml");
    writeFileSync(cfg, referenceConfig(sqliteDatabase("ref.db"), PROFILES).replace("<host>0.0.0.0</host>", "<host>127.0.0.1</host>"));
    const proc = Bun.spawn([BUN, MAIN, "--dump", "-c", cfg, "--port", String(port)], { stdout: "pipe", stderr: "pipe" });
    const sock = await openUdp();
    let replies = 0;
    const listener = await openUdp({ onData: () => void replies++ });
    try {
      let err = "";
      const reader = proc.stderr.getReader();
      while (!err.includes("dumping packets")) {
        const c = await reader.read();
        if (c.done) break;
        err += new TextDecoder().decode(c.value);
      }
      expect(err).toContain(`dumping packets on 127.0.0.1:${port}`);
      sock.send(relayed, port, "127.0.0.1");
      listener.send(packet({ mac: "08:00:27:05:9e:d0" }), port, "127.0.0.1");
      await Bun.sleep(500);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      const out = await new Response(proc.stdout).text();
      const blocks = out.split(/\n(?=DHCP)/);
      expect(blocks.length).toBe(2);
      expect(blocks[0]).toStartWith(`DHCPDISCOVER from 127.0.0.1:${sock.port}, ${relayed.length} bytes`);
      const v = varLines(blocks[0]!);
      expect(v.get("port")).toBe("6");
      expect(v.get("relay_mac_hex")).toBe("001e589eb2ad");
      expect(v.get("sw_port2")).toBe("06");
      expect(blocks[1]).toStartWith(`DHCPDISCOVER from 127.0.0.1:${listener.port}`);
      expect(varLines(blocks[1]!).has("port")).toBe(false);
      expect(replies).toBe(0);
    } finally {
      proc.kill("SIGKILL");
      sock.close();
      listener.close();
    }
  });
});
