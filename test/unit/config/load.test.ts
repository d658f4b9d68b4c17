/**
 * Config loading: pydhcpdb's config.xml unchanged, every extension, and a
 * table of broken configs -> the XML path and message the operator sees.
 */

import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, parseConfig, formatConfigError } from "../../../src/config/load.ts";
import { REFERENCE_CONFIG } from "../../fixtures/reference.ts";

const FIXTURES = join(import.meta.dir, "../../fixtures/configs");
const REFERENCE = REFERENCE_CONFIG;

describe("pydhcpdb's config.xml", () => {
  test("loads unchanged with pydhcpdb's values and pydhcp's defaults", () => {
    const r = loadConfig(REFERENCE, { mysqlSockets: ["/nonexistent/pdc.sock"] });
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
    const c = r.config;
    expect(c.server).toEqual({
      host: "0.0.0.0", port: 67, clientPort: 68, broadcast: "255.255.255.255", serverId: "192.168.0.71",
      leaseTime: 8600, threadLimit: 1, queueLimit: 1000, maxWaitMs: 1000, unrelayedOption82: "use", defaultMask: "255.255.255.0", defaultRouter: "192.168.0.1",
      defaultDns: ["8.8.8.8"], interfaces: [], user: null, group: null, hostnameCodepage: "cp866",
    });
    // no local socket: localhost falls back to TCP 127.0.0.1, as the mysql client does
    expect(c.database).toEqual({ kind: "mysql", host: "127.0.0.1", port: 3306, socket: null, user: "test", password: "test", database: "pydhcp", poolSize: 8, lookupBatch: 16 });
    expect(c.slices).toEqual([
      { source: "option_82_hex", name: "sw_port1", start: 20, end: 22 },
      { source: "option_82_hex", name: "sw_port2", start: 16, end: 18 },
      { source: "option_82_hex", name: "sw_mac", start: 26, end: 40 },
    ]);
    expect(c.offers.map((o) => o.name)).toEqual(["offer_1", "offer_2", "offer_3"]);
    expect(c.offers[2]!.sql).toBe("select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')");
    expect(c.history?.name).toBe("history_sql");
    expect(c.historyEvents).toEqual({});
    expect(c.queryTimeoutMs).toBe(2000);
    expect(c.slowP99Ms).toBe(50);
    expect(c.answerCache).toEqual({ ttlSeconds: 5, maxEntries: 16384 });
    expect(c.metrics).toBeNull();
    // no <relay_profiles>: Option 82 vendor profiles decoded by auto, as with <default>auto</default>
    expect(c.relayProfiles).toEqual([{ kind: "default", profile: "auto" }]);
    expect(c.log).toEqual({ level: "info", format: "text" });
    expect(c.leases).toEqual({ outageGraceSeconds: 3600, cleanupIntervalSeconds: 60, syncIntervalSeconds: 1, snapshotIntervalSeconds: 5, cacheThresholdPercent: 25 });
  });

  test("localhost means the first local socket that exists", () => {
    const sock = join(FIXTURES, "all-extensions.xml"); // any existing path stands in for a socket
    const r = loadConfig(REFERENCE, { mysqlSockets: ["/nonexistent/pdc.sock", sock] });
    expect(r.ok && r.config.database).toMatchObject({ kind: "mysql", host: "localhost", socket: sock });
  });
});

