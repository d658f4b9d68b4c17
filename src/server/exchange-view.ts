/**
 * An exchange as JSON for the API, the event stream and the page: who asked
 * (MAC, host name as hostname_text, relay, switch port from the profile),
 * what was decided (reply or silence, the deciding query), each offer query
 * with its bound values and rows, and the explanation text as
 * `pydhcp --explain` prints it, all read from the one Exchange respond()
 * returned. Values from the packet go out as JSON strings; the page escapes
 * them when it shows them.
 */
import { toHex } from "../codec/hex.ts";
import { MESSAGE_TYPE_NAME } from "../codec/message.ts";
import type { Row } from "../core/answer.ts";
import { macColons } from "./lease-view.ts";
import { exchangeOf, type ExchangeEntry } from "./exchange-ring.ts";
import { explanationOf, renderExplanation } from "./explain-render.ts";

/** rows shown per query: the first decides, a few more say "there were others" */
const ROWS_SHOWN = 5;

export interface ExchangeJson {
  id: number;
  at: string;
  mac: string;
  xid: string;
  type: string;
  from: string;
  relay: string;
  hostname: string;
  circuitId: string;
  remoteId: string;
  switch: string;
  port: string;
  vlan: string;
  /** the reply's type ("OFFER"), "OFFER not sent" when the socket refused it, or "no reply" */
  result: string;
  ip: string | null;
  /** why a decided reply did not leave (reason "send-error"); null otherwise */
  sendError: string | null;
  reason: string | null;
  note: string;
  query: string | null;
  ms: number;
  queries: { name: string; sql: string; params: readonly (string | null)[]; rows: Row[] | null; rowCount: number | null; error: string | null; ms: number }[];
  variables: Record<string, string>;
  /** history statements with their values ("queued" live, "would run" for /api/explain) */
  history: string[];
  explanation: string;
  /** the request datagram as hex ("" for /api/explain's built packets) */
  request: string;
}

export function exchangeJson(e: ExchangeEntry, historyHeading = "history statements queued:"): ExchangeJson {
  const ex = exchangeOf(e);
  const vars = ex.vars;
  const msg = ex.request.msg;
  const g = (k: string) => vars.get(k) ?? "";
  const o = ex.outcome;
  const from = `${ex.request.from.address}:${ex.request.from.port}`;
  let explanation: string;
  try {
    explanation = renderExplanation(explanationOf(ex, { configured: e.configured, sender: from, historyHeading }));
    if (e.sendError !== undefined) explanation = explanation.trimEnd() + `\nreply not sent: ${e.sendError}\n`;
  } catch (err) {
    explanation = `cannot explain this exchange: ${err instanceof Error ? err.message : String(err)}`;
  }
  return {
    id: e.id,
    at: new Date(e.at).toISOString(),
    mac: macColons(e.mac),
    xid: msg.xid.toString(16).padStart(8, "0"),
    type: MESSAGE_TYPE_NAME[ex.request.type] ?? String(ex.request.type),
    from,
    relay: msg.giaddr === "0.0.0.0" ? "" : msg.giaddr,
    hostname: g("hostname_text"),
    circuitId: g("circuit_id_text") || g("circuit_id_hex"),
    remoteId: g("remote_id_text") || g("remote_id_hex"),
    switch: g("relay_mac"),
    port: g("port") || g("interface"),
    vlan: g("vlan"),
    result: o.kind === "reply" ? (MESSAGE_TYPE_NAME[o.type] ?? String(o.type)) + (e.sendError !== undefined ? " not sent" : "") : "no reply",
    ip: o.kind === "reply" ? o.ip : null,
    sendError: e.sendError ?? null,
    reason: o.kind === "silent" ? o.reason : e.sendError !== undefined ? "send-error" : null,
    note: o.note,
    query: o.query ?? null,
    ms: +e.ms.toFixed(2),
    queries: ex.queries.map((q) => ({
      name: q.name,
      sql: q.sql,
      params: q.params,
      rows: q.error !== undefined && q.result === undefined ? null : (q.result ?? []).slice(0, ROWS_SHOWN),
      rowCount: q.error !== undefined && q.result === undefined ? null : q.rows,
      error: q.error ?? null,
      ms: +q.ms.toFixed(3),
    })),
    variables: Object.fromEntries(vars),
    history: ex.history.map((h) => `${h.event}: ${h.statement.name} values ${JSON.stringify(h.params)}`),
    explanation,
    request: toHex(e.raw),
  };
}
