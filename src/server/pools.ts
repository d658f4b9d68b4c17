/**
 * Dynamic pools: the offer chain names a pool (a `pool` column instead of
 * `ip`), this picks the address and the database arbitrates (db/pool-store.ts).
 *
 * DISCOVER, in order (the first that wins answers):
 *   1. affinity: the client's own row in the pool (bound, offered, released
 *      or expired but not yet taken by anyone) -> the same address;
 *   2. the address the client asks for (option 50), when free;
 *   3. a never-used address: a per-pool cursor walks the ranges in windows
 *      of WINDOW addresses, one indexed range read per window, and offers
 *      the gaps by INSERT; a unique-key conflict (another server, another
 *      Galera node) just moves on. Each server starts its cursor at an
 *      offset derived from its server identifier, so servers sharing a
 *      database seldom meet;
 *   4. reclaim: the longest-expired row is taken over by a conditional UPDATE.
 * None: the pool is exhausted; no answer, one WARN per pool per minute.
 *
 * So a DISCOVER costs one indexed read and one insert on a fresh /16, never
 * a scan of the pool. The OFFER's row expires after <offerHold> seconds;
 * the REQUEST commits it (state bound, expiry = lease time). Renewals
 * extend the client's own row; RELEASE expires it (the client keeps it
 * while nobody else needs it); DECLINE takes it from the client and rests
 * it for <declineProbation> seconds.
 */

import { formatIPv4, parseIPv4 } from "../codec/ip.ts";
import { inRanges, poolSize, usableTest } from "../config/pools.ts";
import { isBadAnswer, toAnswer } from "../core/answer.ts";
import type { PoolConfig, PoolsConfig } from "../config/types.ts";
import type { Row } from "../db/backend.ts";
import { isRetryable, type PoolClaim, type PoolStore } from "../db/pool-store.ts";
import type { Logger } from "../log/types.ts";

/** Addresses read per cursor step: one `BETWEEN` over the primary key. */
const WINDOW = 256;
/** Conflicts (unique key, certification) tolerated per request before giving up on it. */
const MAX_ATTEMPTS = 12;
/** Never-used addresses a request may find taken by a concurrent writer before it gives up. */
const MAX_LOST = 256;
/** Expired rows read per reclaim step; after a lost race one is picked at random so racing servers spread. */
const RECLAIM_BATCH = 8;
const WARN_EVERY_SECONDS = 60;
/** A pool found without a never-used address is scanned again after this long (rows deleted by hand, a reload). */
const DRY_RESCAN_SECONDS = 60;
/** Gauges are recounted at most this often, seconds. */
const COUNT_EVERY_SECONDS = 5;

/** Who asks, and for what. */
export interface PoolClient {
  clientKey: string;
  mac: string;
  /** option 50, or null */
  requested: string | null;
}

export type OfferResult =
  | { ok: true; ip: string; how: "affinity" | "requested" | "free" | "reclaimed" }
  /** the client's bound lease, as the table holds it until `expires` */
  | { ok: true; ip: string; how: "bound"; expires: number }
  | { ok: false; why: "exhausted" | "busy" };

export type CommitResult = { ok: true; how: "renewed" | "new" | "reclaimed" } | { ok: false; why: string };

export interface PoolGauges {
  set(pool: string, size: number, free: number): void;
  /** a write lost to a concurrent one (deadlock, Galera certification) and was retried */
  conflict(pool: string): void;
  /** a REQUEST reused a fresh bound lease without a write (<cacheThreshold>) */
  reused?(pool: string): void;
}

class PoolState {
  readonly size: number;
  readonly usable: (x: number) => boolean;
  /** index into ranges, and the next address to read in that range */
  private range = 0;
  private next: number;
  /** gaps from the last window read, handed out in order (synchronously, so concurrent requests never share one) */
  private candidates: number[] = [];
  private refilling: Promise<void> | null = null;
  /** when a whole cycle of windows found no gap (s), 0 = not dry */
  dryAt = 0;
  lastWarn = 0;
  inUse = 0;

