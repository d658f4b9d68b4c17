/**
 * hostname_text: UTF-8 when the bytes are valid UTF-8, else the configured
 * fallback code page (default cp866). The seed's Windows client sends
 * `Сергей-ПК` as CP866.
 */
import { describe, expect, test } from "bun:test";
import { extractVariables } from "../../../src/variables/extract.ts";
import { codepageKnown, hostnameText } from "../../../src/variables/text.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { message, seedMessage } from "./packets.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);
const CP866_SERGEY_PC = bytes(0x91, 0xa5, 0xe0, 0xa3, 0xa5, 0xa9, 0x2d, 0x8f, 0x8a);

describe("hostname_text", () => {
  test("the seed packet's CP866 host name reads as Сергей-ПК; HostName keeps pydhcpdb's Latin-1 text", () => {
    const v = extractVariables(seedMessage());
    expect(v.get("hostname_text")).toBe("Сергей-ПК");
    expect(v.get("HostName")).toBe("\x91\xa5\xe0\xa3\xa5\xa9-\x8f\x8a");
  });

  const cases: [string, Uint8Array, string, string][] = [
    ["ASCII", new TextEncoder().encode("WIN-PC"), "cp866", "WIN-PC"],
    ["valid UTF-8 wins over the code page", new TextEncoder().encode("Сергей-ПК"), "cp866", "Сергей-ПК"],
    ["CP866 fallback", CP866_SERGEY_PC, "cp866", "Сергей-ПК"],
    ["windows-1251 fallback", bytes(0xd1, 0xe5, 0xf0, 0xe3, 0xe5, 0xe9), "windows-1251", "Сергей"],
    ["trailing NULs dropped", bytes(0x50, 0x43, 0, 0), "cp866", "PC"],
    ["markup stays text", new TextEncoder().encode("<script>x</script>"), "cp866", "<script>x</script>"],
  ];
  for (const [name, b, cp, want] of cases) test(name, () => expect(hostnameText(b, cp)).toBe(want));

  test("absent without option 12", () => {
    expect(extractVariables(message([])).has("hostname_text")).toBe(false);
  });

  test("config: <hostnameCodepage> must be a code page the runtime decodes", () => {
    expect(codepageKnown("cp866")).toBe(true);
    expect(codepageKnown("klingon")).toBe(false);
    const xml = (cp: string) => `<config><dhcpserver><host>127.0.0.1</host><broadcast>127.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
      <LeaseTime>60</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.255.0</defaultMask><defaultRouter></defaultRouter><defaultDNS></defaultDNS>
      <hostnameCodepage>${cp}</hostnameCodepage></dhcpserver><database><sqlite><path>x.sqlite</path></sqlite></database>
      <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{ClientMacAddress}'</offer_1></query></config>`;
    const ok = parseConfig(xml("windows-1251"), "/tmp/c.xml");
    expect(ok.ok && ok.config.server.hostnameCodepage).toBe("windows-1251");
    const bad = parseConfig(xml("klingon"), "/tmp/c.xml");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]!.path).toBe("config/dhcpserver/hostnameCodepage");
  });
});
