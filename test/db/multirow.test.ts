/**
 * History batches as multi-row INSERTs on MariaDB: every row arrives, in
 * order, with its own bound values; statements that are not a single-row
 * INSERT run row by row.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Pool } from "mysql2/promise";
import { chunkSizes, multiRowSql, splitSingleRowInsert } from "../../src/db/multirow.ts";
import { MysqlBackend } from "../../src/db/mysql.ts";
import { createTempDb, memoryLog, rootPool, SOCKET, type TempDb } from "./mariadb.ts";

describe("splitSingleRowInsert", () => {
  const rows: [string, { head: string; tuple: string } | null][] = [
    [
      "insert into history (id,dt,mac,ip,comment) values (null,now(),?,?,'DHCPACK/INFORM')",
      { head: "insert into history (id,dt,mac,ip,comment) values", tuple: "(null,now(),?,?,'DHCPACK/INFORM')" },
    ],
    ["INSERT INTO h VALUES (?, ')', ?);", { head: "INSERT INTO h VALUES", tuple: "(?, ')', ?)" }],
    ["insert into h (a) values (?), (?)", null],
    ["insert into h (a) values (?) on duplicate key update a = values(a)", null],
    ["update h set a = ?", null],
    ["insert into h (a) select ? from dual", null],
  ];
  for (const [sql, want] of rows) test(sql, () => expect(splitSingleRowInsert(sql)).toEqual(want));

  test("chunk sizes cover n exactly with few distinct statements", () => {
    expect(chunkSizes(85)).toEqual([64, 16, 4, 1]);
    expect(chunkSizes(3)).toEqual([1, 1, 1]);
    expect(chunkSizes(130)).toEqual([64, 64, 1, 1]);
    expect(multiRowSql({ head: "insert into h values", tuple: "(?)" }, 3)).toBe("insert into h values (?), (?), (?)");
  });
});

describe("MysqlBackend.runBatch", () => {
  let root: Pool;
  let db: TempDb;
  let backend: MysqlBackend;
  beforeAll(async () => {
    root = await rootPool();
    db = await createTempDb(root, "pdmr");
    await root.query(`CREATE TABLE \`${db.database}\`.history (id int auto_increment primary key, dt datetime not null, mac varchar(50), ip varchar(50), comment varchar(100))`);
    backend = await MysqlBackend.open(
      { host: "localhost", port: 3306, socket: SOCKET, user: db.user, password: db.password, database: db.database, poolSize: 2, lookupBatch: 16, timeoutMs: 5000 },
      memoryLog(),
    );
  });
  afterAll(async () => {
    await backend?.close();
    await db?.drop();
    await root?.end();
  });

  test("85 rows of one INSERT and rows of another statement: all written in order with their values", async () => {
    const ins = await backend.prepare("history_sql", "insert into history (id,dt,mac,ip,comment) values (null,now(),?,?,'DHCPACK/INFORM')");
    const upd = await backend.prepare("history_nak", "update history set comment = ? where mac = ?");
    const items = Array.from({ length: 85 }, (_, i) => ({ query: ins, params: [`mac${i}`, `ip'${i}`] }));
    await backend.runBatch([...items, { query: upd, params: ["NAK", "mac7"] }, { query: ins, params: ["last", "x"] }]);
    const [rows] = (await root.query(`SELECT mac, ip, comment FROM \`${db.database}\`.history ORDER BY id`)) as unknown as [{ mac: string; ip: string; comment: string }[]];
    expect(rows.length).toBe(86);
    expect(rows.slice(0, 85).map((r) => r.mac)).toEqual(items.map((it) => it.params[0]!));
    expect(rows[40]!.ip).toBe("ip'40");
    expect(rows[7]!.comment).toBe("NAK");
    expect(rows[85]!.mac).toBe("last");
  });
});
