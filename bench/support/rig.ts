/**
 * The server's parts around the packet path, as the heap benchmarks
 * (bench/alloc.ts, promoted.ts, eden.ts) set them up: the bench config over
 * SQLite with its subscribers, lease memory, the history writer journaling
 * and writing, the runtime, an INFO line rendered to a sink that drops it,
 * and the flood check as server.ts runs it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../src/codec/hex.ts";
import type { DhcpMessage } from "../../src/codec/message.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { macHex } from "../../src/core/lease.ts";
import type { Backend } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { createLogger } from "../../src/log/logger.ts";
import { AnswerCache } from "../../src/server/answer-cache.ts";
import { ExchangeLog } from "../../src/server/exchange-log.ts";
import { HistoryWriter } from "../../src/server/history.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import { RateLimiter } from "../../src/server/ratelimit.ts";
import { buildRuntime, type Runtime } from "../../src/server/runtime.ts";
import { packetPath } from "./packet.ts";
import { benchConfigXml, fillUsers, USERS } from "./subscribers.ts";

export interface Rig {
  dir: string;
  config: Config;
  backend: Backend;
  leases: LeaseMemory;
  history: HistoryWriter;
  lines: ExchangeLog;
  rt: Runtime;
  /** the answer cache, when RigOptions.now made one */
  cache: AnswerCache | null;
  /** writes what is left and removes the directory */
  close(): Promise<void>;
}

export interface RigOptions {
  /** false leaves history_sql out */
  history?: boolean;
  /** XML added to the config */
  extra?: string;
  users?: number;
  /** the answer cache's clock (a simulated one); the cache's own default when absent */
  now?: () => number;
}

export async function openRig(prefix: string, o: RigOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const parsed = parseConfig(benchConfigXml(dir, { ...(o.history === false ? { history: false } : {}), ...(o.extra ? { extra: o.extra } : {}) }), join(dir, "config.xml"));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const config = parsed.config;
  const quiet = createLogger({ level: "warn", format: "text" });
  const dropped = { write() {}, flush() {} };
  const lines = new ExchangeLog(createLogger({ level: "info", format: "text", out: dropped, err: dropped }));
  const backend = await openBackend(config.database, quiet, 2000);
  const leases = new LeaseMemory(backend.leases, quiet);
  const history = new HistoryWriter(backend, { journalPath: join(dir, "journal"), fsync: config.historyFsync }, quiet);
  const cache = o.now ? new AnswerCache(config.answerCache, () => {}, o.now) : null;
  const rt = await buildRuntime({ config, backend, leases, ...(cache ? { cache } : {}) });
  history.start();
  history.setStatements(rt.historyStatements);
  fillUsers(join(dir, "h.db"), o.users ?? USERS);
  return {
    dir,
    config,
    backend,
    leases,
    history,
    lines,
    rt,
    cache,
    close: async () => {
      await leases.flush();
      await history.flush();
      await history.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The flood control server.ts runs before anything else, on `now`'s clock:
 * per MAC, and per circuit keyed as server.ts keys it (relay / circuit id),
 * with the remote id in too: the bench subscribers' circuit ids repeat per switch.
 */
export function floodCheck(config: Config, now: () => number): (msg: DhcpMessage) => boolean {
  const perMac = new RateLimiter(config.rateLimit.perMac);
  const perCircuit = new RateLimiter(config.rateLimit.perCircuit);
  return (msg) => {
    if (!perMac.allow(macHex(msg), now())) return false;
    const rai = msg.options.get(82);
    return !rai || perCircuit.allow(msg.giaddr + "/" + toHex(rai), now());
  };
}

/** Simulated milliseconds: each exchange moves the clock by 1 / rate seconds, so what expires by time does so as often as in a server at that rate. */
export class SimClock {
  ms = 1_000_000;
  constructor(readonly rate: number) {}
  readonly now = (): number => this.ms;
  tick(): void {
    this.ms += 1000 / this.rate;
  }
}

/**
 * Exchanges over every subscriber in turn on `clock`, as the server runs
 * them: the flood check first, a turn of the event loop every 32 exchanges,
 * lease writes every 100 ms. `packets(i)` gives subscriber i's DISCOVER and
 * REQUEST. stop() ends the lease writes.
 */
export function simulatedRun(rig: Rig, clock: SimClock, users: number, packets: (i: number) => readonly [Uint8Array, Uint8Array]): { run(n: number): Promise<void>; stop(): void } {
  const packet = packetPath({ rt: rig.rt, history: rig.history, lines: rig.lines, leaseTime: rig.config.server.leaseTime, admit: floodCheck(rig.config, clock.now) });
  const flusher = setInterval(() => void rig.leases.flush(), 100);
  let next = 0;
  return {
    async run(n) {
      for (let k = 0; k < n; k++) {
        const [d, r] = packets(next++ % users);
        clock.tick();
        await packet(d);
        await packet(r);
        if ((k & 31) === 31) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
    stop: () => clearInterval(flusher),
  };
}
