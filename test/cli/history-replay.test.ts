/**
 * `pydhcp history replay` on SQLite, MariaDB and PostgreSQL. The set-aside journal is
 * made the real way: database A's history writer writes two events, its
 * table goes away while two more wait, the file is sealed as rotation does
 * and a second run of A appends two more (quotes, backslashes, SQL, Cyrillic
 * and other non-ASCII in the values); then a writer for database B opens the
 * journal and sets it aside. A dry run writes nothing and says what it would;
 * the replay writes each waiting event once, values exact; a second replay
 * writes nothing; on MariaDB the first is the same database reached over
 * TCP (PostgreSQL too), so the rows it already has are found by their marks. A replay
 * killed while a batch is held in the database leaves the batches before
 * it, and a second run writes the rest, each event once. Damaged lines,
 * unknown statements and rows the table refuses are listed and skipped
 * (exit 1); bad files and an unreachable database are clear errors.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pool } from "mysql2/promise";
import type { Backend, Param } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { databaseOwner, type DatabaseSettings } from "../../src/db/settings.ts";
import { compileTemplate, type CompiledTemplate, type Dialect } from "../../src/db/template.ts";
import { createLogger } from "../../src/log/logger.ts";
import { memorySink } from "../../src/log/sink.ts";
import { HistoryWriter } from "../../src/server/history.ts";
import { createTempDb, loadPydhcpSql, rootPool, SOCKET, type TempDb } from "../db/mariadb.ts";
import { closeAdmin, createTempPgDb, PG_SOCKET_DIR } from "../db/postgresql.ts";
import { BUN, MAIN, mysqlDatabase, pydhcp, referenceConfig } from "./helpers.ts";

const HISTORY = "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', '{event_id}')";
const RELEASE = "insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{ciaddr}', 'RELEASE')";

/** pydhcpdb's reference config on `database`, with history_sql and history_release as above. */
function config(database: string): string {
  const c = referenceConfig(database).replace(/<history_sql>.*<\/history_sql>/, `<history_sql>${HISTORY}</history_sql>\n\t<history_release>${RELEASE}</history_release>`);
  if (!c.includes("<history_release>")) throw new Error("reference config has no history_sql");
  return c;
}

/** A history row as the history table holds it. */
interface HistoryRow {
  dt: string;
  mac: string;
  ip: string;
  comment: string;
}

/** The row a journal line becomes: history_sql binds dt, mac, ip, event id; history_release dt, mac, ciaddr. */
const rowOf = (s: string, v: Param[]): HistoryRow =>
  s === "history_sql" ? { dt: v[0]!, mac: v[1]!, ip: v[2]!, comment: v[3]! } : { dt: v[0]!, mac: v[1]!, ip: v[2]!, comment: "RELEASE" };

interface Target {
  /** database A, as the journal names it */
  ownerA: string;
  /** <database> XML of database B, the one the config names */
  database(): string;
  /** database A: the one the journal was for */
  openA(): Promise<{ backend: Backend; owner: string }>;
  /** A's history table away, and back */
  hideA(): Promise<void>;
  showA(): Promise<void>;
  /** B's history rows, in order */
  rows(): Promise<HistoryRow[]>;
  /** a row whose mac is "pause" holds its INSERT (and so its transaction) until release() ends the session; not on SQLite */
  pause?: { arm(): Promise<void>; release(): Promise<void> };
  close(): Promise<void>;
}

function sqliteTarget(dir: string): Target {
  const a = join(dir, "a.db");
  const b = join(dir, "b.db");
  const sqlite = (path: string): DatabaseSettings => ({ kind: "sqlite", path });
  const rename = (from: string, to: string) => {
    const d = new Database(a);
    d.exec(`alter table ${from} rename to ${to}`);
    d.close();
  };
  return {
    ownerA: databaseOwner(sqlite(a)),
    database: () => `<database><sqlite><path>${b}</path></sqlite></database>`,
    async openA() {
      return { backend: await openBackend(sqlite(a), quiet(), 2000), owner: databaseOwner(sqlite(a)) };
    },
    async hideA() {
      rename("history", "history_away");
    },
    async showA() {
      rename("history_away", "history");
    },
    async rows() {
      // B is created by the first replay's config check below (beforeAll opens it)
      const d = new Database(b, { readonly: true });
      try {
        return d.query("select dt, mac, ip, comment from history order by id").all() as HistoryRow[];
      } finally {
        d.close();
      }
    },
    async close() {},
  };
}

