/**
 * The service against a private MariaDB, then a private PostgreSQL, that
 * the tests stop and start:
 * /health goes 503 while the database is down and 200 when it is back, the
 * server stays up and serves again; a database that is down at start-up is
 * waited for (serving begins when it comes up), and SIGTERM while waiting
 * exits 0.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { startPrivateMariaDb } from "../support/mariadb.ts";
import { startPrivatePostgres } from "../support/postgresql.ts";
import type { PrivateDb } from "../support/private-db.ts";
import { testClient, type TestClient } from "../support/client.ts";
import { ROOT, startServer, type RunningServer } from "../support/server.ts";
import { configXml, discover, freeTcpPort, freeUdpPort, health, messageType, scrape, until } from "./helpers.ts";

const MAC = "021800aa0001";
const ADDR = "198.18.3.3";
const USER = "pdsvc_health";
const PASSWORD = "pdsvc-pw-1";
const DB = "pdsvc_health";

/** What differs per engine: making the database and user, the <database> element, a slow query. */
interface Engine {
  name: string;
  open(): Promise<PrivateDb>;
  create(db: PrivateDb): Promise<void>;
  xml(port: number): string;
  /** an offer query that takes 1 s */
  slowOffer: string;
}

const ENGINES: Engine[] = [
  {
    name: "MariaDB",
    open: startPrivateMariaDb,
    create: async (db) => {
      const schema = readFileSync(join(ROOT, "sql/mysql.sql"), "utf8");
      await db.sql(
        `CREATE DATABASE ${DB}; USE ${DB}; ${schema}
         INSERT INTO users (ip, mac) VALUES ('${ADDR}', '${MAC}');
         CREATE USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}';
         GRANT ALL ON ${DB}.* TO '${USER}'@'127.0.0.1';`,
      );
    },
    xml: (port) =>
      `<database><mysql><host>127.0.0.1</host><port>${port}</port><user>${USER}</user><password>${PASSWORD}</password><database>${DB}</database><poolSize>2</poolSize></mysql></database>`,
    slowOffer: "select ip,mask,router,dns from users where mac='{ClientMacAddress}' and sleep(1) = 0",
  },
  {
    name: "PostgreSQL",
    open: startPrivatePostgres,
    create: async (db) => {
      await db.sql(`CREATE ROLE ${USER} LOGIN PASSWORD '${PASSWORD}'; CREATE DATABASE ${DB} OWNER ${USER};`);
      const schema = readFileSync(join(ROOT, "sql/postgresql.sql"), "utf8");
      await db.sql(`SET ROLE ${USER}; ${schema}
         INSERT INTO users (ip, mac) VALUES ('${ADDR}', '${MAC}');`, DB);
    },
    xml: (port) =>
      `<database><postgresql><host>127.0.0.1</host><port>${port}</port><user>${USER}</user><password>${PASSWORD}</password><database>${DB}</database><poolSize>2</poolSize></postgresql></database>`,
    slowOffer: "select ip,mask,router,dns from users, pg_sleep(1) where mac='{ClientMacAddress}'",
  },
];

