/**
 * The replies of one event-loop turn. A finished exchange waits here until
 * the turn ends (setImmediate, as the log sink does) or the outbox is full;
 * then, in this order:
 *  1. one journal write for the history events of every waiting exchange
 *     (a reply leaves only once its event is in the journal file);
 *  2. one sendMany per socket for the replies whose events were written (or
 *     that have none), in the order the exchanges finished;
 *  3. `done` for each exchange, which counts and logs it, a reply that
 *     failed to send as such (`sendError`; its history event stays written).
 * A write() and a sendmmsg per turn instead of one of each per exchange:
 * under load those syscalls were a large share of the server's CPU.
 */
import type { JournalEntry, JournalError, Recorded } from "./journal.ts";
import type { DhcpSocket } from "./socket.ts";

type EventBuild = (eventId: string) => JournalEntry[];

/** One exchange's way out; `unrecorded`, `sent`, `sendError` and `failed` are filled by the flush. */
export interface Parcel {
  /** the history event to journal before the reply; null when there is none */
  event: EventBuild | null;
  /** the reply, null when there is none */
  bytes: Uint8Array | null;
  port: number;
  address: string;
  /** the socket the reply leaves from; none: not sent */
  sock: DhcpSocket | undefined;
  /** the journal could not take the event: the reply did not leave */
  unrecorded: JournalError | null;
  sent: boolean;
  /** why the reply did not leave, when it was handed to the socket and failed there */
  sendError: Error | null;
  /** binding the event threw: neither event nor reply */
  failed: unknown;
}

export interface OutboxLimits {
  /** exchanges waiting before a flush within the turn */
  count: number;
  /** reply bytes waiting before a flush within the turn */
  bytes: number;
}

/**
 * 16 replies of a turn go as one sendmmsg; a burst larger than that starts
 * leaving before the turn ends. The first exchange of a batch waits for the
 * rest to be worked out: 64 at 60-70 µs a packet held it 4 ms, and under
 * load 9-15% of replies spent over 5 ms in the server; 16 hold it about
 * 1 ms (0.9%, bench/perf/probe.ts at 6,000 DORA/s with PROBE_METRICS=1).
 * The syscalls cost 7.1 µs an exchange in batches of 16 against 5.2 in 64
 * (bench/outbox.ts).
 */
const LIMITS: OutboxLimits = { count: 16, bytes: 64 << 10 };

export class Outbox<T extends Parcel> {
  private waiting: T[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(
    private readonly journal: { recordMany(builds: readonly EventBuild[]): Recorded },
    private readonly done: (p: T) => void,
    private readonly limits: OutboxLimits = LIMITS,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  add(p: T): void {
    this.waiting.push(p);
    this.bytes += p.bytes?.length ?? 0;
    if (this.waiting.length >= this.limits.count || this.bytes >= this.limits.bytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurn);
    }
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Journals, sends and finishes everything waiting, now (also on drain and reload). */
  flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.bytes = 0;
    this.record(batch);
    this.send(batch);
    for (const p of batch) this.done(p);
  }

  private record(batch: T[]): void {
    const withEvent: T[] = [];
    const builds: EventBuild[] = [];
    for (const p of batch) {
      const build = p.event;
      if (!build) continue;
      withEvent.push(p);
      // a throw here must cost only its own exchange, not the turn's
      builds.push((id) => {
        try {
          return build(id);
        } catch (e) {
          p.failed = e;
          return [];
        }
      });
    }
    if (builds.length === 0) return;
    const r = this.journal.recordMany(builds);
    // the events after the first `written` are not wholly in the file: their replies must not leave
    for (let i = r.written; i < withEvent.length; i++) withEvent[i]!.unrecorded = r.error;
  }

  private send(batch: T[]): void {
    let first: DhcpSocket | undefined;
    const packets: (Uint8Array | number | string)[] = [];
    const senders: T[] = [];
    // several sockets (one per interface): one batch each, in finishing order within each
    let others: Map<DhcpSocket, { packets: (Uint8Array | number | string)[]; senders: T[] }> | null = null;
    for (const p of batch) {
      if (!p.bytes || !p.sock || p.unrecorded || p.failed) continue;
      first ??= p.sock;
      if (p.sock === first) {
        packets.push(p.bytes, p.port, p.address);
        senders.push(p);
        continue;
      }
      others ??= new Map();
      let g = others.get(p.sock);
      if (!g) others.set(p.sock, (g = { packets: [], senders: [] }));
      g.packets.push(p.bytes, p.port, p.address);
      g.senders.push(p);
    }
    if (first) sendGroup(first, packets, senders);
    if (others) for (const [sock, g] of others) sendGroup(sock, g.packets, g.senders);
  }
}

function sendGroup(sock: DhcpSocket, packets: (Uint8Array | number | string)[], senders: Parcel[]): void {
  const errors = sock.sendMany(packets);
  for (let i = 0; i < senders.length; i++) {
    // no answer for a datagram counts as a failure: a reply is never reported as sent on a guess
    const e = errors[i] === undefined ? new Error("no send result") : errors[i]!;
    senders[i]!.sent = e === null;
    senders[i]!.sendError = e;
  }
}
