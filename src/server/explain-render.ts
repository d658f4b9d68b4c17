/**
 * The text of an explanation: how one request was (or would be) answered.
 * Shared by `pydhcp --explain` (offline, nothing sent or written) and by
 * `-d` on the live server, so an operator reads the same layout in both.
 * Pure: values in, text out.
 *
 *   packet: DISCOVER from 08:00:27:05:9e:d0 via relay 198.18.20.1, 300 bytes
 *   variables: ...
 *   queries, in order (the first row with an ip decides):
 *     offer_1  no rows  0.05 ms
 *       sql:    select ... where upper(mac)=upper(?) and upper(port)=upper(?)
 *       values: ["0006001e589eb2ad","06"]
 *       from:   {option_82_AgentRemoteId_hex} = 0006001e589eb2ad, ...
 *   decision: offer_2 matched: 192.168.0.77
 *   reply: OFFER 192.168.0.77 to 198.18.20.1:67 (relay), 300 bytes
 */
import { toHex } from "../codec/hex.ts";
import type { DhcpMessage } from "../codec/message.ts";
import type { Row } from "../core/answer.ts";
import type { Exchange, Option82Seen, Outcome, Param } from "../core/exchange.ts";
import { LEASE_MEMORY } from "../core/exchange.ts";
import type { Destination } from "../core/route.ts";
import { subOptionDef } from "../option82/suboptions.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../option82/parse.ts";
import { optionDef } from "../options/table.ts";
import { decodeOptionValue } from "../options/types.ts";
import { displayValue, formatVars } from "../variables/format.ts";
import { answerLines, requestVars } from "./history-event.ts";
import type { Vars } from "../variables/types.ts";
import { MESSAGE_TYPE_NAME } from "../codec/message.ts";

export interface ExplainedQuery {
  name: string;
  /** SQL as the database runs it, `?` for each bound value */
  sql: string;
  /** variables the query uses, in order of first use */
  names: readonly string[];
  params: readonly Param[];
  /** null when the query failed */
  rows: readonly Row[] | null;
  error: string | null;
  ms: number;
  /** from the answer cache: the run that produced the cached answer, not run for this request */
  cached?: boolean;
}

export interface Explanation {
  msg: DhcpMessage;
  /** option 53 value, 0 when absent */
  type: number;
  vars: Vars;
  /** the offer queries in config order; those not in `ran` are shown as not run */
  configured: readonly string[];
  ran: readonly ExplainedQuery[];
  outcome: Outcome;
  /** where the reply goes; null for no reply */
  dest: Destination | null;
  /** encoded reply size, or why it could not be encoded */
  encoded: { ok: true; size: number } | { ok: false; message: string } | null;
  /** datagram size and sender, when known (live) */
  size?: number;
  sender?: string;
  /** history statements with their values: "would run" offline, "queued" live */
  history?: { heading: string; lines: readonly string[] };
  /** the Option 82 the variables were bound with, when it did not come in the packet */
  option82?: Option82Seen | null;
}

/**
 * An Exchange as the renderer reads it: nothing recomputed, so `-d` and
 * `--explain` print exactly the variables and values the queries bound.
 */
/** A row as JSON, binary columns (VARBINARY, BLOB) as 0x-hex, not Buffer's {"type":"Buffer","data":[...]}. */
export function rowText(r: unknown): string {
  return JSON.stringify(r, binaryAsHex);
}

function binaryAsHex(this: unknown, key: string, value: unknown): unknown {
  const raw = key === "" ? value : (this as Record<string, unknown>)[key];
  return raw instanceof Uint8Array ? "0x" + Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("hex") : value;
}