test("every extension is read", () => {
  const r = loadConfig(join(FIXTURES, "all-extensions.xml"));
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
  const c = r.config;
  expect(c.server).toMatchObject({
    host: "198.18.0.1", port: 6767, clientPort: 6868, threadLimit: 32, queueLimit: 5000, defaultRouter: null,
    defaultDns: ["198.18.0.53", "198.18.0.54", "198.18.0.55"], interfaces: ["pdc-veth0", "pdc-veth1"], user: "nobody", group: "nogroup",
  });
  expect(c.database).toEqual({ kind: "mysql", host: "db.example", port: 3307, socket: null, user: "pydhcp", password: "", database: "dhcp", poolSize: 16, lookupBatch: 8 });
  expect(c.slices[1]).toEqual({ source: "ClientMacAddress", name: "oui", start: null, end: 6 });
  expect(c.slices[2]).toEqual({ source: "option_82_hex", name: "tail", start: -4, end: null });
  expect(c.offers[0]!.sql).toBe("select ip from users where mac = '{sw_mac}' and port = {port} and ip <> ''");
  expect(c.history).toBeNull();
  expect(Object.keys(c.historyEvents).sort()).toEqual(["ack", "release"]);
  expect(c.queryTimeoutMs).toBe(750);
  expect(c.log).toEqual({ level: "debug", format: "json" });
  expect(c.metrics).toEqual({ host: "127.0.0.1", port: 9167, token: null });
  expect(c.leases).toEqual({ outageGraceSeconds: 600, cleanupIntervalSeconds: 30, syncIntervalSeconds: 1, snapshotIntervalSeconds: 10, cacheThresholdPercent: 40 });
  expect(c.historyRetentionDays).toBe(90);
  expect(c.spoolPath).toBe(join(FIXTURES, "spool/history.spool"));
  expect(c.rateLimit).toEqual({ perMac: 5, perCircuit: 50 });
  expect(c.relayProfiles).toEqual([
    { kind: "default", profile: "auto" },
    { kind: "giaddr", network: 0xc6120000, prefix: 24, profile: null },
  ]);
});

test("config.example.xml loads: SQLite beside the file", () => {
  const r = loadConfig(join(import.meta.dir, "../../../config.example.xml"));
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
  expect(r.config.database).toEqual({ kind: "sqlite", path: join(import.meta.dir, "../../../pydhcp.db") });
  expect(r.config.offers.map((o) => o.name)).toEqual(["offer_1", "offer_2"]);
});

/** fixture -> every error it must produce, exactly, as `path: message` */
const BAD: readonly [file: string, errors: string[]][] = [
  ["missing-tag.xml", ["config/dhcpserver/DHCPServer: missing"]],
  ["bad-address.xml", ['config/dhcpserver/DHCPServer: "192.168.0.300" is not an IPv4 address']],
  ["bad-dns.xml", ['config/dhcpserver/defaultDNS: "8.8.4" is not an IPv4 address']],
  ["bad-number.xml", ['config/dhcpserver/LeaseTime: "8600s" is not a whole number of seconds']],
  ["offer-count-mismatch.xml", ["config/query/offer_4: missing (offer_count is 4)"]],
  ["offer-beyond-count.xml", ["config/query/offer_3: beyond offer_count (2)"]],
  ["unknown-variable.xml", ["config/query/offer_3: unknown variable {ClientMac}"]],
  ["unknown-tag.xml", ["config/dhcpserver/LeaseTim: unknown tag"]],
  ["unknown-section.xml", ["config/logging: unknown tag"]],
  ["repeated-tag.xml", ["config/dhcpserver/broadcast: appears 2 times, expected once"]],
  ["bad-slice.xml", ['config/options/option: "option_82_hex:sw_port1:20" is not source:name:start:end (found 3 fields)']],
  ["unterminated-literal.xml", ["config/query/offer_3: unterminated string literal (at character 61)"]],
  ["question-mark.xml", ["config/query/offer_3: a literal ? in the query would take a bound value; write {name} instead (at character 61)"]],
  ["placeholder-in-identifier.xml", ["config/query/offer_3: a placeholder inside an identifier cannot be bound (at character 32)"]],
  ["both-databases.xml", ["config/database: give either <database> or pydhcpdb's <mysql>, not both"]],
  ["no-database.xml", ["config/database: missing (or pydhcpdb's <mysql>)"]],
];

