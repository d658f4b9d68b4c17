/**
 * How a MySQL/MariaDB driver error is classified at open (db/mysql/pool.ts
 * openFailure): only "unreachable" lets a start serve from the lease
 * snapshot. The codes are mysql2's, as the real servers send them; the
 * Galera case is exercised against a real cluster in test/long/galera.test.ts.
 */
import { expect, test } from "bun:test";
import { CONNECTION_CODES, READY_SQL, openFailure } from "../../../src/db/mysql/pool.ts";

const err = (code: string) => Object.assign(new Error(code), { code });

test("a Galera node outside the primary component (1047) is an outage, not a configuration problem", () => {
  expect(openFailure(err("ER_UNKNOWN_COM_ERROR"))).toBe("unreachable");
  // while serving too: queries fail fast and renewals come from lease memory
  expect(CONNECTION_CODES.has("ER_UNKNOWN_COM_ERROR")).toBe(true);
  // such a node answers a table-less SELECT 1, so readiness reads a table
  expect(READY_SQL).toMatch(/\bFROM pydhcp_lease\b/);
});

test("refused logins and names, outages, and the rest", () => {
  for (const c of ["ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR"]) expect(openFailure(err(c))).toBe("refused");
  for (const c of ["ECONNREFUSED", "ETIMEDOUT", "ENOENT", "PROTOCOL_CONNECTION_LOST", "ER_SERVER_SHUTDOWN", "ER_CON_COUNT_ERROR", "ER_TOO_MANY_USER_CONNECTIONS"]) {
    expect(openFailure(err(c))).toBe("unreachable");
  }
  for (const c of ["ER_TABLEACCESS_DENIED_ERROR", "ER_OPTION_PREVENTS_STATEMENT", ""]) expect(openFailure(err(c))).toBe("unusable");
});
