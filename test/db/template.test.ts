/**
 * Template compilation: placeholders become bound parameters, quoted
 * literals holding placeholders become one parameter, nothing else changes.
 */

import { describe, expect, test } from "bun:test";
import { compileTemplate, type CompiledTemplate, type Dialect } from "../../src/db/template.ts";

const vars = new Map([
  ["ClientMacAddress", "0025224ad764"],
  ["sw_mac", "001e589eb2ad"],
  ["sw_port2", "06"],
  ["op", "DHCPREQUEST"],
]);

function ok(sql: string, dialect: Dialect = "mysql"): CompiledTemplate {
  const t = compileTemplate("q", sql, dialect);
  if (t.kind !== "template") throw new Error(`${t.message} @ ${t.offset}`);
  return t;
}

/** [input, dialect, expected SQL, expected bound values] */
const CASES: readonly [string, Dialect, string, (string | null)[]][] = [
  // pydhcpdb's offer_3
  ["select ip,mask,router,dns from users where upper(mac)=upper('{ClientMacAddress}')", "mysql",
    "select ip,mask,router,dns from users where upper(mac)=upper(?)", ["0025224ad764"]],
  // two literals, two parameters
  ["select ip from users where mac='{sw_mac}' and port='{sw_port2}'", "mysql",
    "select ip from users where mac=? and port=?", ["001e589eb2ad", "06"]],
  // bare placeholders
  ["select ip from users where mac={sw_mac} and port = {sw_port2}", "sqlite",
    "select ip from users where mac=? and port = ?", ["001e589eb2ad", "06"]],
  // text around the placeholder stays part of the one value
  ["select ip from users where mac like '%{sw_mac}%'", "mysql", "select ip from users where mac like ?", ["%001e589eb2ad%"]],
  ["select '{op}/{sw_port2}' as x", "mysql", "select ? as x", ["DHCPREQUEST/06"]],
  // doubled quotes inside a literal are one quote of the value
  ["select 'it''s {op}'", "sqlite", "select ?", ["it's DHCPREQUEST"]],
  ["select \"say \"\"{op}\"\"\"", "mysql", "select ?", ['say "DHCPREQUEST"']],
  // MySQL backslash escapes apply in MySQL only
  ["select 'a\\'b\\n{op}'", "mysql", "select ?", ["a'b\n" + "DHCPREQUEST"]],
  ["select 'a\\{op}'", "sqlite", "select ?", ["a\\DHCPREQUEST"]],
  ["select 'x\\%{op}'", "mysql", "select ?", ["x\\%DHCPREQUEST"]],
  // literals without placeholders are left exactly as written
  ["insert into h values (null, now(), '{ClientMacAddress}', 'DHCPACK/INFORM')", "mysql",
    "insert into h values (null, now(), ?, 'DHCPACK/INFORM')", ["0025224ad764"]],
  ["select '{\"a\":1}', 'what?', '{not a name}'", "mysql", "select '{\"a\":1}', 'what?', '{not a name}'", []],
  // SQLite lacks now(): rewritten outside literals only
  ["insert into h values (null, now(), '{op}', 'now()')", "sqlite",
    "insert into h values (null, datetime('now','localtime'), ?, 'now()')", ["DHCPREQUEST"]],
  ["select NOW ( ), unix_timestamp(), utc_timestamp(), curdate()", "sqlite",
    "select datetime('now','localtime'), CAST(strftime('%s','now') AS INTEGER), datetime('now'), date('now','localtime')", []],
  ["select t.now(), nowish(), now(1)", "sqlite", "select t.now(), nowish(), now(1)", []],
  // comments are copied, placeholders in them are not parameters
  ["select ip -- by {sw_mac}\nfrom users where mac = '{ClientMacAddress}'", "mysql",
    "select ip -- by {sw_mac}\nfrom users where mac = ?", ["0025224ad764"]],
  ["select ip # {sw_mac}\nfrom u /* {op} */ where mac = {sw_mac}", "mysql", "select ip # {sw_mac}\nfrom u /* {op} */ where mac = ?", ["001e589eb2ad"]],
  // quoted identifiers untouched
  ["select `ip` from `users` where `mac` = '{sw_mac}'", "mysql", "select `ip` from `users` where `mac` = ?", ["001e589eb2ad"]],
  // double-quoted text with a placeholder is a literal in both dialects (pydhcpdb substituted text)
  ["select ip from users where mac = \"{sw_mac}\"", "sqlite", "select ip from users where mac = ?", ["001e589eb2ad"]],
  // PostgreSQL: no backslash escapes in '...', "..." is a name, backticks become "...", `--` needs no space
  ["select ip from users where upper(mac)=upper('{ClientMacAddress}')", "postgresql",
    "select ip from users where upper(mac)=upper(?)", ["0025224ad764"]],
  ["select 'a\\{op}' as x", "postgresql", "select ? as x", ["a\\DHCPREQUEST"]],
  ["select \"ip\" from `users` where mac = '{sw_mac}'--{op}", "postgresql",
    "select \"ip\" from \"users\" where mac = ?--{op}", ["001e589eb2ad"]],
  ["select '{sw_mac}'::macaddr, ip # 1 from users", "postgresql", "select ?::macaddr, ip # 1 from users", ["001e589eb2ad"]],
  // now() works on PostgreSQL as it is; what it lacks or spells differently is rewritten
  ["insert into h values (null, now(), '{op}', 'curdate()')", "postgresql",
    "insert into h values (null, now(), ?, 'curdate()')", ["DHCPREQUEST"]],
  ["select curdate(), unix_timestamp(), utc_timestamp(), localtime(), ifnull(a, 'x'), UCASE (b), t.ifnull(c)", "postgresql",
    "select current_date, floor(extract(epoch from now()))::bigint, (now() at time zone 'utc'), localtimestamp, coalesce(a, 'x'), upper (b), t.ifnull(c)", []],
  // a variable the packet lacks binds NULL, also inside a literal
  ["select ip from users where mac = '{option_82_hex}' or port = {sw_port2} or x like '%{option_82_hex}'", "mysql",
    "select ip from users where mac = ? or port = ? or x like ?", [null, "06", null]],
];

