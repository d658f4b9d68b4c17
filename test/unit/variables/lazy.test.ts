/**
 * PacketVars (variables computed when read) against extractVariables (all of
 * them, eagerly): the same value for every name, the same map, the same key
 * order once seen whole, with sets winning as they did after extraction.
 */
import { describe, expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import type { DhcpMessage } from "../../../src/codec/message.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../../../src/option82/parse.ts";
import { extractVariables } from "../../../src/variables/extract.ts";
import { PACKET_VARIABLE_NAMES, PacketVars } from "../../../src/variables/lazy.ts";
import { applySlices } from "../../../src/variables/slices.ts";
import { hostnameText } from "../../../src/variables/text.ts";
import { mutated, prng, randomMessage, seedFromEnv } from "../../property/codec-gen.ts";
import { loadMalformed, loadPackets } from "../../fixtures/load.ts";
import { fromHex, message, SEED_OPTION_82, seedMessage } from "./packets.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);
const ascii = (s: string) => new TextEncoder().encode(s);

/** The map the runtime built before PacketVars: extract, then the code page's hostname_text. */
function eager(msg: DhcpMessage, relay: RelayAgentInfoResult | undefined, codepage: string): Map<string, string> {
  const v = extractVariables(msg, relay);
  const h = msg.options.get(12);
  if (codepage !== "cp866" && h) v.set("hostname_text", hostnameText(h, codepage));
  return v;
}

/** Names worth asking for: every packet name, the packet's own, and some that never exist. */
const ASKED = [...PACKET_VARIABLE_NAMES, "option0", "opt_01_hex", "opt_256_hex", "option82x", "nope", "profile", "sw_port1", "event"];

function check(msg: DhcpMessage, relay: RelayAgentInfoResult | undefined, codepage = "cp866"): void {
  const want = eager(msg, relay, codepage);
  // every name the packet defines has a resolver: else get() would miss it
  for (const k of want.keys()) expect(PACKET_VARIABLE_NAMES).toContain(k);
  // one value at a time, each from a fresh map, then all from one map
  const one = new PacketVars(msg, relay, codepage);
  for (const name of ASKED) {
    expect(new PacketVars(msg, relay, codepage).get(name)).toBe(want.get(name));
    expect(one.get(name)).toBe(want.get(name));
    expect(one.has(name)).toBe(want.has(name));
  }
  // whole: same entries, same order, after some reads
  expect([...one]).toEqual([...want]);
  expect(one.size).toBe(want.size);
  // whole without reads first
  const fresh = new PacketVars(msg, relay, codepage);
  expect([...fresh.keys()]).toEqual([...want.keys()]);
}

const messages = (): [string, DhcpMessage][] => [
  ["seed INFORM", seedMessage()],
  ["no options", message()],
  ["hlen 0, htype 6, op 2", message([[53, bytes(2)]], { hlen: 0, htype: 6, op: 2 })],
  ["hlen 20 > chaddr", message([], { hlen: 20 })],
  ["hlen 4", message([[53, bytes(3)]], { hlen: 4, flags: 0x8000, giaddr: "10.0.0.1" })],
  ["type 0 and empty 53", message([[53, bytes()]])],
  ["type 0", message([[53, bytes(0)]])],
  ["type 13 (no legacy op)", message([[53, bytes(13)]])],
  ["type 200", message([[53, bytes(200)]])],
  ["op 3", message([], { op: 3 })],
  ["short 61", message([[61, bytes(1)]])],
  ["61 of 2 bytes", message([[61, bytes(1, 0xab)]])],
  ["61 type 0", message([[61, bytes(0, 1, 2, 3)]])],
  ["empty 12", message([[12, bytes()]])],
  ["12 NULs only", message([[12, bytes(0, 0)]])],
  ["12 cp866", message([[12, fromHex("91a5e0a3a5a92d8f8a")]])],
  ["12 utf-8", message([[12, ascii("Сергей-ПК")]])],
  ["12 latin1 control", message([[12, bytes(0x41, 0x0a, 0xff)]])],
  ["60, 51, 50, 54, 1, 3, 6, 42", message([[60, ascii("MSFT 5.0")], [51, bytes(0, 1, 81, 128)], [50, bytes(10, 0, 0, 5)], [54, bytes(10, 0, 0, 1)], [1, bytes(255, 255, 255, 0)], [3, bytes(10, 0, 0, 1, 10, 0, 0, 2)], [6, bytes(8, 8, 8, 8)], [42, bytes(10, 0, 0, 9)]])],
  ["short addresses", message([[50, bytes(10, 0, 0)], [54, bytes()], [51, bytes(1, 2)], [1, bytes(1)]])],
  ["55 all flags", message([[55, bytes(1, 3, 6, 15, 31, 33, 43, 1)]])],
  ["55 empty", message([[55, bytes()]])],
  ["116", message([[116, bytes(1)]])],
  ["unknown options", message([[57, bytes(2, 64)], [77, ascii("it's \"q\"")], [0, bytes(1)], [255, bytes()], [249, new Uint8Array(300)], [43, bytes(0x27, 0x5c)]])],
  ["82 malformed", message([[82, bytes(1, 9, 0)]])],
  ["82 empty", message([[82, bytes()]])],
  ["82 every sub", message([[82, fromHex("0100" + "0205414243" + "0504c6120000" + "060363757374" + "0b04c6120001" + "1302" + "1a6f" + "ff00")]])],
  ["82 sub 5 and 11 short, 19 long", message([[82, fromHex("0503c61200" + "0b02c612" + "1303010203")]])],
  ["82 printable circuit", message([[82, fromHex("010b657468302f312f333a313030")]])],
  ["82 long (> 255)", message([[82, Uint8Array.from({ length: 300 }, (_, i) => (i % 60 === 0 ? 9 : i % 60 === 1 ? 58 : 0x41))]])],
];

describe("PacketVars", () => {
  for (const [name, msg] of messages()) {
    test(`${name}: same values and map as extractVariables`, () => {
      const rai = msg.options.get(82);
      check(msg, undefined);
      if (rai) check(msg, parseRelayAgentInfo(rai));
      check(msg, undefined, "windows-1251");
    });
  }

  test("a given parse is used only with option 82 present", () => {
    const msg = message([[53, bytes(1)]]);
    check(msg, parseRelayAgentInfo(SEED_OPTION_82));
  });

  test("fixture packets, mutated packets and random messages", () => {
    const seed = seedFromEnv();
    const r = prng(seed);
    const base = [...loadPackets(), ...loadMalformed()].map((f) => f.bytes);
    const msgs: DhcpMessage[] = [];
    for (const b of base) {
      const d = decode(b);
      if (d.ok) msgs.push(d.msg);
    }
    for (let i = 0; msgs.length < base.length + 150 && i < 5000; i++) {
      const d = decode(mutated(r, base));
      if (d.ok) msgs.push(d.msg);
    }
    for (let i = 0; i < 100; i++) msgs.push(randomMessage(r));
    try {
      for (const m of msgs) {
        const rai = m.options.get(82);
        check(m, rai ? parseRelayAgentInfo(rai) : undefined);
      }
    } catch (e) {
      throw new Error(`PYDHCP_SEED=${seed}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  test("sets win over packet values and keep the order they had after extraction", () => {
    const msg = seedMessage();
    const slices = [
      { source: "option_82_hex", name: "sw_port1", start: 20, end: 22 },
      { source: "option_82_hex", name: "sw_mac", start: 26, end: 40 },
      { source: "mac", name: "mac", start: 0, end: 2 },
    ];
    const want = extractVariables(msg);
    applySlices(want, slices);
    want.set("HostName", "override");
    want.set("event", "ACK");
    const got = new PacketVars(msg);
    applySlices(got, slices);
    got.set("HostName", "override");
    expect(got.get("mac")).toBe("00");
    expect(got.get("HostName")).toBe("override");
    expect(got.get("sw_port1")).toBe(want.get("sw_port1"));
    got.set("event", "ACK");
    expect([...got]).toEqual([...want]);
    // once whole, sets and deletes are a Map's
    got.set("event", "NAK");
    want.set("event", "NAK");
    expect(got.delete("xid")).toBe(true);
    want.delete("xid");
    expect([...got.entries()]).toEqual([...want.entries()]);
  });

  test("copies, objects and callbacks see the whole map", () => {
    const msg = seedMessage();
    const want = extractVariables(msg);
    const v = new PacketVars(msg);
    v.set("profile", "dlink");
    want.set("profile", "dlink");
    expect([...new Map(v)]).toEqual([...want]);
    expect(Object.fromEntries(new PacketVars(msg))).toEqual(Object.fromEntries(extractVariables(msg)));
    const seen: string[] = [];
    new PacketVars(msg).forEach((_, k) => seen.push(k));
    expect(seen).toEqual([...extractVariables(msg).keys()]);
    expect([...new PacketVars(msg).values()]).toEqual([...extractVariables(msg).values()]);
    expect(new PacketVars(msg).size).toBe(extractVariables(msg).size);
    expect(new PacketVars(msg)).toBeInstanceOf(Map);
  });

  test("delete of a value not yet read", () => {
    const msg = seedMessage();
    const v = new PacketVars(msg);
    expect(v.delete("ClientMacAddress")).toBe(true);
    expect(v.get("ClientMacAddress")).toBeUndefined();
    expect(v.has("ClientMacAddress")).toBe(false);
    expect(v.delete("nope")).toBe(false);
  });

  test("clear empties it", () => {
    const v = new PacketVars(seedMessage());
    v.get("xid");
    v.clear();
    expect(v.size).toBe(0);
    expect(v.get("xid")).toBeUndefined();
  });
});
