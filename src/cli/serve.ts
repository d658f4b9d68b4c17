/**
 * The service lifecycle: load and check the config, open the database, bind,
 * serve; SIGHUP reloads whole-or-nothing; SIGTERM/SIGINT drain and exit 0.
 * Housekeeping that pydhcpdb users ran from cron (expired leases, history
 * retention) runs here in small batches.
 */
import { loadConfig, formatConfigError } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import type { Backend } from "../db/backend.ts";
import { DbError } from "../db/backend.ts";
import { openBackend } from "../db/open.ts";
import { createLogger, type ServiceLogger } from "../log/logger.ts";
import { createMetrics } from "../service/metrics.ts";
import { startHttp, type HttpHandle } from "../service/http.ts";
import { dropPrivileges } from "../service/privileges.ts";
import { HistoryWriter } from "../server/history.ts";
import { LeaseMemory } from "../server/leases.ts";
import { buildRuntime, RuntimeError, type Runtime } from "../server/runtime.ts";
import { DhcpServer } from "../server/server.ts";
import { HISTORY_SERIES, LEASE_WRITE_SERIES, serverMetrics, type ServerMetrics } from "../server/stats.ts";
import { LatencyWatch } from "../server/latency.ts";
import { AnswerCache } from "../server/answer-cache.ts";
import { CACHE_RESULTS } from "../service/metrics.ts";
import { pruneHistory } from "../server/retention.ts";

export interface ServeOptions {
  configPath: string;
  debug: boolean;
  port: number | null;
}

const SHUTDOWN_MS = 4500;

function applyOverrides(c: Config, o: ServeOptions): Config {
  return {
    ...c,
    server: { ...c.server, ...(o.port !== null ? { port: o.port } : {}) },
    log: o.debug ? { ...c.log, level: "debug" } : c.log,
  };
}

/**
 * Settings used once at start: a reload cannot change them (the sockets,
 * the privilege drop, the logger, the HTTP listener, the timers and the
 * spool file are made once). A reload that changes one says so.
 */
const RESTART_ONLY: readonly [string, (c: Config) => unknown][] = [
  ["dhcpserver/host", (c) => c.server.host],
  ["dhcpserver/port", (c) => c.server.port],
  ["dhcpserver/interfaces", (c) => c.server.interfaces],
  ["dhcpserver/user", (c) => c.server.user],
  ["dhcpserver/group", (c) => c.server.group],
  ["log", (c) => c.log],
  ["metrics", (c) => c.metrics],
  ["leases/cleanupInterval", (c) => c.leases.cleanupIntervalSeconds],
  ["history/spool", (c) => c.spoolPath],
];

function restartOnlyChanges(running: Config, next: Config): string[] {
  return RESTART_ONLY.filter(([, f]) => JSON.stringify(f(running)) !== JSON.stringify(f(next))).map(([name]) => name);
}

/** The backend is kept across a reload when neither the database nor the query timeout it enforces changed. */
function sameDatabase(a: Config, b: Config): boolean {
  return JSON.stringify(a.database) === JSON.stringify(b.database) && a.queryTimeoutMs === b.queryTimeoutMs;
}

/**
 * Opens the backend and builds the runtime, waiting out a database that is
 * not up yet. `pause` returns early when a signal arrives: SIGTERM stops the
 * wait, SIGHUP makes `current` re-read the config before the next attempt.
 */
async function start(
  current: () => Config,
  log: ServiceLogger,
  parts: { leases?: LeaseMemory; history?: HistoryWriter; metrics: ReturnType<typeof serverMetrics>; cache: AnswerCache },
  stopping: () => boolean,
  pause: (ms: number) => Promise<void>,
): Promise<{ backend: Backend; runtime: Runtime; leases: LeaseMemory; history: HistoryWriter; config: Config } | null> {
  let delay = 500;
  for (;;) {
    if (stopping()) return null;
    const config = current();
    let backend: Backend | null = null;
    try {
      const b = await openBackend(config.database, log, config.queryTimeoutMs);
      backend = b;
      const leases = parts.leases ?? new LeaseMemory(b.leases, log);
      const history = parts.history ?? new HistoryWriter(b, config.spoolPath, log);
      const runtime = await buildRuntime({ config, backend: b, leases, history, log, metrics: parts.metrics, cache: parts.cache });
      const warmed = await leases.warm(Math.floor(Date.now() / 1000));
      if (warmed) log.info("lease memory loaded", { leases: warmed });
      return { backend: b, runtime, leases, history, config };
    } catch (e) {
      await backend?.close().catch(() => {});
      if (e instanceof DbError && e.kind === "connect") {
        log.error(`database unavailable, retrying in ${delay} ms`, { error: e.message });
        await pause(delay);
        delay = Math.min(delay * 2, 10_000);
        continue;
      }
      throw e;
    }
  }
}