describe("broken configs name the XML path and the problem", () => {
  for (const [file, expected] of BAD) {
    test(file, () => {
      const r = loadConfig(join(FIXTURES, file));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.map(formatConfigError)).toEqual(expected);
    });
  }

  test("relay profile errors come through with their path", () => {
    const r = loadConfig(join(FIXTURES, "bad-profile.xml"));
    expect(!r.ok && r.errors[0]!.path).toBe("config/relay_profiles/relay[1]/@profile");
    expect(!r.ok && r.errors[0]!.message).toContain('unknown Option 82 profile "nosuchvendor"');
  });

  test("XML that does not parse names the file, line and column", () => {
    const r = loadConfig(join(FIXTURES, "bad-xml.xml"));
    expect(!r.ok && formatConfigError(r.errors[0]!)).toBe(
      `${join(FIXTURES, "bad-xml.xml")}: XML line 7 column 17: Expected closing tag 'LeaseTime' (opened in line 7, col 2) instead of closing tag 'LeaseTme'.`,
    );
  });

  test("an unreadable file", () => {
    const r = loadConfig("/nonexistent/pdc-config.xml");
    expect(!r.ok && r.errors[0]!.message).toStartWith("cannot read:");
  });

  test("all problems at once, not just the first", () => {
    const xml = `<config><dhcpserver><host>0.0.0.0</host><broadcast>1.2.3</broadcast><DHCPServer>x</DHCPServer>
      <LeaseTime>0</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.255.0</defaultMask>
      <defaultRouter>192.168.0.1</defaultRouter><defaultDNS>8.8.8.8</defaultDNS></dhcpserver>
      <database><sqlite><path>x.db</path></sqlite></database>
      <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{nope}'</offer_1></query>
      <log><level>loud</level></log></config>`;
    const r = parseConfig(xml, "/tmp/pdc.xml");
    expect(!r.ok && r.errors.map(formatConfigError)).toEqual([
      'config/dhcpserver/broadcast: "1.2.3" is not an IPv4 address',
      'config/dhcpserver/DHCPServer: "x" is not an IPv4 address',
      "config/dhcpserver/LeaseTime: 0 is out of range 1..4294967295",
      "config/query/offer_1: unknown variable {nope}",
      'config/log/level: "loud" is not one of debug, info, warn, error',
    ]);
  });

  test("lookupBatch: 1 turns grouping off; past 32 is refused", () => {
    const xml = (n: string) => `<config><dhcpserver><host>0.0.0.0</host><broadcast>198.18.0.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
      <LeaseTime>600</LeaseTime><ThreadLimit>64</ThreadLimit><defaultMask>255.255.255.0</defaultMask>
      <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.1</defaultDNS></dhcpserver>
      <database><mysql><host>127.0.0.1</host><user>u</user><password>p</password><database>d</database><lookupBatch>${n}</lookupBatch></mysql></database>
      <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{ClientMacAddress}'</offer_1></query></config>`;
    const one = parseConfig(xml("1"), "/tmp/pdc.xml");
    expect(one.ok && one.config.database).toMatchObject({ kind: "mysql", lookupBatch: 1 });
    const big = parseConfig(xml("64"), "/tmp/pdc.xml");
    expect(!big.ok && big.errors.map(formatConfigError)).toEqual(["config/database/mysql/lookupBatch: 64 is out of range 1..32"]);
  });

  test("<history>: journal (or spool), fsync always | never | milliseconds; answer variables only in history statements", () => {
    const xml = (history: string, offer = "{ClientMacAddress}") => `<config><dhcpserver><host>0.0.0.0</host><broadcast>198.18.0.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
      <LeaseTime>600</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.255.0</defaultMask>
      <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.1</defaultDNS></dhcpserver>
      <database><sqlite><path>x.db</path></sqlite></database>
      <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '${offer}'</offer_1>
      <history_sql>insert into history (dt, ip) values (now(), '{answer_ip}')</history_sql></query>${history}</config>`;
    const d = parseConfig(xml(""), "/tmp/pdc.xml");
    expect(d.ok && d.config.historyFsync).toEqual({ kind: "interval", ms: 1000 });
    expect(d.ok && d.config.spoolPath).toBe("/tmp/pydhcp-history.spool");
    const a = parseConfig(xml("<history><journal>j/h.journal</journal><fsync>always</fsync></history>"), "/tmp/pdc.xml");
    expect(a.ok && [a.config.spoolPath, a.config.historyFsync]).toEqual(["/tmp/j/h.journal", { kind: "always" }]);
    const ms = parseConfig(xml("<history><spool>/var/h.spool</spool><fsync>250</fsync></history>"), "/tmp/pdc.xml");
    expect(ms.ok && [ms.config.spoolPath, ms.config.historyFsync]).toEqual(["/var/h.spool", { kind: "interval", ms: 250 }]);
    const bad = parseConfig(xml("<history><fsync>fast</fsync></history>", "{answer_ip}"), "/tmp/pdc.xml");
    expect(!bad.ok && bad.errors.map(formatConfigError)).toEqual([
      "config/query/offer_1: {answer_ip} describes the answer; only history statements can use it",
      'config/history/fsync: "fast" is not always, never or a number of milliseconds (10..60000)',
    ]);
  });

  test("<leases><snapshotInterval> (seconds, default 5, 0 = no snapshot) and <cacheThreshold> (percent, default 25, 0 = off); negative, out of range or not a number is refused", () => {
    const xml = (leases: string) => `<config><dhcpserver><host>0.0.0.0</host><broadcast>198.18.0.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
      <LeaseTime>600</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.255.0</defaultMask>
      <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.1</defaultDNS></dhcpserver>
      <database><mysql><host>127.0.0.1</host><user>u</user><password>p</password><database>d</database></mysql></database>
      <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{ClientMacAddress}'</offer_1></query>${leases}</config>`;
    /** one <leases> setting as parsed, or the errors */
    const setting = (key: "snapshotIntervalSeconds" | "cacheThresholdPercent") => (leases: string) => {
      const r = parseConfig(xml(leases), "/tmp/pdc.xml");
      return r.ok ? r.config.leases[key] : r.errors.map(formatConfigError);
    };
    const interval = setting("snapshotIntervalSeconds");
    const threshold = setting("cacheThresholdPercent");
    expect(interval("")).toBe(5);
    expect(interval("<leases><outageGrace>600</outageGrace></leases>")).toBe(5);
    expect(interval("<leases><snapshotInterval>0</snapshotInterval></leases>")).toBe(0);
    expect(interval("<leases><snapshotInterval>30</snapshotInterval></leases>")).toBe(30);
    expect(interval("<leases><snapshotInterval>-1</snapshotInterval></leases>")).toEqual(['config/leases/snapshotInterval: "-1" is not a whole number of seconds']);
    expect(interval("<leases><snapshotInterval>5s</snapshotInterval></leases>")).toEqual(['config/leases/snapshotInterval: "5s" is not a whole number of seconds']);
    expect(interval("<leases><snapshotInterval></snapshotInterval></leases>")).toEqual(['config/leases/snapshotInterval: "" is not a whole number of seconds']);
    expect(interval("<leases><snapshotInterval>86401</snapshotInterval></leases>")).toEqual(["config/leases/snapshotInterval: 86401 is out of range 0..86400"]);
    expect(interval("<leases><snapshot><interval>5</interval></snapshot></leases>")).toEqual(["config/leases/snapshot: unknown tag"]);
    expect(threshold("")).toBe(25);
    expect(threshold("<leases><outageGrace>600</outageGrace></leases>")).toBe(25);
    expect(threshold("<leases><cacheThreshold>0</cacheThreshold></leases>")).toBe(0);
    expect(threshold("<leases><cacheThreshold>99</cacheThreshold></leases>")).toBe(99);
    expect(threshold("<leases><cacheThreshold>100</cacheThreshold></leases>")).toEqual(["config/leases/cacheThreshold: 100 is out of range 0..99"]);
    expect(threshold("<leases><cacheThreshold>0.25</cacheThreshold></leases>")).toEqual(['config/leases/cacheThreshold: "0.25" is not a whole number of percent']);
  });

  test("the root must be <config>", () => {
    const r = parseConfig("<pydhcp/>", "/tmp/pdc.xml");
    expect(!r.ok && formatConfigError(r.errors[0]!)).toBe("pydhcp: root element must be <config>");
  });
});