  constructor(
    readonly cfg: PoolConfig,
    start: number,
  ) {
    this.size = poolSize(cfg);
    this.usable = usableTest(cfg);
    // the cursor starts `start` addresses into the pool (mod its span)
    const span = cfg.ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
    let off = start % span;
    for (let r = 0; r < cfg.ranges.length; r++) {
      const [a, b] = cfg.ranges[r]!;
      if (off <= b - a) {
        this.range = r;
        this.next = a + off;
        return;
      }
      off -= b - a + 1;
    }
    this.next = cfg.ranges[0]![0];
  }

  get span(): number {
    return this.cfg.ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
  }

  /** The next window [from, to] at the cursor; advances it. */
  private window(): [number, number] {
    const [, last] = this.cfg.ranges[this.range]!;
    const from = this.next;
    const to = Math.min(last, from + WINDOW - 1);
    if (to === last) {
      this.range = (this.range + 1) % this.cfg.ranges.length;
      this.next = this.cfg.ranges[this.range]![0];
    } else this.next = to + 1;
    return [from, to];
  }

  /** The next never-used address as far as this server knows, or null when a whole cycle found none. */
  async candidate(store: PoolStore, now: number): Promise<number | null> {
    if (this.dryAt !== 0 && now - this.dryAt < DRY_RESCAN_SECONDS) return null;
    for (;;) {
      const c = this.candidates.shift();
      if (c !== undefined) return c;
      if (this.dryAt !== 0 && now - this.dryAt < DRY_RESCAN_SECONDS) return null;
      this.refilling ??= this.refill(store, now).finally(() => (this.refilling = null));
      await this.refilling;
    }
  }

  private async refill(store: PoolStore, now: number): Promise<void> {
    let scanned = 0;
    const span = this.span;
    while (scanned < span) {
      const [from, to] = this.window();
      scanned += to - from + 1;
      const taken = new Set(await store.taken(this.cfg.name, from, to));
      const found: number[] = [];
      for (let x = from; x <= to; x++) if (!taken.has(x) && this.usable(x)) found.push(x);
      if (found.length) {
        this.candidates = found;
        this.dryAt = 0;
        return;
      }
    }
    this.dryAt = now;
  }

  /** After losing an address to a concurrent writer: move a random few of the gaps to the back. */
  stepAside(): void {
    const k = Math.floor(Math.random() * Math.min(8, this.candidates.length));
    if (k > 0) this.candidates.push(...this.candidates.splice(0, k));
  }

  /** The first gap at the cursor, read without moving it (--explain). */
  async peek(store: PoolStore): Promise<number | null> {
    if (this.candidates.length) return this.candidates[0]!;
    const saved = { range: this.range, next: this.next };
    try {
      let scanned = 0;
      while (scanned < this.span) {
        const [from, to] = this.window();
        scanned += to - from + 1;
        const taken = new Set(await store.taken(this.cfg.name, from, to));
        for (let x = from; x <= to; x++) if (!taken.has(x) && this.usable(x)) return x;
      }
      return null;
    } finally {
      this.range = saved.range;
      this.next = saved.next;
    }
  }
}

