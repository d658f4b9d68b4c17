/**
 * The answer and the event as variables for history statements
 * (docs/variables.md, "The answer and the event"). Set on the packet's own
 * variable map just before its history statements are bound.
 */
import type { Answer } from "../core/answer.ts";
import type { Exchange, HistoryEvent } from "../core/exchange.ts";
import { isoWithOffset } from "../db/event-time.ts";
import type { Vars } from "../variables/types.ts";
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

/** Adds answer_* and event* to `h.vars`; `at` is the event time (epoch ms). */
export function addEventVars(h: HistoryInput, at: number, id: string, defaultLeaseTime: number): void {
  const v = h.vars;
  const label = eventLabel(h.event, v);
  v.set("event", label);
  v.set("event_time", isoWithOffset(at));
  v.set("event_unixtime", String(Math.floor(at / 1000)));
  v.set("event_id", id);
  const ip = eventAddress(label, h);
  if (ip) v.set("answer_ip", ip);
  if (h.query) v.set("answer_query", h.query);
  const a = h.answer;
  if (!a || (label !== "OFFER" && label !== "ACK" && label !== "INFORM")) return;
  v.set("answer_mask", a.mask);
  if (a.router) v.set("answer_router", a.router);
  if (a.dns.length) v.set("answer_dns", a.dns.join(","));
  if (label !== "INFORM") v.set("answer_lease_time", String(a.leaseTime ?? defaultLeaseTime));
}

/**
 * Records an Exchange's history event (core/respond.ts names it; this binds
 * it): answer_* and event* set on `vars` (the packet's own by default), every
 * statement bound at one event time and appended to the journal as one
 * event. The bound values stay on the Exchange for -d and --explain. Throws
 * (JournalError) when the journal cannot take them: then no reply may leave.
 */
export function recordExchange(
  journal: { record(build: (eventId: string) => JournalEntry[]): string },
  ex: Exchange,
  defaultLeaseTime: number,
  vars: Vars | null = ex.vars,
): void {
  const e = ex.event;
  if (e === null || ex.history.length === 0 || vars === null) return;
  const at = Date.now();
  journal.record((id) => {
    addEventVars({ event: e.event, vars, answer: e.answer, query: e.query }, at, id, defaultLeaseTime);
    ex.historyVars = vars;
    return ex.history.map((h) => {
      h.params = h.statement.bind(vars, at);
      return { s: h.statement.name, v: h.params };
    });
  });
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
