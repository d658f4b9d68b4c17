/**
 * PostgreSQL text: `?` numbered `$1..` only outside literals, comments and
 * dollar quotes; the MySQL spellings --check reports; <postgresql> config.
 */

import { describe, expect, test } from "bun:test";
import { numberPlaceholders, postgresqlAdvice } from "../../src/db/postgresql-sql.ts";
import { parsePostgresUrl } from "../../src/config/postgresql.ts";
import { parseConfig } from "../../src/config/load.ts";
import { compileTemplate } from "../../src/db/template.ts";
import { batchSql } from "../../src/db/lookup-batch.ts";

describe("numberPlaceholders", () => {
  const CASES: readonly [string, string][] = [
    ["select ip from users where mac = ? and port = ?", "select ip from users where mac = $1 and port = $2"],
    ["select 'what?', ? from t -- why?\nwhere a = ?", "select 'what?', $1 from t -- why?\nwhere a = $2"],
    ['select "a?b", ? /* ? /* nested ? */ ? */ , ?', 'select "a?b", $1 /* ? /* nested ? */ ? */ , $2'],
    ["select $$ ? $$, $tag$ '?' $tag$, ?", "select $$ ? $$, $tag$ '?' $tag$, $1"],
    ["select E'it\\'s ?', 'a''?', ?", "select E'it\\'s ?', 'a''?', $1"],
  ];
  for (const [input, out] of CASES) test(input.replace(/\n/g, "\\n"), () => expect(numberPlaceholders(input)).toBe(out));

  test("a grouped lookup numbers every copy's values in order", () => {
    const t = compileTemplate("offer_1", "select ip from users where upper(mac)=upper('{a}') and port = '{b}'", "postgresql");
    if (t.kind !== "template") throw new Error(t.message);
    const sql = numberPlaceholders(batchSql(t.sql, 2));
    expect(sql).toContain("upper(mac)=upper($1) and port = $2");
    expect(sql).toContain("upper(mac)=upper($3) and port = $4");
  });
});

describe("postgresqlAdvice (--check)", () => {
  test("pydhcpdb's reference queries need nothing", () => {
    for (const q of [
      "select ip,mask,router,dns from users where upper(mac)=upper('{option_82_AgentRemoteId_hex}') and upper(port)=upper('{option_82_AgentCircuitId_port_hex}')",
      "insert into history (id,dt,mac,ip,comment) values (null,now(),'{ClientMacAddress}','{RequestedIpAddress}','DHCPACK/INFORM')",
      "select ip from users where mac = '{x}' -- if( in a comment, LIMIT 1, 2",
      "select 'INSERT IGNORE # \"x y\"' as t",
    ]) expect(postgresqlAdvice(q)).toEqual([]);
  });

  const CASES: readonly [string, string][] = [
    ["insert ignore into history (mac) values ('{x}')", "INSERT IGNORE"],
    ["insert into t (a) values ('{x}') on duplicate key update a = values(a)", "ON DUPLICATE KEY UPDATE"],
    ["replace into t (a) values ('{x}')", "REPLACE INTO"],
    ["select ip from users where mac = '{x}' limit 0, 1", "LIMIT offset, count"],
    ["delete from history where dt < now() - interval 30 day", "INTERVAL n DAY"],
    ["select date_add(now(), interval 1 hour)", "DATE_ADD"],
    ["select if(port = '', ip, '') as ip from users", "IF(cond"],
    ["select group_concat(dns) as dns from dns", "GROUP_CONCAT"],
    ["select from_unixtime(t) from x", "FROM_UNIXTIME"],
    ["select inet_ntoa(ipnum) as ip from users", "INET_NTOA"],
    ["select ip from users # by MAC\nwhere mac = '{x}'", "# starts a comment"],
    ["select ip from users where mac = 'a\\'{x}'", "a backslash"],
    ["select ip from users where comment = \"no lease\"", "is a name on PostgreSQL"],
  ];
  for (const [q, start] of CASES) {
    test(q.replace(/\n/g, "\\n"), () => {
      const a = postgresqlAdvice(q);
      expect(a.length).toBeGreaterThan(0);
      expect(a.some((x) => x.includes(start))).toBe(true);
    });
  }
});

describe("<postgresql> config", () => {
  const xml = (db: string) => `<config><dhcpserver><host>0.0.0.0</host><broadcast>255.255.255.255</broadcast><DHCPServer>198.18.0.1</DHCPServer>
      <LeaseTime>600</LeaseTime><ThreadLimit>1</ThreadLimit><defaultMask>255.255.255.0</defaultMask>
      <defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS></dhcpserver>
    <database>${db}</database><query><offer_count>1</offer_count><offer_1>select ip from users where mac = '{ClientMacAddress}'</offer_1></query></config>`;

  test("tags", () => {
    const r = parseConfig(xml("<postgresql><host>db.example</host><port>6432</port><user>dhcp</user><password>pw</password><database>isp</database><poolSize>4</poolSize></postgresql>"), "/tmp/x.xml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.database).toEqual({ kind: "postgresql", host: "db.example", port: 6432, socket: null, user: "dhcp", password: "pw", database: "isp", poolSize: 4, lookupBatch: 16 });
  });

  test("a URL, with a tag winning over its part", () => {
    const r = parseConfig(xml("<postgresql><url>postgres://dhcp:p%40ss@10.0.0.5:5433/isp</url><poolSize>2</poolSize><database>other</database></postgresql>"), "/tmp/x.xml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.database).toMatchObject({ kind: "postgresql", host: "10.0.0.5", port: 5433, socket: null, user: "dhcp", password: "p@ss", database: "other", poolSize: 2 });
    expect(parsePostgresUrl("postgresql://u@/d?host=/var/run/postgresql")).toEqual({ user: "u", database: "d", socket: "/var/run/postgresql" });
  });

  test("no host and no socket: the local server's socket when there is one, else 127.0.0.1", () => {
    const r = parseConfig(xml("<postgresql><user>u</user><database>d</database></postgresql>"), "/tmp/x.xml", { postgresqlSockets: ["/nonexistent-pg-dir"] });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.database).toMatchObject({ host: "127.0.0.1", socket: null });
  });

  test("errors name the tag", () => {
    const r = parseConfig(xml("<postgresql><url>mysql://u@h/d</url><port>0</port></postgresql>"), "/tmp/x.xml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = r.errors.map((e) => `${e.path}: ${e.message}`);
    expect(lines).toContain("config/database/postgresql/url: the URL must start with postgres:// or postgresql://, not mysql://");
    expect(lines).toContain("config/database/postgresql/port: 0 is out of range 1..65535");
    expect(lines).toContain("config/database/postgresql/user: missing (or give it in <url>)");
    const two = parseConfig(xml("<sqlite><path>x</path></sqlite><postgresql><user>u</user><database>d</database></postgresql>"), "/tmp/x.xml");
    expect(two.ok).toBe(false);
    if (!two.ok) expect(two.errors[0]!.message).toBe("give one of <sqlite>, <mysql> or <postgresql>, not several");
  });
});