/** Database A is B reached over TCP (127.0.0.1), B the unix socket: the same database reached another way. */
async function mariadbTarget(): Promise<Target & { db: TempDb; root: Pool }> {
  const root = await rootPool();
  const db = await createTempDb(root, "pdrp");
  await loadPydhcpSql(root, db.database);
  const tcp: DatabaseSettings = { kind: "mysql", host: "127.0.0.1", port: 3306, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 2, lookupBatch: 1 };
  return {
    db,
    root,
    ownerA: databaseOwner(tcp),
    database: () => mysqlDatabase({ socket: SOCKET, user: db.user, password: db.password, database: db.database }),
    async openA() {
      return { backend: await openBackend(tcp, quiet(), 2000), owner: databaseOwner(tcp) };
    },
    async hideA() {
      await root.query(`rename table \`${db.database}\`.history to \`${db.database}\`.history_away`);
    },
    async showA() {
      await root.query(`rename table \`${db.database}\`.history_away to \`${db.database}\`.history`);
    },
    pause: {
      async arm() {
        await root.query(`create trigger \`${db.database}\`.history_pause before insert on \`${db.database}\`.history for each row begin if new.mac = 'pause' then set @pause = sleep(20); end if; end`);
      },
      async release() {
        // a dead client's session ends (MariaDB notices within seconds), its transaction is rolled back
        const [s] = (await root.query("select id from information_schema.processlist where user = ? and state = 'User sleep'", [db.user])) as unknown as [{ id: number }[]];
        for (const { id } of s) await root.query(`kill ${Number(id)}`);
        await root.query(`drop trigger \`${db.database}\`.history_pause`);
      },
    },
    async rows() {
      const [r] = (await root.query(`select date_format(dt, '%Y-%m-%d %H:%i:%s') as dt, mac, ip, comment from \`${db.database}\`.history order by id`)) as unknown as [HistoryRow[]];
      return r.map((x) => ({ dt: x.dt, mac: x.mac, ip: x.ip, comment: x.comment }));
    },
    async close() {
      await db.drop();
      await root.end();
    },
  };
}

/** As MariaDB: A is B reached over TCP, B the socket directory. */
async function postgresqlTarget(): Promise<Target & { rename(from: string, to: string): Promise<void> }> {
  const db = await createTempPgDb("pdrp");
  const tcp: DatabaseSettings = { kind: "postgresql", host: "127.0.0.1", port: 5432, socket: null, user: db.user, password: db.password, database: db.database, poolSize: 2, lookupBatch: 1 };
  const rename = async (from: string, to: string) => void (await db.sql(`alter table ${from} rename to ${to}`));
  return {
    ownerA: databaseOwner(tcp),
    database: () => `<database><postgresql><socket>${PG_SOCKET_DIR}</socket><user>${db.user}</user><password>${db.password}</password><database>${db.database}</database></postgresql></database>`,
    async openA() {
      return { backend: await openBackend(tcp, quiet(), 2000), owner: databaseOwner(tcp) };
    },
    hideA: () => rename("history", "history_away"),
    showA: () => rename("history_away", "history"),
    rename,
    pause: {
      async arm() {
        await db.sql("create function history_pause() returns trigger language plpgsql as $$ begin if new.mac = 'pause' then perform pg_sleep(20); end if; return new; end $$");
        await db.sql("create trigger history_pause before insert on history for each row execute function history_pause()");
      },
      async release() {
        await db.sql("select pg_terminate_backend(pid) from pg_stat_activity where wait_event = 'PgSleep' and usename = current_user");
        await db.sql("drop trigger history_pause on history");
        await db.sql("drop function history_pause()");
      },
    },
    async rows() {
      const r = await db.sql("select to_char(dt, 'YYYY-MM-DD HH24:MI:SS') as dt, mac, ip, comment from history order by id");
      return r.map((x) => ({ dt: String(x.dt), mac: String(x.mac), ip: String(x.ip), comment: String(x.comment) }));
    },
    async close() {
      await db.drop();
      await closeAdmin();
    },
  };
}

const quiet = () => createLogger({ level: "error", format: "text", out: memorySink(), err: memorySink() });

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await Bun.sleep(20);
}

function compiled(name: string, sql: string, dialect: Dialect): CompiledTemplate {
  const t = compileTemplate(name, sql, dialect);
  if (t.kind !== "template") throw new Error(t.message);
  return t;
}