export function explanationOf(
  ex: Pick<Exchange, "request" | "vars" | "historyVars" | "option82" | "queries" | "outcome" | "history" | "dest" | "encoded">,
  ctx: { configured: readonly string[]; sender?: string; historyHeading: string; showSql?: boolean },
): Explanation {
  const e: Explanation = {
    msg: ex.request.msg,
    type: ex.request.type,
    // recording the history event adds event* and answer_* (shown with the history statements)
    vars: ex.vars === null ? new Map() : ex.historyVars === ex.vars ? requestVars(ex.vars) : ex.vars,
    configured: ctx.configured,
    ran: ex.queries.map((q) => ({
      name: q.name,
      sql: q.sql,
      names: q.names,
      params: q.params,
      rows: q.error !== undefined && q.result === undefined ? null : (q.result ?? []),
      error: q.error ?? null,
      ms: q.ms,
      ...(q.cached ? { cached: true } : {}),
    })),
    outcome: ex.outcome,
    dest: ex.dest,
    encoded: ex.encoded === null ? null : ex.encoded.ok ? { ok: true, size: ex.encoded.bytes.length } : ex.encoded,
    option82: ex.option82,
    history: {
      heading: ctx.historyHeading,
      lines: [
        // the event and answer variables the statements bound
        ...(ex.history.length && ex.historyVars ? answerLines(ex.historyVars).map((l) => (ctx.showSql ? displayValue(l) : l)) : []),
        ...ex.history.map((h) =>
        ctx.showSql
          ? `${h.event}: ${h.statement.name}  ${displayValue(h.statement.sql)}  values ${displayValue(JSON.stringify(h.params))}`
          : `${h.event}: ${h.statement.name}  values ${JSON.stringify(h.params)}`,
        ),
      ],
    },
  };
  if (ex.request.size !== undefined) e.size = ex.request.size;
  if (ctx.sender !== undefined) e.sender = ctx.sender;
  return e;
}

/** Rows printed per query; the count is always printed. */
const MAX_ROWS = 5;

const TYPE_NAME = MESSAGE_TYPE_NAME;

const hex = toHex;

export function typeName(type: number): string {
  return TYPE_NAME[type] ?? (type === 0 ? "BOOTP (no option 53)" : `type ${type}`);
}

function macText(msg: DhcpMessage): string {
  const b = msg.chaddr.subarray(0, Math.min(msg.hlen || 6, 16));
  return msg.htype === 1 && b.length === 6 ? [...b].map((x) => x.toString(16).padStart(2, "0")).join(":") : hex(b);
}

/** RFC 3046 sub-options by name: "circuit-id 000400010006, remote-id 0006001e589eb2ad". */
export function describeRelayAgentInfo(value: Uint8Array, parsed?: RelayAgentInfoResult): string {
  const p = parsed ?? parseRelayAgentInfo(value);
  if (!p.ok) return `${hex(value)} (malformed: ${p.error.message})`;
  const parts: string[] = [];
  for (const [code, v] of p.subs) parts.push(`${subOptionDef(code)?.name ?? `sub-option ${code}`} ${v.length ? hex(v) : "(empty)"}`);
  return parts.join(", ") || "(no sub-options)";
}

function describeOption(code: number, v: Uint8Array, request: DhcpMessage): string {
  const name = optionDef(code)?.name ?? "unknown";
  let shown: string;
  if (code === 82) {
    const echoed = request.options.get(82);
    shown = describeRelayAgentInfo(v) + (echoed && hex(echoed) === hex(v) ? "  (echoed from the request, RFC 3046 2.2)" : "");
  } else {
    const d = decodeOptionValue(code, v);
    shown = !d.ok
      ? hex(v)
      : d.value instanceof Uint8Array
        ? hex(d.value)
        : Array.isArray(d.value) && d.value.every((x) => typeof x === "string" || typeof x === "number")
          ? d.value.join(", ")
          : typeof d.value === "object"
            ? JSON.stringify(d.value)
            : String(d.value);
    if (code === 53 && v.length === 1) shown += ` (DHCP${typeName(v[0]!)})`;
  }
  return `    ${String(code).padStart(3)} ${name.padEnd(24)} ${displayValue(shown)}`;
}

function queryLines(q: ExplainedQuery, decided: boolean, vars: Vars): string[] {
  const n = q.rows?.length ?? 0;
  const status = q.error !== null ? "FAILED" : n === 0 ? "no rows" : `${n} row${n === 1 ? "" : "s"}`;
  const took = q.cached ? "from the answer cache (not run)" : `${q.ms.toFixed(2)} ms`;
  const out = [`  ${q.name}  ${status}  ${took}${decided ? "  <- decided" : ""}`];
  out.push(`    sql:    ${displayValue(q.sql)}`);
  out.push(`    values: ${displayValue(JSON.stringify(q.params))}`);
  if (q.names.length) {
    const from = q.names.map((v) => `{${v}} = ${vars.has(v) ? displayValue(vars.get(v)!) : "(not set: NULL)"}`);
    out.push(`    from:   ${from.join(", ")}`);
  }
  if (q.error !== null) out.push(`    error:  ${displayValue(q.error)}`);
  for (const r of (q.rows ?? []).slice(0, MAX_ROWS)) out.push(`    row:    ${displayValue(rowText(r))}`);
  if (n > MAX_ROWS) out.push(`    ... ${n - MAX_ROWS} more rows`);
  return out;
}

