/**
 * The answer and the event as variables for history statements
 * (docs/variables.md, "The answer and the event"). Set on the packet's own
 * variable map just before its history statements are bound.
 */
import type { Answer } from "../core/answer.ts";
import type { Exchange, HistoryEvent } from "../core/exchange.ts";
import { isoWithOffset } from "../db/event-time.ts";
import type { Vars } from "../variables/types.ts";
import { PacketVars, type ComputedGroup } from "../variables/lazy.ts";
import type { JournalEntry } from "./journal.ts";

/** What a history statement can say about a decision: one value per exchange. */
export interface HistoryInput {
  event: HistoryEvent;
  vars: Vars;
  /** the answer sent (OFFER, ACK, INFORM); null otherwise */
  answer?: Answer | null;
  /** the query that decided: offer_N, or "lease memory" */
  query?: string | null;
}

const ZERO = "0.0.0.0";

/** The `event` variable: the reply, or what the request was when there is none. */
export function eventLabel(event: HistoryEvent, vars: Vars): string {
  if (event === "ack" && vars.get("msg_type") === "INFORM") return "INFORM";
  return event.toUpperCase();
}

function eventAddress(label: string, h: HistoryInput): string | undefined {
  const v = h.vars;
  switch (label) {
    case "OFFER":
    case "ACK":
      return h.answer?.ip;
    case "INFORM":
    case "RELEASE": {
      const c = v.get("ciaddr");
      return c && c !== ZERO ? c : undefined;
    }
    case "DECLINE":
      return v.get("requested_ip");
  }
  return undefined;
}

/** The answer and event names, in the order they are set. */
const EVENT_ORDER = [
  "event", "event_time", "event_unixtime", "event_id",
  "answer_ip", "answer_query", "answer_mask", "answer_router", "answer_dns", "answer_lease_time",
] as const;
const EVENT_NAMES_SET: ReadonlySet<string> = new Set(EVENT_ORDER);

/** One answer or event name's text; undefined: not set for this event. */
function eventValue(name: string, h: HistoryInput, label: string, ip: string | undefined, at: number, id: string, defaultLeaseTime: number): string | undefined {
  switch (name) {
    case "event":
      return label;
    case "event_time":
      return isoWithOffset(at);
    case "event_unixtime":
      return String(Math.floor(at / 1000));
    case "event_id":
      return id;
    case "answer_ip":
      return ip ? ip : undefined;
    case "answer_query":
      return h.query ? h.query : undefined;
  }
  const a = h.answer;
  if (!a || (label !== "OFFER" && label !== "ACK" && label !== "INFORM")) return undefined;
  switch (name) {
    case "answer_mask":
      return a.mask;
    case "answer_router":
      return a.router ? a.router : undefined;
    case "answer_dns":
      return a.dns.length ? a.dns.join(",") : undefined;
    case "answer_lease_time":
      return label !== "INFORM" ? String(a.leaseTime ?? defaultLeaseTime) : undefined;
  }
  return undefined;
}

/** One event's answer_* and event* names, computed when read (one object per event, no closures). */
class EventVars implements ComputedGroup {
  constructor(
    private readonly h: HistoryInput,
    private readonly label: string,
    private readonly ip: string | undefined,
    private readonly at: number,
    private readonly id: string,
    private readonly defaultLeaseTime: number,
  ) {}

  covers(name: string): boolean {
    return EVENT_NAMES_SET.has(name);
  }

  value(name: string): string | undefined {
    return eventValue(name, this.h, this.label, this.ip, this.at, this.id, this.defaultLeaseTime);
  }

  *entries(): Iterable<readonly [string, string]> {
    for (const name of EVENT_ORDER) {
      const x = this.value(name);
      if (x !== undefined) yield [name, x] as const;
    }
  }
}

/**
 * Adds answer_* and event* to `h.vars`; `at` is the event time (epoch ms).
 * A packet's own variables (PacketVars) compute them when a statement, a
 * view or --explain reads them: most history statements name none.
 */
export function addEventVars(h: HistoryInput, at: number, id: string, defaultLeaseTime: number): void {
  const v = h.vars;
  // what they depend on in the variables is read now, as when they were set
  const label = eventLabel(h.event, v);
  const ip = eventAddress(label, h);
  if (v instanceof PacketVars) {
    v.setComputed(new EventVars(h, label, ip, at, id, defaultLeaseTime));
    return;
  }
  for (const name of EVENT_ORDER) {
    const x = eventValue(name, h, label, ip, at, id, defaultLeaseTime);
    if (x !== undefined) v.set(name, x);
  }
}

/**
 * An Exchange's history event (core/respond.ts names it; this binds it) as
 * the journal takes it: given the event id, answer_* and event* set on
 * `vars` (the packet's own by default), every statement bound at one event
 * time `at`. The bound values stay on the Exchange for -d and --explain.
 * Null when the exchange has nothing to record.
 */
export function eventEntries(
  ex: Exchange,
  defaultLeaseTime: number,
  vars: Vars | null = ex.vars,
  at: number = Date.now(),
): ((eventId: string) => JournalEntry[]) | null {
  const e = ex.event;
  if (e === null || ex.history.length === 0 || vars === null) return null;
  return (id) => {
    addEventVars({ event: e.event, vars, answer: e.answer, query: e.query }, at, id, defaultLeaseTime);
    ex.historyVars = vars;
    return ex.history.map((h) => {
      h.params = h.statement.bind(vars, at);
      return { s: h.statement.name, v: h.params };
    });
  };
}

/**
 * Records an Exchange's history event (eventEntries) as one event. Throws
 * (JournalError) when the journal cannot take it: then no reply may leave.
 */
export function recordExchange(
  journal: { record(build: (eventId: string) => JournalEntry[]): string },
  ex: Exchange,
  defaultLeaseTime: number,
  vars: Vars | null = ex.vars,
): void {
  const build = eventEntries(ex, defaultLeaseTime, vars);
  if (build) journal.record(build);
}

/** The event's variables as `name = value` lines, for --explain. */
export function answerLines(vars: Vars): string[] {
  const out: string[] = [];
  for (const name of EVENT_NAMES) {
    const v = vars.get(name);
    if (v !== undefined) out.push(`${name} = ${v}`);
  }
  return out;
}

/** The variables as the offer queries saw them: the request's, without what recording the event added. */
export function requestVars(vars: Vars): Vars {
  const out = new Map(vars);
  for (const name of EVENT_NAMES) out.delete(name);
  return out;
}

const EVENT_NAMES = [
  "event", "event_time", "event_unixtime", "event_id",
  "answer_ip", "answer_mask", "answer_router", "answer_dns", "answer_lease_time", "answer_query",
] as const;