/** Records one event of statement `t` with these variables; returns its row. */
function event(w: HistoryWriter, t: CompiledTemplate, vars: Record<string, string>, at = Date.now()): HistoryRow {
  let v: Param[] = [];
  w.record((id) => {
    v = t.bind(new Map([...Object.entries(vars), ["event_id", id]]), at);
    return [{ s: t.name, v }];
  });
  return rowOf(t.name, v);
}

const TRICKY = { ClientMacAddress: `O'Brien "q" \\ Сергей-ПК ☃`, RequestedIpAddress: `'); drop table history; --` };
const TRICKY_RELEASE = { ClientMacAddress: "Ünïcödé 'x' \\'", ciaddr: "198.18.0.9" };

interface Aside {
  /** the set-aside active part, as the ERROR names it */
  file: string;
  /** rows database A got before the journal was set aside */
  written: HistoryRow[];
  /** rows still waiting in it, in journal order */
  waiting: HistoryRow[];
}

/**
 * Leaves a journal in `dir` set aside by database B: two events written to
 * A, two waiting in the sealed part, two (values that need care) in the
 * active part; `damage` appends to the active part a cut line, a line of a
 * statement the config lacks, a row whose mac is NULL (the table refuses
 * it), and one more event of a third run.
 */
async function setAside(dir: string, t: Target & { ownerB: string }, damage = false): Promise<Aside> {
  const journal = join(dir, "journal");
  const log = quiet();
  const a = await t.openA();
  const hist = compiled("history_sql", HISTORY, a.backend.kind);
  const rel = compiled("history_release", RELEASE, a.backend.kind);
  const statements = [hist, rel].map((c) => ({ name: c.name, sql: c.sql, params: c.bind(new Map(), 0).length }));
  const opts = (database: string) => ({ journalPath: journal, fsync: { kind: "never" as const }, database });
  try {
    // run 1 writes two events to A; then A's table is away and two wait
    const w1 = new HistoryWriter(a.backend, opts(a.owner), log);
    w1.start();
    w1.setStatements(statements);
    const written = [event(w1, hist, { ClientMacAddress: "020000000001", RequestedIpAddress: "198.18.0.1" }), event(w1, hist, { ClientMacAddress: "020000000002", RequestedIpAddress: "198.18.0.2" })];
    await until(() => w1.pending === 0);
    expect(w1.pending).toBe(0);
    await t.hideA();
    const waiting = [event(w1, hist, { ClientMacAddress: "020000000003", RequestedIpAddress: "198.18.0.3" }), event(w1, hist, { ClientMacAddress: "020000000004", RequestedIpAddress: "198.18.0.4" })];
    await w1.close(200);
    expect(w1.pending).toBe(2);
    await t.showA();
    // as rotation leaves a large journal that has not caught up: sealed, and a new one started (run 2)
    renameSync(journal, journal + ".sealed");
    const w2 = new HistoryWriter(a.backend, opts(a.owner), log);
    w2.start();
    waiting.push(event(w2, hist, TRICKY), event(w2, rel, TRICKY_RELEASE));
    await w2.close();
    if (damage) {
      appendFileSync(journal, `{"i":"${w2.journal.run}-3","s":"history_sql","v":["2026-12-0\n`);
      appendFileSync(journal, `{"i":"${w2.journal.run}-4","s":"history_gone","v":["x"]}\n`);
      appendFileSync(journal, `{"i":"${w2.journal.run}-5","s":"history_sql","v":["2026-12-03 10:00:00",null,"198.18.0.5","null mac"]}\n`);
      const w3 = new HistoryWriter(a.backend, opts(a.owner), log);
      w3.start();
      waiting.push(event(w3, hist, { ClientMacAddress: "020000000007", RequestedIpAddress: "198.18.0.7" }));
      await w3.close();
    }
    // database B opens the journal: A's events are set aside
    const b = new HistoryWriter(a.backend, opts(t.ownerB), log);
    b.start();
    await b.close();
    const file = readdirSync(dir).find((f) => /^journal\.\d{4}-.*Z\.other-database$/.test(f));
    if (!file) throw new Error("nothing was set aside");
    return { file: join(dir, file), written, waiting };
  } finally {
    await a.backend.close();
  }
}

/** Every file in `dir` (the live journal and its files, the set-aside ones) with its bytes: the replay changes none. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = readFileSync(join(dir, f), "latin1");
  return out;
}

const replay = (cfg: string, file: string, ...more: string[]) => pydhcp(["history", "replay", "-c", cfg, "--file", file, ...more]);

/** A summary line's value: `label:   value`. */
const field = (out: string, label: string): string => new RegExp(`^${label}: +(.*)$`, "m").exec(out)?.[1] ?? "";

