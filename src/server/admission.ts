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
 *   oldest DISCOVER (else the oldest request) makes room.
 *
 * - the kernel's receive buffer is a queue too, one this code cannot see
 *   into: while requests overflow this queue, receiveBufferFor() sizes it to
 *   half of maxWaitMs of the rate packets are read at (which is how fast the
 *   kernel's queue drains), so a storm waits in neither for longer than a
 *   client does; otherwise it stays at its full size.
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
 * Receive buffer bounds, bytes, as set (the kernel doubles the value set).
 * The kernel charges each datagram its buffer, 1,280 bytes for a 300-byte
 * DHCP packet on loopback (measured: 512 KiB set held 819), so 640 bytes
 * set hold one packet.
 */
export const RCVBUF_MIN = 256 * 1024;
export const RCVBUF_MAX = 4 * 1024 * 1024;
export const RCVBUF_PER_PACKET = 640;

/**
 * The receive buffer for `readPerSecond` packets read a second while the
 * queue overflows: half of maxWaitMs of them, since a packet read from it
 * may then wait in the queue too. Not overflowing: the full size.
 */
export function receiveBufferFor(overflowing: boolean, readPerSecond: number, maxWaitMs: number): number {
  if (!overflowing) return RCVBUF_MAX;
  const bytes = Math.round((readPerSecond * maxWaitMs) / 2000) * RCVBUF_PER_PACKET;
  return Math.min(RCVBUF_MAX, Math.max(RCVBUF_MIN, bytes));
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
  /** dropped for room or age since takeOverflow() */
  private overflow = 0;

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
    this.overflow++;
    return this.later.length ? this.later.shift() : this.first.shift();
  }

  /** The next request to run; those that waited too long go to `stale` on the way. */
  take(now: number, stale: (p: T) => void): T | undefined {
    const max = this.opts.maxWaitMs;
    // the oldest of each class leave first when too old: what is left is fresh
    for (const q of [this.first, this.later]) {
      for (let p = q.peek(); p && now - p.at > max; p = q.peek()) {
        q.shift();
        this.overflow++;
        stale(p);
      }
    }
    if (this.first.length) return this.first.shift();
    const oldest = this.later.peek();
    if (!oldest) return undefined;
    return now - oldest.at > max / 4 ? this.later.pop() : this.later.shift();
  }

  /** Requests dropped for room or age since the last call: the queue is overflowing when > 0. */
  takeOverflow(): number {
    const n = this.overflow;
    this.overflow = 0;
    return n;
  }

  /** A request finished (answered or not) `ms` after it got its slot: sizes the queue. */
  done(ms: number): void {
    this.serviceMs = this.serviceMs === 0 ? ms : this.serviceMs + (ms - this.serviceMs) * ALPHA;
  }
}
