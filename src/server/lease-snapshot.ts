/**
 * The lease snapshot: lease memory on local disk, beside the history journal
 * (`<journal>.leases`), so a pydhcp restarted while MySQL/MariaDB or
 * PostgreSQL is away can still answer the renewals of bound leases within
 * <leases><outageGrace> (docs/reliability.md). The database stays the truth:
 * the snapshot is read only when the database cannot be reached at start.
 *
 * One file, written whole every <leases><snapshotInterval> seconds (default
 * 5; 0 = none) when leases changed (and at a clean stop), off the reply
 * path: the leases are turned into text in slices, each written to
 * `<path>.tmp` (mode 0600: it holds MACs and addresses) with the file
 * system's asynchronous calls before the next is built (packets run in
 * between); the file is flushed (fdatasync) and renamed over the old
 * snapshot, so a crash at any moment leaves the old snapshot or the new one,
 * never half of one.
 *
 *   {"pydhcp":"lease-snapshot","version":1,"database":"<owner>","written":<ms>,"leases":N}
 *   [clientKey, mac, ip, option82, expires, state, answer, updated, relay, hostname, unwritten]   (N lines)
 *   {"end":N,"crc32":C}
 *
 * `database` is db/settings.ts databaseOwner(), as `<journal>.database` holds
 * it: a snapshot of another database is never loaded. C is the CRC-32 of the
 * N lease lines' bytes: a cut, edited or damaged file is refused whole.
 */
import { readFileSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import type { Lease } from "../core/lease.ts";

export const SNAPSHOT_FORMAT = "lease-snapshot";
export const SNAPSHOT_VERSION = 1;
const MODE = 0o600;
/**
 * leases turned into text per event-loop turn; packets run between slices.
 * 3-5 µs a lease: 100 keep a slice near half a millisecond, well inside the
 * 5 ms a reply may wait (500 made pauses of several ms)
 */
export const SNAPSHOT_SLICE = 100;

/** Where the snapshot of a journal lives. */
export function snapshotPath(journalPath: string): string {
  return journalPath + ".leases";
}

/** One lease as the snapshot keeps it: `unwritten` when the table did not have this version yet. */
export interface SnapshotEntry {
  lease: Lease;
  unwritten: boolean;
}

export interface Snapshot {
  /** db/settings.ts databaseOwner() of the database the leases came from */
  database: string;
  /** when it was written, epoch ms */
  written: number;
  entries: SnapshotEntry[];
}

export type SnapshotRead =
  | ({ ok: true } & Snapshot)
  | { ok: false; why: "missing" | "unreadable" | "damaged" | "foreign"; message: string; database?: string; written?: number };

const STATES = new Set<Lease["state"]>(["offered", "bound", "released", "declined"]);

function line(e: SnapshotEntry): string {
  const l = e.lease;
  return JSON.stringify([l.clientKey, l.mac, l.ip, l.option82, l.expires, l.state, l.answer, l.updated, l.relay, l.hostname, e.unwritten ? 1 : 0]) + "\n";
}

function entryOf(a: unknown): SnapshotEntry | null {
  if (!Array.isArray(a) || a.length !== 11) return null;
  const [clientKey, mac, ip, option82, expires, state, answer, updated, relay, hostname, unwritten] = a as unknown[];
  const texts = [clientKey, mac, ip, option82, answer, relay, hostname];
  if (!texts.every((t) => typeof t === "string")) return null;
  if (typeof expires !== "number" || !Number.isFinite(expires) || typeof updated !== "number" || !Number.isFinite(updated)) return null;
  if (typeof state !== "string" || !STATES.has(state as Lease["state"])) return null;
  if (unwritten !== 0 && unwritten !== 1) return null;
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(ip as string) || (clientKey as string).length === 0) return null;
  return {
    lease: {
      clientKey: clientKey as string,
      mac: mac as string,
      ip: ip as string,
      option82: option82 as string,
      expires,
      state: state as Lease["state"],
      answer: answer as string,
      updated,
      relay: relay as string,
      hostname: hostname as string,
    },
    unwritten: unwritten === 1,
  };
}

/**
 * Removes the snapshot and a `.tmp` a crash may have left (<snapshotInterval>
 * 0: a file nothing keeps current must not be read by a later start).
 * Resolves true when there was a snapshot.
 */
export async function removeSnapshot(path: string): Promise<boolean> {
  await unlink(path + ".tmp").catch(() => {});
  return unlink(path).then(
    () => true,
    (e: unknown) => {
      if ((e as { code?: string }).code === "ENOENT") return false;
      throw e;
    },
  );
}