for (const kind of ["sqlite", "mariadb", "postgresql"] as const) {
  describe(`pydhcp history replay on ${kind}`, () => {
    const root = mkdtempSync(join(tmpdir(), `pdc-replay-${kind}-`));
    let t: Target & { ownerB: string };
    /** B's history table renamed (the replay must stop, not write) */
    let renameB: (from: string, to: string) => Promise<void> = async () => {};
    let cfg = "";
    /** rows B held before the replay */
    let base: HistoryRow[] = [];

    beforeAll(async () => {
      const dir = join(root, "a");
      mkdirSync(dir);
      const target = kind === "sqlite" ? sqliteTarget(root) : kind === "mariadb" ? await mariadbTarget() : await postgresqlTarget();
      if (kind === "sqlite") {
        renameB = async (from, to) => {
          const d = new Database(join(root, "b.db"));
          d.exec(`alter table ${from} rename to ${to}`);
          d.close();
        };
      } else if (kind === "mariadb") {
        const m = target as Awaited<ReturnType<typeof mariadbTarget>>;
        renameB = async (from, to) => void (await m.root.query(`rename table \`${m.db.database}\`.${from} to \`${m.db.database}\`.${to}`));
      } else renameB = (target as Awaited<ReturnType<typeof postgresqlTarget>>).rename;
      cfg = join(root, "config.xml");
      writeFileSync(cfg, config(target.database()));
      // the config loads, B opens (SQLite: created) and its statements prepare
      const check = await pydhcp(["--check", "-c", cfg]);
      expect(check.err).toBe("");
      expect(check.code).toBe(0);
      const loaded = (await import("../../src/config/load.ts")).loadConfig(cfg);
      if (!loaded.ok) throw new Error("config");
      t = { ...target, ownerB: databaseOwner(loaded.config.database) };
      base = await t.rows();
    }, 30_000);

    afterAll(async () => {
      await t?.close();
      rmSync(root, { recursive: true, force: true });
    });

    test("dry run, replay, replay again: each waiting event once, values exact; nothing else touched", async () => {
      const dir = join(root, "a");
      const a = await setAside(dir, t);
      const owner = t.ownerA;
      expect(readFileSync(a.file + ".database", "utf8")).toBe(owner + "\n");
      const sealed = a.file.replace(/^(.*journal)\./, "$1.sealed.");
      expect(existsSync(sealed)).toBe(true);
      if (kind !== "sqlite") {
        // A is B reached another way: it has the first two rows, and their marks
        base = [...base, ...a.written];
        // an older pydhcp kept no position beside what it set aside: the marks alone decide
        unlinkSync(a.file + ".pos");
      }
      expect(await t.rows()).toEqual(base);
      const live = files(dir);

      const dry = await replay(cfg, a.file, "--dry-run");
      expect(dry.err).toBe("");
      expect(dry.code).toBe(0);
      expect(dry.out).toContain("history replay, dry run: nothing is written");
      expect(dry.out).toContain(`${sealed} (4 lines)`);
      expect(dry.out).toContain(`${a.file} (2 lines)`);
      expect(field(dry.out, "for")).toBe(owner);
      expect(field(dry.out, "into")).toBe(t.ownerB);
      expect(dry.out).toMatch(/^ {2}history_release +1$/m);
      expect(dry.out).toMatch(new RegExp(`^ {2}history_sql +${kind === "sqlite" ? 3 : 5}$`, "m"));
      expect(field(dry.out, "runs")).toMatch(/^2 of pydhcp, the first started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, the last /);
      if (kind === "sqlite") {
        expect(field(dry.out, "done before")).toBe(`2 lines were written to ${owner} before it was set aside (its saved position): not written again`);
        expect(field(dry.out, "already there")).toMatch(/^0 lines/);
      } else {
        expect(dry.out).not.toContain("done before");
        expect(field(dry.out, "already there")).toMatch(/^2 lines/);
      }
      expect(field(dry.out, "would write")).toBe("4 rows");
      expect(field(dry.out, "would skip")).toBe("0 lines");
      expect(await t.rows()).toEqual(base);

      const run = await replay(cfg, a.file);
      expect(run.err).toBe("");
      expect(run.code).toBe(0);
      expect(field(run.out, "written")).toBe("4 rows in 1 transaction");
      expect(await t.rows()).toEqual([...base, ...a.waiting]);
      // the values went as they were bound
      expect((await t.rows()).slice(-2)).toEqual([
        expect.objectContaining({ mac: TRICKY.ClientMacAddress, ip: TRICKY.RequestedIpAddress }),
        expect.objectContaining({ mac: TRICKY_RELEASE.ClientMacAddress, ip: "198.18.0.9", comment: "RELEASE" }),
      ]);

      const again = await replay(cfg, a.file);
      expect(again.code).toBe(0);
      expect(field(again.out, "written")).toBe("0 rows in 0 transactions");
      expect(field(again.out, "already there")).toMatch(kind === "sqlite" ? /^4 lines/ : /^6 lines/);
      expect(await t.rows()).toEqual([...base, ...a.waiting]);
      // the live journal and its files are as the server left them; the set-aside files stay for the operator
      expect(Object.keys(live)).toContain("journal");
      expect(files(dir)).toEqual(live);
    }, 30_000);

    test("a damaged line, a statement the config lacks, a row the table refuses: listed with their line, skipped, exit 1; the rest written once", async () => {
      const dir = join(root, "b");
      mkdirSync(dir);
      const a = await setAside(dir, t, true);
      // MariaDB: the two rows A got are B's too
      const before = await t.rows();
      const name = a.file;
      const dry = await replay(cfg, name, "--dry-run");
      expect(dry.code).toBe(1);
      expect(dry.err).toContain(`pydhcp: ${name}:3: skipped: damaged: not JSON (cut or damaged)\n`);
      expect(dry.err).toContain(`pydhcp: ${name}:4: skipped: statement history_gone is not in the configuration\n`);
      expect(dry.out).toMatch(/^ {2}history_gone +1 +not in the configuration: skipped$/m);
      // the dry run does not ask the table: the refused row is only found when written
      expect(field(dry.out, "would skip")).toBe("2 lines (listed on stderr)");
      expect(await t.rows()).toEqual(before);

      const run = await replay(cfg, name);
      expect(run.code).toBe(1);
      expect(run.err).toContain(`${name}:3: skipped: damaged`);
      expect(run.err).toContain(`${name}:4: skipped: statement history_gone`);
      expect(run.err).toMatch(new RegExp(`${name.replace(/[.]/g, "\\.")}:5: skipped: the database refused the row: history_sql: .*(not.null|cannot be null)`, "i"));
      // the refused batch went a row at a time
      expect(field(run.out, "written")).toBe("5 rows in 5 transactions");
      expect(field(run.out, "skipped")).toBe("3 lines (listed on stderr)");
      const want = [...before, ...a.waiting];
      expect(await t.rows()).toEqual(want);

      const again = await replay(cfg, name);
      expect(again.code).toBe(1);
      expect(field(again.out, "written")).toBe("0 rows in 0 transactions");
      expect(field(again.out, "skipped")).toBe("3 lines (listed on stderr)");
      expect(await t.rows()).toEqual(want);
    }, 30_000);

    test.skipIf(kind === "sqlite")("killed in the middle: the batch it was writing is not there; run again, every event is there once", async () => {
      const dir = join(root, "d");
      mkdirSync(dir);
      const journal = join(dir, "journal");
      const a = await t.openA();
      const hist = compiled("history_sql", HISTORY, a.backend.kind);
      await a.backend.close();
      // 1,600 events of one run wait for A (nothing writes them); the 501st, first of the second batch, is held
      const w = new HistoryWriter(a.backend, { journalPath: journal, fsync: { kind: "never" }, database: t.ownerA }, quiet());
      w.start();
      const want: HistoryRow[] = [];
      for (let i = 0; i < 1600; i++) want.push(event(w, hist, { ClientMacAddress: i === 500 ? "pause" : `0200000${String(i).padStart(5, "0")}`, RequestedIpAddress: `198.18.${i >> 8}.${i & 255}` }));
      await w.close();
      const b = new HistoryWriter(a.backend, { journalPath: journal, fsync: { kind: "never" }, database: t.ownerB }, quiet());
      b.start();
      await b.close();
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith(".other-database"))!);
      const before = await t.rows();
      await t.pause!.arm();
      const p = Bun.spawn([BUN, MAIN, "history", "replay", "-c", cfg, "--file", file], { stdout: "pipe", stderr: "pipe" });
      try {
        const end = Date.now() + 15_000;
        while ((await t.rows()).length < before.length + 500 && Date.now() < end) await Bun.sleep(50);
        await Bun.sleep(200);
        expect(p.exitCode).toBeNull();
        p.kill("SIGKILL");
        await p.exited;
      } finally {
        await t.pause!.release();
      }
      expect(await t.rows()).toEqual([...before, ...want.slice(0, 500)]);
      const again = await replay(cfg, file);
      expect(again.err).toBe("");
      expect(again.code).toBe(0);
      expect(field(again.out, "already there")).toMatch(/^500 lines/);
      expect(field(again.out, "written")).toBe("1100 rows in 3 transactions");
      expect(await t.rows()).toEqual([...before, ...want]);
    }, 60_000);

    test("errors: no --file, a missing file, not a journal, a directory, the live journal, a history table missing", async () => {
      const noFile = await pydhcp(["history", "replay", "-c", cfg]);
      expect(noFile.code).toBe(2);
      expect(noFile.err).toContain("history replay needs --file PATH");
      const missing = await replay(cfg, join(root, "nope.other-database"));
      expect(missing.code).toBe(1);
      expect(missing.err).toContain(`${join(root, "nope.other-database")}: no such file`);
      const notJournal = await replay(cfg, cfg);
      expect(notJournal.code).toBe(1);
      expect(notJournal.err).toContain("not a history journal");
      const dirAsFile = await replay(cfg, root);
      expect(dirAsFile.code).toBe(1);
      expect(dirAsFile.err).toMatch(/cannot read .*(is a directory|EISDIR)/);
      const livePath = join(root, "pydhcp-history.spool");
      writeFileSync(livePath, "", { flag: "a" });
      const live = await replay(cfg, livePath);
      expect(live.code).toBe(2);
      expect(live.err).toContain("is the history journal this configuration serves with");
      // B without its history table: the replay stops before writing, and says why
      const dir = join(root, "c");
      mkdirSync(dir);
      const a = await setAside(dir, t);
      const before = await t.rows();
      await renameB("history", "history_gone");
      try {
        const r = await replay(cfg, a.file);
        expect(r.code).toBe(1);
        expect(r.err).toMatch(/history replay stopped: .*journal\.sealed\..*\.other-database:3: .*history/);
        expect(field(r.out, "written")).toBe("0 rows in 0 transactions");
      } finally {
        await renameB("history_gone", "history");
      }
      expect(await t.rows()).toEqual(before);
    }, 30_000);

    test("a second replay while one is writing is refused (exit 1, nothing written); a lock left by a replay that died is taken over", async () => {
      const dir = join(root, "e");
      mkdirSync(dir);
      const a = await setAside(dir, t);
      const before = await t.rows();
      const lock = a.file + ".replay-lock";
      // a live replay: this test process's pid stands in for it
      writeFileSync(lock, `${process.pid}\n`);
      const refused = await replay(cfg, a.file);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain(`another history replay (pid ${process.pid}) is writing this journal`);
      expect(refused.out).toBe("");
      expect(await t.rows()).toEqual(before);
      // a dry run writes nothing and needs no lock
      expect((await replay(cfg, a.file, "--dry-run")).code).toBe(0);
      // the pid of a process that has ended: the lock is stale
      const gone = Bun.spawn(["true"]);
      await gone.exited;
      writeFileSync(lock, `${gone.pid}\n`);
      const run = await replay(cfg, a.file);
      expect(run.err).toBe("");
      expect(run.code).toBe(0);
      expect(field(run.out, "written")).toBe(`${a.waiting.length} rows in 1 transaction`);
      expect(await t.rows()).toEqual([...before, ...a.waiting]);
      expect(existsSync(lock)).toBe(false);
    }, 30_000);

    test("a database that cannot be reached: a clear error, exit 1", async () => {
      const other = join(root, "unreachable.xml");
      const server = kind === "mariadb" ? "mysql" : "postgresql";
      const database =
        kind === "sqlite"
          ? `<database><sqlite><path>${join(root, "missing.db")}</path></sqlite></database>`
          : `<database><${server}><host>127.0.0.1</host><port>1</port><user>u</user><password>p</password><database>d</database></${server}></database>`;
      writeFileSync(other, config(database));
      const journal = readdirSync(join(root, "a")).find((f) => /^journal\.\d{4}-.*Z\.other-database$/.test(f))!;
      const r = await replay(other, join(root, "a", journal), "--dry-run");
      expect(r.code).toBe(1);
      expect(r.err).toMatch(kind === "sqlite" ? /missing\.db: no such database/ : new RegExp(`cannot open the database \\(${server} database d on 127\\.0\\.0\\.1:1\\)`));
      expect(existsSync(join(root, "missing.db"))).toBe(false);
    });
  });
}
