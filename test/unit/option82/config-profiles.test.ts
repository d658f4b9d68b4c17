// parseRelayProfiles on the shapes fast-xml-parser really produces with the
// config loader's options, and one test per error.
import { describe, expect, test } from "bun:test";
import { XMLParser } from "fast-xml-parser";
import { parseRelayProfiles } from "../../../src/config/profiles.ts";
import { selectProfile } from "../../../src/option82/profiles.ts";

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", parseTagValue: false, trimValues: true });
const P = "/pydhcp/relay_profiles";
const parse = (inner: string) => {
  const doc = parser.parse(`<pydhcp><relay_profiles>${inner}</relay_profiles></pydhcp>`) as { pydhcp: { relay_profiles: unknown } };
  return parseRelayProfiles(doc.pydhcp.relay_profiles, P);
};
const errorsOf = (inner: string) => {
  const r = parse(inner);
  if (r.ok) throw new Error("expected errors, got rules");
  return r.errors;
};

describe("parseRelayProfiles: accepted", () => {
  test("the documented example", () => {
    const r = parse(`<default>auto</default>
      <relay giaddr="198.18.0.0/24" profile="dlink"/>
      <relay remote_id="00:1e:58:9e:b2:ad" profile="cisco"/>`);
    expect(r).toEqual({
      ok: true,
      rules: [
        { kind: "default", profile: "auto" },
        { kind: "giaddr", network: 0xc6120000, prefix: 24, profile: "dlink" },
        { kind: "remote_id", mac: "001e589eb2ad", profile: "cisco" },
      ],
    });
    if (!r.ok) return;
    expect(selectProfile(r.rules, "198.18.0.9", null)).toBe("dlink");
    expect(selectProfile(r.rules, "198.18.0.9", "001e.589e.b2ad")).toBe("cisco");
    expect(selectProfile(r.rules, "198.19.1.1", null)).toBe("auto");
  });
  test("a single <relay> (an object, not an array), bare address = /32, none", () => {
    const r = parse(`<relay giaddr="198.18.3.4" profile="none"/>`);
    expect(r).toEqual({ ok: true, rules: [{ kind: "giaddr", network: 0xc6120304, prefix: 32, profile: null }] });
  });
  test("MAC spellings", () => {
    const r = parse(`<relay remote_id="001E.589E.B2AD" profile="h3c"/><relay remote_id="a8-f9-4b-10-20-30" profile="eltex"/>`);
    expect(r.ok && r.rules.map((x) => (x.kind === "remote_id" ? x.mac : ""))).toEqual(["001e589eb2ad", "a8f94b102030"]);
  });
  test("empty element and absent element: no rules", () => {
    expect(parse("")).toEqual({ ok: true, rules: [] });
    expect(parseRelayProfiles(undefined, P)).toEqual({ ok: true, rules: [] });
  });
});

