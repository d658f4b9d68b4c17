import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { VARIABLES, isKnownVariable, variableRow } from "../../../src/variables/catalogue.ts";
import { renderVariablesDoc } from "../../../src/variables/doc.ts";

describe("isKnownVariable", () => {
  test.each([
    "ClientMacAddress", "option_82_hex", "op", "msg_type", "mac", "option12", "option116",
    "unknown_option_77_hex", "unknown_option_77_len", "unknown_option_2", "unknown_option_254_str",
    "opt_82_hex", "opt_1_hex", "relay_sub_0_hex", "relay_sub_255_hex",
  ])("%p is known", (n) => expect(isKnownVariable(n)).toBe(true));

  test.each([
    "gpoz", "result", "clientmacaddress", "option77", "option82x", "option012", "unknown_option_12_hex",
    "unknown_option_0_hex", "unknown_option_255_hex", "opt_0_hex", "opt_256_hex", "opt__hex", "opt_1_hexx",
    "relay_sub_256_hex", "option", "", "sw_mac",
  ])("%p is unknown", (n) => expect(isKnownVariable(n)).toBe(false));

  test("extra names (slices, vendor profiles) count as known", () => {
    expect(isKnownVariable("sw_mac", new Set(["sw_mac"]))).toBe(true);
    expect(isKnownVariable("sw_port", new Set(["sw_mac"]))).toBe(false);
  });

  test("option82 is an exact row, not the optionN pattern", () => {
    expect(variableRow("option82")?.name).toBe("option82");
    expect(variableRow("option53")?.name).toBe("optionN");
  });
});

describe("catalogue", () => {
  test("names are unique and every row is described with an example", () => {
    const names = VARIABLES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const r of VARIABLES) {
      expect([r.name, r.description.length > 10, r.source.length > 0]).toEqual([r.name, true, true]);
      if (r.codes) expect([r.name, r.name.split("N").length]).toEqual([r.name, 2]);
    }
  });

  test("docs/variables.md is the generated text and lists every row", () => {
    const doc = readFileSync(new URL("../../../docs/variables.md", import.meta.url), "utf8");
    expect(doc).toBe(renderVariablesDoc());
    for (const r of VARIABLES) expect([r.name, doc.includes("| `" + r.name + "` |")]).toEqual([r.name, true]);
  });
});