describe("hostile or broken XML: exit 2 naming the file, line and column, no stack trace", () => {
  const HOSTILE: readonly [name: string, xml: string, message: string][] = [
    ["external entity (XXE)", `<?xml version="1.0"?>\n<!DOCTYPE config [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>\n<config><dhcpserver><host>&x;</host></dhcpserver></config>`, "XML line 2 column 1: <!DOCTYPE> is not allowed"],
    ["parameter entity", `<?xml version="1.0"?>\n<!DOCTYPE config [ <!ENTITY % p "<!ENTITY y 'z'>"> %p; ]>\n<config/>`, "XML line 2 column 1: <!DOCTYPE> is not allowed"],
    ["50 KB entity", `<!DOCTYPE config [ <!ENTITY big "${"A".repeat(50_000)}"> ]>\n<config><x>&big;</x></config>`, "XML line 1 column 1: <!DOCTYPE> is not allowed"],
    ["5,000 nested tags", `<config>${"<a>".repeat(5000)}${"</a>".repeat(5000)}</config>`, "XML line 1 column 102: elements nested more than 32 deep"],
  ];
  for (const [name, xml, message] of HOSTILE) {
    test(name, async () => {
      const r = parseConfig(xml, "/tmp/pdc.xml");
      expect(!r.ok && formatConfigError(r.errors[0]!)).toStartWith(`/tmp/pdc.xml: ${message}`);
      const dir = mkdtempSync(join(tmpdir(), `pydhcp-xml-${process.pid}-`));
      try {
        const file = join(dir, "config.xml");
        writeFileSync(file, xml);
        const p = Bun.spawn([process.execPath, join(import.meta.dir, "../../../src/cli/main.ts"), "--check", "-c", file], { stdout: "pipe", stderr: "pipe" });
        const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
        expect(code).toBe(2);
        expect(err).toStartWith(`${file}: ${message}`);
        expect(err).not.toContain("    at ");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

test("a non-contiguous or /0 defaultMask is refused at load (it would refuse every answer at run time)", () => {
  const xml = (mask: string) => `<config><dhcpserver><host>0.0.0.0</host><broadcast>198.18.0.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>600</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>${mask}</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.1</defaultDNS></dhcpserver>
    <database><sqlite><path>x.db</path></sqlite></database>
    <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{ClientMacAddress}'</offer_1></query></config>`;
  const errs = (m: string) => {
    const r = parseConfig(xml(m), "/tmp/pdc.xml");
    return r.ok ? [] : r.errors.map(formatConfigError);
  };
  expect(errs("255.0.255.0")).toEqual(['config/dhcpserver/defaultMask: "255.0.255.0" is not a contiguous netmask (ones then zeros, RFC 950)']);
  expect(errs("0.0.0.0")).toEqual(['config/dhcpserver/defaultMask: "0.0.0.0" (/0) leaves no subnet']);
  expect(errs("255.255.255.0")).toEqual([]);
});

test("defaultRouter / defaultDNS get the checks options 3 and 6 get in any column", () => {
  const xml = (router: string, dns: string) => `<config><dhcpserver><host>0.0.0.0</host><broadcast>198.18.0.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>600</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.255.0</defaultMask>
    <defaultRouter>${router}</defaultRouter><defaultDNS>${dns}</defaultDNS></dhcpserver>
    <database><sqlite><path>x.db</path></sqlite></database>
    <query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{ClientMacAddress}'</offer_1></query></config>`;
  const errs = (r: string, d: string) => {
    const c = parseConfig(xml(r, d), "/tmp/pdc.xml");
    return c.ok ? [] : c.errors.map(formatConfigError);
  };
  expect(errs("0.0.0.0", "198.18.0.53")).toEqual(['config/dhcpserver/defaultRouter: "0.0.0.0" is in 0.0.0.0/8 (this network)']);
  expect(errs("198.18.0.1", "198.18.0.53, 255.255.255.255")).toEqual(['config/dhcpserver/defaultDNS: "255.255.255.255" is in the reserved range 240.0.0.0/4']);
  expect(errs("", "")).toEqual([]);
});