describe("compileTemplate", () => {
  for (const [input, dialect, sql, values] of CASES) {
    test(`${dialect}: ${input.replace(/\n/g, "\\n")}`, () => {
      const t = ok(input, dialect);
      expect(t.sql).toBe(sql);
      expect(t.bind(vars)).toEqual(values);
    });
  }

  test("names lists each variable once, in order of first use", () => {
    expect(ok("select '{sw_mac}', {op}, '%{sw_mac}%', {ClientMacAddress}").names).toEqual(["sw_mac", "op", "ClientMacAddress"]);
  });

  test("a value that looks like SQL or a placeholder is bound as it is", () => {
    const t = ok("select ip from users where mac = '{sw_mac}'");
    expect(t.bind(new Map([["sw_mac", "'); DROP TABLE users; --"]]))).toEqual(["'); DROP TABLE users; --"]);
    expect(t.bind(new Map([["sw_mac", "{op}"]]))).toEqual(["{op}"]);
  });

  /** [input, offset, message start] */
  const ERRORS: readonly [string, number, string][] = [
    ["select 'abc", 7, "unterminated string literal"],
    ["select \"abc", 7, "unterminated quoted text"],
    ["select ip from `users_{sw_mac}`", 15, "a placeholder inside an identifier"],
    ["select `ip from users", 7, "unterminated quoted identifier"],
    ["select X'{sw_mac}'", 8, "a placeholder inside a prefixed literal"],
    ["select ip from users where mac = ?", 33, "a literal ? in the query"],
  ];
  test("PostgreSQL: a placeholder inside \"...\" is an error saying to write '...'", () => {
    const t = compileTemplate("offer_2", 'select ip from users where mac = "{sw_mac}"', "postgresql");
    expect(t).toMatchObject({ kind: "template-error", query: "offer_2", offset: 33 });
    if (t.kind === "template-error") expect(t.message).toContain("write '...' for text");
  });

  for (const [input, offset, message] of ERRORS) {
    test(`error: ${input}`, () => {
      const t = compileTemplate("offer_7", input, "mysql");
      expect(t.kind).toBe("template-error");
      if (t.kind === "template-error") {
        expect(t.query).toBe("offer_7");
        expect(t.offset).toBe(offset);
        expect(t.message).toStartWith(message);
      }
    });
  }
});

describe("time functions in history statements are the event time", () => {
  const at = Date.parse("2026-12-01T21:29:04.117Z");
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, "0");
  const localDate = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  const localTime = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  const cases: [string, "mysql" | "sqlite", string, (string | null)[]][] = [
    ["insert into h (dt) values (now())", "mysql", "insert into h (dt) values (?)", [`${localDate} ${localTime}`]],
    ["insert into h (dt) values (NOW(3))", "mysql", "insert into h (dt) values (?)", [`${localDate} ${localTime}.117`]],
    ["insert into h (dt, t) values (current_timestamp, unix_timestamp())", "mysql", "insert into h (dt, t) values (?, ?)", [`${localDate} ${localTime}`, "1796160544"]],
    ["insert into h (d, u) values (curdate(), utc_timestamp())", "mysql", "insert into h (d, u) values (?, ?)", [localDate, "2026-12-01 21:29:04"]],
    ["insert into h (dt) values (now())", "sqlite", "insert into h (dt) values (?)", [`${localDate} ${localTime}`]],
    ["insert into h (dt) values (datetime('now','localtime'))", "sqlite", "insert into h (dt) values (datetime(?,'localtime'))", ["2026-12-01 21:29:04.117"]],
    ["insert into h (t) values (strftime('%s','now'))", "sqlite", "insert into h (t) values (strftime('%s',?))", ["2026-12-01 21:29:04.117"]],
    ["insert into h (dt) values (CURRENT_TIMESTAMP)", "sqlite", "insert into h (dt) values (?)", ["2026-12-01 21:29:04"]],
    // not a time function: kept as written
    ["insert into h (c) values ('now')", "sqlite", "insert into h (c) values ('now')", []],
    ["insert into h (c) values ('now()')", "mysql", "insert into h (c) values ('now()')", []],
  ];
  for (const [sql, dialect, out, params] of cases) {
    test(`${dialect}: ${sql}`, () => {
      const t = compileTemplate("history_sql", sql, dialect);
      if (t.kind !== "template") throw new Error(t.message);
      expect(t.sql).toBe(out);
      expect(t.bind(new Map(), at)).toEqual(params);
    });
  }
  test("offer queries keep now() as the database's own", () => {
    const t = compileTemplate("offer_1", "select ip from users where until > now()", "mysql");
    if (t.kind !== "template") throw new Error(t.message);
    expect(t.sql).toBe("select ip from users where until > now()");
  });
});
