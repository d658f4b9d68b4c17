/**
 * Dropping root after the :67 sockets are bound. Order matters: supplementary
 * groups, then gid, then uid (after setuid a process may no longer change its
 * groups). glibc applies each change to every thread, so Bun's worker threads
 * drop too; sockets bound before the drop keep working, but no new socket on
 * a port below 1024 can be opened afterwards, which is why a reload never
 * re-binds. Under systemd the unit starts the server unprivileged with
 * ambient CAP_NET_BIND_SERVICE instead, and this is not needed.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../log/types.ts";

export type PrivilegeErrorKind = "unknown-user" | "unknown-group" | "not-root" | "setgroups" | "setgid" | "setuid" | "verify";

export interface PrivilegeError {
  kind: PrivilegeErrorKind;
  message: string;
}

export type DropResult =
  | { ok: true; uid: number; gid: number; /** false when already running as the target */ changed: boolean }
  | { ok: false; error: PrivilegeError };

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

export interface IdFiles {
  passwd: string;
  group: string;
}

const DEFAULT_FILES: IdFiles = { passwd: "/etc/passwd", group: "/etc/group" };

function readLines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n");
  } catch {
    return [];
  }
}

/** `getent` also sees NSS sources (LDAP, sssd) that the flat files do not list. */
function getent(db: "passwd" | "group", name: string): string | null {
  try {
    const r = Bun.spawnSync(["getent", db, name], { stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? r.stdout.toString().split("\n")[0]! : null;
  } catch {
    return null;
  }
}

const NUMERIC = /^\d+$/;

/** Parses one passwd/group line: "name:x:id:..." -> fields, or null when malformed. */
function fields(line: string, min: number): string[] | null {
  const f = line.split(":");
  return f.length >= min && NUMERIC.test(f[2] ?? "") ? f : null;
}

/** A user by name or numeric uid: /etc/passwd first, then getent. */
export function resolveUser(user: string, files: IdFiles = DEFAULT_FILES): Account | null {
  const byId = NUMERIC.test(user);
  const match = (f: string[]) => (byId ? f[2] === String(Number(user)) : f[0] === user);
  const candidates = [...readLines(files.passwd), ...(files === DEFAULT_FILES ? [getent("passwd", user) ?? ""] : [])];
  for (const line of candidates) {
    const f = fields(line, 4);
    if (f && match(f) && NUMERIC.test(f[3]!)) return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/** A group's gid by name or number: /etc/group first, then getent. */
export function resolveGroup(group: string, files: IdFiles = DEFAULT_FILES): number | null {
  const byId = NUMERIC.test(group);
  const candidates = [...readLines(files.group), ...(files === DEFAULT_FILES ? [getent("group", group) ?? ""] : [])];
  for (const line of candidates) {
    const f = fields(line, 3);
    if (f && (byId ? f[2] === String(Number(group)) : f[0] === group)) return Number(f[2]);
  }
  // a numeric gid need not be listed to be valid
  return byId ? Number(group) : null;
}

function fail(kind: PrivilegeErrorKind, message: string): DropResult {
  return { ok: false, error: { kind, message } };
}

function attempt(kind: PrivilegeErrorKind, what: string, fn: () => void): DropResult | null {
  try {
    fn();
    return null;
  } catch (e) {
    return fail(kind, `Cannot drop privileges: ${what} failed: ${(e as Error).message}`);
  }
}

/**
 * Switches the whole process to `user` and `group` (the user's primary group
 * when null). Returns a value; the caller logs and exits on failure.
 */
export function dropPrivileges(user: string, group: string | null, log: Logger, files: IdFiles = DEFAULT_FILES): DropResult {
  const acct = resolveUser(user, files);
  if (acct === null) return fail("unknown-user", `Cannot drop privileges: user ${JSON.stringify(user)} not found in ${files.passwd}`);
  const gid = group === null ? acct.gid : resolveGroup(group, files);
  if (gid === null) return fail("unknown-group", `Cannot drop privileges: group ${JSON.stringify(group)} not found in ${files.group}`);

  const uid = acct.uid;
  if (process.getuid!() !== 0) {
    if (process.geteuid!() === uid && process.getegid!() === gid) return { ok: true, uid, gid, changed: false };
    return fail("not-root", `Cannot drop privileges to ${acct.name} (${uid}:${gid}): running as uid ${process.getuid!()}, not root`);
  }

  const err =
    attempt("setgroups", `setgroups([${gid}])`, () => process.setgroups!([gid])) ??
    attempt("setgid", `setgid(${gid})`, () => process.setgid!(gid)) ??
    attempt("setuid", `setuid(${uid})`, () => process.setuid!(uid));
  if (err) return err;

  const ids = [process.getuid!(), process.geteuid!(), process.getgid!(), process.getegid!()];
  if (ids.join() !== [uid, uid, gid, gid].join()) {
    return fail("verify", `Cannot drop privileges: ids are ${ids.join(",")} after switching to ${uid}:${gid}`);
  }
  // The point of the exercise: root must not be reachable again.
  if (uid !== 0) {
    let regained = false;
    try {
      process.setuid!(0);
      regained = true;
    } catch {
      // expected: EPERM
    }
    if (regained) return fail("verify", "Cannot drop privileges: setuid(0) still succeeds after the drop");
  }
  log.info("privileges dropped", { user: acct.name, uid, gid });
  return { ok: true, uid, gid, changed: true };
}
