/**
 * `pydhcp -c config.xml`: load the config, hand it to the service
 * (server/service.ts), and wire the signals to it: SIGHUP reloads,
 * SIGTERM/SIGINT stop. Signals are handled from the first moment, also
 * while the database is awaited at start-up.
 */
import { loadConfig, formatConfigError } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { createLogger } from "../log/logger.ts";
import { createMetrics } from "../service/metrics.ts";
import { Service } from "../server/service.ts";

export interface ServeOptions {
  configPath: string;
  debug: boolean;
  port: number | null;
}

function applyOverrides(c: Config, o: ServeOptions): Config {
  return {
    ...c,
    server: { ...c.server, ...(o.port !== null ? { port: o.port } : {}) },
    log: o.debug ? { ...c.log, level: "debug" } : c.log,
  };
}

export async function serve(o: ServeOptions): Promise<number> {
  const loaded = loadConfig(o.configPath);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
    return 2;
  }
  const config = applyOverrides(loaded.config, o);
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const service = new Service(config, { configPath: o.configPath, adjust: (c) => applyOverrides(c, o), log, metrics: createMetrics() });
  const onSignal = (sig: NodeJS.Signals): void => {
    if (sig === "SIGHUP") {
      log.info("SIGHUP: reloading the configuration", { file: o.configPath });
      service.reload();
    } else void service.stop(sig);
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, onSignal);
  const code = await service.run();
  log.flush();
  return code;
}
