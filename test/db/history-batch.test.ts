/**
 * What one MySQL history batch runs (src/db/mysql/history-batch.ts): the
 * statements the pool and the writer thread both execute.
 */
import { describe, expect, test } from "bun:test";
import { InsertParts, MARK_SQL, batchSteps, markValues } from "../../src/db/mysql/history-batch.ts";

const H = "insert into history (dt,mac,ip) values (now(), ?, ?)";
const row = (i: number, sql = H, name = "history_sql") => ({ name, sql, params: [`mac${i}`, `ip${i}`] });

describe("a MySQL history batch", () => {
  test("70 rows of one single-row INSERT go as chunks of 64, 4, 1 and 1 rows, values in journal order, then the marks", () => {
    const steps = batchSteps(Array.from({ length: 70 }, (_, i) => row(i)), [markValues({ run: "r", seq: 70 }, 1700000000)], new InsertParts());
    expect(steps.map((s) => s.values.length)).toEqual([128, 8, 2, 2, 3]);
    expect(steps[0]!.sql).toBe(`insert into history (dt,mac,ip) values ${Array(64).fill("(now(), ?, ?)").join(", ")}`);
    expect(steps[0]!.values.slice(0, 4)).toEqual(["mac0", "ip0", "mac1", "ip1"]);
    expect(steps[1]!.values[0]).toBe("mac64");
    expect(steps[2]!.sql).toBe(H);
    expect(steps[3]!.values).toEqual(["mac69", "ip69"]);
    expect(steps[4]).toEqual({ name: "pydhcp_history_mark", sql: MARK_SQL, values: ["r", 70, 1700000000] });
  });

  test("rows of different statements keep their order; a statement that is not a single-row INSERT runs row by row", () => {
    const U = "update users set seen = now() where mac = ? and ip = ?";
    const steps = batchSteps([row(1), row(2), row(3, U, "history_sql2"), row(4, U, "history_sql2"), row(5)], [], new InsertParts());
    expect(steps.map((s) => [s.name, s.values])).toEqual([
      // two rows: chunks are 64, 16, 4 or 1
      ["history_sql", ["mac1", "ip1"]],
      ["history_sql", ["mac2", "ip2"]],
      ["history_sql2", ["mac3", "ip3"]],
      ["history_sql2", ["mac4", "ip4"]],
      ["history_sql", ["mac5", "ip5"]],
    ]);
    expect(steps[3]!.sql).toBe(U);
  });
});
