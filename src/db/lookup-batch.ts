/**
 * Lookups grouped into one round trip. When every pooled connection is busy,
 * lookups of the same offer query that queue up behind them go to the
 * server together as one statement:
 *
 *   SELECT 0 AS __pydhcp_slot, s0.* FROM (<query>) AS s0
 *   UNION ALL SELECT 1, s1.* FROM (<query>) AS s1 ...
 *
 * every copy with its own bound values, and the rows are handed back by
 * slot. One statement instead of N saves a write, a wake-up and a result
 * header per lookup on both sides (measured on MariaDB 10.11: 8 per trip
 * cost a fifth of the client CPU and 40% of the server CPU of 8 single
 * lookups). Lookups asked for in one event-loop turn while a connection is
 * free (the DISCOVERs of one read from the socket) go together at the end
 * of that turn; a lone lookup still goes alone, and nothing waits for a
 * batch to fill.
 *
 * Lookups of one group that bind the same values share one slot: a query
 * without placeholders (`select 'guest' as pool`) or with the same values
 * (the relay's address) runs once as the plain query for all of them, as
 * running it N times at the same moment would answer, without a derived
 * table per copy (on MariaDB 10.11, 16 copies of a constant SELECT cost 152
 * us of server CPU, the plain one 22 us). Not when the query draws a value
 * of its own per run (RAND(), UUID(), a sequence, a user variable): each
 * copy keeps its own slot then.
 *
 * Only a plain SELECT without ORDER BY is grouped: inside a derived table
 * the order of rows is not kept, and an operator's ORDER BY decides which
 * row answers. A query the server will not take in this form (duplicate
 * column names, SELECT ... FOR UPDATE) is found out when it is prepared
 * and keeps running alone.
 */
import type { Param, Row } from "./backend.ts";

export const SLOT_COLUMN = "__pydhcp_slot";

/** Batch statement sizes: a group is padded up to the next one, so the server holds few statements. */
export const BATCH_SIZES = [2, 4, 8, 16, 32] as const;

/** Whether a query may be grouped at all (see above). */
export function batchable(sql: string): boolean {
  return /^\s*select\b/i.test(sql) && !/\border\s+by\b/i.test(sql) && !/\bfor\s+update\b/i.test(sql);
}

/** Functions and variables that give each run its own value: lookups of such a query never share a slot. */
const VOLATILE = /\b(rand|random|uuid|uuid_short|sys_guid|gen_random_uuid|nextval|setval|sysdate|clock_timestamp|timeofday|sleep|pg_sleep|get_lock|last_insert_id|row_count|found_rows)\s*\(|@/i;

/** Whether lookups of `sql` with the same bound values may share one run (see above). */
export function shareable(sql: string): boolean {
  return !VOLATILE.test(sql);
}

/** The statement that runs `n` copies of `sql` (a SELECT, placeholders as ?). */
export function batchSql(sql: string, n: number): string {
  const inner = sql.trim().replace(/;\s*$/, "");
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(i === 0 ? `SELECT 0 AS ${SLOT_COLUMN}, s0.* FROM (${inner}) AS s0` : `SELECT ${i}, s${i}.* FROM (${inner}) AS s${i}`);
  }
  return parts.join(" UNION ALL ");
}

/** Bound values as a key: equal only when every value is the same (NULL is not empty text). */
function sameValuesKey(params: readonly Param[]): string {
  let k = "";
  for (const p of params) k += p === null ? "n\u0000" : `s${p}\u0000`;
  return k;
}

/** The smallest batch size that holds `n` lookups (capped at the largest size allowed). */
export function batchSize(n: number, max: number): number {
  for (const s of BATCH_SIZES) if (s >= n && s <= max) return s;
  return BATCH_SIZES.filter((s) => s <= max).at(-1) ?? 1;
}

/** Splits a batch result into one row list per slot, without the slot column, in the order received. */
export function splitBySlot(rows: readonly Row[], n: number): Row[][] {
  const out: Row[][] = Array.from({ length: n }, () => []);
  for (const r of rows) {
    const slot = Number(r[SLOT_COLUMN]);
    if (!(slot >= 0 && slot < n)) continue;
    const copy: Row = {};
    for (const k in r) if (k !== SLOT_COLUMN) copy[k] = r[k];
    out[slot]!.push(copy);
  }
  return out;
}

