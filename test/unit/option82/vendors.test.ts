// Every vendor row's own example decodes to the values its source documents,
// and "auto" picks the expected row for it.
import { describe, expect, test } from "bun:test";
import { ROWS } from "../../../src/option82/vendors.ts";
import { decodeOption82Profile } from "../../../src/option82/profiles.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** What "auto" must report for each row's example (look-alikes fall to the first of their group). */
const AUTO_PICK: Record<string, string | null> = {
  juniper: "juniper",
  "huawei-text": "huawei-text",
  "eltex-tr101": "tr101",
  tr101: "tr101",
  dlink: "dlink",
  cisco: "dlink",
  eltex: "dlink",
  edgecore: "dlink",
  tplink: "dlink",
  h3c: "dlink",
  "huawei-extend": "dlink",
  zyxel: null,
};

describe("vendor rows decode their documented examples", () => {
  test("the table names every row once and AUTO_PICK covers them all", () => {
    const ids = ROWS.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(Object.keys(AUTO_PICK).sort());
  });

  for (const row of ROWS) {
    test(`${row.id}: ${row.example.source}`, () => {
      const { circuitId, remoteId, expect: want } = row.example;
      const got = decodeOption82Profile(row.id, circuitId, remoteId, "198.18.0.1");
      expect(got).not.toBeNull();
      const vars = Object.fromEntries(got!.vars);
      expect(got!.profile).toBe(row.id);
      expect(vars.profile).toBe(row.id);
      for (const [name, value] of Object.entries(want)) expect(vars[name]).toBe(value);
      expect(vars.circuit_id_hex).toBe(hex(circuitId));
      if (remoteId !== undefined) expect(vars.remote_id_hex).toBe(hex(remoteId));
      else expect(vars.remote_id_hex).toBeUndefined();
      // Names are unique within one result.
      expect(new Set(got!.vars.map(([n]) => n)).size).toBe(got!.vars.length);
    });

    test(`${row.id}: auto picks ${AUTO_PICK[row.id]}`, () => {
      const { circuitId, remoteId } = row.example;
      const got = decodeOption82Profile("auto", circuitId, remoteId, "198.18.0.1");
      expect(got?.profile ?? null).toBe(AUTO_PICK[row.id]!);
      expect(row.auto).toBe(AUTO_PICK[row.id] === row.id);
    });
  }
});

describe("the look-alike binary rows differ where their manuals say they differ", () => {
  // 00 04 | 00 0a | 01 04 read by each row.
  const cid = Uint8Array.of(0x00, 0x04, 0x00, 0x0a, 0x01, 0x04);
  const pick = (id: string) => Object.fromEntries(decodeOption82Profile(id, cid, undefined, "0.0.0.0")!.vars);
  test("dlink: module 1, port 4", () => expect([pick("dlink").module, pick("dlink").port]).toEqual(["1", "4"]));
  test("tplink: one 16-bit port 260", () => expect([pick("tplink").module, pick("tplink").port]).toEqual([undefined, "260"]));
  test("h3c: port index 260 = port 261", () => expect(pick("h3c").port).toBe("261"));
  test("huawei-extend: slot 0, subslot 1, port 4", () => {
    const v = pick("huawei-extend");
    expect([v.slot, v.subslot, v.port, v.svlan]).toEqual(["0", "1", "4", "10"]);
  });
});
