/**
 * <pools>: ranges, excludes, defaults from <dhcpserver>, and every mistake
 * reported with the XML path naming the pool.
 */

import { describe, expect, test } from "bun:test";
import { parseConfig, formatConfigError } from "../../../src/config/load.ts";
import { parseSpan, poolSize } from "../../../src/config/pools.ts";
import { parseIPv4 } from "../../../src/codec/ip.ts";

const ip = (s: string) => parseIPv4(s)!;

function config(pools: string): string {
  return `<config>
  <dhcpserver>
    <host>0.0.0.0</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>3600</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.0.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database><sqlite><path>/tmp/pools-unit.sqlite</path></sqlite></database>
  <query><offer_count>1</offer_count><offer_1>select 'guest' as pool</offer_1></query>
  ${pools}
</config>`;
}

function load(pools: string) {
  return parseConfig(config(pools), "/tmp/pools-unit.xml");
}

function errors(pools: string): string[] {
  const r = load(pools);
  if (r.ok) throw new Error("expected errors");
  return r.errors.map(formatConfigError);
}

describe("spans", () => {
  test.each([
    ["198.18.64.10-198.18.64.250", [ip("198.18.64.10"), ip("198.18.64.250")]],
    ["198.18.64.10 - 198.18.64.10", [ip("198.18.64.10"), ip("198.18.64.10")]],
    // CIDR: network and broadcast address left out
    ["198.18.64.0/24", [ip("198.18.64.1"), ip("198.18.64.254")]],
    ["198.18.64.0/31", [ip("198.18.64.0"), ip("198.18.64.1")]],
    ["198.18.64.7", [ip("198.18.64.7"), ip("198.18.64.7")]],
  ])("%s", (text, want) => {
    expect(parseSpan(text)).toEqual(want as [number, number]);
  });
  test.each([
    ["198.18.64.10-198.18.64.9", "ends before it starts"],
    ["198.18.64.1/24", "host bits set"],
    ["198.18.64.0/40", "out of range"],
    ["198.18.64.300-198.18.64.301", "not an IPv4 address"],
    ["guest", "not an address"],
  ])("%s is refused", (text, why) => {
    expect(parseSpan(text)).toContain(why);
  });
});

test("a pool with every tag", () => {
  const r = load(`<pools>
    <offerHold>30</offerHold><declineProbation>600</declineProbation>
    <pool name="guest">
      <range>198.18.64.10-198.18.64.250</range>
      <range>198.18.65.0/24</range>
      <exclude>198.18.64.100</exclude><exclude>198.18.64.200-198.18.64.209</exclude>
      <mask>255.255.254.0</mask><router>198.18.64.1</router><dns>198.18.0.53, 198.18.0.54</dns>
      <leaseTime>600</leaseTime>
      <option code="42">198.18.0.123</option>
      <option code="15">guest.example</option>
    </pool>
    <pool name="unpaid"><range>198.18.70.0/24</range></pool>
  </pools>`);
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
  const p = r.config.pools;
  expect(p.offerHoldSeconds).toBe(30);
  expect(p.declineProbationSeconds).toBe(600);
  expect(p.pools.map((x) => x.name)).toEqual(["guest", "unpaid"]);
  const g = p.pools[0]!;
  expect(g).toMatchObject({ mask: "255.255.254.0", router: "198.18.64.1", dns: ["198.18.0.53", "198.18.0.54"], leaseTime: 600 });
  expect(g.options).toEqual([[42, "198.18.0.123"], [15, "guest.example"]]);
  // 241 + 254 addresses, minus 1 + 10 excluded; 198.18.65.255 is the /23's broadcast and not in the CIDR range anyway
  expect(poolSize(g)).toBe(241 + 254 - 11);
  // <dhcpserver> defaults, and the mask a CIDR range implies
  expect(p.pools[1]).toMatchObject({ mask: "255.255.255.0", router: "198.18.0.1", dns: ["198.18.0.53"], leaseTime: null });
});

test("no <pools>: none, and the defaults", () => {
  const r = load("");
  expect(r.ok && r.config.pools).toEqual({ pools: [], offerHoldSeconds: 60, declineProbationSeconds: 86400, cacheThresholdPercent: 25 });
});

test("a range across a subnet boundary skips each subnet's network and broadcast address", () => {
  const r = load(`<pools><pool name="g"><range>198.18.64.250-198.18.65.5</range><mask>255.255.255.0</mask></pool></pools>`);
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
  // .250-.254 and 65.1-65.5: .255 and 65.0 left out
  expect(poolSize(r.config.pools.pools[0]!)).toBe(10);
});

