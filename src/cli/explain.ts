/**
 * `pydhcp --explain`: why a client gets what it gets. Takes a packet (hex,
 * file, stdin, or built from --mac/--giaddr/--circuit-id/--remote-id/--type),
 * runs it through the real config and database exactly as the server would,
 * and prints the variables, each query with its bound values, rows and time,
 * which query decided, the history statements that would run, and the reply
 * with its destination. Sends nothing and writes nothing.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../codec/decode.ts";
import { encode } from "../codec/encode.ts";
import { parseIPv4 } from "../codec/ip.ts";
import { MessageType, type DhcpMessage } from "../codec/message.ts";
import { loadConfig, formatConfigError } from "../config/load.ts";
import type { HistoryEvent } from "../config/types.ts";
import { openBackend } from "../db/open.ts";
import { createLogger } from "../log/logger.ts";
import { encodeRelayAgentInfo } from "../option82/parse.ts";
import { decodeOptionValue } from "../options/types.ts";
import { optionDef } from "../options/table.ts";
import { handle } from "../server/handle.ts";
import { HistoryWriter } from "../server/history.ts";
import { LeaseMemory } from "../server/leases.ts";
import { route } from "../server/route.ts";
import { buildRuntime, RuntimeError, type QueryTrace } from "../server/runtime.ts";
import { TYPE_NAMES } from "../server/server.ts";
import { serverMetrics } from "../server/stats.ts";
import { createMetrics } from "../service/metrics.ts";
import { displayValue, formatVars } from "../variables/format.ts";
import { readDumpInput } from "./dump.ts";

type Flags = Map<string, string | true>;
const str = (f: Flags, k: string): string | undefined => {
  const v = f.get(k);
  return typeof v === "string" ? v : undefined;
};

/** "0x0004..." or "aa:bb" style hex -> bytes; anything else is text. */
function hexOrText(s: string): Uint8Array {
  const h = s.startsWith("0x") ? s.slice(2) : /^([0-9a-f]{2}[:-]){1,}[0-9a-f]{2}$/i.test(s) ? s.replace(/[:-]/g, "") : null;
  if (h !== null && /^([0-9a-f]{2})+$/i.test(h)) return Uint8Array.from(Buffer.from(h, "hex"));
  return new TextEncoder().encode(s);
}

/** A request as a client (or relay) would send it, from command-line flags. */
export function buildPacket(f: Flags): DhcpMessage | string {
  const mac = str(f, "mac");
  if (!mac) return "--explain needs a packet: --hex, --file, --stdin, or --mac";
  const m = mac.replace(/[:.-]/g, "");
  if (!/^[0-9a-f]{12}$/i.test(m)) return `--mac ${mac}: not a MAC address`;
  const typeName = (str(f, "type") ?? "DISCOVER").toUpperCase();
  const type = (MessageType as Record<string, number>)[typeName];
  if (!type) return `--type ${typeName}: one of ${Object.keys(MessageType).join(", ")}`;
  const giaddr = str(f, "giaddr") ?? "0.0.0.0";
  if (parseIPv4(giaddr) === null) return `--giaddr ${giaddr}: not an IPv4 address`;
  const chaddr = new Uint8Array(16);
  chaddr.set(Buffer.from(m, "hex"));
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(type)]]);
  const req = str(f, "requested-ip");
  if (req) {
    const n = parseIPv4(req);
    if (n === null) return `--requested-ip ${req}: not an IPv4 address`;
    options.set(50, Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255));
  }
  options.set(55, Uint8Array.of(1, 3, 6, 15, 51, 54));
  const subs = new Map<number, Uint8Array>();
  const cid = str(f, "circuit-id");
  const rid = str(f, "remote-id");
  if (cid) subs.set(1, hexOrText(cid));
  if (rid) subs.set(2, hexOrText(rid));
  if (subs.size) {
    const r = encodeRelayAgentInfo(subs);
    if (!r.ok) return r.error.message;
    options.set(82, r.bytes);
  }
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: giaddr === "0.0.0.0" ? 0 : 1,
    xid: 0x12345678,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr,
    chaddr,
    sname: new Uint8Array(64),
    file: new Uint8Array(128),
    options,
  };
}

function describeOption(code: number, v: Uint8Array): string {
  const def = optionDef(code);
  const d = decodeOptionValue(code, v);
  const shown = d.ok
    ? typeof d.value === "object" && !(d.value instanceof Uint8Array)
      ? JSON.stringify(d.value)
      : d.value instanceof Uint8Array
        ? Buffer.from(d.value).toString("hex")
        : String(d.value)
    : Buffer.from(v).toString("hex");
  return `  ${String(code).padStart(3)} ${(def?.name ?? "unknown").padEnd(24)} ${displayValue(shown)}`;
}

