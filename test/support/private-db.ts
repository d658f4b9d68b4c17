/**
 * The private MariaDB (./mariadb.ts) and private PostgreSQL
 * (./postgresql.ts) behind one shape, for tests that run the same case
 * against each engine while stopping and starting the database
 * (test/robust/outage, test/robust/snapshot-restart): opening the
 * instance, the <database> element that points pydhcp at it, and a
 * database with the users and history tables those tests' queries use.
 */
import { startPrivateMariaDb } from "./mariadb.ts";
import { startPrivatePostgres } from "./postgresql.ts";

/** A private server that a test stops and starts. */
export interface PrivateDb {
  readonly socket: string;
  readonly port: number;
  /** SQL as the server's superuser; tab-separated rows */
  sql(text: string, database?: string): Promise<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** What differs per engine, for one database name. */
export interface PrivateEngine {
  name: string;
  open(): Promise<PrivateDb>;
  /** the <database> element (root/postgres over the socket, poolSize 4) */
  xml(db: PrivateDb): string;
  /** creates the database with users (rows as SQL tuples mac, ip, mask, router, dns) and history */
  create(db: PrivateDb, users: string[]): Promise<void>;
  /** the history table's mac and comment, in id order */
  history(db: PrivateDb): Promise<{ mac: string; comment: string }[]>;
}

/** tab-separated "mac\tcomment" lines as rows */
function historyRows(out: string): { mac: string; comment: string }[] {
  return out
    .split("\n")
    .filter((l) => l)
    .map((l) => {
      const [mac, comment] = l.split("\t");
      return { mac: mac!, comment: comment! };
    });
}

/** The two engines, each making and using database `name`. */
export function privateEngines(name: string): { mariadb: PrivateEngine; postgresql: PrivateEngine } {
  const mariadb: PrivateEngine = {
    name: "MariaDB",
    open: startPrivateMariaDb,
    xml: (db) => `<mysql><host>localhost</host><socket>${db.socket}</socket><user>root</user><password></password><database>${name}</database><poolSize>4</poolSize></mysql>`,
    create: (db, users) =>
      db
        .sql(`create database ${name};
    create table ${name}.users (mac varchar(50) primary key, ip varchar(50) not null, mask varchar(50) not null, router varchar(50) not null, dns varchar(100) not null);
    create table ${name}.history (id int auto_increment primary key, dt datetime not null, mac varchar(50) not null, ip varchar(50) not null, comment varchar(100) not null);
    insert into ${name}.users values ${users.join(",")};`)
        .then(() => {}),
    history: async (db) => historyRows(await db.sql(`select mac, comment from ${name}.history order by id`)),
  };

  const postgresql: PrivateEngine = {
    name: "PostgreSQL",
    open: startPrivatePostgres,
    xml: (db) => `<postgresql><socket>${db.socket}</socket><port>${db.port}</port><user>postgres</user><database>${name}</database><poolSize>4</poolSize></postgresql>`,
    create: async (db, users) => {
      await db.sql(`create database ${name}`);
      await db.sql(
        `create table users (mac varchar(50) primary key, ip varchar(50) not null, mask varchar(50) not null, router varchar(50) not null, dns varchar(100) not null);
      create table history (id serial primary key, dt timestamp not null, mac varchar(50) not null, ip varchar(50) not null, comment varchar(100) not null);
      insert into users values ${users.join(",")};`,
        name,
      );
    },
    history: async (db) => historyRows(await db.sql("select mac, comment from history order by id", name)),
  };

  return { mariadb, postgresql };
}
