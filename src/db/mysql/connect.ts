/**
 * How every mysql2 connection of this backend is made: the pool's and the
 * history writer thread's (writer-thread.ts), so both speak to the server
 * the same way. No driver import: the thread's bundle stays small.
 */
import type { MysqlOptions } from "./pool.ts";

/** The server, the login and the session settings, for mysql2's createPool/createConnection. */
export function connectionOptions(opts: Pick<MysqlOptions, "socket" | "host" | "port" | "user" | "password" | "database" | "timeoutMs">) {
  return {
    ...(opts.socket ? { socketPath: opts.socket } : { host: opts.host, port: opts.port }),
    user: opts.user,
    password: opts.password,
    database: opts.database,
    connectTimeout: Math.max(1000, opts.timeoutMs),
    enableKeepAlive: true,
    charset: "utf8mb4_general_ci",
    // datetime columns come back as text, as written
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    // every statement text is fixed (operator queries, fixed chunk sizes),
    // so a small cache holds them all; mysql2's default (16,000 per
    // connection) would let a bug pile up statements unseen
    maxPreparedStatements: 256,
  };
}