export async function explainCommand(f: Flags, configPath: string): Promise<number> {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
    return 2;
  }
  const config = loaded.config;
  let msg: DhcpMessage;
  const source = str(f, "hex") ?? str(f, "file") ?? (f.has("stdin") ? "-" : undefined);
  if (source !== undefined) {
    const input = await readDumpInput(source);
    if (!input.ok) {
      process.stderr.write(`pydhcp: ${input.error}\n`);
      return 2;
    }
    const d = decode(input.bytes);
    if (!d.ok) {
      process.stderr.write(`pydhcp: cannot decode the packet: ${d.error.message} (offset ${d.error.offset})\n`);
      return 2;
    }
    msg = d.msg;
  } else {
    const b = buildPacket(f);
    if (typeof b === "string") {
      process.stderr.write(`pydhcp: ${b}\n`);
      return 2;
    }
    msg = b;
  }

  const out: string[] = [];
  const w = (s = "") => out.push(s);
  const log = createLogger({ level: "error", format: "text" });
  const backend = await openBackend(config.database, log, config.queryTimeoutMs);
  try {
    const traces: QueryTrace[] = [];
    const leases = new LeaseMemory(backend.leases, log);
    await leases.warm(Math.floor(Date.now() / 1000));
    const history = new HistoryWriter(backend, join(tmpdir(), `pydhcp-explain-${process.pid}.spool`), log);
    const rt = await buildRuntime({
      config,
      backend,
      leases,
      history,
      log,
      metrics: serverMetrics(createMetrics()),
      trace: (t) => traces.push(t),
    });
    const wouldRun: string[] = [];
    const deps = {
      ...rt.handleDeps,
      history: (event: HistoryEvent, vars: Map<string, string>) => {
        for (const s of rt.history[event]) {
          wouldRun.push(`  ${event}: ${s.template.name}  values ${JSON.stringify(s.template.bind(vars))}`);
        }
      },
    };
    const t = msg.options.get(53);
    const type = t && t.length === 1 ? t[0]! : 0;
    w(`packet: ${TYPE_NAMES[type] ?? "type " + type} from ${Buffer.from(msg.chaddr.subarray(0, Math.min(msg.hlen, 16))).toString("hex")}` + (msg.giaddr !== "0.0.0.0" ? ` via relay ${msg.giaddr}` : ""));
    w();
    w("variables:");
    w(formatVars(rt.variables(msg), "  ").trimEnd());
    w();
    const outcome = await handle(msg, type, deps);
    w("queries, in order:");
    if (!traces.length) w("  (none ran)");
    const decidedBy = outcome.kind === "reply" ? outcome.query : null;
    for (const q of traces) {
      const rows = q.result ?? [];
      w(`  ${q.name}  ${q.ms.toFixed(2)} ms${q.name === decidedBy ? "  <- decided" : ""}`);
      w(`    sql:    ${rt.offers.find((o) => o.template.name === q.name)?.template.sql ?? "?"}`);
      w(`    values: ${JSON.stringify(q.params)}`);
      if (q.error) w(`    error:  ${displayValue(q.error)}`);
      else w(`    rows:   ${rows.length ? rows.slice(0, 5).map((r) => displayValue(JSON.stringify(r))).join("\n            ") : "(none)"}`);
    }
    w();
    if (wouldRun.length) {
      w("history statements that would run:");
      for (const l of wouldRun) w(l);
      w();
    }
    if (outcome.kind === "silent") {
      w(`result: no reply (${outcome.reason}${outcome.query ? `, query ${outcome.query}` : ""}): ${displayValue(outcome.note)}`);
    } else {
      const dest = route(
        { giaddr: msg.giaddr, ciaddr: msg.ciaddr, flags: msg.flags, replyType: outcome.type, requestType: type, sourcePort: 68, relaySourcePort: false },
        { broadcast: config.server.broadcast, relayPort: rt.relayPort, clientPort: config.server.clientPort },
      );
      const enc = encode(outcome.reply);
      w(`result: ${TYPE_NAMES[outcome.type]}${outcome.ip ? " " + outcome.ip : ""}, decided by ${outcome.query ?? "-"}`);
      w(`  to ${dest.address}:${dest.port} (${dest.why}), ${enc.ok ? enc.bytes.length + " bytes" : "not encodable: " + enc.error.message}`);
      w(`  yiaddr ${outcome.reply.yiaddr}  ciaddr ${outcome.reply.ciaddr}  giaddr ${outcome.reply.giaddr}  flags ${outcome.reply.flags.toString(16).padStart(4, "0")}`);
      w("  options:");
      for (const [code, v] of outcome.reply.options) w("  " + describeOption(code, v));
    }
    process.stdout.write(out.join("\n") + "\n");
    return 0;
  } catch (e) {
    if (e instanceof RuntimeError) {
      for (const p of e.problems) process.stderr.write(`pydhcp: ${p}\n`);
      return 2;
    }
    process.stderr.write(`pydhcp: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await backend.close().catch(() => {});
  }
}
