/**
 * The last exchanges the server had, in memory, for GET /api/exchanges, the
 * event stream and the help-desk page: a fixed-size ring (oldest dropped),
 * plus listeners told of each new one. It keeps each Exchange as respond()
 * returned it and renders nothing: an entry becomes JSON only when someone
 * asks (exchange-view.ts).
 */
import { decode } from "../codec/decode.ts";
import type { Exchange } from "../core/exchange.ts";
import { macHex } from "../core/lease.ts";
import { parseRelayAgentInfo } from "../option82/parse.ts";
import type { Runtime } from "./runtime.ts";

export interface ExchangeEntry {
  /** increasing per server run */
  id: number;
  /** epoch ms when the exchange ended */
  at: number;
  ex: Exchange;
  /** the datagram as received (what --dump reading the stream decodes) */
  raw: Uint8Array;
  /** the offer queries configured when it ran (explanations list the ones not run) */
  configured: readonly string[];
  /** handling time, ms */
  ms: number;
  /** chaddr as 12 hex digits, for lookups */
  mac: string;
}

export const RING_SIZE = 1000;

/**
 * A ring entry that holds no view into the receive buffer: the datagram is
 * copied and the message, its Option 82 and the reply are read again from
 * copies, so a thousand entries keep a thousand small buffers, not the
 * large ones the socket reads into.
 */
export function ringEntry(ex: Exchange, buf: Uint8Array, rt: Runtime, ms: number): Omit<ExchangeEntry, "id"> {
  const raw = buf.slice();
  const again = decode(raw);
  const msg = again.ok ? again.msg : ex.request.msg;
  const rai = ex.option82 ? ex.option82.bytes.slice() : null;
  const reply = ex.encoded?.ok ? decode(ex.encoded.bytes) : null;
  const { relay: _dropped, ...request } = ex.request;
  const kept: Exchange = {
    ...ex,
    request: { ...request, msg },
    option82: ex.option82 && rai ? { ...ex.option82, bytes: rai, parsed: parseRelayAgentInfo(rai) } : null,
    reply: reply?.ok ? reply.msg : ex.reply,
  };
  return { at: Date.now(), ex: kept, raw, configured: rt.offers.map((o) => o.template.name), ms, mac: macHex(msg) };
}

export class ExchangeRing {
  private readonly buf: (ExchangeEntry | undefined)[];
  private next = 0;
  private seq = 0;
  private readonly listeners = new Set<(e: ExchangeEntry) => void>();

  constructor(readonly capacity = RING_SIZE) {
    this.buf = new Array(capacity);
  }

  push(e: Omit<ExchangeEntry, "id">): void {
    const entry = { ...e, id: ++this.seq };
    this.buf[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    for (const f of this.listeners) {
      try {
        f(entry);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  /** Newest first; `mac` as 12 hex digits filters by client. */
  recent(limit: number, mac?: string): ExchangeEntry[] {
    const out: ExchangeEntry[] = [];
    for (let k = 1; k <= this.capacity && out.length < limit; k++) {
      const e = this.buf[(this.next - k + this.capacity) % this.capacity];
      if (!e) break;
      if (mac === undefined || e.mac === mac) out.push(e);
    }
    return out;
  }

  get size(): number {
    return Math.min(this.seq, this.capacity);
  }

  get listening(): number {
    return this.listeners.size;
  }

  /** Calls f for every exchange from now on; returns the unsubscribe. */
  subscribe(f: (e: ExchangeEntry) => void): () => void {
    this.listeners.add(f);
    return () => void this.listeners.delete(f);
  }
}
