/**
 * One value per packet: everything respond() decided about one request.
 * The UDP loop sends from it, `-d` and `--explain` render it, metrics,
 * logs and history read it; none of them recompute anything.
 */
import type { DhcpMessage } from "../codec/message.ts";
import type { RelayAgentInfoResult } from "../option82/parse.ts";
import type { Vars } from "../variables/types.ts";
import type { Answer, Row } from "./answer.ts";
import type { Destination } from "./route.ts";

/** Every bound value is text or NULL: templates bind variable text only. */
export type Param = string | null;

/** The pydhcpdb history events a config can attach statements to. */
export type HistoryEvent = "offer" | "ack" | "nak" | "release" | "decline" | "unknown";

/** A compiled SQL statement as the core sees it: a name, its text and how it binds. */
export interface Statement {
  readonly name: string;
  /** SQL as the database runs it, `?` for each bound value */
  readonly sql: string;
  /** variables it uses, in `?` order of first use */
  readonly names: readonly string[];
  /** `at`: the event time (epoch ms) for history statements' time functions, default now */
  bind(vars: Vars, at?: number): Param[];
}

/** One request as received. */
export interface Request {
  msg: DhcpMessage;
  /** option 53 value, 0 when absent */
  type: number;
  /** datagram size, when known */
  size?: number;
  /** UDP source; offline, a relay's 67 or a client's 68 */
  from: { address: string; port: number };
  /** performance.now() when the datagram arrived: lookups are bounded from here */
  arrived: number;
  /** the packet's Option 82, parsed once by whoever saw it first (flood control) */
  relay?: RelayAgentInfoResult;
}

/** One offer query as it ran: bound values, rows, time. */
export interface QueryRun {
  name: string;
  sql: string;
  names: readonly string[];
  params: Param[];
  rows: number;
  /** the rows themselves (a reference, no copy); absent when the query failed */
  result?: Row[];
  ms: number;
  /** why it failed, or why its row was refused */
  error?: string;
  /**
   * Not run for this request: the answer cache (server/answer-cache.ts) held
   * the chain's result, and this is the run that produced it (`ms` 0).
   */
  cached?: true;
}

/** Where the Option 82 behind the variables came from. */
export interface Option82Seen {
  /** "lease memory": a renewal without one, bound with the Option 82 its lease was granted with */
  source: "packet" | "lease memory";
  bytes: Uint8Array;
  parsed: RelayAgentInfoResult;
}

export type SilentReason =
  | "no-match"
  | "not-for-us"
  | "db-error"
  | "bad-answer"
  | "address-in-use"
  | "pool-exhausted"
  | "recorded"
  /** the history event could not be journaled: no reply may leave (server/history-event.ts) */
  | "history-unrecorded"
  | "not-a-request"
  /** giaddr no relay can have: 0/8, 127/8 (from another host), multicast, 240/4 */
  | "bad-giaddr"
  /** option 82 whose sub-options do not parse (RFC 3046 2.0) */
  | "bad-option82"
  | "unknown-type";

export type Outcome =
  | {
      kind: "reply";
      reply: DhcpMessage;
      type: number;
      /** the offer query that decided, LEASE_MEMORY, "offer (reused)", or null (NAK without one) */
      query: string | null;
      ip: string | null;
      note: string;
      /** an ACK with the time left on an unchanged lease, nothing written (<leases><cacheThreshold>) */
      leaseReused?: true;
    }
  | { kind: "silent"; reason: SilentReason; note: string; query?: string };

/** The `query` of replies answered from lease memory while the database is away. */
export const LEASE_MEMORY = "lease memory";

export type FailureKind = "query" | "timeout" | "connect" | "prepare";

/** One history statement of the exchange's event; `params` are bound when the event is recorded. */
export interface HistoryRecord {
  event: HistoryEvent;
  statement: Statement;
  params: Param[];
}

/** The history event a decision records and what decided it (the answer_* variables). */
export interface HistoryDecision {
  event: HistoryEvent;
  /** the answer sent (OFFER, ACK, INFORM); null otherwise */
  answer: Answer | null;
  /** the query that decided: offer_N (the OFFER's when a REQUEST reuses it), LEASE_MEMORY, or null */
  query: string | null;
}

/** What the offer chain found, with every query it ran. */
export type Lookup = { tried: QueryRun[] } & (
  | { kind: "match"; answer: Answer; query: string; /** how a pool chose the address */ note?: string }
  | { kind: "none" }
  | { kind: "error"; query: string; message: string; failure: FailureKind }
  /** a row came back but is not a usable answer (core/answer.ts refused it) */
  | { kind: "refused"; query: string; message: string; row: number }
  /** the row named a pool with no address left */
  | { kind: "exhausted"; query: string; pool: string }
  /** the row named a pool, and the REQUEST asks for an address that pool cannot give this client */
  | { kind: "pool-nak"; query: string; message: string }
);

/** Who asks a pool for an address. */
export interface PoolClient {
  /** option 61 as hex when sent, else the MAC (core/lease.ts clientKey) */
  clientKey: string;
  mac: string;
  /** option 50, or null */
  requested: string | null;
}

/** What a row naming a pool is asked for: an address to offer, or the one a REQUEST/INFORM names. */
export interface PoolAsk {
  type: "discover" | "request" | "inform";
  client: PoolClient;
  /** REQUEST: requested ip or ciaddr; INFORM: ciaddr */
  wanted: string | null;
}

/**
 * The pool lease table as respond uses it (server/pools.ts): the REQUEST
 * commits an address, RELEASE and DECLINE give it back.
 */
export interface PoolLeases {
  commit(pool: string, ip: string, client: PoolClient, leaseTime: number, now: number): Promise<{ ok: true } | { ok: false; why: string }>;
  /** seconds left on a bound lease the REQUEST may reuse without a write, or null */
  reusable(pool: string, heldUntil: number, leaseTime: number, now: number): number | null;
  release(client: PoolClient, ip: string, now: number): Promise<boolean>;
  decline(client: PoolClient, ip: string, now: number): Promise<boolean>;
}

export interface Exchange {
  request: Request;
  /** the variables as the queries bound them; null when none were needed */
  vars: Vars | null;
  option82: Option82Seen | null;
  /** offer queries in the order they ran */
  queries: QueryRun[];
  /** set when the database failed (not for a refused row) */
  failure: FailureKind | null;
  /** the row core/answer.ts refused, when that was the outcome */
  refusedRow: Row | null;
  /** the answer the decision used, if any */
  answer: Answer | null;
  outcome: Outcome;
  /** the history event of the decision; null when it records none */
  event: HistoryDecision | null;
  /**
   * The event's history statements. The reply may leave only once they are
   * in the journal; recording binds their values (server/history-event.ts).
   */
  history: HistoryRecord[];
  /** the variables the history statements bound (the request's plus event* and answer_*); null until recorded */
  historyVars: Vars | null;
  /** the reply as sent (broadcast flag applied); null for no reply */
  reply: DhcpMessage | null;
  dest: Destination | null;
  encoded: { ok: true; bytes: Uint8Array } | { ok: false; message: string } | null;
}