/** FNV-1a of the server identifier: where this server's cursors start. */
function startOffset(serverId: string, pool: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${serverId}/${pool}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export interface AllocatorOptions {
  serverId: string;
  /** --explain: read what would happen, write nothing */
  readOnly?: boolean;
}

export class PoolAllocator {
  private readonly states = new Map<string, PoolState>();
  private lastCount = 0;
  private counting: Promise<void> | null = null;

  constructor(
    readonly config: PoolsConfig,
    private readonly store: PoolStore,
    private readonly opts: AllocatorOptions,
    private readonly log: Logger,
    private readonly gauges: PoolGauges | null,
  ) {
    for (const p of config.pools) this.states.set(p.name, new PoolState(p, startOffset(opts.serverId, p.name)));
    // a grouped write that lost is run again member by member: a conflict retried, as a single write's
    store.onConflict((pool) => gauges?.conflict(pool));
  }

  has(pool: string): boolean {
    return this.states.has(pool);
  }

  pool(name: string): PoolConfig | undefined {
    return this.states.get(name)?.cfg;
  }

  /** The pool an address belongs to (pools do not overlap). */
  poolOf(ip: string): PoolConfig | undefined {
    const n = parseIPv4(ip);
    if (n === null) return undefined;
    for (const s of this.states.values()) if (inRanges(s.cfg, n)) return s.cfg;
    return undefined;
  }

  /** Whether the address may be handed out from the pool. */
  contains(pool: string, ip: string): boolean {
    const s = this.states.get(pool);
    const n = parseIPv4(ip);
    return !!s && n !== null && inRanges(s.cfg, n) && s.usable(n);
  }

  private claim(pool: string, ipnum: number, c: PoolClient, state: "offered" | "bound", expires: number, now: number): PoolClaim {
    return { pool, ipnum, ip: formatIPv4(ipnum), clientKey: c.clientKey, mac: c.mac, state, expires, now, server: this.opts.serverId };
  }

  /** Picks and reserves an address for a DISCOVER (read-only: picks only). */
  async offer(pool: string, c: PoolClient, now: number): Promise<OfferResult> {
    const s = this.states.get(pool);
    if (!s) return { ok: false, why: "exhausted" };
    const hold = now + this.config.offerHoldSeconds;
    const ro = this.opts.readOnly === true;
    let lost = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        const mine = await this.store.mine(pool, c.clientKey);
        if (mine && s.usable(mine.ipnum) && inRanges(s.cfg, mine.ipnum)) {
          // a bound lease stays bound: a DISCOVER must not shorten it
          if (mine.state === "bound" && mine.expires > now) return { ok: true, ip: mine.ip, how: "bound", expires: mine.expires };
          // offered a moment ago (the other server's copy of this DISCOVER, a retransmission): the hold
          // stands as written, nobody can take the address before it ends; with half of it left, no write
          if (mine.state === "offered" && mine.mac === c.mac && mine.expires - now >= this.config.offerHoldSeconds / 2) {
            return { ok: true, ip: mine.ip, how: "affinity" };
          }
          if (ro || (await this.store.renew(this.claim(pool, mine.ipnum, c, "offered", hold, now)))) {
            return { ok: true, ip: mine.ip, how: "affinity" };
          }
          continue;
        }
        if (mine && !ro) {
          // its address left the pool (config changed): the row lets go of the client
          await this.store.forget(pool, mine.ipnum, c.clientKey, now);
          continue;
        }
        const req = c.requested === null ? null : parseIPv4(c.requested);
        if (req !== null && inRanges(s.cfg, req) && s.usable(req) && !mine) {
          if (ro) {
            const row = await this.store.row(pool, req);
            if (!row || row.expires < now) return { ok: true, ip: formatIPv4(req), how: "requested" };
          } else {
            const cl = this.claim(pool, req, c, "offered", hold, now);
            if ((await this.store.insert(cl)) || (await this.store.takeOver(cl))) return { ok: true, ip: cl.ip, how: "requested" };
          }
        }
        if (ro) {
          const x = await s.peek(this.store);
          if (x !== null) return { ok: true, ip: formatIPv4(x), how: "free" };
        } else {
          const x = await s.candidate(this.store, now);
          if (x !== null) {
            if (await this.store.insert(this.claim(pool, x, c, "offered", hold, now))) {
              this.counted(now, s, +1);
              return { ok: true, ip: formatIPv4(x), how: "free" };
            }
            // taken meanwhile (another server walks the same addresses), or this client got a
            // row from another server: look again. Each loss uses up an address, so it is
            // progress, not an attempt; the walk steps aside so two servers stop marching in step.
            if (++lost <= MAX_LOST) attempt--;
            s.stepAside();
            continue;
          }
        }
        const old = await this.store.expired(pool, now, RECLAIM_BATCH);
        if (old.length === 0) {
          this.exhausted(s, now);
          return { ok: false, why: "exhausted" };
        }
        // the oldest first; after a lost race, any of the oldest few, so racing servers part ways
        const pick = attempt === 0 ? old[0]! : old[Math.floor(Math.random() * old.length)]!;
        if (ro) return { ok: true, ip: formatIPv4(pick), how: "reclaimed" };
        if (await this.store.takeOver(this.claim(pool, pick, c, "offered", hold, now))) {
          this.counted(now, s, +1);
          return { ok: true, ip: formatIPv4(pick), how: "reclaimed" };
        }
      } catch (e) {
        if (!isRetryable(e)) throw e;
        this.gauges?.conflict(pool);
        await Bun.sleep(1 + Math.random() * 4 * (attempt + 1));
      }
    }
    return { ok: false, why: "busy" };
  }

  /**
   * Lease reuse (Kea's cache-threshold): the seconds a bound lease has left
   * when it has used less than <cacheThreshold> percent of `leaseTime`, so
   * the REQUEST after the DISCOVER that read it is ACKed with that time and
   * writes nothing; null when it must be written. The table's expiry stays
   * what the client is told, so every server reading it agrees.
   */
  reusable(pool: string, heldUntil: number, leaseTime: number, now: number): number | null {
    const left = heldUntil - now;
    const pct = this.config.cacheThresholdPercent;
    if (pct <= 0 || this.opts.readOnly || left <= 0 || left > leaseTime || left * 100 < leaseTime * (100 - pct)) return null;
    // the caller ACKs with it: counted here, where the decision is
    this.gauges?.reused?.(pool);
    return left;
  }

  /**
   * A REQUEST for `ip` from the pool: the client's own row is bound (and
   * extended), a free or expired address becomes its. Anything else (held
   * by another client, or the client holds another address in this pool)
   * is refused, and the caller NAKs.
   */
  async commit(pool: string, ip: string, c: PoolClient, leaseTime: number, now: number): Promise<CommitResult> {
    const s = this.states.get(pool);
    const n = parseIPv4(ip);
    if (!s || n === null || !inRanges(s.cfg, n) || !s.usable(n)) return { ok: false, why: `${ip} is not an address of pool ${pool}` };
    if (this.opts.readOnly) {
      const row = await this.store.row(pool, n);
      if (!row || row.clientKey === c.clientKey) return { ok: true, how: row ? "renewed" : "new" };
      if (row.expires < now) return { ok: true, how: "reclaimed" };
      return { ok: false, why: `${ip} is held by ${row.mac || "a declined address"} until ${row.expires}` };
    }
    const cl = this.claim(pool, n, c, "bound", now + leaseTime, now);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        if (await this.store.renew(cl)) return { ok: true, how: "renewed" };
        if (await this.store.insert(cl)) {
          this.counted(now, s, +1);
          return { ok: true, how: "new" };
        }
        if (await this.store.takeOver(cl)) {
          this.counted(now, s, +1);
          return { ok: true, how: "reclaimed" };
        }
        const row = await this.store.row(pool, n);
        if (row && row.clientKey === c.clientKey) continue; // became ours meanwhile: renew it
        if (row && row.expires >= now) return { ok: false, why: `${ip} is held by another client (${row.state})` };
        const mine = await this.store.mine(pool, c.clientKey);
        if (mine && mine.ipnum !== n) return { ok: false, why: `client holds ${mine.ip} in pool ${pool}` };
      } catch (e) {
        if (!isRetryable(e)) throw e;
        this.gauges?.conflict(pool);
        await Bun.sleep(1 + Math.random() * 4 * (attempt + 1));
      }
    }
    return { ok: false, why: "conflicting writes, gave up" };
  }

  /** RELEASE: the address is free again; the row keeps the client for affinity. */
  async release(c: PoolClient, ip: string, now: number): Promise<boolean> {
    const p = this.poolOf(ip);
    if (!p || this.opts.readOnly) return false;
    const ok = await this.store.release(p.name, parseIPv4(ip)!, c.clientKey, now);
    if (ok) this.counted(now, this.states.get(p.name)!, -1);
    return ok;
  }

  /** DECLINE (RFC 2131 4.3.3): the address is in use by someone unknown; rest it. */
  async decline(c: PoolClient, ip: string, now: number): Promise<boolean> {
    const p = this.poolOf(ip);
    if (!p || this.opts.readOnly) return false;
    const ok = await this.store.decline(p.name, parseIPv4(ip)!, c.clientKey, now + this.config.declineProbationSeconds, now);
    if (ok) this.log.warn("address declined by the client; on probation", { pool: p.name, ip, mac: c.mac, seconds: this.config.declineProbationSeconds });
    return ok;
  }

  private exhausted(s: PoolState, now: number): void {
    s.inUse = s.size;
    this.gauges?.set(s.cfg.name, s.size, 0);
    if (now - s.lastWarn < WARN_EVERY_SECONDS) return;
    s.lastWarn = now;
    this.log.warn("pool exhausted: no address to offer", { pool: s.cfg.name, size: s.size });
  }

  /** Keeps the gauge close between recounts; recounts from the table every few seconds. */
  private counted(now: number, s: PoolState, delta: number): void {
    s.inUse = Math.max(0, Math.min(s.size, s.inUse + delta));
    this.gauges?.set(s.cfg.name, s.size, s.size - s.inUse);
    if (now - this.lastCount >= COUNT_EVERY_SECONDS) void this.recount(now).catch(() => {});
  }

  /** Reads the rows in use per pool and sets the gauges. */
  recount(now: number): Promise<void> {
    if (this.counting) return this.counting;
    this.lastCount = now;
    this.counting = this.store
      .inUse([...this.states.keys()], now)
      .then((used) => {
        for (const s of this.states.values()) {
          s.inUse = Math.min(s.size, used.get(s.cfg.name) ?? 0);
          this.gauges?.set(s.cfg.name, s.size, s.size - s.inUse);
        }
      })
      .finally(() => (this.counting = null));
    return this.counting;
  }
}

