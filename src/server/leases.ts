/**
 * Lease memory: what each client was given, so renewals that arrive without
 * Option 82 (unicast straight from the client, RFC 2131 4.4.5) can be looked
 * up as the original relayed request was, and so renewals can be answered
 * while the database is away. Persisted through Backend.leases in batches off
 * the reply path; warmed from it at start, so leases survive restarts and
 * servers sharing one MySQL share them.
 *
 * The database is the truth; this is a cache of `pydhcp_lease` with a
 * bounded staleness (docs/leases.md):
 *  - refusing an address because another client holds it is checked against
 *    the table first (holderChecked), so a row deleted, released or expired
 *    there frees the address for the very next packet;
 *  - rows changed by anyone (`pydhcp lease release`, another server) are read
 *    back every <leases><syncInterval> (sync), so renewals and lease lists see
 *    them within that interval;
 *  - SIGHUP and the cleanup timer reload the whole active set (resync), which
 *    also drops leases whose rows were deleted by hand.
 * What this server changed and has not written yet (dirty), and OFFER holds
 * (memory only, 60 s), win over the table until written or expired.
 */
import type { LeaseStore } from "../db/backend.ts";
import type { Logger } from "../log/types.ts";
import type { Answer } from "../core/answer.ts";
import { OFFER_HOLD_SECONDS, type Lease, type LeaseBook } from "../core/lease.ts";

export { OFFER_HOLD_SECONDS };

/**
 * leases read per event-loop turn for the lease snapshot: 10,000 in one turn
 * held the loop 3-7 ms under load, every 5 s
 */
export const SNAPSHOT_SCAN_SLICE = 1000;

/** rows adopted per event-loop turn by sync and resync: a larger set yields to packets between slices */
export const ADOPT_SLICE = 1000;

/** Lets pending I/O (packets) run before the next slice. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** sync reads rows changed this many seconds before the last sync too (clock skew, same-second writes) */
export const SYNC_SKEW_SECONDS = 2;

function active(l: Lease): boolean {
  return l.state === "bound" || l.state === "offered";
}

/** Every field of a Lease: what an update in place copies (a field missing here fails to compile). */
const LEASE_FIELDS = ["clientKey", "mac", "ip", "option82", "expires", "state", "answer", "updated", "relay", "hostname"] as const;
type Unlisted = Exclude<keyof Lease, (typeof LEASE_FIELDS)[number]>;
const allListed: [Unlisted] extends [never] ? true : never = true;
void allListed;

/**
 * A lease replacing the client's previous one mostly repeats it (the same
 * key, address, Option 82, answer, relay, name). The previous lease has
 * usually lived long enough to be promoted to the old generation, and a
 * full collection is what frees it. So the new values are copied into it,
 * only those that differ: the new object and its equal strings die young,
 * and nothing is left for a full collection. bench/promoted.ts measures it.
 */
function updateInPlace(prev: Lease, l: Lease): void {
  const p = prev as unknown as Record<string, unknown>;
  const n = l as unknown as Record<string, unknown>;
  for (const f of LEASE_FIELDS) if (p[f] !== n[f]) p[f] = n[f];
}

/** As updateInPlace, for a lease that must stay a separate object: the new one takes the previous one's equal strings. */
function keepStrings(l: Lease, prev: Lease): void {
  if (l.clientKey === prev.clientKey) l.clientKey = prev.clientKey;
  if (l.mac === prev.mac) l.mac = prev.mac;
  if (l.ip === prev.ip) l.ip = prev.ip;
  if (l.option82 === prev.option82) l.option82 = prev.option82;
  if (l.answer === prev.answer) l.answer = prev.answer;
  if (l.relay === prev.relay) l.relay = prev.relay;
  if (l.hostname === prev.hostname) l.hostname = prev.hostname;
}

/** relays' addresses shared by the leases they forwarded; past this many it starts again */
const RELAYS_MAX = 4096;