interface Waiter {
  params: readonly Param[];
  /** performance.now() ms by which the lookup must be answered */
  deadline: number;
  /** answered, failed or timed out: nothing more may happen to it */
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  resolve(rows: Row[]): void;
  reject(e: unknown): void;
}

export interface BatchRunner {
  /** runs one statement; rejects with the backend's error */
  exec(sql: string, params: readonly Param[], timeoutMs: number): Promise<Row[]>;
  /** true when a connection is free now */
  idle(): boolean;
  /** true when waiting lookups may take a connection (a free one, or the spare while all others are stuck) */
  idleForWaiting(): boolean;
  /** true when the next statement would take the spare connection */
  onSpare(): boolean;
  /** the most a group (or a suspect lookup) may take before it is split: a few usual statement times */
  budgetMs(): number;
  /** a lookup started waiting: the runner wakes flush when a connection frees or the spare opens */
  waiting(): void;
  /** whether an error means "the whole batch failed for a reason of its own" (retry members alone) */
  retryAlone(e: unknown): boolean;
  isTimeout(e: unknown): boolean;
  /** the error of a lookup whose time ran out, `ms` after it was asked for */
  timeout(ms: number): Error;
  /**
   * Takes one of the connections known-slow lookups may hold (fewer than
   * the pool, so the others always keep one); false when none is left.
   */
  takeSlowSlot(): boolean;
  releaseSlowSlot(): void;
}

/** Known-slow lookups remembered this long and at most this many (then the oldest is forgotten). */
const SLOW_MEMORY_MS = 300_000;
const SLOW_MAX = 4096;

/**
 * One offer query's waiting lookups. `run` goes straight through while a
 * connection is free; otherwise it waits, and `flush` (called whenever a
 * statement finishes) sends the waiting lookups as one statement.
 *
 * Every lookup has its own deadline (<timeout> from its packet's arrival,
 * passed in as timeoutMs): it fails as a timeout then, waiting or grouped.
 * One slow lookup must not fail the others grouped with it, so a group
 * gets half the time its members have left (on the spare connection, a
 * few usual statement times); when that runs out each member is tried
 * again on its own, with the same kind of budget, and one that runs out
 * again finishes its time where known-slow lookups run. A lookup that times out alone is remembered as slow: it
 * is never grouped again, and slow lookups hold fewer connections than
 * the pool has, so the others always get one.
 */
export class LookupBatcher {
  private waiting: Waiter[] = [];
  /** members of groups that ran out of time, each to be sent alone before new groups */
  private retry: Waiter[][] = [];
  /** lookups known to be slow, waiting for a slow slot */
  private slowWaiting: Waiter[] = [];
  /** bound values (joined) of lookups that timed out alone -> when that was */
  private readonly slow = new Map<string, number>();
  /** largest group: the largest batch size within the configured limit */
  private readonly max: number;
  /** statement text per batch size */
  private readonly texts = new Map<number, string>();
  /** lookups asked for in this event-loop turn while a connection was free: sent at its end, together */
  private turn: Waiter[] = [];
  private turnScheduled = false;
  /** lookups with the same values may share a slot */
  private readonly share: boolean;

  constructor(
    private readonly sql: string,
    /** most lookups per statement; 1 = never group */
    limit: number,
    private readonly runner: BatchRunner,
  ) {
    this.max = BATCH_SIZES.filter((s) => s <= limit).at(-1) ?? 1;
    this.share = shareable(sql);
  }