for (const engine of ENGINES) describe(engine.name, () => {
let db: PrivateDb;
// start() on a running instance would spawn a second server: keep track
let up = false;
async function dbStop(): Promise<void> {
  if (up) await db.stop();
  up = false;
}
async function dbStart(): Promise<void> {
  if (!up) await db.start();
  up = true;
}
beforeAll(async () => {
  db = await engine.open();
  up = true;
  await engine.create(db);
}, 60_000);
afterAll(async () => {
  await db?.close();
});

function database(port = db.port): string {
  return engine.xml(port);
}

describe("database outage", () => {
  let server: RunningServer | null = null;
  let c: TestClient | null = null;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pdsvc-outage-"));
  });
  afterAll(async () => {
    await server?.close();
    c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("/health is 503 while the database is stopped and 200 when it is back; serving resumes", async () => {
    c = await testClient();
    const port = await freeUdpPort();
    const mport = freeTcpPort();
    // no answer cache: what is asserted is the database's presence, not answers remembered from before it left
    server = await startServer({ config: configXml({ port, clientPort: c.port, database: database(), metricsPort: mport, extra: "<answerCache><ttl>0</ttl></answerCache>" }), dir });
    expect(await until(() => health(mport), (s) => s === 200, 5000)).toBe(200);
    expect((await discover(c, port, MAC))?.yiaddr).toBe(ADDR);

    await dbStop();
    expect(await until(() => health(mport), (s) => s === 503, 15_000, 200)).toBe(503);
    // no answer while the database is away (the client has no lease to renew)
    expect(await discover(c, port, MAC, 1500)).toBeNull();
    expect(server.proc.exitCode).toBeNull();

    await dbStart();
    expect(await until(() => health(mport), (s) => s === 200, 30_000, 200)).toBe(200);
    const back = await until(() => discover(c!, port, MAC, 1000), (m) => m !== null, 15_000, 0);
    expect(messageType(back)).toBe(MessageType.OFFER);
    expect(back!.yiaddr).toBe(ADDR);
    expect(server.proc.exitCode).toBeNull();
    expect(await server.stop()).toBe(0);
  }, 90_000);
});

describe("database down at start-up", () => {
  test("the server retries, then serves once the database comes up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdsvc-late-"));
    const c = await testClient();
    let server: RunningServer | null = null;
    try {
      await dbStop();
      const port = await freeUdpPort();
      server = await startServer({ config: configXml({ port, clientPort: c.port, database: database() }), dir, ready: /database unavailable/ });
      await Bun.sleep(1500);
      expect(server.proc.exitCode).toBeNull();
      expect(server.output()).not.toMatch(/listening/);
      expect(await discover(c, port, MAC, 300)).toBeNull();

      await dbStart();
      await server.waitFor(/listening/, 20_000);
      expect((await discover(c, port, MAC))?.yiaddr).toBe(ADDR);
      expect(await server.stop()).toBe(0);
    } finally {
      await server?.close();
      c.close();
      rmSync(dir, { recursive: true, force: true });
      await dbStart();
    }
  }, 60_000);

  test("SIGTERM while waiting for the database exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdsvc-late-"));
    let server: RunningServer | null = null;
    try {
      await dbStop();
      const port = await freeUdpPort();
      server = await startServer({ config: configXml({ port, clientPort: 9, database: database() }), dir, ready: /database unavailable/ });
      const t0 = performance.now();
      const code = await server.stop("SIGTERM", 8000);
      const ms = performance.now() - t0;
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
      expect(server.output()).not.toMatch(/listening/);
    } finally {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
      await dbStart();
    }
  }, 60_000);
});

describe("configuration while waiting and query timeout", () => {
  test("SIGHUP while waiting for the database re-reads the config: a corrected address starts serving", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdsvc-late-"));
    const c = await testClient();
    let server: RunningServer | null = null;
    try {
      const port = await freeUdpPort();
      const spec = { port, clientPort: c.port, database: database(freeTcpPort()) };
      server = await startServer({ config: configXml(spec), dir, ready: /database unavailable/ });
      writeFileSync(server.configPath, configXml({ ...spec, database: database() }));
      server.signal("SIGHUP");
      await server.waitFor(/listening/, 20_000);
      expect(server.output()).toMatch(/configuration reloaded/);
      expect((await discover(c, port, MAC))?.yiaddr).toBe(ADDR);
      expect(await server.stop()).toBe(0);
    } finally {
      await server?.close();
      c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("<query><timeout> bounds each query: a slow offer query fails at the configured time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pdsvc-timeout-"));
    const c = await testClient();
    let server: RunningServer | null = null;
    try {
      const port = await freeUdpPort();
      const mport = freeTcpPort();
      // 1 s per query, well inside the 2 s default, far past the 300 ms configured
      const offers = [engine.slowOffer];
      const spec = { port, clientPort: c.port, database: database(), metricsPort: mport, offers, query: "<timeout>300</timeout>" };
      server = await startServer({ config: configXml(spec), dir });
      expect(await discover(c, port, MAC, 2500)).toBeNull();
      await server.waitFor(/query offer_1 failed/, 3000);
      const m = await scrape(mport);
      expect(m.get('pydhcp_db_errors_total{kind="timeout"}')).toBe(1);
      expect(m.get('pydhcp_dropped_total{reason="db_error"}')).toBe(1);
      // a reload that only raises the timeout takes effect
      writeFileSync(server.configPath, configXml({ ...spec, query: "<timeout>3000</timeout>" }));
      const from = server.output().length;
      server.signal("SIGHUP");
      await server.waitFor(/configuration reloaded/, 5000, from);
      expect((await discover(c, port, MAC, 3000))?.yiaddr).toBe(ADDR);
    } finally {
      await server?.close();
      c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
});
