#!/usr/bin/env bun
/**
 * pydhcp's entry point: flags -> one of serve, --check, --dump, --explain,
 * `leases`, `lease release`, `history replay`.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.
 */
import pkg from "../../package.json" with { type: "json" };
import { helpText, parseArgs, UsageError } from "./args.ts";
import { serve } from "./serve.ts";
import { stdoutDrained, trackStdout } from "./stdout.ts";

const version = pkg.version;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "probe") {
    const { probeCommand } = await import("./probe.ts");
    return probeCommand(argv.slice(1));
  }
  let args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`pydhcp: ${e.message}\n(see pydhcp --help)\n`);
      return 2;
    }
    throw e;
  }
  const f = args.flags;
  if (f.has("help")) {
    process.stdout.write(helpText(version));
    return 0;
  }
  if (f.has("version")) {
    process.stdout.write(`pydhcp ${version} (bun ${Bun.version})\n`);
    return 0;
  }
  const sub = args.rest.join(" ");
  if (sub === "leases" || sub === "lease release") {
    const cfg = typeof f.get("config") === "string" ? (f.get("config") as string) : "config.xml";
    const m = await import("./leases.ts");
    return sub === "leases" ? m.leasesCommand(f, cfg) : m.leaseReleaseCommand(f, cfg);
  }
  if (sub === "history replay") {
    const cfg = typeof f.get("config") === "string" ? (f.get("config") as string) : "config.xml";
    const { historyReplayCommand } = await import("./history-replay.ts");
    return historyReplayCommand(f, cfg);
  }
  if (args.rest.length) {
    process.stderr.write(`pydhcp: unexpected argument ${args.rest[0]}\n(see pydhcp --help)\n`);
    return 2;
  }
  const configPath = typeof f.get("config") === "string" ? (f.get("config") as string) : "config.xml";
  const portText = f.get("port");
  let port: number | null = null;
  if (typeof portText === "string") {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      process.stderr.write(`pydhcp: --port ${portText}: not a UDP port\n`);
      return 2;
    }
  }
  if (f.has("check")) {
    const { runCheck } = await import("./check.ts");
    const r = await runCheck(configPath);
    for (const l of r.lines) (r.ok ? process.stdout : process.stderr).write(l + "\n");
    return r.exitCode;
  }
  if (f.has("dump")) {
    const { dumpCommand } = await import("./dump-command.ts");
    return dumpCommand(f, configPath, port);
  }
  if (f.has("explain")) {
    const { explainCommand } = await import("./explain.ts");
    return explainCommand(f, configPath);
  }
  return serve({ configPath, debug: f.has("debug"), port });
}

trackStdout();
main(process.argv.slice(2)).then(
  async (code) => {
    await stdoutDrained();
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`pydhcp: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