/**
 * Leases live in the old generation, and a full collection visits each of
 * their strings: the MAC as the client key when they are equal (no option
 * 61), and the relay's address (a few relays forward for thousands of
 * clients), are one string each instead of one per lease. With 10,000
 * leases that is 20,000 of the 85,000 cells lease memory had a full
 * collection walk (bench/gc-cost.ts).
 */
function shareStrings(l: Lease, relays: Map<string, string>): void {
  if (l.mac === l.clientKey) l.mac = l.clientKey;
  if (l.relay === "") return;
  const r = relays.get(l.relay);
  if (r !== undefined) l.relay = r;
  else {
    if (relays.size >= RELAYS_MAX) relays.clear();
    relays.set(l.relay, l.relay);
  }
}

export class LeaseMemory implements LeaseBook {
  private readonly byKey = new Map<string, Lease>();
  private readonly relays = new Map<string, string>();
  /** address -> the lease holding it; always the lease byKey has for its client */
  private readonly byIp = new Map<string, Lease>();
  private dirty = new Map<string, Lease>();
  /** answers just offered, by client, for the REQUEST that follows (not persisted) */
  private readonly offers = new Map<string, { xid: number; answer: Answer; at: number; query: string }>();
  private flushing: Promise<void> | null = null;
  /** sees how long each lease write took, seconds (latency metrics) */
  onWrite: ((seconds: number) => void) | null = null;
  /** sees each lease a sync found released elsewhere (the answer cache forgets the client) */
  onReleased: ((lease: Lease) => void) | null = null;
  /** when lease writes started failing (ms), 0 while they work */
  private failingSince = 0;
  /** epoch seconds of the last read of changed rows */
  private syncedAt = 0;
  private syncing: Promise<number> | null = null;
  /** while a resync runs: the clients indexed since it began reading the table */
  private touched: Set<string> | null = null;
  /** the batch flush is writing now */
  private writing: ReadonlyMap<string, Lease> | null = null;
  /** while a sync runs: the clients whose writes were in flight or began since it read the table */
  private racing: Set<string> | null = null;
  /** counts changes to memory: the lease snapshot is written again only when it moved */
  private changes = 0;
  /**
   * Snapshots that read leases and have not written them yet (snapshotEntries
   * until releaseSnapshot): meanwhile no lease is updated in place, so each
   * is written as it was read, with the right `unwritten` mark.
   */
  private snapshotReaders = 0;

  constructor(
    private store: LeaseStore,
    private readonly log: Logger,
  ) {}

