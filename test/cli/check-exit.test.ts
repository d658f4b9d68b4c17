/**
 * `pydhcp --check` exit codes (README: 1 runtime failure, 2 bad usage or
 * configuration): a database that cannot be reached is 1, the config may be
 * fine; a config that is wrong is 2.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort } from "../support/ports.ts";
import { pydhcp } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "pydhcp-check-exit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (database: string, offer: string) => `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host>
    <broadcast>127.0.0.1</broadcast>
    <DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>600</LeaseTime>
    <ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter>
    <defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database>${database}</database>
  <query>
    <offer_count>1</offer_count>
    <offer_1>${offer}</offer_1>
  </query>
</config>`;

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

test("MySQL on a port nobody listens on: exit 1, the database line says why", async () => {
  const port = await freeTcpPort();
  const path = write("unreachable.xml", config(`<mysql><host>127.0.0.1</host><port>${port}</port><user>u</user><password>p</password><database>b</database></mysql>`, "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'"));
  const r = await pydhcp(["--check", "-c", path]);
  expect(r.code).toBe(1);
  expect(r.err).toContain(`config ${path}: OK`);
  expect(r.err).toContain(`database MySQL u@127.0.0.1:${port}/b: `);
}, 30_000);

test("an offer query without an ip column: exit 2", async () => {
  const path = write("no-ip.xml", config(`<sqlite><path>${join(dir, "t.db")}</path></sqlite>`, "select mask, router from users where mac = '{ClientMacAddress}'"));
  const r = await pydhcp(["--check", "-c", path]);
  expect(r.code).toBe(2);
  expect(r.err).toContain("offer_1");
});

test("XML that does not parse: exit 2", async () => {
  const r = await pydhcp(["--check", "-c", write("bad.xml", "<config><dhcpserver>")]);
  expect(r.code).toBe(2);
});

test("a good config and database: exit 0", async () => {
  const path = write("good.xml", config(`<sqlite><path>${join(dir, "good.db")}</path></sqlite>`, "select ip, mask, router, dns from users where mac = '{ClientMacAddress}'"));
  const r = await pydhcp(["--check", "-c", path]);
  expect([r.code, r.err]).toEqual([0, ""]);
});
