/**
 * `-d` on the live server: each exchange explained as `--explain` explains
 * a packet (explain-render.ts), with what really happened: the queries that
 * ran with their bound values and rows, the decision, the reply and where
 * it goes, the history statements queued.
 *
 * Queries are traced through RuntimeParts.trace. Several packets are looked
 * up at once (<ThreadLimit>), so each trace is filed under the packet whose
 * handling ran the query: an AsyncLocalStorage scope opened around handle().
 * Without -d none of this runs (one branch per packet in the server).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { encode } from "../codec/encode.ts";
import type { DhcpMessage } from "../codec/message.ts";
import type { HistoryEvent } from "../config/types.ts";
import type { Answer } from "../db/answer.ts";
import { answerLines } from "./history-event.ts";
import type { ServiceLogger } from "../log/logger.ts";
import { handle, type HandleDeps, type Outcome } from "./handle.ts";
import type { QueryTrace, Runtime } from "./runtime.ts";
import type { Vars } from "../variables/types.ts";
import { explainedQueries, renderExplanation, replyDestination } from "./explain-render.ts";

/** The traces of the packet being handled in this async context; none outside handleExplained. */
const scope = new AsyncLocalStorage<QueryTrace[]>();

/** RuntimeParts.trace for -d: files a query's trace under the packet that ran it. */
export function liveTrace(t: QueryTrace): void {
  scope.getStore()?.push(t);
}

export interface LiveRequest {
  msg: DhcpMessage;
  type: number;
  /** datagram size and UDP source, as received */
  size: number;
  address: string;
  port: number;
}

/**
 * handle() for one packet, then its explanation as DEBUG lines (one log line
 * per text line, each tagged with the xid so concurrent exchanges can be told
 * apart even when collected out of order). Returns handle()'s outcome
 * unchanged; a failure to explain is logged, never thrown.
 */
export async function handleExplained(req: LiveRequest, rt: Runtime, log: ServiceLogger): Promise<Outcome> {
  const traces: QueryTrace[] = [];
  const queued: string[] = [];
  const deps: HandleDeps = {
    ...rt.handleDeps,
    history: (event: HistoryEvent, vars: Vars, answer?: Answer | null, query?: string | null) => {
      rt.handleDeps.history(event, vars, answer, query);
      if (rt.history[event].length) queued.push(...answerLines(vars));
      const at = Date.parse(vars.get("event_time") ?? "") || Date.now();
      for (const t of rt.history[event]) queued.push(`${event}: ${t.name}  values ${JSON.stringify(t.bind(vars, at))}`);
    },
  };
  const outcome = await scope.run(traces, () => handle(req.msg, req.type, deps));
  try {
    const dest = outcome.kind === "reply" ? replyDestination(req.msg, req.type, outcome.type, rt, req.port) : null;
    const enc = outcome.kind === "reply" ? encode(outcome.reply) : null;
    const text = renderExplanation({
      msg: req.msg,
      type: req.type,
      vars: rt.variables(req.msg),
      configured: rt.offers.map((o) => o.template.name),
      ran: explainedQueries(rt, traces),
      outcome,
      dest,
      encoded: enc === null ? null : enc.ok ? { ok: true, size: enc.bytes.length } : { ok: false, message: enc.error.message },
      size: req.size,
      sender: `${req.address}:${req.port}`,
      history: { heading: "history statements queued:", lines: queued },
    });
    const xid = req.msg.xid.toString(16).padStart(8, "0");
    for (const line of text.trimEnd().split("\n")) log.debug(`explain ${xid} | ${line}`);
  } catch (e) {
    log.warn("cannot explain an exchange", { error: e instanceof Error ? e.message : String(e) });
  }
  return outcome;
}
