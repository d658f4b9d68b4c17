/**
 * Result rows -> answers: defaults, column names in any case, extra option
 * columns, and refusal of anything that would put a bad address on the wire.
 */

import { describe, expect, test } from "bun:test";
import { isBadAnswer, rowIp, toAnswer, type Answer } from "../../src/core/answer.ts";
import { runOfferChain, type BoundQuery } from "../../src/db/chain.ts";
import { compileTemplate } from "../../src/db/template.ts";
import { SqliteBackend } from "../../src/db/sqlite.ts";
import type { Row } from "../../src/db/backend.ts";
import { memoryLog } from "./mariadb.ts";

const DEFAULTS = { mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"] };

function answer(row: Row): Answer {
  const a = toAnswer(row, 0, "offer_1", DEFAULTS);
  if (isBadAnswer(a)) throw new Error(a.message);
  return a;
}

describe("toAnswer", () => {
  test("pydhcpdb's four columns, any letter case", () => {
    expect(answer({ IP: "192.168.0.19", Mask: "255.255.255.0", ROUTER: "192.168.0.1", dns: "8.8.8.8" })).toEqual({
      ip: "192.168.0.19", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"], options: new Map(),
    });
  });

  test("missing, NULL or empty mask/router/dns take the config defaults", () => {
    expect(answer({ ip: "192.168.0.20", mask: null, router: "" })).toEqual({
      ip: "192.168.0.20", mask: "255.255.255.0", router: "192.168.0.1", dns: ["8.8.8.8"], options: new Map(),
    });
    const noRouter = toAnswer({ ip: "10.0.0.5" }, 0, "q", { mask: "255.0.0.0", router: null, dns: [] });
    expect(noRouter).toMatchObject({ router: null, dns: [], mask: "255.0.0.0" });
  });

  test("dns separated by commas or spaces; mask as a prefix length", () => {
    expect(answer({ ip: "10.1.2.3", mask: "16", router: "10.1.0.1", dns: "1.1.1.1, 9.9.9.9 8.8.4.4" })).toMatchObject({
      mask: "255.255.0.0", dns: ["1.1.1.1", "9.9.9.9", "8.8.4.4"],
    });
    expect(answer({ ip: "10.1.2.3", mask: "/8" }).mask).toBe("255.0.0.0");
  });

  test("optional columns become options", () => {
    const a = answer({
      ip: "198.18.0.10", lease_time: 600, domain: "example.net", hostname: "cpe-10", ntp: "198.18.0.1 198.18.0.2",
      routes: "10.0.0.0/8 198.18.0.1, 0.0.0.0/0 192.168.0.1", tftp: "tftp.example", bootfile: "pxelinux.0", next_server: "198.18.0.5",
      option_26: "1500", option_150: "0xC6120005", option_252: "http://wpad/wpad.dat", OPTION_43: Buffer.from([1, 2, 3]),
    });
    expect(a.leaseTime).toBe(600);
    expect(a.nextServer).toBe("198.18.0.5");
    const hex = Object.fromEntries([...a.options].map(([c, v]) => [c, Buffer.from(v).toString("hex")]));
    expect(hex).toEqual({
      12: Buffer.from("cpe-10").toString("hex"),
      15: Buffer.from("example.net").toString("hex"),
      26: "05dc",
      42: "c6120001c6120002",
      43: "010203",
      66: Buffer.from("tftp.example").toString("hex"),
      67: Buffer.from("pxelinux.0").toString("hex"),
      // RFC 3442: /8 -> 1 significant octet; /0 -> none
      121: "080ac6120001" + "00c0a80001",
      150: "c6120005",
      252: Buffer.from("http://wpad/wpad.dat").toString("hex"),
    });
  });

  test("option_<code> text is encoded by the option's type (options/types.ts), the one codec", () => {
    const a = answer({ ip: "198.18.0.10", option_119: "example.com, corp.example.com", option_55: "1,3,6", option_19: "true", option_2: "-3600" });
    const hex = (c: number) => Buffer.from(a.options.get(c)!).toString("hex");
    // RFC 1035 labels, not raw ASCII
    expect(hex(119)).toBe("076578616d706c6503636f6d00" + "04636f7270076578616d706c6503636f6d00");
    expect(hex(55)).toBe("010306");
    expect(hex(19)).toBe("01");
    expect(hex(2)).toBe("fffff1f0");
  });

  test("next_server 0.0.0.0 means none (siaddr stays zero); a link-local one is allowed like a link-local server", () => {
    expect(answer({ ip: "198.18.0.10", next_server: "0.0.0.0" }).nextServer).toBeUndefined();
    expect(answer({ ip: "198.18.0.10", next_server: "" }).nextServer).toBeUndefined();
    expect(answer({ ip: "198.18.0.10", next_server: "169.254.169.254" }).nextServer).toBe("169.254.169.254");
  });

  test("/31 and /32 have no network or broadcast address to refuse (RFC 3021)", () => {
    expect(answer({ ip: "198.18.0.0", mask: "255.255.255.254", router: "198.18.0.1" }).ip).toBe("198.18.0.0");
    expect(answer({ ip: "198.18.0.7", mask: "255.255.255.255", router: "198.18.0.1" }).ip).toBe("198.18.0.7");
  });

  /** [row, message] */
  const REFUSED: readonly [Row, string][] = [
    [{ ip: "192.168.0.300" }, 'ip "192.168.0.300" is not an IPv4 address'],
    [{ ip: "192.168.0.0" }, "ip 192.168.0.0 is the network address of 192.168.0.0/24"],
    [{ ip: "192.168.0.255" }, "ip 192.168.0.255 is the broadcast address of 192.168.0.0/24"],
    [{ ip: "10.0.0.5", mask: "255.0.255.0" }, 'mask "255.0.255.0" is not contiguous'],
    [{ ip: "10.0.0.5", mask: "33" }, 'mask "33" is not a netmask'],
    [{ ip: "10.0.0.5", mask: "0.0.0.0" }, 'mask "0.0.0.0" (/0) leaves no subnet'],
    [{ ip: "192.168.0.5", router: "gateway" }, 'router "gateway" is not an IPv4 address'],
    [{ ip: "192.168.0.1" }, "router 192.168.0.1 is the client's own address"],
    [{ ip: "192.168.0.5", dns: "8.8.8.8, dns.google" }, 'dns "dns.google" is not an IPv4 address'],
    [{ ip: "192.168.0.5", lease_time: "1h" }, 'lease_time "1h" is not a number of seconds'],
    [{ ip: "192.168.0.5", routes: "10.0.0.1/8 192.168.0.1" }, 'routes: "10.0.0.1/8" has host bits set beyond /8'],
    [{ ip: "192.168.0.5", option_26: "big" }, 'option_26: "big" is not an integer 0..65535'],
    // option_3 / option_6 are options 3 and 6: the same refusals as the router and dns columns
    [{ ip: "192.168.0.5", router: "0.0.0.0" }, 'router "0.0.0.0" is in 0.0.0.0/8 (this network)'],
    [{ ip: "192.168.0.5", option_3: "0.0.0.0" }, 'option_3: "0.0.0.0" is in 0.0.0.0/8 (this network)'],
    [{ ip: "192.168.0.5", dns: "255.255.255.255" }, 'dns "255.255.255.255" is in the reserved range 240.0.0.0/4'],
    [{ ip: "192.168.0.5", option_6: "255.255.255.255" }, 'option_6: "255.255.255.255" is in the reserved range 240.0.0.0/4'],
    [{ ip: "192.168.0.5", option_6: Buffer.from([255, 255, 255, 255]) }, 'option_6: "255.255.255.255" is in the reserved range 240.0.0.0/4'],
    [{ ip: "192.168.0.5", option_3: "192.168.0.255" }, "option_3 192.168.0.255 is the broadcast address of the client's subnet"],
    [{ ip: "192.168.0.5", option_3: "192.168.0.5" }, "option_3 192.168.0.5 is the client's own address"],
    [{ ip: "192.168.0.5", option_42: "224.0.0.1" }, 'option_42: "224.0.0.1" is a multicast address'],
    [{ ip: "192.168.0.5", option_26: Buffer.from([1]) }, "option_26: 1 bytes, must be exactly 2 bytes"],
    [{ ip: "192.168.0.5", option_300: "1" }, "option_300: option code must be 1..254"],
    [{ ip: "192.168.0.5", option_150: "0xABC" }, 'option_150: "0xABC" is not hex'],
    // siaddr: the client fetches its boot file there, so the router/server refusals apply
    [{ ip: "192.168.0.5", next_server: "127.0.0.1" }, 'next_server "127.0.0.1" is a loopback address (127.0.0.0/8)'],
    [{ ip: "192.168.0.5", next_server: "127.1.2.3" }, 'next_server "127.1.2.3" is a loopback address (127.0.0.0/8)'],
    [{ ip: "192.168.0.5", next_server: "255.255.255.255" }, 'next_server "255.255.255.255" is in the reserved range 240.0.0.0/4'],
    [{ ip: "192.168.0.5", next_server: "tftp.example" }, 'next_server "tftp.example" is not an IPv4 address'],
  ];
  for (const [row, message] of REFUSED) {
    test(`refuses ${JSON.stringify(row)}`, () => {
      expect(toAnswer(row, 3, "offer_2", DEFAULTS)).toEqual({ kind: "bad-answer", query: "offer_2", row: 3, message });
    });
  }

  test("rowIp finds the ip column in any case, empty when absent", () => {
    expect(rowIp({ IP: " 10.0.0.1 " })).toBe("10.0.0.1");
    expect(rowIp({ ip: null })).toBe("");
    expect(rowIp({ mask: "255.0.0.0" })).toBe("");
  });
});

describe("runOfferChain (on SQLite in memory)", () => {
  const db = SqliteBackend.open({ path: ":memory:", timeoutMs: 1000 }, memoryLog());
  db.exec("INSERT INTO users (ip, mask, router, dns, mac, port) VALUES ('', '', '', '', 'aa', ''), ('198.18.0.30', '', '198.18.0.1', '', 'aa', ''), ('198.18.0.255', '', '198.18.0.1', '', 'bb', '')");
  const d = { mask: "255.255.255.0", router: null, dns: [] };
  async function bound(name: string, sql: string): Promise<BoundQuery> {
    const t = compileTemplate(name, sql, "sqlite");
    if (t.kind !== "template") throw new Error(t.message);
    return { template: t, query: await db.prepare(name, t.sql) };
  }

  test("a row with an empty ip is skipped; the first row with an ip decides", async () => {
    const q = [await bound("offer_1", "select ip from users where mac = '{sw_mac}'"), await bound("offer_2", "select ip, mask, router, dns from users where mac = '{ClientMacAddress}' order by id")];
    const r = await runOfferChain(q, new Map([["ClientMacAddress", "aa"]]), 1000, d);
    expect(r.answer?.ip).toBe("198.18.0.30");
    if (r.answer) expect(r.query).toBe("offer_2");
    expect(r.tried.map((t) => [t.name, t.params, t.rows, t.error])).toEqual([["offer_1", [null], 0, undefined], ["offer_2", ["aa"], 2, undefined]]);
    expect(r.tried.every((t) => t.ms >= 0)).toBe(true);
  });

  test("a query error ends the chain with no answer, naming the query", async () => {
    const q = [await bound("offer_1", "select ip from users where mac = '{ClientMacAddress}' and abs('x') + 1e999999 > json('{')"), await bound("offer_2", "select ip from users where mac = '{ClientMacAddress}'")];
    const r = await runOfferChain(q, new Map([["ClientMacAddress", "aa"]]), 1000, d);
    expect(r.answer).toBeNull();
    if (!r.answer) expect(r.failure).toMatchObject({ kind: "query", query: "offer_1" });
    expect(r.tried.length).toBe(1);
  });

  test("an unusable row is refused, not offered", async () => {
    const q = [await bound("offer_1", "select ip from users where mac = '{ClientMacAddress}'")];
    const r = await runOfferChain(q, new Map([["ClientMacAddress", "bb"]]), 1000, d);
    expect(r.answer).toBeNull();
    if (!r.answer) expect(r.failure).toEqual({ kind: "bad-answer", query: "offer_1", row: 0, message: "ip 198.18.0.255 is the broadcast address of 198.18.0.0/24" });
  });
});
