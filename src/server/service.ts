/**
 * The service: start, reload, stop. One object owns the running state (the
 * config, the backend, the server, lease memory, history, housekeeping).
 *
 *   start   load and check the config, open the database (waiting out one
 *           that is not up yet), bind, drop privileges, serve
 *   reload  the one reload path, whatever the state: re-read the config and,
 *           once serving, build a new runtime and swap it in whole or not at
 *           all. Reloads never overlap: a request during one is queued (and
 *           logged); several queued make one more reload, which reads the
 *           file as it is then, so the last SIGHUP always wins
 *   stop    stop taking packets, let lookups in flight finish within their
 *           bound and abandon the rest, write leases and history, exit 0
 */
import { statSync } from "node:fs";
import { databaseOwner, formerDatabaseOwner } from "../db/settings.ts";
import { loadConfig, formatConfigError } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import type { Backend } from "../db/backend.ts";
import type { DatabaseSettings } from "../db/settings.ts";
import { DbError } from "../db/backend.ts";
import { openBackend } from "../db/open.ts";
import { OfflineBackend } from "../db/offline.ts";
import type { ServiceLogger } from "../log/logger.ts";
import { CACHE_RESULTS, type PydhcpMetrics } from "../service/metrics.ts";
import { startHttp, type HttpHandle } from "../service/http.ts";
import { createApi } from "../service/api.ts";
import { helpDeskPage } from "../service/page.ts";
import { ExchangeRing } from "./exchange-ring.ts";
import { SocketError } from "./socket.ts";
import { dropPrivileges } from "../service/privileges.ts";
import { HistoryWriter } from "./history.ts";
import { LeaseMemory } from "./leases.ts";
import { readSnapshot, removeSnapshot, snapshotPath, writeSnapshot } from "./lease-snapshot.ts";
import { pruneHistory } from "./retention.ts";
import { buildRuntime, RuntimeError, type Runtime } from "./runtime.ts";
import type { PoolGauges } from "./pools.ts";
import { DhcpServer } from "./server.ts";
import { HISTORY_SERIES, LEASE_WRITE_SERIES, serverMetrics, type ServerMetrics } from "./stats.ts";
import { LatencyWatch } from "./latency.ts";
import { AnswerCache } from "./answer-cache.ts";
import { LoopLag } from "./loop-lag.ts";

export interface ServiceOptions {
  configPath: string;
  /** applied to every config read (command-line overrides) */
  adjust(c: Config): Config;
  log: ServiceLogger;
  metrics: PydhcpMetrics;
}

/** how often the event-loop lag is sampled, ms: a stall is seen within this much of its length */
const LAG_INTERVAL_MS = 5;
/** Lookups in flight get this long to finish at stop; then they are abandoned. */
const DRAIN_MS = 2500;
/** each closing step (leases, history, HTTP, database) after the drain */
const CLOSE_STEP_MS = 500;
/** history writes at stop; the rest waits in the journal */
const HISTORY_CLOSE_MS = 1500;
/** a stop that takes longer than this exits 1: something hung */
const SHUTDOWN_MS = 4500;
/** the snapshot written at stop, alongside the history writes */
const SNAPSHOT_CLOSE_MS = 1500;
/** while serving from a snapshot: the database is tried again this often at most */
const RECONNECT_MAX_MS = 5000;

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
  ["leases/syncInterval", (c) => c.leases.syncIntervalSeconds],
  ["history/spool", (c) => c.spoolPath],
];

function restartOnlyChanges(running: Config, next: Config): string[] {
  return RESTART_ONLY.filter(([, f]) => JSON.stringify(f(running)) !== JSON.stringify(f(next))).map(([name]) => name);
}

/** The backend is kept across a reload when neither the database nor the query timeout it enforces changed. */
function sameDatabase(a: Config, b: Config): boolean {
  return JSON.stringify(a.database) === JSON.stringify(b.database) && a.queryTimeoutMs === b.queryTimeoutMs;
}

/** Resolves with the promise's value, or with `fallback` after `ms`. */
function bounded<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<T>((r) => (t = setTimeout(() => r(fallback), ms)))]).finally(() => clearTimeout(t));
}

