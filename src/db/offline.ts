/**
 * The backend a server starts with when its database (MySQL/MariaDB,
 * PostgreSQL) cannot be reached at start and a lease snapshot lets it serve
 * anyway (server/service.ts): every statement "prepares" (the SQL is only
 * kept) and every use fails at once as a lost connection does, so respond()
 * takes its outage path (renewals of known leases from lease memory, silence
 * for the rest), lease writes stay pending and history waits in the journal.
 * Nothing here touches the network; the service swaps a real backend in
 * when the database answers.
 */
import type { Backend, LeaseStore, PreparedQuery } from "./backend.ts";
import { DbError } from "./backend.ts";

export class OfflineBackend implements Backend {
  readonly leases: LeaseStore;

  constructor(
    readonly kind: "mysql" | "postgresql" | "sqlite",
    /** why the database could not be reached: every failure says it */
    private readonly reason: string,
  ) {
    const fail = <T>(): Promise<T> => Promise.reject(this.error(""));
    this.leases = {
      loadActive: fail,
      get: fail,
      byIp: fail,
      upsert: fail,
      deleteExpired: fail,
      changedSince: fail,
      list: fail,
      release: fail,
    };
  }

  private error(query: string): DbError {
    return new DbError("connect", query, `database unreachable since start: ${this.reason}`, "OFFLINE");
  }

  prepare(name: string, sql: string): Promise<PreparedQuery> {
    return Promise.resolve({ name, sql, run: () => Promise.reject(this.error(name)) });
  }

  runBatch(): Promise<void> {
    return Promise.reject(this.error(""));
  }

  historyMark(): Promise<number> {
    return Promise.reject(this.error(""));
  }

  pruneHistory(): Promise<number> {
    return Promise.reject(this.error(""));
  }

  internal(name: string): Promise<{ rows: never[]; changes: number }> {
    return Promise.reject(this.error(name));
  }

  ping(): Promise<void> {
    return Promise.reject(this.error(""));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