describe("parseRelayProfiles: each error names its XML path", () => {
  const cases: [string, string, string, RegExp][] = [
    ["unknown profile in <default>", `<default>dlnk</default>`, `${P}/default`, /unknown Option 82 profile "dlnk"/],
    ["unknown profile on a relay", `<relay giaddr="198.18.0.1" profile="foo"/>`, `${P}/relay[1]/@profile`, /unknown Option 82 profile "foo"/],
    ["missing profile", `<relay giaddr="198.18.0.1"/>`, `${P}/relay[1]/@profile`, /profile is missing/],
    ["empty default", `<default/>`, `${P}/default`, /profile is missing/],
    ["bad CIDR address", `<relay giaddr="198.18.0.256/24" profile="dlink"/>`, `${P}/relay[1]/@giaddr`, /not an IPv4 address/],
    ["bad prefix length", `<relay giaddr="198.18.0.0/33" profile="dlink"/>`, `${P}/relay[1]/@giaddr`, /prefix length/],
    ["host bits set", `<relay giaddr="198.18.0.1/24" profile="dlink"/>`, `${P}/relay[1]/@giaddr`, /did you mean 198\.18\.0\.0\/24/],
    ["bad MAC", `<relay remote_id="00:1e:58:9e:b2" profile="dlink"/>`, `${P}/relay[1]/@remote_id`, /not a MAC address/],
    ["neither giaddr nor remote_id", `<relay profile="dlink"/>`, `${P}/relay[1]`, /exactly one of giaddr or remote_id/],
    ["both giaddr and remote_id", `<relay giaddr="198.18.0.1" remote_id="001e589eb2ad" profile="dlink"/>`, `${P}/relay[1]`, /exactly one/],
    ["unknown attribute", `<relay giaddr="198.18.0.1" profil="dlink" profile="dlink"/>`, `${P}/relay[1]/@profil`, /unknown attribute/],
    ["text inside relay", `<relay giaddr="198.18.0.1" profile="dlink">x</relay>`, `${P}/relay[1]`, /no text/],
    ["unknown child", `<default>auto</default><relays/>`, `${P}/relays`, /unexpected "relays"/],
    ["two defaults", `<default>auto</default><default>dlink</default>`, `${P}/default[2]`, /more than once/],
    ["duplicate subnet", `<relay giaddr="198.18.0.0/24" profile="dlink"/><relay giaddr="198.18.0.0/24" profile="h3c"/>`, `${P}/relay[2]`, /same giaddr as \/pydhcp\/relay_profiles\/relay\[1\]/],
    ["duplicate MAC in another spelling", `<relay remote_id="001e589eb2ad" profile="dlink"/><relay remote_id="00:1E:58:9E:B2:AD" profile="h3c"/>`, `${P}/relay[2]`, /same remote_id/],
    ["relay_profiles with text only", `just text`, P, /must contain/],
  ];
  for (const [name, xml, path, message] of cases) {
    test(name, () => {
      const errs = errorsOf(xml);
      const hit = errs.find((e) => e.path === path);
      expect(hit).toBeDefined();
      expect(hit!.message).toMatch(message);
    });
  }
  test("all errors are reported at once, in document order", () => {
    const errs = errorsOf(`<default>nope</default><relay giaddr="x" profile="dlink"/><relay remote_id="y" profile="dlink"/>`);
    expect(errs.map((e) => e.path)).toEqual([`${P}/default`, `${P}/relay[1]/@giaddr`, `${P}/relay[2]/@remote_id`]);
  });
});

describe("parseRelayProfiles on the loader's own element tree (config/xml.ts)", async () => {
  const { parseXml } = await import("../../../src/config/xml.ts");
  const node = (inner: string) => {
    const r = parseXml(`<config><relay_profiles>${inner}</relay_profiles></config>`);
    if (!r.ok) throw new Error(r.message);
    return r.root.children.find((c) => c.name === "relay_profiles");
  };
  test("same rules as from the plain shape", () => {
    const inner = `<default>auto</default><relay giaddr="198.18.0.0/24" profile="dlink"/><relay remote_id="00:1e:58:9e:b2:ad" profile="cisco"/>`;
    expect(parseRelayProfiles(node(inner), "config/relay_profiles")).toEqual(parse(inner));
  });
  test("single relay, empty element, and errors with paths", () => {
    expect(parseRelayProfiles(node(`<relay giaddr="198.18.3.4" profile="none"/>`), "x")).toEqual({
      ok: true, rules: [{ kind: "giaddr", network: 0xc6120304, prefix: 32, profile: null }],
    });
    expect(parseRelayProfiles(node(""), "x")).toEqual({ ok: true, rules: [] });
    const r = parseRelayProfiles(node(`<relay giaddr="198.18.0.0/24" profile="x"/><relay giaddr="198.18.1.0/24" profile="dlink"/><relay giaddr="198.18.1.0/24" profile="h3c"/>`), "config/relay_profiles");
    expect(r.ok ? [] : r.errors.map((e) => e.path)).toEqual(["config/relay_profiles/relay[1]/@profile", "config/relay_profiles/relay[3]"]);
  });
});