  run(params: readonly Param[], timeoutMs: number): Promise<Row[]> {
    if (this.max < 2) return this.runner.exec(this.sql, params, timeoutMs);
    return new Promise<Row[]>((resolve, reject) => {
      const w: Waiter = { params, deadline: performance.now() + timeoutMs, settled: false, timer: null, resolve, reject };
      if (this.isSlow(params)) {
        if (this.runner.idle() && this.runner.takeSlowSlot()) this.alone(w, true);
        else this.wait(w, this.slowWaiting, timeoutMs);
        return;
      }
      if (this.runner.idle() && this.waiting.length === 0) {
        this.turn.push(w);
        if (!this.turnScheduled) {
          this.turnScheduled = true;
          setImmediate(this.endTurn);
        }
        return;
      }
      this.wait(w, this.waiting, timeoutMs);
      // a connection is free but others were waiting first: send them (this one with them) now
      if (this.runner.idle()) this.kick();
    });
  }

  /** lookups waiting now (tests, metrics) */
  get pending(): number {
    return this.turn.length + this.waiting.length + this.slowWaiting.length + this.retry.reduce((n, g) => n + g.length, 0);
  }

  /** The turn's lookups: one statement per free connection, the rest wait for one like any other. */
  private readonly endTurn = (): void => {
    this.turnScheduled = false;
    const ws = this.turn;
    this.turn = [];
    let i = 0;
    while (i < ws.length && this.runner.idle()) {
      const g = ws.slice(i, i + this.max);
      i += g.length;
      this.group(g, false);
    }
    for (; i < ws.length; i++) {
      const w = ws[i]!;
      this.wait(w, this.waiting, Math.max(0, w.deadline - performance.now()));
    }
  };

  private wait(w: Waiter, list: Waiter[], timeoutMs: number): void {
    list.push(w);
    this.runner.waiting();
    w.timer = setTimeout(() => this.fail(w, this.runner.timeout(timeoutMs)), Math.max(0, w.deadline - performance.now()));
  }

  private keyOf(params: readonly Param[]): string {
    return params.map((p) => (p === null ? "\u0001" : p)).join("\u0000");
  }

  private isSlow(params: readonly Param[]): boolean {
    if (this.slow.size === 0) return false;
    const key = this.keyOf(params);
    const at = this.slow.get(key);
    if (at === undefined) return false;
    if (performance.now() - at < SLOW_MEMORY_MS) return true;
    this.slow.delete(key);
    return false;
  }

  private markSlow(params: readonly Param[]): void {
    const key = this.keyOf(params);
    this.slow.delete(key);
    this.slow.set(key, performance.now());
    if (this.slow.size > SLOW_MAX) this.slow.delete(this.slow.keys().next().value!);
  }

  private done(w: Waiter, rows: Row[]): void {
    if (w.settled) return;
    w.settled = true;
    if (w.timer) clearTimeout(w.timer);
    w.resolve(rows);
  }

  private fail(w: Waiter, e: unknown): void {
    if (w.settled) return;
    w.settled = true;
    if (w.timer) clearTimeout(w.timer);
    w.reject(e);
  }

  private left(w: Waiter): number {
    return Math.floor(w.deadline - performance.now());
  }

  /** One lookup on its own, with what is left of its time. */
  private alone(w: Waiter, holdsSlowSlot: boolean): void {
    const ms = this.left(w);
    if (ms <= 0) {
      if (holdsSlowSlot) this.runner.releaseSlowSlot();
      this.fail(w, this.runner.timeout(0));
      return;
    }
    this.runner.exec(this.sql, w.params, ms).then(
      (rows) => {
        if (holdsSlowSlot) this.runner.releaseSlowSlot();
        this.slow.delete(this.keyOf(w.params));
        this.done(w, rows);
      },
      (e) => {
        if (holdsSlowSlot) this.runner.releaseSlowSlot();
        if (this.runner.isTimeout(e)) this.markSlow(w.params);
        this.fail(w, e);
      },
    );
  }

  /** Sends what can go now, one statement per free connection. */
  kick(): void {
    for (let k = 0; k < 64 && this.runner.idleForWaiting() && this.flush(); k++);
  }

