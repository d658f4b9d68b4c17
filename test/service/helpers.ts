/**
 * Helpers for the service tests: free ports, SQLite databases laid out with
 * sql/sqlite.sql, loopback configs, DORA exchanges with the test client, and
 * a /metrics scraper.
 */
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MessageType, type DhcpMessage } from "../../src/codec/message.ts";
import { buildRequest, ip, type TestClient } from "../support/client.ts";
import { ROOT } from "../support/server.ts";

export { freeTcpPort, freeUdpPort } from "../support/ports.ts";

/** A SQLite file with pydhcp's schema and one users row per [mac, ip]. */
export function makeSqlite(path: string, users: readonly (readonly [string, string])[]): void {
  const db = new Database(path, { create: true });
  db.exec(readFileSync(join(ROOT, "sql/sqlite.sql"), "utf8"));
  const ins = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '', '', '', ?, '')");
  db.transaction(() => {
    for (const [mac, addr] of users) ins.run(addr, mac);
  })();
  db.close();
}

export function sqliteRows<T>(path: string, sql: string, ...params: (string | number)[]): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export const OFFER_BY_MAC = "select ip,mask,router,dns from users where mac='{ClientMacAddress}'";
/** one row per OFFER and ACK, naming the request type and its xid so a test can match rows to replies */
export const HISTORY_SQL = "insert into history (dt,mac,ip,comment) values (now(),'{ClientMacAddress}','{RequestedIpAddress}','{op}/{xidhex}')";

export interface ConfigSpec {
  port: number;
  clientPort: number;
  database: string;
  offers?: string[];
  history?: string | null;
  metricsPort?: number;
  threadLimit?: number;
  /** extra top-level elements */
  extra?: string;
  /** extra <dhcpserver> elements */
  server?: string;
  /** extra <query> elements, e.g. <timeout> */
  query?: string;
  /** false: flood control off (one MAC sending hundreds of requests a second) */
  rateLimit?: boolean;
}

const xmlText = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** A loopback config (replies to 127.0.0.1:clientPort). */
export function configXml(c: ConfigSpec): string {
  const offers = c.offers ?? [OFFER_BY_MAC];
  const history = c.history === undefined ? HISTORY_SQL : c.history;
  return `<?xml version="1.0" ?>
<config>
    <dhcpserver>
        <host>127.0.0.1</host>
        <port>${c.port}</port>
        <clientPort>${c.clientPort}</clientPort>
        <broadcast>127.0.0.1</broadcast>
        <DHCPServer>198.18.0.1</DHCPServer>
        <LeaseTime>3600</LeaseTime>
        <ThreadLimit>${c.threadLimit ?? 8}</ThreadLimit>
        <defaultMask>255.255.255.0</defaultMask>
        <defaultRouter>198.18.0.1</defaultRouter>
        <defaultDNS>198.18.0.53</defaultDNS>${c.server ?? ""}
    </dhcpserver>
    ${c.database}
    <query>
        <offer_count>${offers.length}</offer_count>
${offers.map((q, i) => `        <offer_${i + 1}>${xmlText(q)}</offer_${i + 1}>`).join("\n")}
${history ? `        <history_sql>${xmlText(history)}</history_sql>` : ""}${c.query ?? ""}
    </query>${c.metricsPort ? `\n    <metrics><host>127.0.0.1</host><port>${c.metricsPort}</port></metrics>` : ""}
    ${c.extra ?? ""}${c.rateLimit === false ? "\n    <rateLimit><perMac>0</perMac><perCircuit>0</perCircuit></rateLimit>" : ""}
</config>
`;
}

export const sqliteDatabase = (path = "{dir}/t.db") => `<database><sqlite><path>${path}</path></sqlite></database>`;

export function macOf(i: number, prefix = 0x02): string {
  const b = [prefix, 0x18, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255];
  return b.map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** A distinct host address per i (250 per /24), i < 35,000. */
export function ipOf(i: number): string {
  return `198.18.${100 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/** Unique 32-bit xids across a test run. */
let xidSeq = (Math.random() * 0x7fffffff) >>> 0;
export const nextXid = () => (xidSeq = (xidSeq + 1) >>> 0);

export const yiaddr = (m: DhcpMessage | null) => m?.yiaddr ?? null;

export async function discover(c: TestClient, serverPort: number, mac: string, timeoutMs = 2000): Promise<DhcpMessage | null> {
  const xid = nextXid();
  c.send(buildRequest({ type: MessageType.DISCOVER, mac, xid }), serverPort);
  return c.reply(xid, timeoutMs);
}

export async function request(c: TestClient, serverPort: number, mac: string, addr: string, xid = nextXid(), timeoutMs = 2000): Promise<DhcpMessage | null> {
  c.send(
    buildRequest({ type: MessageType.REQUEST, mac, xid, options: [[54, ip("198.18.0.1")], [50, ip(addr)]] }),
    serverPort,
  );
  return c.reply(xid, timeoutMs);
}

export function messageType(m: DhcpMessage | null): number | null {
  const t = m?.options.get(53);
  return t && t.length === 1 ? t[0]! : null;
}

/** Prometheus text -> `name{labels}` -> value. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await r.text();
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

export async function health(port: number): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
    await r.text();
    return r.status;
  } catch {
    return 0;
  }
}

export async function until<T>(f: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs: number, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await Bun.sleep(stepMs);
  }
}
