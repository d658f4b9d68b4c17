/**
 * The last exchanges the server had, in memory, for GET /api/exchanges, the
 * event stream and the help-desk page: a fixed-size ring (oldest dropped),
 * plus listeners told of each new one. It keeps each Exchange as respond()
 * returned it and renders nothing: an entry becomes JSON only when someone
 * asks (exchange-view.ts).
 */
import type { Exchange } from "../core/exchange.ts";
import { macHex } from "../core/lease.ts";
import type { Runtime } from "./runtime.ts";
import { OPTION } from "../options/table.ts";
import type { Vars } from "../variables/types.ts";

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
  /** the runtime that answered: the variables are bound again from it when asked for */
  rt: Runtime;
  /** handling time, ms */
  ms: number;
  /** chaddr as 12 hex digits, for lookups */
  mac: string;
  /** the reply was decided (and its history written) but the socket refused it: why */
  sendError?: string;
}

export const RING_SIZE = 1000;

const configuredNames = new WeakMap<Runtime, readonly string[]>();

/**
 * The ring's entry for an exchange. Bun gives each datagram its own small
 * buffer (measured: a 300-byte datagram has a 300-byte ArrayBuffer), so the
 * datagram is kept as it is. The variables are half of what an Exchange
 * holds (measured: 7.3 MiB for 1000 entries with them, 3.4 without); they
 * are bound again from the same message and runtime when someone asks.
 */
export function ringEntry(ex: Exchange, buf: Uint8Array, rt: Runtime, ms: number, sendError?: Error | null): Omit<ExchangeEntry, "id"> {
  let configured = configuredNames.get(rt);
  if (!configured) configuredNames.set(rt, (configured = rt.offers.map((o) => o.template.name)));
  const e: Omit<ExchangeEntry, "id"> = { at: Date.now(), ex: ex.vars === null ? ex : { ...ex, vars: null }, raw: buf, configured, rt, ms, mac: macHex(ex.request.msg) };
  if (sendError) e.sendError = sendError.message;
  return e;
}

/** The variables as respond bound them: from the message, with the Option 82 a lease lent a renewal. */
export function entryVars(e: ExchangeEntry): Vars {
  const { ex } = e;
  if (ex.vars) return ex.vars;
  let msg = ex.request.msg;
  if (ex.option82?.source === "lease memory") msg = { ...msg, options: new Map(msg.options).set(OPTION.RELAY_AGENT_INFO, ex.option82.bytes) };
  return e.rt.variables(msg, ex.option82);
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