  /** Sends what waits (one statement): members of a split group first, then a known-slow lookup when a slow slot is free, then a new group. */
  flush(): boolean {
    this.slowWaiting = this.slowWaiting.filter((w) => !w.settled);
    this.waiting = this.waiting.filter((w) => !w.settled);
    // a retried lookup's budget starts when it is sent, not while it waits for a connection
    const again = this.retry.shift();
    if (again) {
      this.group(again, true);
      return true;
    }
    // a known-slow lookup never takes the spare: it is kept for the others
    if (this.slowWaiting.length > 0 && !this.runner.onSpare() && this.runner.takeSlowSlot()) {
      this.alone(this.slowWaiting.shift()!, true);
      return true;
    }
    if (this.waiting.length === 0) return false;
    const group = this.waiting.splice(0, this.max);
    // on the spare, even one lookup gets a budget: it may be the next slow one
    this.group(group, this.runner.onSpare());
    return true;
  }

  /**
   * A group's time: half what its first to expire has left, so a split
   * still leaves time for its members; on the spare connection, no more than
   * a few usual statement times, so a slow row there is found quickly.
   */
  private budget(ws: readonly Waiter[]): number {
    let left = Infinity;
    for (const w of ws) left = Math.min(left, this.left(w));
    const half = Math.floor(left / 2);
    return Math.max(1, this.runner.onSpare() ? Math.min(this.runner.budgetMs(), half) : half);
  }

  /** Several lookups as one statement, split into single lookups when it takes longer than its budget. */
  private group(members: Waiter[], split: boolean): void {
    const live = members.filter((w) => !w.settled && this.left(w) > 0);
    for (const w of members) if (!w.settled && this.left(w) <= 0) this.fail(w, this.runner.timeout(0));
    if (live.length === 0) return;
    if (live.length === 1 && !split) return this.alone(live[0]!, false);
    if (live.length === 1) {
      // a member of a split group: if it is the slow one, it must not hold the connection the others need
      const w = live[0]!;
      this.runner.exec(this.sql, w.params, this.budget([w])).then(
        (rows) => this.done(w, rows),
        (e) => {
          if (!this.runner.isTimeout(e)) return this.fail(w, e);
          // probably the slow one: the rest of its time it runs alone, where slow lookups may
          this.slowWaiting.push(w);
          this.kick();
        },
      );
      return;
    }
    // lookups with the same values share a slot; one distinct set runs as the plain query
    const slots: number[] = [];
    const distinct: Waiter[] = [];
    if (this.share) {
      const byKey = new Map<string, number>();
      for (const w of live) {
        const k = sameValuesKey(w.params);
        let slot = byKey.get(k);
        if (slot === undefined) {
          slot = distinct.length;
          byKey.set(k, slot);
          distinct.push(w);
        }
        slots.push(slot);
      }
    } else {
      live.forEach((w, i) => {
        slots.push(i);
        distinct.push(w);
      });
    }
    const budget = this.budget(live);
    let text: string;
    const params: Param[] = [];
    let n = 1;
    if (distinct.length === 1) {
      text = this.sql;
      params.push(...distinct[0]!.params);
    } else {
      n = batchSize(distinct.length, this.max);
      for (let i = 0; i < n; i++) params.push(...distinct[Math.min(i, distinct.length - 1)]!.params);
      let t = this.texts.get(n);
      if (t === undefined) this.texts.set(n, (t = batchSql(this.sql, n)));
      text = t;
    }
    this.runner.exec(text, params, budget).then(
      (rows) => {
        const bySlot = n === 1 ? [rows] : splitBySlot(rows, n);
        const given = new Set<number>();
        live.forEach((w, i) => {
          const slot = slots[i]!;
          const mine = bySlot[slot]!;
          // the first of a slot takes its rows, the others copies
          this.done(w, given.has(slot) ? mine.map((r) => ({ ...r })) : mine);
          given.add(slot);
        });
      },
      (e) => {
        if (this.runner.isTimeout(e)) {
          // one of them is slow: each goes again on its own (with a budget), so the
          // slow one costs one more budget at most and the rest answer at once;
          // they go out as connections free up (this one was just given back)
          this.retry.unshift(...live.map((w) => [w]));
          this.kick();
          return;
        }
        if (!this.runner.retryAlone(e)) {
          for (const w of live) this.fail(w, e);
          return;
        }
        for (const w of live) this.alone(w, false);
      },
    );
  }
}