test.each([
  [`<pool><range>198.18.64.0/24</range></pool>`, `config/pools/pool[]: needs a name attribute`],
  [`<pool name="a b"><range>198.18.64.0/24</range></pool>`, `config/pools/pool[a b]: name "a b" must be`],
  [`<pool name="g"></pool>`, `config/pools/pool[g]/range: missing`],
  [`<pool name="g"><range>198.18.64.9-198.18.64.1</range></pool>`, `config/pools/pool[g]/range: range 198.18.64.9-198.18.64.1 ends before it starts`],
  [`<pool name="g"><range>198.18.64.0/24</range><range>198.18.64.10-198.18.64.20</range></pool>`, `config/pools/pool[g]/range: 198.18.64.10-198.18.64.20 overlaps`],
  [`<pool name="g"><range>198.18.64.0/24</range></pool><pool name="h"><range>198.18.64.128/25</range></pool>`, `config/pools/pool[h]: pool "h" overlaps pool "g"`],
  [`<pool name="g"><range>127.0.0.10-127.0.0.20</range></pool>`, `config/pools/pool[g]/range: 127.0.0.10-127.0.0.20 holds 127.0.0.10, a loopback address (127.0.0.0/8)`],
  [`<pool name="g"><range>126.255.255.250-127.0.0.5</range></pool>`, `config/pools/pool[g]/range: 126.255.255.250-127.0.0.5 holds 127.0.0.0, a loopback address`],
  [`<pool name="g"><range>169.254.1.0/24</range></pool>`, `config/pools/pool[g]/range: 169.254.1.0/24 holds 169.254.1.1, a link-local address (169.254.0.0/16)`],
  [`<pool name="g"><range>224.0.0.5</range></pool>`, `config/pools/pool[g]/range: 224.0.0.5 holds 224.0.0.5, a multicast address`],
  [`<pool name="g"><range>198.18.64.0/24</range></pool><pool name="g"><range>198.18.65.0/24</range></pool>`, `pool "g" defined twice`],
  [`<pool name="g"><range>198.18.64.0/24</range><mask>255.0.255.0</mask></pool>`, `config/pools/pool[g]/mask: "255.0.255.0" is not a contiguous netmask`],
  [`<pool name="g"><range>198.18.64.0/24</range><router>198.18.64.1</router></pool>`, `config/pools/pool[g]/router: router 198.18.64.1 is inside the pool's ranges`],
  [`<pool name="g"><range>198.18.64.0/24</range><dns>x</dns></pool>`, `config/pools/pool[g]/dns: "x" is not an IPv4 address`],
  [`<pool name="g"><range>198.18.64.0/24</range><leaseTime>0</leaseTime></pool>`, `config/pools/pool[g]/leaseTime: 0 is out of range`],
  [`<pool name="g"><range>198.18.64.0/24</range><option>1</option></pool>`, `config/pools/pool[g]/option: needs code="1..254"`],
  [`<pool name="g"><range>198.18.64.0/24</range><option code="51">1</option></pool>`, `option 51 is the server's own`],
  [`<pool name="g"><range>198.18.64.5</range><exclude>198.18.64.5</exclude></pool>`, `config/pools/pool[g]: no address left`],
  [`<pool name="g"><range>10.0.0.0/8</range></pool>`, `more than the 1048576 a pool may hold`],
  [`<pool name="g"><range>198.18.64.0/24</range><color>red</color></pool>`, `config/pools/pool[g]/color: unknown tag`],
  [`<offerHold>0</offerHold>`, `config/pools/offerHold: 0 is out of range 1..3600`],
])("%s -> %s", (xml, want) => {
  const all = errors(`<pools>${xml}</pools>`);
  expect(all.some((e) => e.includes(want))).toBe(true);
});

test("<cacheThreshold>: a percent from 0 (off) to 99; anything else is named", () => {
  const ok = load(`<pools><cacheThreshold>0</cacheThreshold><pool name="g"><range>198.18.64.10-198.18.64.20</range></pool></pools>`);
  expect(ok.ok && ok.config.pools.cacheThresholdPercent).toBe(0);
  for (const bad of ["100", "-1", "0.25", "a quarter"]) {
    const r = load(`<pools><cacheThreshold>${bad}</cacheThreshold><pool name="g"><range>198.18.64.10-198.18.64.20</range></pool></pools>`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path).join(" ")).toContain("config/pools/cacheThreshold");
  }
});
