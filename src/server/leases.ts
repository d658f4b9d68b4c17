/**
 * Lease memory: what each client was given, so renewals that arrive without
 * Option 82 (unicast straight from the client, RFC 2131 4.4.5) can be looked
 * up as the original relayed request was, and so renewals can be answered
 * while the database is away. Persisted through Backend.leases in batches off
 * the reply path; warmed from it at start, so leases survive restarts and
 * servers sharing one MySQL share them.
 */
import type { LeaseStore } from "../db/backend.ts";
import type { Logger } from "../log/types.ts";
import type { Answer } from "../core/answer.ts";
import { OFFER_HOLD_SECONDS, type Lease, type LeaseBook } from "../core/lease.ts";

export { OFFER_HOLD_SECONDS };

export class LeaseMemory implements LeaseBook {
  private readonly byKey = new Map<string, Lease>();
  /** address -> the lease holding it; always the lease byKey has for its client */
  private readonly byIp = new Map<string, Lease>();
  private dirty = new Map<string, Lease>();
  /** answers just offered, by client, for the REQUEST that follows (not persisted) */
  private readonly offers = new Map<string, { xid: number; answer: Answer; at: number; query: string }>();
  private flushing: Promise<void> | null = null;
  /** sees how long each lease write took, seconds (latency metrics) */
  onWrite: ((seconds: number) => void) | null = null;
  /** when lease writes started failing (ms), 0 while they work */
  private failingSince = 0;

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

  async warm(now: number): Promise<number> {
    const all = await this.store.loadActive(now);
    for (const l of all) this.index(l);
    return all.length;
  }

  get(clientKey: string): Lease | undefined {
    return this.byKey.get(clientKey);
  }

  /** Memory first, then the shared store (another server may have granted it). */
  async fetch(clientKey: string): Promise<Lease | null> {
    const l = this.byKey.get(clientKey);
    if (l) return l;
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
    this.index(l);
    this.dirty.set(l.clientKey, l);
  }

  /**
   * An OFFERed address, held in memory only: it expires in a minute, and a
   * database write per DISCOVER would double the lease writes of a storm.
   */
  hold(l: Lease): void {
    this.index(l);
  }

  private index(l: Lease): void {
    const old = this.byKey.get(l.clientKey);
    if (old && old.ip !== l.ip && this.byIp.get(old.ip)?.clientKey === l.clientKey) this.byIp.delete(old.ip);
    this.byKey.set(l.clientKey, l);
    this.byIp.set(l.ip, l);
  }

  /** Writes changed leases in one transaction; on failure they stay dirty for the next try. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.dirty.size === 0) return Promise.resolve();
    const batch = this.dirty;
    this.dirty = new Map();
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
        this.flushing = null;
      });
    return this.flushing;
  }

  get pending(): number {
    return this.dirty.size;
  }

  /** Forgets expired leases in memory and deletes a batch of them in the store. */
  async cleanup(now: number, batch: number): Promise<number> {
    for (const [k, o] of this.offers) if (o.at + OFFER_HOLD_SECONDS < now) this.offers.delete(k);
    for (const [k, l] of this.byKey) {
      if (l.expires <= now && !this.dirty.has(k)) {
        this.byKey.delete(k);
        if (this.byIp.get(l.ip)?.clientKey === k) this.byIp.delete(l.ip);
      }
    }
    return this.store.deleteExpired(now, batch);
  }
}
