/**
 * The wait for a lookup slot, kept steady under overload:
 *
 * - a request that waited longer than a client waits for its answer
 *   (`maxWaitMs`) is dropped, not answered: its client has retransmitted or
 *   given up, and the work would only delay the requests behind it;
 * - REQUESTs (and RELEASE, DECLINE, INFORM) go before DISCOVERs: a REQUEST
 *   completes an exchange already half done, a DISCOVER only starts one;
 * - when the queue is long (its oldest DISCOVER waited over a quarter of
 *   maxWaitMs) the newest DISCOVER goes first: its client waits longest
 *   still, where first come first served under overload answers every
 *   client just after it gave up (the "adaptive LIFO" of request queues);
 * - the queue holds about `maxWaitMs` of work, measured: with `concurrency`
 *   lookups in flight each taking `t` ms (smoothed), the server finishes
 *   concurrency / t per ms when saturated (Little's law), so the queue holds
 *   maxWaitMs * concurrency / t, never more than `hardLimit`. Past that the
 *   oldest DISCOVER (else the oldest request) makes room for a REQUEST; the
 *   server drops a new DISCOVER before decoding it (the newest waiting are
 *   served first when the queue is long, so it is the next slot's).
 *
 * - the kernel's receive buffer is a queue too, and with a synchronous
 *   database (SQLite) the only one that grows: kernelBacklog() says how long
 *   its newest packet has waited and how many of its oldest to drop unread.
 *   REQUESTs cannot jump that queue, so it is kept short: past a quarter of
 *   maxWaitMs (where the queue above turns to newest-first) the oldest
 *   DISCOVERs go until a tenth is left. A standing queue of a second under
 *   sustained overload adds its wait to both halves of every exchange and
 *   serves no more of them. It is also kept from filling: a full receive
 *   buffer drops what arrives, REQUESTs as readily as DISCOVERs, and each
 *   REQUEST lost wastes the OFFER before it. Past half the buffer the oldest
 *   DISCOVERs go until an eighth is left (at 30,000 DISCOVERs/s a 4 MiB
 *   buffer fills in under a quarter of a second's wait).
 *
 * No sockets, no clock of its own: callers pass `now` (ms, monotonic).
 */
import { MessageType } from "../codec/message.ts";

export interface Waiting {
  /** option 53 */
  type: number;
  /** arrival, ms (performance.now()) */
  at: number;
}

export interface AdmissionOptions {
  maxWaitMs: number;
  hardLimit: number;
  /** lookups in flight at once (ThreadLimit) */
  concurrency: number;
}

/** Never below this, so a slow start or a lull does not shrink the queue to nothing. */
const MIN_LIMIT = 16;
/**
 * What the kernel charges a queued DHCP datagram (its buffer, not its
 * length): 1,280 bytes for a 300-byte packet on loopback (measured with
 * SO_MEMINFO: 10 packets, 12,800 bytes), more on some drivers. Counting
 * 2,048 errs towards fewer packets, so towards dropping too few (the wait
 * then runs to at most 80% of maxWait) rather than too many.
 */
export const KERNEL_BYTES_PER_PACKET = 2048;

/** The kernel's queue may make its newest packet wait this share of maxWaitMs... */
const KERNEL_TRIGGER = 1 / 4;
/** ...and is then cut back to this share, oldest DISCOVERs first. */
const KERNEL_KEEP = 1 / 10;
/** The kernel's queue may fill this share of the receive buffer... */
const KERNEL_FULL = 1 / 2;
/** ...and is then cut back to this share of it. */
const KERNEL_FULL_KEEP = 1 / 8;

/**
 * The kernel's receive queue seen from here: `queuedBytes` waiting
 * (SO_MEMINFO), drained at `perSecond`. When the newest of them will have
 * waited longer than a quarter of maxWaitMs by the time it is read, the
 * oldest are read and dropped unhandled until a tenth of maxWaitMs of them
 * is left: reading past them is the only way to reach packets that are
 * fresher, and every REQUEST behind them waits as long as they do.
 * (The server counts `discard` down on every packet it reads and drops only
 * the DISCOVERs among them: the count covers the packets queued when it was
 * taken, so a packet that came later, a lone client's DISCOVER after a
 * burst of other traffic, is never dropped by it.)
 */