/**
 * Writes the snapshot atomically: `<path>.tmp` (0600), fdatasync, rename
 * over `path`, fsync of the directory. The leases are turned into text
 * SNAPSHOT_SLICE at a time, each slice written (asynchronously) before the
 * next is built, so a large lease memory neither holds packets up nor
 * builds the whole file in memory. Rejects when any step fails; the old
 * snapshot is then untouched.
 */
export async function writeSnapshot(path: string, database: string, entries: readonly SnapshotEntry[], written = Date.now()): Promise<{ bytes: number }> {
  const tmp = path + ".tmp";
  const fh = await open(tmp, "w", MODE);
  let bytes = 0;
  const put = async (text: string): Promise<void> => {
    const b = Buffer.from(text, "utf8");
    bytes += b.length;
    let off = 0;
    while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
  };
  try {
    // an old .tmp left by a crash keeps its mode on open: tighten it
    await fh.chmod(MODE);
    await put(JSON.stringify({ pydhcp: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, database, written, leases: entries.length }) + "\n");
    let crc = 0;
    for (let i = 0; i < entries.length; i += SNAPSHOT_SLICE) {
      let chunk = "";
      const end = Math.min(entries.length, i + SNAPSHOT_SLICE);
      for (let j = i; j < end; j++) chunk += line(entries[j]!);
      crc = crc32(chunk, crc);
      await put(chunk);
    }
    await put(JSON.stringify({ end: entries.length, crc32: crc }) + "\n");
    await fh.datasync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  // the rename itself reaches the disk with the directory; asynchronously, as
  // the file's own flush: a directory fsync waits for a journal commit, which
  // would hold every packet on the event loop meanwhile
  try {
    const d = await open(dirname(path), "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // some file systems refuse fsync on a directory: the rename is still atomic
  }
  return { bytes };
}

/** Reads and checks a snapshot for `database`; never throws. */
export function readSnapshot(path: string, database: string): SnapshotRead {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, why: "missing", message: "no lease snapshot" };
    return { ok: false, why: "unreadable", message: e instanceof Error ? e.message : String(e) };
  }
  const damaged = (message: string): SnapshotRead => ({ ok: false, why: "damaged", message });
  const nl = buf.indexOf(10);
  if (nl < 0) return damaged(buf.length === 0 ? "the file is empty" : "no header line (cut or not a snapshot)");
  let head: Record<string, unknown>;
  try {
    const h = JSON.parse(buf.subarray(0, nl).toString("utf8")) as unknown;
    if (typeof h !== "object" || h === null || Array.isArray(h)) return damaged("the header is not a snapshot header");
    head = h as Record<string, unknown>;
  } catch {
    return damaged("the header is not JSON (not a snapshot, or damaged)");
  }
  if (head.pydhcp !== SNAPSHOT_FORMAT) return damaged("not a pydhcp lease snapshot");
  if (head.version !== SNAPSHOT_VERSION) return damaged(`snapshot format version ${String(head.version)}, this pydhcp reads ${SNAPSHOT_VERSION}`);
  const count = head.leases;
  const written = head.written;
  if (typeof head.database !== "string" || typeof written !== "number" || typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    return damaged("the header lacks its database, time or lease count");
  }
  if (head.database !== database) {
    return { ok: false, why: "foreign", message: `the snapshot is of ${head.database}, this configuration uses ${database}`, database: head.database, written };
  }
  // the trailer is the last line; a file cut anywhere has none (or the wrong one)
  if (buf.length < 2 || buf[buf.length - 1] !== 10) return damaged("cut short: no end line");
  const lastStart = buf.lastIndexOf(10, buf.length - 2) + 1;
  if (lastStart <= nl) return damaged("cut short: no end line");
  let tail: Record<string, unknown>;
  try {
    tail = JSON.parse(buf.subarray(lastStart, buf.length - 1).toString("utf8")) as Record<string, unknown>;
  } catch {
    return damaged("cut short: the last line is not the end line");
  }
  if (typeof tail !== "object" || tail === null || tail.end !== count || typeof tail.crc32 !== "number") return damaged("cut short: the last line is not the end line");
  const body = buf.subarray(nl + 1, lastStart);
  if (crc32(body) !== tail.crc32) return damaged("checksum mismatch (the leases were changed or damaged)");
  const lines = body.toString("utf8").split("\n");
  lines.pop();
  if (lines.length !== count) return damaged(`${lines.length} lease lines, the header says ${count}`);
  const entries: SnapshotEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    let a: unknown;
    try {
      a = JSON.parse(lines[i]!);
    } catch {
      return damaged(`line ${i + 2} is not JSON`);
    }
    const e = entryOf(a);
    if (!e) return damaged(`line ${i + 2} is not a lease`);
    entries.push(e);
  }
  return { ok: true, database: head.database, written, entries };
}