interface Serving {
  backend: Backend;
  server: DhcpServer;
  leases: LeaseMemory;
  history: HistoryWriter;
  /** the config the process started with: what restart-only settings are compared against */
  initial: Config;
  http: HttpHandle | null;
  timers: ReturnType<typeof setInterval>[];
  /** event-loop lag, measured while metrics are served */
  lag: LoopLag | null;
  /** serving from the lease snapshot: the database was unreachable at start and has not answered since */
  offline: { since: number; reason: string } | null;
  /** the lease snapshot being written now */
  snapshotting: Promise<void> | null;
  /** writes the lease snapshot every <leases><snapshotInterval> when leases changed; null when it is 0 */
  snapshotTimer: ReturnType<typeof setInterval> | null;
  /** the interval snapshotTimer runs at, ms (0 = off, -1 = not scheduled yet) */
  snapshotEvery: number;
  /** while offline: the next attempt to reach the database */
  reconnectTimer: ReturnType<typeof setTimeout> | null;
  /** the database lease memory follows (the snapshot names it): changed only when a backend on another is swapped in */
  database: DatabaseSettings;
}

interface Opened {
  /** the database the backend is for (this.config may change while it opens) */
  database: DatabaseSettings;
  backend: Backend;
  runtime: Runtime;
  leases: LeaseMemory;
  history: HistoryWriter;
  /** set when the database was unreachable and the lease snapshot serves */
  offline?: { since: number; reason: string };
}

export class Service {
  private config: Config;
  private readonly log: ServiceLogger;
  private readonly sm: ServerMetrics;
  /** every statement's time feeds its histogram and the once-a-minute slow-p99 line */
  private readonly watch: LatencyWatch;
  /** the offer chain's answers per tuple of bound values; emptied by every reload */
  private readonly cache: AnswerCache;
  /** pool gauges and conflict counts, shared by every runtime a reload builds */
  private readonly poolGauges: PoolGauges;
  private serving: Serving | null = null;
  private stopping = false;
  private stopSignal = "";
  /** the reload running now, and whether another was asked for meanwhile */
  private reloading: Promise<void> | null = null;
  private reloadQueued = false;
  /** cuts a start-up wait short (a reload or a stop arrived) */
  private wake: () => void = () => {};
  private finished: (code: number) => void = () => {};

  constructor(
    config: Config,
    private readonly o: ServiceOptions,
  ) {
    this.config = config;
    this.log = o.log;
    const sm = serverMetrics(o.metrics);
    const watch = new LatencyWatch(this.log, config.slowP99Ms);
    this.watch = watch;
    this.sm = {
      ...sm,
      query: (name, seconds) => {
        sm.query(name, seconds);
        watch.observe(name, seconds);
      },
    };
    const lookups = new Map(CACHE_RESULTS.map((r) => [r, o.metrics.answerCacheLookups.labels(r)] as const));
    this.cache = new AnswerCache(config.answerCache, (r) => lookups.get(r)!.inc());
    this.poolGauges = { set: (pool, size, free) => this.sm.pool(pool, size, free), conflict: (pool) => this.sm.poolConflict(pool), reused: (pool) => this.sm.poolReused(pool) };
  }

