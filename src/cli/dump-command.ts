/**
 * `pydhcp --dump`: offline (--hex, --file, --stdin) prints one packet's
 * variables; live binds the DHCP port from the config (or --port) and prints
 * every packet without answering until SIGINT/SIGTERM. With a config, the
 * variables are those the server computes: legacy names, <options> slices
 * and the vendor-profile names chosen by <relay_profiles>.
 */
import { existsSync } from "node:fs";
import { decode } from "../codec/decode.ts";
import { DEFAULT_RELAY_PROFILES, loadConfig, formatConfigError } from "../config/load.ts";
import type { Slice } from "../config/types.ts";
import type { ProfileRule } from "../option82/profiles.ts";
import { profileVariables } from "../server/profile.ts";
import { dumpPacket, readDumpInput, runLiveDump, type DumpOptions } from "./dump.ts";

type Flags = Map<string, string | true>;

/** Exit status of an offline dump whose packet does not decode (the dump itself is printed). */
export const EXIT_MALFORMED = 1;

export async function dumpCommand(f: Flags, configPath: string, port: number | null): Promise<number> {
  let slices: readonly Slice[] = [];
  // without a config, as without <relay_profiles>: vendor profiles decoded by auto
  let rules: readonly ProfileRule[] = DEFAULT_RELAY_PROFILES;
  let host = "0.0.0.0";
  let listenPort = 67;
  if (f.has("config") || existsSync(configPath)) {
    const c = loadConfig(configPath);
    if (!c.ok) {
      for (const e of c.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
      return 2;
    }
    slices = c.config.slices;
    rules = c.config.relayProfiles;
    host = c.config.server.host;
    listenPort = c.config.server.port;
  }
  const opts: DumpOptions = {};
  if (f.has("json")) opts.format = "json";
  // the same order as the server's runtime: catalogue, slices, then profiles
  if (rules.length) {
    const r = rules;
    opts.addVariables = (v, m) => profileVariables(v, m, r);
  }

  const source = f.get("hex") ?? f.get("file") ?? (f.has("stdin") ? "-" : undefined);
  if (source !== undefined) {
    const kind = f.has("hex") ? "hex" : f.has("file") ? "file" : "auto";
    const input = await readDumpInput(source === true ? "-" : source, undefined, kind);
    if (!input.ok) {
      process.stderr.write(`pydhcp: ${input.error}\n`);
      return 2;
    }
    process.stdout.write(dumpPacket(input.bytes, slices, opts));
    return decode(input.bytes).ok ? 0 : EXIT_MALFORMED;
  }
  const at = port ?? listenPort;
  const live = await runLiveDump({ host, port: at, slices, out: (s) => process.stdout.write(s), ...opts });
  process.stderr.write(`pydhcp: dumping packets on ${host}:${at} (no replies); Ctrl-C stops\n`);
  return new Promise((resolve) => {
    const stop = () => {
      live.close();
      resolve(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