export function kernelBacklog(
  queuedBytes: number,
  perSecond: number,
  maxWaitMs: number,
  bufferBytes = Infinity,
): { waitMs: number; discard: number } {
  const queued = queuedBytes / KERNEL_BYTES_PER_PACKET;
  if (queued < 1) return { waitMs: 0, discard: 0 };
  if (!(perSecond > 0)) return { waitMs: Infinity, discard: 0 };
  const waitMs = (queued / perSecond) * 1000;
  const filling = queuedBytes > bufferBytes * KERNEL_FULL;
  if (waitMs <= maxWaitMs * KERNEL_TRIGGER && !filling) return { waitMs, discard: 0 };
  const keepByWait = (perSecond * maxWaitMs * KERNEL_KEEP) / 1000;
  const keep = filling ? Math.min(keepByWait, (bufferBytes * KERNEL_FULL_KEEP) / KERNEL_BYTES_PER_PACKET) : keepByWait;
  return { waitMs, discard: Math.max(0, Math.floor(queued - keep)) };
}

/**
 * The countdown kernelBacklog() starts: the next `discard` packets read are
 * the backlog's oldest; the DISCOVERs among them are dropped unread.
 */
export class KernelShed {
  private left = 0;
  /** a fresh look at the kernel's queue replaces the count from the last one */
  look(queuedBytes: number, perSecond: number, maxWaitMs: number, bufferBytes = Infinity): void {
    this.left = kernelBacklog(queuedBytes, perSecond, maxWaitMs, bufferBytes).discard;
  }
  get active(): boolean {
    return this.left > 0;
  }
  /** One packet read, of message type `type`: true when it is to be dropped unread. */
  drop(type: number | undefined): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return type === MessageType.DISCOVER;
  }
}

/** Weight of one finished request in the smoothed service time. */
const ALPHA = 1 / 64;

/** An array queue with a moving head: O(1) push and shift, compacted now and then. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  pop(): T | undefined {
    return this.items.length > this.head ? this.items.pop() : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
}

export class AdmissionQueue<T extends Waiting> {
  private readonly first = new Fifo<T>();
  private readonly later = new Fifo<T>();
  /** ms one request takes from slot to finish, smoothed; 0 until measured */
  private serviceMs = 0;

  constructor(private opts: AdmissionOptions) {}

  configure(opts: AdmissionOptions): void {
    this.opts = opts;
  }

  get length(): number {
    return this.first.length + this.later.length;
  }

  /** Most requests waiting: about maxWaitMs of work at the measured rate. */
  get limit(): number {
    if (this.serviceMs <= 0) return this.opts.hardLimit;
    const work = Math.round((this.opts.maxWaitMs * this.opts.concurrency) / this.serviceMs);
    return Math.min(this.opts.hardLimit, Math.max(MIN_LIMIT, work));
  }

  /** Queues `p`; returns the request that made room for it, if one had to. */
  push(p: T): T | undefined {
    (p.type === MessageType.DISCOVER ? this.later : this.first).push(p);
    if (this.length <= this.limit) return undefined;
    return this.later.length ? this.later.shift() : this.first.shift();
  }

  /** The next request to run; those that waited too long go to `stale` on the way. */
  take(now: number, stale: (p: T) => void): T | undefined {
    const max = this.opts.maxWaitMs;
    // the oldest of each class leave first when too old: what is left is fresh
    for (const q of [this.first, this.later]) {
      for (let p = q.peek(); p && now - p.at > max; p = q.peek()) {
        q.shift();
        stale(p);
      }
    }
    if (this.first.length) return this.first.shift();
    const oldest = this.later.peek();
    if (!oldest) return undefined;
    return now - oldest.at > max / 4 ? this.later.pop() : this.later.shift();
  }

  /** Requests finished per second when every slot is busy; null until measured. */
  get capacity(): number | null {
    return this.serviceMs > 0 ? (this.opts.concurrency * 1000) / this.serviceMs : null;
  }

  /** A request finished (answered or not) `ms` after it got its slot: sizes the queue. */
  done(ms: number): void {
    this.serviceMs = this.serviceMs === 0 ? ms : this.serviceMs + (ms - this.serviceMs) * ALPHA;
  }
}