  /** Starts and serves; resolves with the exit code once stopped. */
  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.finished = resolve;
      this.start().then(
        (code) => {
          if (code !== null) resolve(code);
        },
        (e: unknown) => {
          this.log.error("start-up failed", { error: e instanceof Error ? e.message : String(e) });
          resolve(1);
        },
      );
    });
  }

  /** null while serving (run resolves at stop), else the exit code. */
  private async start(): Promise<number | null> {
    const parts = await this.open();
    if (parts === "stopped") {
      this.log.info("stopped", { signal: this.stopSignal });
      return 0;
    }
    if (typeof parts === "number") return parts;
    const { backend, runtime, leases, history } = parts;
    if (this.stopping) {
      // stopped while the database was being opened: nothing was served
      await bounded(backend.close().catch(() => {}), CLOSE_STEP_MS, undefined);
      this.log.info("stopped", { signal: this.stopSignal });
      return 0;
    }
    const c0 = this.config;
    const server = new DhcpServer(runtime, leases, history, this.log, this.sm);
    const s: Serving = { backend, server, leases, history, initial: this.config, http: null, timers: [], lag: null, offline: parts.offline ?? null, snapshotting: null, snapshotTimer: null, snapshotEvery: -1, reconnectTimer: null, database: parts.database };
    this.serving = s;
    try {
      await server.listen();
    } catch (e) {
      await server.drain(0);
      if (e instanceof SocketError && e.inUse) {
        const at = `${c0.server.host}:${c0.server.port}`;
        this.log.error("cannot listen: the DHCP port is taken", { address: at, error: e.message });
        process.stderr.write(
          `pydhcp: another process already has UDP ${at} (a DHCP server or relay runs here); pydhcp does not share the DHCP port.\n` +
            `pydhcp: stop the other one, or give this server another <host>/<port>. To watch a running pydhcp: pydhcp --dump -c FILE\n`,
        );
        return 2;
      }
      this.log.error("cannot listen", { error: e instanceof Error ? e.message : String(e) });
      return 1;
    }
    const c = this.config;
    if (c.server.user) {
      const r = dropPrivileges(c.server.user, c.server.group, this.log);
      if (!r.ok) {
        this.log.error("cannot drop privileges", { error: r.error.message });
        return 1;
      }
    }
    if (c.metrics) {
      const ring = new ExchangeRing();
      server.record(ring);
      const metrics = this.o.metrics;
      const lagMax = metrics.eventLoopLagMax;
      const lag = new LoopLag(LAG_INTERVAL_MS, (ms) => metrics.eventLoopLag.observe(ms / 1000));
      s.lag = lag;
      server.onPacket = () => lag.poke();
      s.timers.push(setInterval(() => lagMax.set((s.lag?.maxMs ?? 0) / 1000), 1000));
      s.http = startHttp({
        host: c.metrics.host,
        port: c.metrics.port,
        token: c.metrics.token,
        api: createApi({ runtime: () => server.runtime, leases, ring, exposition: () => metrics.registry.expose(), startedAt: Date.now() }),
        page: helpDeskPage,
        metrics: this.o.metrics,
        health: () => server.runtime.backend.ping().then(() => true, () => false),
        notes: () => {
          const p = history.problem;
          return p ? [`history: ${history.pending} events wait in the journal ${c.spoolPath}: ${p}`] : [];
        },
        failing: () => history.journalProblem,
        log: this.log,
      });
    }
    // a stop while binding is already under way (stop() found the server)
    if (!this.stopping) {
      this.housekeeping(s);
      if (s.offline) this.reconnect(s);
    }
    return null;
  }

  /**
   * Opens the backend and builds the runtime, waiting out a database that is
   * not up yet. A reload meanwhile changes the config the next attempt uses;
   * a stop ends the wait.
   */
  private async open(): Promise<Opened | number | "stopped"> {
    let delay = 500;
    /** what decided the last look at the lease snapshot (snapshotInputs) */
    let snapshotTried: string | null = null;
    for (;;) {
      if (this.stopping) return "stopped";
      const config = this.config;
      let backend: Backend | null = null;
      try {
        const b = await openBackend(config.database, this.log, config.queryTimeoutMs, { serving: true });
        backend = b;
        // the config this attempt uses (a reload while waiting may have changed it)
        const { leases, history } = this.stores(config, b);
        const runtime = await buildRuntime({ config, backend: b, leases, cache: this.cache, log: this.log, poolGauges: this.poolGauges });
        const warmed = await leases.warm(Math.floor(Date.now() / 1000));
        if (warmed) this.log.info("lease memory loaded", { leases: warmed });
        // the journal opens before the first packet (every reply's event needs a place to go), and
        // only once nothing can fail and retry: one writer per journal. A journal that cannot be
        // opened fails the start: no reply could be recorded, so none is sent.
        history.start();
        history.setStatements(runtime.historyStatements);
        if (runtime.historyDeferred.length) history.deferred(runtime.historyDeferred);
        return { database: config.database, backend: b, runtime, leases, history };
      } catch (e) {
        await backend?.close().catch(() => {});
        if (e instanceof RuntimeError) {
          for (const p of e.problems) process.stderr.write(`pydhcp: ${p}\n`);
          return 2;
        }
        if (!(e instanceof DbError && e.kind === "connect")) throw e;
        if (e.failure === "refused") {
          // the server answered: waiting out an outage would hide a configuration problem
          this.log.error(`database refused the login or the database name: check <user>, <password> and <database>; the lease snapshot is not used for this; retrying in ${delay} ms`, { error: e.message, code: e.code });
        } else if (e.failure === "unusable") {
          this.log.error(`database answered but cannot be used; the lease snapshot is not used for this; retrying in ${delay} ms`, { error: e.message, code: e.code });
        } else {
          // looked at again only when something it depends on changed (a SIGHUP while waiting, another file)
          const inputs = this.snapshotInputs(config);
          if (inputs !== snapshotTried) {
            snapshotTried = inputs;
            const offline = await this.openFromSnapshot(config, e.message);
            if (offline) return offline;
          }
          this.log.error(`database unavailable, retrying in ${delay} ms`, { error: e.message });
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  /** Lease memory and the history writer on `backend`, wired to the metrics and the answer cache; the cache and the slow-query threshold take `config`. */
  private stores(config: Config, backend: Backend): { leases: LeaseMemory; history: HistoryWriter } {
    const leases = new LeaseMemory(backend.leases, this.log);
    const history = new HistoryWriter(backend, { journalPath: config.spoolPath, fsync: config.historyFsync, database: databaseOwner(config.database), formerDatabase: formerDatabaseOwner(config.database) }, this.log);
    leases.onWrite = (sec) => this.sm.query(LEASE_WRITE_SERIES, sec);
    leases.onReleased = (l) => void this.cache.invalidate(l.mac);
    history.onBatch = (sec) => this.sm.query(HISTORY_SERIES, sec);
    this.cache.configure(config.answerCache);
    this.watch.setThreshold(config.slowP99Ms);
    return { leases, history };
  }

  /**
   * Everything openFromSnapshot's answer depends on but the clock (which
   * only ages leases out of outageGrace): the file, the database it must
   * be of, outageGrace and whether snapshots are on. A start that waits for
   * its database looks at the snapshot again only when one of them changed.
   */
  private snapshotInputs(config: Config): string {
    const path = snapshotPath(config.spoolPath);
    let file = "missing";
    try {
      const st = statSync(path);
      file = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // missing or unreadable: readSnapshot says which
    }
    return JSON.stringify([path, file, databaseOwner(config.database), config.leases.outageGraceSeconds, config.leases.snapshotIntervalSeconds > 0]);
  }

  /**
   * The database cannot be reached at start: serve from the lease snapshot
   * when there is one for this database with leases within <outageGrace>.
   * The runtime runs on db/offline.ts, so respond() takes its outage path:
   * renewals, rebindings and INIT-REBOOTs of those leases are ACKed from
   * lease memory, everything else gets no reply, history waits in the
   * journal. null when the start should wait for the database as before.
   */
  private async openFromSnapshot(config: Config, reason: string): Promise<Opened | null> {
    const kind = config.database.kind;
    // SQLite is a local file: no snapshot is kept for it
    if (kind === "sqlite") return null;
    const path = snapshotPath(config.spoolPath);
    if (config.leases.snapshotIntervalSeconds === 0) {
      this.log.info("lease snapshot off (<leases><snapshotInterval> 0): not read; waiting for the database", { snapshot: path });
      return null;
    }
    const owner = databaseOwner(config.database);
    const r = readSnapshot(path, owner);
    if (!r.ok) {
      if (r.why === "missing") this.log.info("no lease snapshot to serve from; waiting for the database", { snapshot: path });
      else if (r.why === "foreign") this.log.warn("lease snapshot ignored: it is of another database; waiting for the database", { snapshot: path, problem: r.message });
      else this.log.warn("lease snapshot ignored: it cannot be used; waiting for the database", { snapshot: path, problem: r.message });
      return null;
    }
    const now = Math.floor(Date.now() / 1000);
    const grace = config.leases.outageGraceSeconds;
    const live = r.entries.filter((e) => e.lease.state === "bound" && e.lease.expires > now);
    const answerable = live.filter((e) => now - e.lease.updated <= grace).length;
    const taken = new Date(r.written).toISOString();
    if (answerable === 0) {
      this.log.info("lease snapshot has no lease within outageGrace to answer for; waiting for the database", { snapshot: path, taken, leases: live.length, outageGrace: grace });
      return null;
    }
    const backend = new OfflineBackend(kind, reason);
    const { leases, history } = this.stores(config, backend);
    leases.restore(r.entries, Math.floor(r.written / 1000));
    const runtime = await buildRuntime({ config, backend, leases, cache: this.cache, log: this.log, poolGauges: this.poolGauges, offline: true });
    history.start();
    history.setStatements(runtime.historyStatements);
    this.log.warn(`database unreachable at start, serving ${live.length} leases from the snapshot of ${taken}`, {
      snapshot: path,
      ageSeconds: Math.max(0, Math.round((Date.now() - r.written) / 1000)),
      withinGrace: answerable,
      outageGrace: grace,
      error: reason,
    });
    this.log.warn("until the database answers: renewals of these leases are ACKed from lease memory, new clients get no reply, history waits in the journal");
    return { database: config.database, backend, runtime, leases, history, offline: { since: Date.now(), reason } };
  }

  /**
   * Serving from the snapshot: tries the database with backoff until it
   * answers, then swaps in a runtime on it, as a reload that changes the
   * database does, and reloads lease memory from the table (the table
   * wins; leases answered meanwhile are written to it).
   */
  private reconnect(s: Serving): void {
    let delay = 500;
    let problemLogged = "";
    const attempt = async (): Promise<void> => {
      if (this.stopping || !s.offline) return;
      // never alongside a reload: both swap the runtime
      if (this.reloading) await this.reloading;
      if (this.stopping || !s.offline) return;
      const config = this.config;
      let nb: Backend;
      try {
        nb = await openBackend(config.database, this.log, config.queryTimeoutMs, { serving: true });
      } catch (e) {
        // an outage goes on quietly; anything else is said once (a SIGHUP with a fixed config is tried at once)
        if (!(e instanceof DbError && e.failure === "unreachable") && problemLogged !== String(e)) {
          problemLogged = String(e);
          const refused = e instanceof DbError && e.failure === "refused";
          this.log.error(refused ? "database refused the login or the database name: check <user>, <password> and <database>; still serving from the lease snapshot" : "database still not usable; still serving from the lease snapshot", {
            error: e instanceof Error ? e.message : String(e),
          });
        }
        return retry();
      }
      let rt: Runtime;
      try {
        rt = await buildRuntime({ config, backend: nb, leases: s.leases, cache: this.cache, log: this.log, poolGauges: this.poolGauges });
      } catch (e) {
        await nb.close().catch(() => {});
        const msg = e instanceof RuntimeError ? e.problems.join("; ") : e instanceof Error ? e.message : String(e);
        // a configuration the database refuses: said once; a SIGHUP with a fixed one is tried at the next attempt
        if (!(e instanceof DbError && e.kind === "connect") && problemLogged !== msg) {
          problemLogged = msg;
          this.log.error("the database answers but the configuration cannot be used on it; still serving from the lease snapshot", { error: msg });
        }
        return retry();
      }
      if (this.stopping || !s.offline) {
        await nb.close().catch(() => {});
        return;
      }
      const old = s.backend;
      s.server.swap(rt);
      this.cache.configure(config.answerCache);
      this.watch.setThreshold(config.slowP99Ms);
      s.backend = nb;
      s.database = config.database;
      s.leases.setStore(nb.leases);
      s.history.setBackend(nb, databaseOwner(config.database));
      s.history.setStatements(rt.historyStatements);
      if (rt.historyDeferred.length) s.history.deferred(rt.historyDeferred);
      const downMs = Date.now() - s.offline.since;
      s.offline = null;
      void old.close().catch(() => {});
      const rs = await s.leases.resync(Math.floor(Date.now() / 1000)).catch((e: unknown) => {
        this.log.warn("lease reload from the database failed; lease memory kept", { error: e instanceof Error ? e.message : String(e) });
        return null;
      });
      this.log.info(`database reachable after ${(downMs / 1000).toFixed(1)} s serving from the lease snapshot; serving from the database again`, {
        downMs,
        leasesLoaded: rs?.loaded ?? 0,
        leasesDropped: rs?.dropped ?? 0,
      });
    };
    const retry = (): void => {
      if (this.stopping) return;
      s.reconnectTimer = setTimeout(() => {
        s.reconnectTimer = null;
        void attempt();
      }, delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    };
    // a reload while offline (SIGHUP) tries at once with the config it read
    this.wake = () => {
      if (s.reconnectTimer === null || !s.offline) return;
      clearTimeout(s.reconnectTimer);
      s.reconnectTimer = null;
      delay = 500;
      void attempt();
    };
    retry();
  }

  /** Writes the lease snapshot unless one is being written; resolves when done (or failed, logged once). */
  private snapshot(s: Serving): Promise<void> {
    if (s.snapshotting) return s.snapshotting;
    const database = s.database;
    if (database.kind === "sqlite" || this.config.leases.snapshotIntervalSeconds === 0) return Promise.resolve();
    // beside the journal in use (<history><journal> changes only at restart)
    const path = snapshotPath(s.history.journal.path);
    const version = s.leases.version;
    const t0 = performance.now();
    let leases = 0;
    const memory = s.leases;
    s.snapshotting = memory
      .snapshotEntries(Math.floor(Date.now() / 1000))
      .then((entries) => {
        leases = entries.length;
        return writeSnapshot(path, databaseOwner(database), entries);
      })
      .then(
        ({ bytes }) => {
          this.snapshotVersion = version;
          if (this.snapshotFailing) this.log.info("lease snapshot written again", { snapshot: path });
          this.snapshotFailing = false;
          this.log.debug("lease snapshot written", { snapshot: path, leases, bytes, ms: Math.round(performance.now() - t0) });
        },
        (e: unknown) => {
          if (!this.snapshotFailing) this.log.warn("cannot write the lease snapshot; will retry", { snapshot: path, error: e instanceof Error ? e.message : String(e) });
          this.snapshotFailing = true;
        },
      )
      .finally(() => {
        memory.releaseSnapshot();
        s.snapshotting = null;
      });
    return s.snapshotting;
  }

  private snapshotVersion = -1;
  private snapshotFailing = false;

  /**
   * Runs the snapshot timer at <leases><snapshotInterval> (at start and
   * after every reload that changed it). 0 stops it and removes the
   * snapshot: a file nothing keeps current would be read by a start that
   * finds the database away, unwritten leases of long ago included.
   */
  private scheduleSnapshots(s: Serving): void {
    const every = this.config.leases.snapshotIntervalSeconds * 1000;
    // a reload that ends after stop() cleared the timers starts none
    if (this.stopping || every === s.snapshotEvery) return;
    const first = s.snapshotEvery < 0;
    s.snapshotEvery = every;
    if (s.snapshotTimer) clearInterval(s.snapshotTimer);
    s.snapshotTimer = null;
    const path = snapshotPath(s.history.journal.path);
    if (every > 0) {
      s.snapshotTimer = setInterval(() => {
        if (s.leases.version !== this.snapshotVersion) void this.snapshot(s);
      }, every);
      if (!first) this.log.info("lease snapshot interval changed", { snapshot: path, seconds: every / 1000 });
      return;
    }
    // after a write under way, whose rename would bring the file back
    void (s.snapshotting ?? Promise.resolve()).then(async () => {
      if (s.snapshotEvery !== 0) return;
      // turned on again: written at its first tick, changed or not
      this.snapshotVersion = -1;
      const removed = await removeSnapshot(path).catch((e: unknown) => {
        this.log.warn("cannot remove the lease snapshot", { snapshot: path, error: e instanceof Error ? e.message : String(e) });
        return false;
      });
      if (removed || !first) this.log.info(`lease snapshot off (<leases><snapshotInterval> 0)${removed ? "; the old one removed" : ""}`, { snapshot: path });
    });
  }

  /** Housekeeping off the reply path: lease and history writes, expired leases, history retention. */
  private housekeeping(s: Serving): void {
    const { leases, history, server } = s;
    const m = this.o.metrics;
    const counted = { written: 0, journaled: 0, quarantined: 0, duplicates: 0 };
    s.timers.push(
      setInterval(() => {
        void leases.flush();
        m.leasesInMemory.set(leases.size);
        m.answerCacheEntries.set(this.cache.size);
        const st = history.stats;
        m.historyRowsWritten.inc(st.written - counted.written);
        m.historyRowsJournaled.inc(st.journaled - counted.journaled);
        m.historyQuarantined.inc(st.quarantined - counted.quarantined);
        m.historyDuplicates.inc(st.duplicates - counted.duplicates);
        Object.assign(counted, { written: st.written, journaled: st.journaled, quarantined: st.quarantined, duplicates: st.duplicates });
        m.historyBacklog.set(history.pending);
        m.historyWritable.set(history.problem === null ? 1 : 0);
      }, 100),
    );
    // the database is the truth for leases: rows changed there come back within one interval
    let syncWarned = false;
    s.timers.push(
      setInterval(() => {
        leases.sync(Math.floor(Date.now() / 1000)).then(
          () => {
            if (syncWarned) this.log.info("lease sync resumed");
            syncWarned = false;
          },
          (e: unknown) => {
            if (!syncWarned) this.log.warn("lease sync failed; lease memory decides until it works again", { error: e instanceof Error ? e.message : String(e) });
            syncWarned = true;
          },
        );
      }, this.config.leases.syncIntervalSeconds * 1000),
    );
    let cleaning = false;
    s.timers.push(
      setInterval(async () => {
        if (cleaning) return;
        cleaning = true;
        try {
          const now = Math.floor(Date.now() / 1000);
          const n = await leases.cleanup(now, 1000);
          if (n) this.log.info("expired leases removed", { leases: n });
          // rows deleted by hand leave no trace for sync to read: a full pass drops them
          const r = await leases.resync(now);
          if (r.dropped) this.log.info("lease memory dropped leases the database no longer has", { leases: r.dropped });
          const days = server.runtime.config.historyRetentionDays;
          if (days) {
            const p = await pruneHistory(server.runtime.backend, days);
            if (p) this.log.info("old history rows pruned", { rows: p, retentionDays: days });
          }
        } catch (e) {
          this.log.warn("housekeeping failed; will retry", { error: e instanceof Error ? e.message : String(e) });
        } finally {
          cleaning = false;
        }
      }, this.config.leases.cleanupIntervalSeconds * 1000),
    );
    // the lease snapshot, for a restart while the database is away: written when leases changed
    this.scheduleSnapshots(s);
    // pool gauges: leases expire without a packet, so recount on a clock too
    s.timers.push(
      setInterval(() => {
        void server.runtime.pools?.recount(Math.floor(Date.now() / 1000)).catch(() => {});
      }, 5000),
    );
  }

  /** SIGHUP. Never overlaps another reload: queued while one runs, and the queue holds one. */
  reload(): void {
    if (this.stopping) return;
    if (this.reloading) {
      this.log.info(this.reloadQueued ? "reload requested again while one is running; one more reload follows it" : "reload requested while one is running; it follows when that one ends");
      this.reloadQueued = true;
      return;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = null;
      if (this.reloadQueued && !this.stopping) {
        this.reloadQueued = false;
        this.reload();
      }
    });
  }

  /** The one reload path: read the config; once serving, build and swap a runtime. */
  private async reloadOnce(): Promise<void> {
    const m = this.o.metrics;
    const next = loadConfig(this.o.configPath);
    if (!next.ok) {
      m.reloads.labels("failed").inc();
      this.log.error(`reload refused: configuration has errors; the old one ${this.serving ? "keeps serving" : "is used"}`, {
        errors: next.errors.map(formatConfigError).join("; "),
      });
      return;
    }
    const nc = this.o.adjust(next.config);
    const s = this.serving;
    if (s?.offline) {
      // serving from the lease snapshot: the new config is used once the database answers (tried now)
      this.config = nc;
      this.scheduleSnapshots(s);
      m.reloads.labels("ok").inc();
      this.log.info("configuration reloaded; it takes effect when the database answers (serving from the lease snapshot until then)", { file: nc.file });
      this.wake();
      return;
    }
    if (!s) {
      // still starting: the next attempt uses it
      this.config = nc;
      m.reloads.labels("ok").inc();
      this.log.info("configuration reloaded", { file: nc.file });
      this.wake();
      return;
    }
    try {
      const reuse = sameDatabase(this.config, nc);
      const nb = reuse ? s.backend : await openBackend(nc.database, this.log, nc.queryTimeoutMs, { serving: true });
      try {
        const rt = await buildRuntime({ config: nc, backend: nb, leases: s.leases, cache: this.cache, log: this.log, poolGauges: this.poolGauges });
        if (this.stopping) throw new Error("stopping");
        const later = restartOnlyChanges(s.initial, nc);
        if (later.length) this.log.warn("some changes take effect only at restart; the rest is reloaded", { settings: later.join(" ") });
        // rows of exchanges answered so far belong to the old database; no await between this and the swap
        if (!reuse) await s.history.flush();
        s.server.swap(rt);
        // answers learned under the old queries or database are not the new config's answers
        this.cache.configure(nc.answerCache);
        this.watch.setThreshold(nc.slowP99Ms);
        s.history.setStatements(rt.historyStatements);
        if (rt.historyDeferred.length) s.history.deferred(rt.historyDeferred);
        if (!reuse) {
          const old = s.backend;
          s.backend = nb;
          s.database = nc.database;
          s.leases.setStore(nb.leases);
          s.history.setBackend(nb, databaseOwner(nc.database));
          setTimeout(() => void old.close().catch(() => {}), 5000);
        }
        this.config = nc;
        this.scheduleSnapshots(s);
        // a reload starts from what the database holds: no lease it dropped survives
        const rs = await s.leases.resync(Math.floor(Date.now() / 1000)).catch((e: unknown) => {
          this.log.warn("lease reload from the database failed; lease memory kept", { error: e instanceof Error ? e.message : String(e) });
          return null;
        });
        if (rs?.dropped) this.log.info("lease memory dropped leases the database no longer has", { leases: rs.dropped });
        m.reloads.labels("ok").inc();
        this.log.info("configuration reloaded", { file: nc.file, offers: rt.offers.length });
      } catch (e) {
        if (!reuse) await nb.close().catch(() => {});
        throw e;
      }
    } catch (e) {
      m.reloads.labels("failed").inc();
      const msg = e instanceof RuntimeError ? e.problems.join("; ") : e instanceof Error ? e.message : String(e);
      this.log.error("reload failed; the old configuration keeps serving", { error: msg });
    }
  }

  /** SIGTERM/SIGINT: finish or abandon lookups in flight within DRAIN_MS, write what is queued, exit 0. */
  async stop(signal: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopSignal = signal;
    const s = this.serving;
    if (!s) {
      // starting: the start-up wait ends and run() resolves
      this.wake();
      return;
    }
    this.log.info("stopping", { signal });
    const force = setTimeout(() => {
      // something did not finish (history or the database hung): say so in the exit code
      this.log.error("shutdown took too long; exiting with work unfinished", { pendingHistory: s.history.pending });
      this.log.flush();
      this.finished(1);
    }, SHUTDOWN_MS);
    const inFlight = s.server.lookupsInFlight + s.server.queued;
    const drained = await s.server.drain(DRAIN_MS);
    if (!drained) this.log.warn("lookups still in flight at shutdown were abandoned; their clients will retry", { abandoned: s.server.lookupsInFlight + s.server.queued, atStop: inFlight });
    for (const t of s.timers) clearInterval(t);
    if (s.snapshotTimer) clearInterval(s.snapshotTimer);
    if (s.reconnectTimer) clearTimeout(s.reconnectTimer);
    s.lag?.stop();
    if (this.reloading) await bounded(this.reloading, CLOSE_STEP_MS, undefined);
    await bounded(s.leases.flush(), CLOSE_STEP_MS, undefined);
    // the leases as they stand now, for a start that finds the database away (alongside the history writes)
    const snapshotted = (s.snapshotting ?? Promise.resolve()).then(() => this.snapshot(s));
    // what cannot be written in time waits in the journal for the next start
    await s.history.close(HISTORY_CLOSE_MS);
    await bounded(snapshotted, SNAPSHOT_CLOSE_MS, undefined);
    await bounded(s.http?.stop() ?? Promise.resolve(), CLOSE_STEP_MS, undefined);
    await bounded(s.backend.close().catch(() => {}), CLOSE_STEP_MS, undefined);
    clearTimeout(force);
    this.log.info("stopped", { historyWritten: s.history.stats.written, historyInJournal: s.history.pending });
    this.log.flush();
    this.finished(0);
  }
}