/**
 * The row an answer is built from: the pool's lease time and options under
 * the SQL row's own non-empty columns, and the allocated address. The pool's
 * mask, router and dns are the defaults core/answer.ts falls back to.
 */
export function poolRow(pool: PoolConfig, row: Row, ip: string): Row {
  const out: Row = {};
  if (pool.leaseTime !== null) out.lease_time = String(pool.leaseTime);
  for (const [code, text] of pool.options) out[`option_${code}`] = text;
  for (const k in row) {
    const v = row[k];
    if (v === null || v === undefined || (typeof v === "string" && v.trim() === "")) continue;
    const lk = k.toLowerCase();
    if (lk === "ip" || lk === "pool") continue;
    // a row's column wins over the pool's, whatever its letter case
    for (const pk of Object.keys(out)) if (pk === lk) delete out[pk];
    out[k] = v;
  }
  out.ip = ip;
  return out;
}

/**
 * What the config loader cannot check without the option codecs: each
 * pool's lease time and options, by building an answer from its first
 * address. Problems name the pool's XML path.
 */
export function poolProblems(pools: readonly PoolConfig[]): string[] {
  const problems: string[] = [];
  for (const pool of pools) {
    const ok = usableTest(pool);
    let first = pool.ranges[0]![0];
    while (!ok(first)) first++;
    const a = toAnswer(poolRow(pool, {}, formatIPv4(first)), 0, pool.name, { mask: pool.mask, router: pool.router, dns: pool.dns });
    if (isBadAnswer(a)) problems.push(`${pool.path}: ${a.message}`);
  }
  return problems;
}
