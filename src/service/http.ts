/**
 * The optional HTTP listener: GET /metrics (Prometheus text 0.0.4),
 * GET /health (200 "ok" when the database answers, 200 "degraded" and the
 * reasons when it answers but history waits in the journal, 503 otherwise), and when
 * the server passes them, the help-desk page at / and the JSON API under
 * /api/ (service/api.ts). Off unless the configuration names a host and port;
 * bind it to loopback or a management address, never to a client-facing one.
 *
 * /api/ needs `Authorization: Bearer <token>` when <metrics><token> is set;
 * on a listener that is not loopback it needs it always, so with no token
 * configured there every /api/ request gets 401.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Logger } from "../log/types.ts";
import { CONTENT_TYPE } from "./registry.ts";
import { startHttp1, type HttpRequest, type HttpResponse } from "./http1.ts";

export type { HttpRequest, HttpResponse } from "./http1.ts";

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
  /** A problem that stops DHCP although the database answers (the history journal cannot be written): /health answers 503 with it. */
  failing?: () => string | null;
  log: Logger;
  /** how long /health waits for the callback before answering 503 (default 1000 ms) */
  healthTimeoutMs?: number;
  /** <metrics><token>; null = none */
  token?: string | null;
  /** handles /api/... after the token check */
  api?: (req: HttpRequest) => Promise<HttpResponse> | HttpResponse;
  /** the help-desk page served at / */
  page?: () => HttpResponse;
}

export interface HttpHandle {
  stop(): Promise<void>;
  readonly port: number;
}

const TEXT = "text/plain; charset=utf-8";

export function text(body: string, status: number, extra: Record<string, string> = {}): HttpResponse {
  return { status, headers: { "content-type": TEXT, "cache-control": "no-store", ...extra }, body };
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

export function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === "::1" || host === "localhost";
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * The /api/ gate: null when the request may pass, else why not. Compared
 * as digests so the time taken says nothing about the token.
 */
export function authProblem(header: string | undefined, token: string | null, loopback: boolean): string | null {
  if (token === null) return loopback ? null : "this listener is not loopback: set <metrics><token> to use /api/";
  const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
  if (!m) return "missing Authorization: Bearer <token>";
  return timingSafeEqual(digest(m[1]!), digest(token)) ? null : "wrong token";
}

export function startHttp(opts: HttpOptions): HttpHandle {
  const { log } = opts;
  const source = "registry" in opts.metrics ? opts.metrics.registry : opts.metrics;
  const timeoutMs = opts.healthTimeoutMs ?? 1000;
  const token = opts.token ?? null;
  const loopback = isLoopback(opts.host);
  if (opts.api && token === null && !loopback) log.warn("http /api/ is closed: the listener is not loopback and <metrics><token> is not set", { host: opts.host });
  // /health is unauthenticated: one probe at a time, so a flood of checks
  // cannot pile database pings onto a sick database.
  let inFlight: Promise<Verdict> | null = null;
  const probe = () =>
    (inFlight ??= checkHealth(opts.health, timeoutMs).finally(() => {
      inFlight = null;
    }));

  const routes: Record<string, () => HttpResponse | Promise<HttpResponse>> = {
    "/metrics": () => ({ status: 200, headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" }, body: source.expose() }),
    "/health": async () => {
      const stop = opts.failing?.();
      if (stop) return text(`${stop.replace(/[\r\n]+/g, " ")}: no replies leave\n`, 503);
      const v = await probe();
      const notes = v === "ok" ? (opts.notes?.() ?? []) : [];
      if (v === "ok") return text(notes.length ? `degraded\n${notes.map((n) => n.replace(/[\r\n]+/g, " ") + "\n").join("")}` : "ok\n", 200);
      if (v === "timeout") log.warn("health check timed out", { timeout_ms: timeoutMs });
      return text("database unavailable\n", 503);
    },
  };
  const page = opts.page;
  if (page) routes["/"] = page;

  const server = startHttp1({
    host: opts.host,
    port: opts.port,
    // a health check from a supervisor should never wait on keep-alive idling
    idleSeconds: 10,
    handler(req) {
      if (opts.api && (req.path === "/api" || req.path.startsWith("/api/"))) {
        const why = authProblem(req.headers.get("authorization"), token, loopback);
        if (why !== null) return text(why + "\n", 401, { "www-authenticate": 'Bearer realm="pydhcp"' });
        return opts.api(req);
      }
      const route = routes[req.path];
      if (route === undefined) return text("not found\n", 404);
      if (req.method !== "GET" && req.method !== "HEAD") return text("method not allowed\n", 405, { allow: "GET, HEAD" });
      return route();
    },
    onError(err) {
      log.error("http handler failed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    },
  });
  const port = server.port;
  log.info("http listening", { host: opts.host, port, paths: opts.api ? "/ /metrics /health /api/" : "/metrics /health" });
  return {
    port,
    async stop() {
      server.stop();
    },
  };
}
