/**
 * Runs inside the MySQL writer thread (writer.ts starts it): history
 * batches on a connection of its own, one transaction each, in the order
 * they come. The serving thread sends each batch as JSON text and learns
 * only that it committed or why not.
 *
 * A second entry point of the compiled binary (build.ts).
 */
import mysql, { type Connection } from "mysql2/promise";
import { connectionOptions } from "./connect.ts";
import { InsertParts, batchSteps, type Value } from "./history-batch.ts";

declare const self: Worker;

interface Start {
  kind: "start";
  id: number;
  opts: Parameters<typeof connectionOptions>[0];
}
interface Batch {
  kind: "batch";
  id: number;
  stmts: [string, string][];
  /** each row: its statement's index in stmts, its values */
  items: [number, Value[]][];
  /** MARK_SQL's values per mark (markName and markSql, the SQLite thread's, are history-batch.ts's here) */
  marks: Value[][];
}
interface Stop {
  kind: "stop";
  id: number;
}
type Message = Start | Batch | Stop;

let options: ReturnType<typeof connectionOptions> | null = null;
let conn: Connection | null = null;
const parts = new InsertParts();

/** The connection, made again after one was lost. */
async function connection(): Promise<Connection> {
  if (conn) return conn;
  if (!options) throw Object.assign(new Error("not started"), { code: "POOL_CLOSED" });
  const c = await mysql.createConnection(options);
  // a connection the server closes while idle: the next batch connects again
  c.on("error", () => {
    if (conn === c) conn = null;
  });
  conn = c;
  return c;
}

function drop(): void {
  const c = conn;
  conn = null;
  c?.destroy();
}

async function batch(m: Batch): Promise<void> {
  const rows = m.items.map(([k, params]) => {
    const [name, sql] = m.stmts[k]!;
    return { name, sql, params };
  });
  const steps = batchSteps(rows, m.marks, parts);
  let current = "";
  const c = await connection();
  try {
    await c.beginTransaction();
    for (const s of steps) {
      current = s.name;
      await c.execute(s.sql, s.values);
    }
    await c.commit();
  } catch (e) {
    if ((e as { fatal?: boolean }).fatal) drop();
    else await c.rollback().catch(() => drop());
    throw Object.assign(e as object, { statement: current });
  }
}

async function handle(m: Message): Promise<void> {
  try {
    if (m.kind === "start") options = connectionOptions(m.opts);
    else if (m.kind === "batch") await batch(m);
    else if (m.kind === "stop") {
      await conn?.end().catch(() => undefined);
      conn = null;
    }
    postMessage({ id: m.id });
  } catch (e) {
    const x = e as { message?: unknown; code?: unknown; fatal?: unknown; statement?: unknown };
    postMessage({
      id: m.id,
      error: { name: typeof x.statement === "string" ? x.statement : "", message: String(x.message ?? e), code: x.code ? String(x.code) : "", fatal: x.fatal === true },
    });
  }
}

// one message at a time, in order: a batch never overtakes the one before
let turn: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent) => {
  const m = JSON.parse(String(e.data)) as Message;
  turn = turn.then(() => handle(m));
};