function decisionLine(e: Explanation): string {
  const o = e.outcome;
  const tried = e.ran.map((q) => q.name).join(", ") || "none";
  if (o.kind === "reply") {
    if (o.query === null) return `decision: ${typeName(o.type)} without a query: ${displayValue(o.note)}`;
    if (o.query === LEASE_MEMORY) return `decision: answered from lease memory: ${displayValue(o.note)}`;
    return `decision: ${o.query} matched${o.ip ? `: ${o.ip}` : ""} (${displayValue(o.note)})`;
  }
  switch (o.reason) {
    case "no-match":
      return `decision: no query matched (tried ${tried}); no reply`;
    case "db-error":
      return `decision: ${o.query ?? "the database"} failed; no reply: ${displayValue(o.note)}`;
    default:
      return `decision: no reply (${o.reason}${o.query ? `, query ${o.query}` : ""}): ${displayValue(o.note)}`;
  }
}

/** The whole explanation, lines joined with "\n" and a final newline. */
export function renderExplanation(e: Explanation): string {
  const { msg } = e;
  const out: string[] = [];
  const w = (...lines: string[]): void => void out.push(...lines);
  const via = msg.giaddr !== "0.0.0.0" ? ` via relay ${msg.giaddr}` : "";
  const from = e.sender ? ` (sender ${displayValue(e.sender)})` : "";
  w(`packet: ${typeName(e.type)} from ${macText(msg)}${via}${from}${e.size !== undefined ? `, ${e.size} bytes` : ""}, xid ${msg.xid.toString(16).padStart(8, "0")}`);
  const rai = msg.options.get(82);
  const profile = e.vars.has("profile") ? `  (profile ${e.vars.get("profile")})` : "";
  // parsed once, by whoever saw the packet first; shown from that
  const seen = e.option82;
  if (rai) w(`  option 82: ${describeRelayAgentInfo(rai, seen?.source === "packet" ? seen.parsed : undefined)}${profile}`);
  else if (seen && seen.source === "lease memory") {
    w(`  option 82: ${describeRelayAgentInfo(seen.bytes, seen.parsed)}${profile}  (from lease memory: the request carried none)`);
  }
  w("");
  w("variables:");
  w(formatVars(e.vars, "  ").trimEnd());
  w("");
  const decidedBy = e.outcome.kind === "reply" ? e.outcome.query : null;
  w("queries, in order (the first row with an ip decides):");
  for (const q of e.ran) w(...queryLines(q, q.name === decidedBy, e.vars));
  const notRun = e.configured.filter((n) => !e.ran.some((q) => q.name === n));
  if (notRun.length) w(`  not run: ${notRun.join(", ")}${e.ran.length ? "" : " (this message needs no lookup)"}`);
  w("");
  w(decisionLine(e));
  if (e.outcome.kind === "reply") {
    const o = e.outcome;
    const r = o.reply;
    const size = e.encoded === null ? "" : e.encoded.ok ? `, ${e.encoded.size} bytes` : `, NOT ENCODABLE: ${e.encoded.message}`;
    const to = e.dest ? ` to ${e.dest.address}:${e.dest.port} (${e.dest.why})` : "";
    w(`reply: ${typeName(o.type)}${o.ip ? " " + o.ip : ""}${to}${size}`);
    w(`  yiaddr ${r.yiaddr}  ciaddr ${r.ciaddr}  siaddr ${r.siaddr}  giaddr ${r.giaddr}  flags ${r.flags.toString(16).padStart(4, "0")}${e.dest?.setBroadcastFlag ? " (+ broadcast bit)" : ""}`);
    w("  options:");
    for (const [code, v] of r.options) w(describeOption(code, v, msg));
  } else {
    w("reply: none");
  }
  if (e.history && e.history.lines.length) {
    w("");
    w(e.history.heading);
    for (const l of e.history.lines) w("  " + l);
  }
  return out.join("\n") + "\n";
}
