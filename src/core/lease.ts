/**
 * A client's lease as pydhcp remembers it (RFC 2131 4.3.1 / 4.4.5), and the
 * client identity it is keyed by. Domain values: the backends store them
 * (db/), lease memory indexes them (server/leases.ts), respond reads them.
 */
import { toHex } from "../codec/hex.ts";
import type { DhcpMessage } from "../codec/message.ts";
import { OPTION } from "../options/table.ts";
import type { Answer } from "./answer.ts";

export interface Lease {
  /** client identifier (option 61) as hex when present, else the MAC as hex */
  clientKey: string;
  /** chaddr, 12 lower-case hex digits */
  mac: string;
  ip: string;
  /** option 82 value bytes as hex, as the lease was granted with; "" if none */
  option82: string;
  /** epoch seconds */
  expires: number;
  state: "offered" | "bound" | "released" | "declined";
  /**
   * The answer the lease was granted with (mask, router, dns and any extra
   * options), JSON, so renewals can be answered the same way while the
   * database is away.
   */
  answer: string;
  /** epoch seconds of the last change */
  updated: number;
  /** giaddr of the relay that forwarded the request, "" when direct */
  relay: string;
  /** the client's host name (option 12) as hostname_text, "" when none */
  hostname: string;
}

/** What respond needs of lease memory (server/leases.ts implements it). */
export interface LeaseBook {
  get(clientKey: string): Lease | undefined;
  /** memory first, then the shared store */
  fetch(clientKey: string): Lease | null | Promise<Lease | null>;
  /** the client actively holding an address, if any */
  holder(ip: string, now: number): Lease | undefined;
  /**
   * holder(), confirmed by the lease table before the client `asking` (its
   * clientKey) is refused: the database is the truth (server/leases.ts); a
   * promise only when it asks the table
   */
  holderChecked(ip: string, now: number, asking: string): Lease | undefined | Promise<Lease | undefined>;
  /** an OFFERed address, held in memory only */
  hold(l: Lease): void;
  /** a lease to keep and persist */
  set(l: Lease): void;
  /** `query`: the offer query that found the answer (history's answer_query when a REQUEST reuses it) */
  rememberOffer(clientKey: string, xid: number, answer: Answer, now: number, query?: string): void;
  takeOffer(clientKey: string, xid: number, now: number, maxAge: number): { answer: Answer; query: string } | null;
}

const OPT_CLIENT_ID = OPTION.CLIENT_ID;

/** How long an OFFERed address stays held for the client it was offered to. */
export const OFFER_HOLD_SECONDS = 60;

/** Client identity for leases: option 61 when sent (RFC 2131 4.2), else chaddr. */
export function clientKey(msg: DhcpMessage): string {
  const cid = msg.options.get(OPT_CLIENT_ID);
  // type 1 + 6 bytes is an Ethernet MAC (RFC 2132 9.14): key it like chaddr so both forms meet
  if (cid && cid.length) return cid[0] === 1 && cid.length === 7 ? toHex(cid, 1) : "id:" + toHex(cid);
  return macHex(msg);
}

export function macHex(msg: DhcpMessage): string {
  return toHex(msg.chaddr, 0, Math.min(msg.hlen || 6, 16));
}

/** An Answer as the lease table stores it: option values as hex. */
type AnswerJson = Omit<Answer, "options"> & { options: [number, string][] };

/**
 * Fields in one order whatever order the answer's object has (one built from
 * a row, one parsed back from the answer cache): equal answers give equal
 * text, which lease reuse compares (core/respond.ts). What the DISCOVER read
 * of the pool table (heldUntil) is not the lease's to keep.
 */
export function answerToJson(a: Answer): AnswerJson {
  const options: [number, string][] = [];
  for (const [c, v] of a.options) options.push([c, toHex(v)]);
  const j: AnswerJson = { ip: a.ip, mask: a.mask, router: a.router, dns: a.dns, options };
  if (a.leaseTime !== undefined) j.leaseTime = a.leaseTime;
  if (a.nextServer !== undefined) j.nextServer = a.nextServer;
  if (a.pool !== undefined) j.pool = a.pool;
  return j;
}

export function answerFromJson(text: string): Answer | null {
  try {
    const j = JSON.parse(text) as AnswerJson;
    return { ...j, options: new Map(j.options.map(([c, h]) => [c, Uint8Array.from(Buffer.from(h, "hex"))])) };
  } catch {
    return null;
  }
}
