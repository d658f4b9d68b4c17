/**
 * `pydhcp --explain`: why a client gets what it gets. Takes a packet (hex,
 * file, stdin, or built from --mac/--giaddr/--circuit-id/--remote-id/--type),
 * runs it through the real config and database exactly as the server would,
 * and prints the variables, each query with its bound values, rows and time,
 * which query decided, the history statements that would run, and the reply
 * with its destination. Sends nothing and writes nothing: the offer queries
 * are the config's SELECTs, history is shown instead of queued, and lease
 * memory is never flushed.
 */
import { existsSync } from "node:fs";
import { decode } from "../codec/decode.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, type DhcpMessage } from "../codec/message.ts";
import { respond } from "../core/respond.ts";
import { loadConfig, formatConfigError } from "../config/load.ts";
import { openBackend } from "../db/open.ts";
import { createLogger } from "../log/logger.ts";
import { recordExchange } from "../server/history-event.ts";
import { LeaseMemory } from "../server/leases.ts";
import { buildRuntime, RuntimeError } from "../server/runtime.ts";
import { readDumpInput } from "./dump.ts";
import { explanationOf, renderExplanation } from "../server/explain-render.ts";
import { buildPacket } from "../server/explain-packet.ts";

type Flags = Map<string, string | true>;
const str = (f: Flags, k: string): string | undefined => {
  const v = f.get(k);
  return typeof v === "string" ? v : undefined;
};

export { buildPacket } from "../server/explain-packet.ts";

type PacketResult = { ok: true; msg: DhcpMessage; size?: number } | { ok: false; error: string };

async function readPacket(f: Flags): Promise<PacketResult> {
  const source = str(f, "hex") ?? str(f, "file") ?? (f.has("stdin") ? "-" : undefined);
  if (source === undefined) {
    const b = buildPacket(f);
    return typeof b === "string" ? { ok: false, error: b } : { ok: true, msg: b };
  }
  const input = await readDumpInput(source);
  if (!input.ok) return { ok: false, error: input.error };
  const d = decode(input.bytes);
  if (!d.ok) return { ok: false, error: `cannot decode the packet: ${d.error.message} (offset ${d.error.offset}); pydhcp --dump shows what was decoded` };
  return { ok: true, msg: d.msg, size: input.bytes.length };
}

export async function explainCommand(f: Flags, configPath: string): Promise<number> {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
    return 2;
  }
  const config = loaded.config;
  const packet = await readPacket(f);
  if (!packet.ok) {
    process.stderr.write(`pydhcp: ${packet.error}\n`);
    return 2;
  }
  const msg = packet.msg;
  // opening a missing SQLite file would create it: --explain writes nothing
  if (config.database.kind === "sqlite" && !existsSync(config.database.path)) {
    process.stderr.write(`pydhcp: ${config.database.path}: no such database; --explain reads an existing one (start the server once to create it)\n`);
    return 1;
  }

  const log = createLogger({ level: "error", format: "text" });
  let backend;
  try {
    backend = await openBackend(config.database, log);
  } catch (e) {
    process.stderr.write(`pydhcp: cannot open the database: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  try {
    // lease memory as the server has it at start; respond may change it here, but it is never flushed
    const leases = new LeaseMemory(backend.leases, log);
    await leases.warm(Math.floor(Date.now() / 1000));
    const rt = await buildRuntime({ config, backend, leases, readOnlyPools: true });
    const t = msg.options.get(53);
    const type = t && t.length === 1 ? t[0]! : 0;
    // the source port is not known offline: a relay sends from 67, a client from 68
    const relayed = msg.giaddr !== "0.0.0.0";
    const ex = await respond(
      { msg, type, ...(packet.size !== undefined ? { size: packet.size } : {}), from: { address: relayed ? msg.giaddr : "0.0.0.0", port: relayed ? DHCP_SERVER_PORT : DHCP_CLIENT_PORT }, arrived: performance.now() },
      rt.deps,
    );
    // history is shown, never written: bound as the server binds it, on a copy (the packet's variables stay as they were)
    const dryRun = (build: (eventId: string) => unknown): string => (build("(explain)"), "(explain)");
    recordExchange({ record: dryRun }, ex, config.server.leaseTime, ex.vars && new Map(ex.vars));
    process.stdout.write(
      renderExplanation(
        explanationOf(ex, {
          configured: rt.offers.map((o) => o.template.name),
          historyHeading: "history statements that would run (not run by --explain):",
          showSql: true,
        }),
      ),
    );
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
