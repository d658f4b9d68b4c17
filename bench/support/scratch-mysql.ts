/**
 * A throwaway MariaDB database for the in-process and loopback benchmarks:
 * pydhcpdb's `users` and `history` tables (with an index for the lookup),
 * created as root over the unix socket and dropped at the end.
 */
import mysql from "mysql2/promise";

export interface ScratchMysql {
  name: string;
  /** root, connected with the database selected */
  root: mysql.Connection;
  /** the <mysql> element of a pydhcp config for it */
  configXml(poolSize: number): string;
  drop(): Promise<void>;
}

export async function scratchMysql(socket: string, name: string, opts: { usersKey?: string; collation?: string } = {}): Promise<ScratchMysql> {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`scratch database name ${name}: letters, digits and _ only`);
  const root = await mysql.createConnection({ socketPath: socket, user: "root", password: "", multipleStatements: true });
  await root.query(`CREATE DATABASE ${name}`);
  await root.query(`USE ${name}`);
  const table = `ENGINE=InnoDB${opts.collation ? ` DEFAULT CHARSET=utf8 COLLATE=${opts.collation}` : ""}`;
  await root.query(
    `CREATE TABLE users (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, ip varchar(50) NOT NULL, mask varchar(50) NOT NULL, router varchar(50) NOT NULL, dns varchar(100) NOT NULL, mac varchar(50) NOT NULL, port varchar(10) NOT NULL, ${opts.usersKey ?? "KEY mac (mac)"}) ${table}`,
  );
  await root.query(`CREATE TABLE history (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, dt datetime NOT NULL, mac varchar(50) NOT NULL, ip varchar(50) NOT NULL, comment varchar(100) NOT NULL) ${table}`);
  return {
    name,
    root,
    configXml: (poolSize) =>
      `<mysql><host>localhost</host><socket>${socket}</socket><user>root</user><password></password><database>${name}</database><poolSize>${poolSize}</poolSize></mysql>`,
    async drop() {
      await root.query(`DROP DATABASE IF EXISTS ${name}`);
      await root.end();
    },
  };
}
