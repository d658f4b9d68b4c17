/**
 * The answer and the event as variables for history statements
 * (docs/variables.md, "The answer and the event"). Set on the packet's own
 * variable map just before its history statements are bound.
 */
import type { HistoryEvent } from "../config/types.ts";
import type { Answer } from "../db/answer.ts";
import { isoWithOffset } from "../db/event-time.ts";
import type { CompiledTemplate } from "../db/template.ts";
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
 * The one hook the packet path calls per decision: binds the event's history
 * statements (answer variables, event time) and appends them to the journal
 * before the reply may leave. Throws (JournalError) when the journal cannot
 * take them; the caller then sends no reply.
 */
export function recordEvent(
  journal: { record(build: (eventId: string) => JournalEntry[]): string },
  statements: readonly CompiledTemplate[],
  h: HistoryInput,
  defaultLeaseTime: number,
): void {
  if (statements.length === 0) return;
  const at = Date.now();
  journal.record((id) => {
    addEventVars(h, at, id, defaultLeaseTime);
    return statements.map((t) => ({ s: t.name, v: t.bind(h.vars, at) }));
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

const EVENT_NAMES = [
  "event", "event_time", "event_unixtime", "event_id",
  "answer_ip", "answer_mask", "answer_router", "answer_dns", "answer_lease_time", "answer_query",
] as const;
