/**
 * `pydhcp --dump`: offline (--hex, --file, --stdin) prints one packet's
 * variables. Live, when the config has a <metrics> listener and a pydhcp
 * answers there, it reads that server's exchange stream (the port stays
 * with the server); otherwise it binds the DHCP port from the config (or
 * --port), without SO_REUSEADDR so it never takes the port from anyone, and
 * prints every packet without answering until SIGINT/SIGTERM. With a config, the
 * variables are those the server computes: legacy names, <options> slices
 * and the vendor-profile names chosen by <relay_profiles>.
 */
import { existsSync } from "node:fs";
import { decode } from "../codec/decode.ts";
import { DEFAULT_RELAY_PROFILES, loadConfig, formatConfigError } from "../config/load.ts";
import type { Slice } from "../config/types.ts";
import type { ProfileRule } from "../option82/profiles.ts";
import { profileVariables } from "../server/profile.ts";
import { DEFAULT_HOSTNAME_CODEPAGE, hostnameText } from "../variables/text.ts";
import { dumpPacket, readDumpInput, runLiveDump, type DumpOptions } from "./dump.ts";
import { dumpFromServer } from "./dump-stream.ts";
import { SocketError } from "../server/socket.ts";

type Flags = Map<string, string | true>;

/** Exit status of an offline dump whose packet does not decode (the dump itself is printed). */
export const EXIT_MALFORMED = 1;

export async function dumpCommand(f: Flags, configPath: string, port: number | null): Promise<number> {
  let slices: readonly Slice[] = [];
  // without a config, as without <relay_profiles>: vendor profiles decoded by auto
  let rules: readonly ProfileRule[] = DEFAULT_RELAY_PROFILES;
  let host = "0.0.0.0";
  let listenPort = 67;
  let codepage = DEFAULT_HOSTNAME_CODEPAGE;
  let metrics: { host: string; port: number; token: string | null } | null = null;
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
    codepage = c.config.server.hostnameCodepage;
    metrics = c.config.metrics;
  }
  const opts: DumpOptions = {};
  if (f.has("json")) opts.format = "json";
  // the same order as the server's runtime: catalogue, slices, then profiles
  const r = rules.length ? rules : null;
  const cp = codepage;
  if (r || cp !== DEFAULT_HOSTNAME_CODEPAGE) {
    opts.addVariables = (v, m) => {
      const h = m.options.get(12);
      if (h && cp !== DEFAULT_HOSTNAME_CODEPAGE) v.set("hostname_text", hostnameText(h, cp));
      if (r) profileVariables(v, m, r);
    };
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
  const out = (s: string) => void process.stdout.write(s);
  // a pydhcp serving here: read its exchanges, never take its port
  if (metrics && port === null) {
    const h = metrics.host === "0.0.0.0" ? "127.0.0.1" : metrics.host;
    const url = `http://${h}:${metrics.port}/api/exchanges/stream`;
    const s = await dumpFromServer({ url, token: metrics.token, slices, out, ...opts });
    if (s.ok) {
      process.stderr.write(`pydhcp: reading the exchanges of the pydhcp serving here (${url}); the DHCP port stays with it; Ctrl-C stops\n`);
      return new Promise((resolve) => {
        const stop = () => {
          s.close();
          resolve(0);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
        void s.ended.then(() => {
          process.stderr.write("pydhcp: the server closed its exchange stream (stopped or restarted)\n");
          resolve(0);
        });
      });
    }
    if (s.status === 401) {
      process.stderr.write(`pydhcp: the server at ${url} refused the token from ${configPath} (401); use the config the server runs with\n`);
      return 2;
    }
  }
  let live: { close(): void };
  try {
    live = await runLiveDump({ host, port: at, slices, out, ...opts });
  } catch (e) {
    if (e instanceof SocketError && e.inUse) {
      process.stderr.write(
        `pydhcp: UDP ${host}:${at} is taken by another process (a DHCP server or relay); --dump does not take the port from it.\n` +
          `pydhcp: when that is pydhcp, give its config a <metrics> listener and --dump -c reads its exchanges from there (or capture with tcpdump -i IF port 67)\n`,
      );
      return 1;
    }
    throw e;
  }
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
