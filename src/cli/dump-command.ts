/**
 * `pydhcp --dump`: offline (--hex, --file, --stdin) prints one packet's
 * variables; live binds the DHCP port from the config (or --port) and prints
 * every packet without answering until SIGINT/SIGTERM.
 */
import { existsSync } from "node:fs";
import { loadConfig, formatConfigError } from "../config/load.ts";
import type { Slice } from "../config/types.ts";
import { dumpPacket, readDumpInput, runLiveDump } from "./dump.ts";

export async function dumpCommand(f: Map<string, string | true>, configPath: string, port: number | null): Promise<number> {
  let slices: readonly Slice[] = [];
  let host = "0.0.0.0";
  let listenPort = 67;
  const explicit = f.has("config");
  if (explicit || existsSync(configPath)) {
    const c = loadConfig(configPath);
    if (!c.ok) {
      for (const e of c.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
      return 2;
    }
    slices = c.config.slices;
    host = c.config.server.host;
    listenPort = c.config.server.port;
  }
  const source = f.get("hex") ?? f.get("file") ?? (f.has("stdin") ? "-" : undefined);
  if (source !== undefined) {
    const input = await readDumpInput(source === true ? "-" : source);
    if (!input.ok) {
      process.stderr.write(`pydhcp: ${input.error}\n`);
      return 2;
    }
    process.stdout.write(dumpPacket(input.bytes, slices));
    return 0;
  }
  const live = await runLiveDump({ host, port: port ?? listenPort, slices, out: (s) => process.stdout.write(s) });
  process.stderr.write(`pydhcp: dumping packets on ${host}:${port ?? listenPort} (no replies); Ctrl-C stops\n`);
  return new Promise((resolve) => {
    const stop = () => {
      live.close();
      resolve(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
