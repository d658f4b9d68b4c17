/**
 * The optional HTTP listener: GET /metrics (Prometheus text 0.0.4) and
 * GET /health (200 "ok" when the database answers, 200 "degraded" and the
 * reasons when it answers but history waits in the journal, 503 otherwise). Off unless
 * the configuration names a host and port; bind it to loopback or a
 * management address, never to a client-facing one.
 */
import type { Logger } from "../log/types.ts";
import { CONTENT_TYPE } from "./registry.ts";

export interface HttpOptions {
  host: string;
  /** 0 picks a free port (tests); the bound one is returned */
  port: number;
  /** anything that renders the exposition: PydhcpMetrics or a bare Registry */
  metrics: { registry: { expose(): string } } | { expose(): string };
  /** true when the database answers; false, a rejection or a hang means unhealthy */
  health: () => Promise<boolean>;
  /**
   * Problems that do not stop DHCP (history waiting in the journal): listed
   * in the /health body, which then starts with "degraded"; the status stays 200.
   */
  notes?: () => string[];
  log: Logger;
  /** how long /health waits for the callback before answering 503 (default 1000 ms) */
  healthTimeoutMs?: number;
}

export interface HttpHandle {
  stop(): Promise<void>;
  readonly port: number;
}

const TEXT = "text/plain; charset=utf-8";

function text(body: string, status: number, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": TEXT, "cache-control": "no-store", ...extra } });
}

type Verdict = "ok" | "down" | "timeout";

/** Runs the health callback with a deadline; never rejects. */
export async function checkHealth(health: () => Promise<boolean>, timeoutMs: number): Promise<Verdict> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const probe = (async (): Promise<Verdict> => {
    try {
      return (await health()) === true ? "ok" : "down";
    } catch {
      return "down";
    }
  })();
  try {
    return await Promise.race([probe, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function startHttp(opts: HttpOptions): HttpHandle {
  const { log } = opts;
  const source = "registry" in opts.metrics ? opts.metrics.registry : opts.metrics;
  const timeoutMs = opts.healthTimeoutMs ?? 1000;
  // /health is unauthenticated: one probe at a time, so a flood of checks
  // cannot pile database pings onto a sick database.
  let inFlight: Promise<Verdict> | null = null;
  const probe = () =>
    (inFlight ??= checkHealth(opts.health, timeoutMs).finally(() => {
      inFlight = null;
    }));

  const routes: Record<string, () => Response | Promise<Response>> = {
    "/metrics": () => new Response(source.expose(), { headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" } }),
    "/health": async () => {
      const v = await probe();
      const notes = v === "ok" ? (opts.notes?.() ?? []) : [];
      if (v === "ok") return text(notes.length ? `degraded\n${notes.map((n) => n.replace(/[\r\n]+/g, " ") + "\n").join("")}` : "ok\n", 200);
      if (v === "timeout") log.warn("health check timed out", { timeout_ms: timeoutMs });
      return text("database unavailable\n", 503);
    },
  };

  const server = Bun.serve({
    hostname: opts.host,
    port: opts.port,
    // a health check from a supervisor should never wait on keep-alive idling
    idleTimeout: 10,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const route = routes[path];
      if (route === undefined) return text("not found\n", 404);
      if (req.method !== "GET" && req.method !== "HEAD") return text("method not allowed\n", 405, { allow: "GET, HEAD" });
      return route();
    },
    error(err) {
      log.error("http handler failed", { err });
      return text("internal error\n", 500);
    },
  });
  const port = server.port ?? opts.port;
  log.info("http listening", { host: opts.host, port, paths: "/metrics /health" });
  return {
    port,
    async stop() {
      await server.stop(true);
    },
  };
}