  /** After a reload that changed the database. */
  setStore(store: LeaseStore): void {
    this.store = store;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Changes so far (a counter): equal values mean nothing changed in between. */
  get version(): number {
    return this.changes;
  }

  /**
   * What the lease snapshot keeps (server/lease-snapshot.ts): bound leases not
   * yet expired, and every lease not yet written to the table (a release
   * answered during an outage must still reach it). OFFER holds are not kept.
   */
  async snapshotEntries(now: number, slice = SNAPSHOT_SCAN_SLICE): Promise<{ lease: Lease; unwritten: boolean }[]> {
    this.snapshotReaders++;
    const out: { lease: Lease; unwritten: boolean }[] = [];
    let n = 0;
    // a Map's iterator survives changes between slices: a lease changed after its slice was read is in the next snapshot
    for (const [k, l] of this.byKey) {
      if (++n % slice === 0) await yieldToLoop();
      // the version being written or still to write, when there is one (an OFFER hold may have replaced it in byKey)
      const mine = this.dirty.get(k) ?? this.writing?.get(k);
      const lease = mine ?? l;
      if (lease.state === "offered") continue;
      if (mine || (lease.state === "bound" && lease.expires > now)) out.push({ lease, unwritten: mine !== undefined });
    }
    return out;
  }

  /** The snapshot that read leases with snapshotEntries has written them (or failed). */
  releaseSnapshot(): void {
    if (this.snapshotReaders > 0) this.snapshotReaders--;
  }

  /**
   * Lease memory from a snapshot, when the database cannot be reached at
   * start: leases as the table had them, and the unwritten ones marked to be
   * written once it answers. `syncedAt`: when the snapshot was taken, so the
   * first sync reads what others changed since.
   */
  restore(entries: readonly { lease: Lease; unwritten: boolean }[], syncedAt: number): void {
    for (const e of entries) {
      if (e.unwritten) this.set(e.lease);
      else this.index(e.lease);
    }
    this.syncedAt = syncedAt;
  }

  async warm(now: number): Promise<number> {
    const all = await this.store.loadActive(now);
    for (const l of all) this.index(l);
    this.syncedAt = now;
    return all.length;
  }

  /**
   * Reads back rows changed since the last sync (a margin of SYNC_SKEW
   * seconds covers servers whose clocks differ a little, and rows written
   * in the same second as the last read). Returns how many rows changed
   * this memory. One sync at a time.
   *
   * The store leaves out the rows this server wrote (a row names its
   * writer), so a row read while this server's write of the same client
   * was in flight may be older than that write, which the next sync will
   * not show: such a row is not adopted here, and the next sync reads from
   * its time again (if another server's write came last, it is still
   * theirs in the table and comes back then).
   */
  sync(now: number): Promise<number> {
    if (this.syncing) return this.syncing;
    const since = this.syncedAt - SYNC_SKEW_SECONDS;
    const racing = new Set(this.writing?.keys() ?? []);
    this.racing = racing;
    this.syncing = this.store
      .changedSince(since)
      .then(async (rows) => {
        this.syncedAt = now;
        let n = 0;
        let again = now;
        for (let i = 0; i < rows.length; i++) {
          // a busy server's rows of the last seconds: packets get the loop between slices
          if (i > 0 && i % ADOPT_SLICE === 0) await yieldToLoop();
          const r = rows[i]!;
          if (racing.has(r.clientKey)) {
            again = Math.min(again, r.updated + SYNC_SKEW_SECONDS);
            continue;
          }
          if (!this.adopt(r)) continue;
          n++;
          // `pydhcp lease release` or the API ended it: the client starts over, with no answer remembered
          if (r.state === "released") this.onReleased?.(r);
        }
        if (again < now) this.syncedAt = Math.min(this.syncedAt, again);
        return n;
      })
      .finally(() => {
        this.racing = null;
        this.syncing = null;
      });
    return this.syncing;
  }

  /**
   * Replaces memory with the table's active leases: what a reload (SIGHUP)
   * does, so no lease the table no longer has survives it. Leases not yet
   * written and OFFER holds are kept.
   */
  async resync(now: number): Promise<{ loaded: number; dropped: number }> {
    // leases indexed from here on are newer than the read can show: they stand
    const touched = new Set<string>();
    this.touched = touched;
    try {
      return await this.resyncFrom(now, touched);
    } finally {
      this.touched = null;
    }
  }

  private async resyncFrom(now: number, touched: ReadonlySet<string>): Promise<{ loaded: number; dropped: number }> {
    const rows = await this.store.loadActive(now);
    const inTable = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % ADOPT_SLICE === 0) await yieldToLoop();
      const r = rows[i]!;
      inTable.add(r.clientKey);
      this.adopt(r);
    }
    let dropped = 0;
    // a snapshot of the keys: the map changes while packets run between slices
    const keys = [...this.byKey.keys()];
    for (let i = 0; i < keys.length; i++) {
      if (i > 0 && i % ADOPT_SLICE === 0) await yieldToLoop();
      const k = keys[i]!;
      const l = this.byKey.get(k);
      if (!l || inTable.has(k) || touched.has(k) || this.dirty.has(k) || l.state === "offered") continue;
      this.forget(k);
      dropped++;
    }
    this.syncedAt = now;
    return { loaded: rows.length, dropped };
  }

  /** A row from the table replaces the memory's copy unless ours is newer or unwritten. */
  private adopt(r: Lease): boolean {
    if (this.dirty.has(r.clientKey)) return false;
    const mine = this.byKey.get(r.clientKey);
    if (mine && (mine.updated > r.updated || (mine.state === "offered" && mine.ip === r.ip && mine.updated >= r.updated))) return false;
    if (mine && mine.updated === r.updated && mine.state === r.state && mine.ip === r.ip && mine.expires === r.expires) return false;
    this.index(r);
    return true;
  }

  private forget(clientKey: string): void {
    const l = this.byKey.get(clientKey);
    if (!l) return;
    this.byKey.delete(clientKey);
    if (this.byIp.get(l.ip)?.clientKey === clientKey) this.byIp.delete(l.ip);
    this.changes++;
  }

  /**
   * holder(), confirmed by the table before it refuses anyone: a lease the
   * memory still has but the table has released, expired, deleted or moved
   * does not hold the address. Unwritten leases and OFFER holds are this
   * server's newest knowledge and stand. With the database away, memory
   * decides (it was right when the database was last seen).
   */
  holderChecked(ip: string, now: number, asking: string): Lease | undefined | Promise<Lease | undefined> {
    const l = this.holder(ip, now);
    // no holder, or the client's own lease (every renewal): no query and no promise
    if (!l || l.clientKey === asking || l.state === "offered" || this.dirty.has(l.clientKey)) return l;
    return this.confirmHolder(ip, l, now);
  }

  private async confirmHolder(ip: string, l: Lease, now: number): Promise<Lease | undefined> {
    let row: Lease | null;
    try {
      row = await this.store.byIp(ip);
    } catch {
      return l;
    }
    if (!row || row.clientKey !== l.clientKey) {
      // the table no longer has this client on this address
      const fresh = await this.store.get(l.clientKey).catch(() => undefined);
      if (fresh === undefined) return l;
      if (fresh) this.index(fresh);
      else this.forget(l.clientKey);
      if (row) this.adopt(row);
    } else if (row.updated >= l.updated) this.index(row);
    return this.holder(ip, now);
  }

  get(clientKey: string): Lease | undefined {
    return this.byKey.get(clientKey);
  }

  /** Memory first (no promise: a renewal's REQUEST does not wait), then the shared store (another server may have granted it). */
  fetch(clientKey: string): Lease | Promise<Lease | null> {
    return this.byKey.get(clientKey) ?? this.fetchStored(clientKey);
  }

  private async fetchStored(clientKey: string): Promise<Lease | null> {
    try {
      const s = await this.store.get(clientKey);
      if (s) this.index(s);
      return s;
    } catch {
      return null;
    }
  }

  /** The client actively holding an address, if any (bound and unexpired, or offered recently). */
  holder(ip: string, now: number): Lease | undefined {
    const l = this.byIp.get(ip);
    if (!l || l.ip !== ip) return undefined;
    if (l.state === "bound" && l.expires > now) return l;
    if (l.state === "offered" && l.updated + OFFER_HOLD_SECONDS > now) return l;
    return undefined;
  }

  /**
   * The same memory for a decision that must change nothing (GET /api/explain):
   * reads see exactly what the server sees; grants, holds and offers are dropped.
   */
  readOnly(): LeaseBook {
    return {
      get: (k) => this.get(k),
      fetch: (k) => this.fetch(k),
      holder: (ip, now) => this.holder(ip, now),
      holderChecked: (ip, now, asking) => this.holderChecked(ip, now, asking),
      rememberOffer: () => {},
      takeOffer: () => null,
      set: () => {},
      hold: () => {},
    };
  }

  rememberOffer(clientKey: string, xid: number, answer: Answer, now: number, query = ""): void {
    this.offers.set(clientKey, { xid, answer, at: now, query });
  }

  /** The answer offered to this client in this transaction (and the query that found it), if recent enough; used once. */
  takeOffer(clientKey: string, xid: number, now: number, maxAge: number): { answer: Answer; query: string } | null {
    const o = this.offers.get(clientKey);
    if (!o) return null;
    this.offers.delete(clientKey);
    return o.xid === xid && now - o.at <= maxAge ? { answer: o.answer, query: o.query } : null;
  }

  set(l: Lease): void {
    const kept = this.index(l);
    this.dirty.set(kept.clientKey, kept);
  }

  /**
   * An OFFERed address, held in memory only: it expires in a minute, and a
   * database write per DISCOVER would double the lease writes of a storm.
   */
  hold(l: Lease): void {
    this.index(l);
  }

  /**
   * Indexes `l` as the client's lease; returns the object memory now holds
   * for it: the previous lease updated in place when no write or snapshot
   * holds that one (it is in neither `dirty` nor `writing`, and no snapshot
   * is being written), else `l`.
   */
  private index(l: Lease): Lease {
    this.touched?.add(l.clientKey);
    shareStrings(l, this.relays);
    this.changes++;
    const old = this.byKey.get(l.clientKey);
    if (old && old.ip !== l.ip && this.byIp.get(old.ip)?.clientKey === l.clientKey) this.byIp.delete(old.ip);
    let kept = l;
    if (old && old !== l) {
      // a lease waiting to be written, or being written, is that version: an OFFER hold must not change it;
      // one a snapshot read is written to it as it was
      const pinned = this.snapshotReaders > 0 || this.dirty.get(old.clientKey) === old || this.writing?.get(old.clientKey) === old;
      if (pinned) keepStrings(l, old);
      else {
        updateInPlace(old, l);
        kept = old;
      }
    }
    if (kept !== old) this.byKey.set(kept.clientKey, kept);
    // an ended lease read back from the table must not hide the client holding the address now
    const cur = this.byIp.get(kept.ip);
    if (cur && cur.clientKey !== kept.clientKey && !active(kept) && active(cur)) return kept;
    if (cur !== kept) this.byIp.set(kept.ip, kept);
    return kept;
  }

  /** Writes changed leases in one transaction; on failure they stay dirty for the next try. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.dirty.size === 0) return Promise.resolve();
    const batch = this.dirty;
    this.dirty = new Map();
    this.writing = batch;
    if (this.racing) for (const k of batch.keys()) this.racing.add(k);
    const t0 = performance.now();
    const took = () => this.onWrite?.((performance.now() - t0) / 1000);
    this.flushing = this.store
      .upsert([...batch.values()])
      .finally(took)
      .then(() => {
        if (this.failingSince === 0) return;
        this.log.info("lease writes resumed", { downMs: Date.now() - this.failingSince });
        this.failingSince = 0;
      })
      .catch((e: unknown) => {
        for (const [k, l] of batch) if (!this.dirty.has(k)) this.dirty.set(k, l);
        // flush runs every 100 ms: one line when writes start failing, not one per try
        if (this.failingSince !== 0) return;
        this.failingSince = Date.now();
        this.log.warn("lease write failed, will retry", { leases: batch.size, error: String(e) });
      })
      .finally(() => {
        this.writing = null;
        this.flushing = null;
      });
    return this.flushing;
  }

  /** Leases changed here and not yet in the table (written within ~100 ms). */
  unwritten(): Lease[] {
    return [...this.dirty.values()];
  }

  get pending(): number {
    return this.dirty.size;
  }

  /** Forgets expired leases in memory and deletes a batch of them in the store. */
  async cleanup(now: number, batch: number): Promise<number> {
    for (const [k, o] of this.offers) if (o.at + OFFER_HOLD_SECONDS < now) this.offers.delete(k);
    for (const [k, l] of this.byKey) {
      if (l.expires <= now && !this.dirty.has(k)) {
        this.changes++;
        this.byKey.delete(k);
        if (this.byIp.get(l.ip)?.clientKey === k) this.byIp.delete(l.ip);
      }
    }
    return this.store.deleteExpired(now, batch);
  }
}