export async function serve(o: ServeOptions): Promise<number> {
  const loaded = loadConfig(o.configPath);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`pydhcp: ${formatConfigError(e)}\n`);
    return 2;
  }
  let config = applyOverrides(loaded.config, o);
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const metrics = createMetrics();
  // every statement's time feeds its histogram and the once-a-minute slow-p99 line
  const watch = new LatencyWatch(log, config.slowP99Ms);
  const sm0 = serverMetrics(metrics);
  const cacheResult = new Map(CACHE_RESULTS.map((r) => [r, metrics.answerCacheLookups.labels(r)] as const));
  const cache = new AnswerCache(config.answerCache, (r) => cacheResult.get(r)!.inc());
  const sm: ServerMetrics = {
    ...sm0,
    query: (name, s) => {
      sm0.query(name, s);
      watch.observe(name, s);
    },
  };
  let stopping = false;

  // Signals are handled from the first moment: while the database is awaited
  // at start-up, SIGTERM/SIGINT end the wait (exit 0) and SIGHUP re-reads the
  // config for the next attempt. Serving replaces `onSignal` below.
  let wake: () => void = () => {};
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  let reread = false;
  let stopSignal: NodeJS.Signals | null = null;
  let onSignal = (sig: NodeJS.Signals): void => {
    if (sig === "SIGHUP") reread = true;
    else {
      stopSignal ??= sig;
      stopping = true;
    }
    wake();
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => onSignal(sig));
  const current = (): Config => {
    if (!reread) return config;
    reread = false;
    const next = loadConfig(o.configPath);
    if (next.ok) {
      config = applyOverrides(next.config, o);
      metrics.reloads.labels("ok").inc();
      log.info("configuration reloaded", { file: config.file });
    } else {
      metrics.reloads.labels("failed").inc();
      log.error("reload refused: configuration has errors; the old one is used", {
        errors: next.errors.map(formatConfigError).join("; "),
      });
    }
    return config;
  };

  let started;
  try {
    started = await start(current, log, { metrics: sm, cache }, () => stopping, pause);
  } catch (e) {
    if (e instanceof RuntimeError) {
      for (const p of e.problems) process.stderr.write(`pydhcp: ${p}\n`);
      log.flush();
      return 2;
    }
    log.error("start-up failed", { error: e instanceof Error ? e.message : String(e) });
    log.flush();
    return 1;
  }
  if (!started) {
    log.info("stopped", { signal: stopSignal ?? "" });
    log.flush();
    return 0;
  }
  config = started.config;
  cache.configure(config.answerCache);
  /** the config the process started with: what restart-only settings are compared against */
  const initial = config;
  let { backend } = started;
  const { leases, history } = started;
  history.onBatch = (s) => sm.query(HISTORY_SERIES, s);
  leases.onWrite = (s) => sm.query(LEASE_WRITE_SERIES, s);
  const server = new DhcpServer(started.runtime, leases, history, log, sm);
  try {
    await server.listen();
  } catch (e) {
    log.error("cannot listen", { error: e instanceof Error ? e.message : String(e) });
    log.flush();
    return 1;
  }
  if (config.server.user) {
    const r = dropPrivileges(config.server.user, config.server.group, log);
    if (!r.ok) {
      log.error("cannot drop privileges", { error: r.error.message });
      log.flush();
      return 1;
    }
  }
  let http: HttpHandle | null = null;
  if (config.metrics) {
    http = startHttp({
      host: config.metrics.host,
      port: config.metrics.port,
      metrics,
      health: () =>
        server.runtime.backend.ping().then(
          () => true,
          () => false,
        ),
      log,
    });
  }

  // housekeeping off the reply path
  const counted = { written: 0, spooled: 0 };
  const flushTimer = setInterval(() => {
    void leases.flush();
    metrics.leasesInMemory.set(leases.size);
    metrics.answerCacheEntries.set(cache.size);
    metrics.historyRowsWritten.inc(history.stats.written - counted.written);
    metrics.historyRowsSpooled.inc(history.stats.spooled - counted.spooled);
    counted.written = history.stats.written;
    counted.spooled = history.stats.spooled;
  }, 100);
  let cleaning = false;
  const cleanupTimer = setInterval(async () => {
    if (cleaning) return;
    cleaning = true;
    try {
      const now = Math.floor(Date.now() / 1000);
      const n = await leases.cleanup(now, 1000);
      if (n) log.info("expired leases removed", { leases: n });
      const days = server.runtime.config.historyRetentionDays;
      if (days) {
        const p = await pruneHistory(server.runtime.backend, days);
        if (p) log.info("old history rows pruned", { rows: p, retentionDays: days });
      }
    } catch (e) {
      log.warn("housekeeping failed; will retry", { error: e instanceof Error ? e.message : String(e) });
    } finally {
      cleaning = false;
    }
  }, config.leases.cleanupIntervalSeconds * 1000);

  let reloading = false;
  const reload = async () => {
    if (reloading || stopping) return;
    reloading = true;
    try {
      const next = loadConfig(o.configPath);
      if (!next.ok) {
        metrics.reloads.labels("failed").inc();
        log.error("reload refused: configuration has errors; the old one keeps serving", {
          errors: next.errors.map(formatConfigError).join("; "),
        });
        return;
      }
      const nc = applyOverrides(next.config, o);
      const reuse = sameDatabase(config, nc);
      const nb = reuse ? backend : await openBackend(nc.database, log, nc.queryTimeoutMs);
      try {
        const rt = await buildRuntime({ config: nc, backend: nb, leases, history, log, metrics: sm, cache });
        const later = restartOnlyChanges(initial, nc);
        if (later.length) log.warn("some changes take effect only at restart; the rest is reloaded", { settings: later.join(" ") });
        // rows of exchanges answered so far belong to the old database; no await between this and the swap
        if (!reuse) await history.flush();
        server.swap(rt);
        // answers learned under the old queries or database are not the new config's answers
        cache.configure(nc.answerCache);
        if (!reuse) {
          const old = backend;
          backend = nb;
          leases.setStore(nb.leases);
          history.setBackend(nb);
          setTimeout(() => void old.close().catch(() => {}), 5000);
        }
        config = nc;
        watch.setThreshold(nc.slowP99Ms);
        metrics.reloads.labels("ok").inc();
        log.info("configuration reloaded", { file: nc.file, offers: rt.offers.length });
      } catch (e) {
        if (!reuse) await nb.close().catch(() => {});
        throw e;
      }
    } catch (e) {
      metrics.reloads.labels("failed").inc();
      const msg = e instanceof RuntimeError ? e.problems.join("; ") : e instanceof Error ? e.message : String(e);
      log.error("reload failed; the old configuration keeps serving", { error: msg });
    } finally {
      reloading = false;
    }
  };

  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("stopping", { signal });
      const force = setTimeout(() => {
        // something did not finish (history or the database hung): say so in the exit code
        log.error("shutdown took too long; exiting with work unfinished", { pendingHistory: history.pending });
        log.flush();
        resolve(1);
      }, SHUTDOWN_MS);
      const drained = await server.drain(2500);
      if (!drained) log.warn("some requests were still in flight at shutdown");
      clearInterval(flushTimer);
      clearInterval(cleanupTimer);
      await leases.flush();
      await history.close();
      await http?.stop();
      await backend.close().catch(() => {});
      clearTimeout(force);
      log.info("stopped", { historyWritten: history.stats.written, historySpooled: history.pending });
      log.flush();
      resolve(0);
    };
    onSignal = (sig) => void (sig === "SIGHUP" ? reload() : shutdown(sig));
    // a signal that came while binding and starting is acted on now
    if (stopSignal) {
      stopping = false;
      void shutdown(stopSignal);
    } else if (reread) {
      reread = false;
      void reload();
    }
  });
}
