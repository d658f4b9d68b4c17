/**
 * `<database><postgresql>`: host/port/socket/user/password/database/poolSize,
 * or a `postgres://user:password@host:port/database` URL in `<url>`
 * (libpq's `?host=/socket/dir` selects a unix socket). A tag given next to
 * the URL wins over the URL's part.
 */

import { existsSync } from "node:fs";
import type { DatabaseConfig } from "./types.ts";
import type { Section } from "./reader.ts";

/** Where Debian's (and most) PostgreSQL servers put their socket, in order. */
export const DEFAULT_POSTGRESQL_SOCKETS = ["/var/run/postgresql", "/run/postgresql", "/tmp"];

const DEFAULT_POOL = 8;
const DEFAULT_LOOKUP_BATCH = 16;

interface UrlParts {
  host?: string;
  port?: number;
  socket?: string;
  user?: string;
  password?: string;
  database?: string;
}

/** scheme://[user[:password]@][host][:port][/database][?params], libpq's form */
const URL_FORM = /^([a-z][a-z0-9+.-]*):\/\/(?:([^:@/?]*)(?::([^@/?]*))?@)?([^:/?]*)(?::([0-9]{1,5}))?(?:\/([^?]*))?(?:\?(.*))?$/i;

/** The parts of a postgres:// URL, or an error message. */
export function parsePostgresUrl(text: string): UrlParts | string {
  const m = URL_FORM.exec(text);
  if (!m) return `"${text}" is not a postgres://user:password@host:port/database URL`;
  const [, scheme, user, password, host, port, database, query] = m;
  if (!/^postgres(ql)?$/i.test(scheme!)) return `the URL must start with postgres:// or postgresql://, not ${scheme}://`;
  const out: UrlParts = {};
  try {
    if (host) out.host = decodeURIComponent(host);
    if (user) out.user = decodeURIComponent(user);
    if (password) out.password = decodeURIComponent(password);
    if (database) out.database = decodeURIComponent(database);
    if (port) {
      const n = Number(port);
      if (n < 1 || n > 65535) return `URL port ${port} is out of range 1..65535`;
      out.port = n;
    }
    for (const [k, v] of new URLSearchParams(query ?? "")) {
      if (k === "host" && v.startsWith("/")) out.socket = v;
      else return `URL parameter "${k}" is not supported (only ?host=/socket/directory)`;
    }
  } catch {
    return "the URL holds a bad %-escape";
  }
  return out;
}

export function postgresqlSection(s: Section, sockets: readonly string[] = DEFAULT_POSTGRESQL_SOCKETS): DatabaseConfig {
  const urlText = s.text("url", false);
  let url: UrlParts = {};
  if (urlText !== undefined) {
    const r = parsePostgresUrl(urlText.trim());
    if (typeof r === "string") s.error(s.pathOf("url"), r);
    else url = r;
  }
  const hostText = s.text("host", false) || url.host;
  const port = s.int("port", false, url.port ?? 5432, 1, 65535);
  const socketText = s.text("socket", false) || url.socket;
  const user = s.text("user", false) || url.user || "";
  if (user === "") s.error(s.pathOf("user"), "missing (or give it in <url>)");
  const password = s.text("password", false) ?? url.password ?? "";
  const database = s.text("database", false) || url.database || "";
  if (database === "") s.error(s.pathOf("database"), "missing (or give it in <url>)");
  const poolSize = s.int("poolSize", false, DEFAULT_POOL, 1, 256);
  const lookupBatch = s.int("lookupBatch", false, DEFAULT_LOOKUP_BATCH, 1, 32);
  s.finish();
  // no host and no socket: the local server's socket, as psql does; else TCP to loopback
  let socket = socketText || null;
  let host = hostText || "";
  if (!socket && !host) {
    socket = sockets.find((d) => existsSync(`${d}/.s.PGSQL.${port}`)) ?? null;
    if (!socket) host = "127.0.0.1";
  }
  return { kind: "postgresql", host, port, socket, user, password, database, poolSize, lookupBatch };
}
