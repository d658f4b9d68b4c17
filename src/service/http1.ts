/**
 * A small HTTP/1.1 server on a TCP listener, for the metrics/API port.
 *
 * Why not Bun.serve: with Bun 1.4.5, two pipelined requests on one
 * connection whose handler awaits anything (the /health database ping, an
 * API query) get no response at all. Here each connection reads requests in
 * order, runs one handler at a time and writes the answers in the order the
 * requests came (RFC 9112 9.3.2), with keep-alive, HEAD, bounded request
 * heads and bodies, an idle timeout, and server-sent event streams.
 *
 * Only origin-form targets ("/path?query") and Content-Length bodies are
 * accepted; anything else is a 4xx/5xx and the connection closes.
 */
import type { Socket, TCPSocketListener } from "bun";

export interface HttpRequest {
  method: string;
  /** the raw request target, e.g. "/api/leases?mac=aa" */
  target: string;
  /** decoded path ("/api/leases/198.18.0.10") */
  path: string;
  query: URLSearchParams;
  /** lower-case names; repeated headers joined with ", " */
  headers: Map<string, string>;
  body: Uint8Array;
  /** the peer address */
  remote: string;
}

/** Server-sent events: send() is false once the peer has gone. */
export interface EventSink {
  send(data: string, event?: string): boolean;
  /** a comment line, to keep proxies from closing an idle stream */
  ping(): boolean;
  onClose(f: () => void): void;
  readonly closed: boolean;
}

export type HttpResponse =
  | { status: number; headers?: Record<string, string>; body?: string | Uint8Array }
  | { status: 200; headers?: Record<string, string>; events: (sink: EventSink) => void };

export type Handler = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface Http1Options {
  host: string;
  port: number;
  handler: Handler;
  /** a handler that throws: logged by the caller, answered 500 */
  onError(e: unknown): void;
  /** seconds a connection may sit idle between requests (default 10) */
  idleSeconds?: number;
  /** request line + headers, bytes (default 8192) */
  maxHead?: number;
  /** request body, bytes (default 16384) */
  maxBody?: number;
  /** open connections at once; more are closed at once (default 256) */
  maxConnections?: number;
}

export interface Http1Server {
  readonly port: number;
  stop(): void;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CRLF2 = Buffer.from("\r\n\r\n");

interface Conn {
  buf: Buffer;
  busy: boolean;
  /** output not yet taken by the kernel */
  out: Buffer[];
  closeAfterFlush: boolean;
  closed: boolean;
  /** a server-sent event stream owns the connection from now on */
  streaming: boolean;
  onClose: (() => void)[];
}

type Sock = Socket<Conn>;

class Reject extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function formatHead(status: number, headers: Record<string, string>): string {
  let s = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  return s + "\r\n";
}

/** Parses one request head (bytes before the blank line); throws Reject. */
export function parseHead(head: string): { method: string; target: string; version: string; headers: Map<string, string> } {
  const lines = head.split("\r\n");
  const m = /^([^ ]+) ([^ ]+) HTTP\/(1\.[01])$/.exec(lines[0] ?? "");
  if (!m || !TOKEN.test(m[1]!)) throw new Reject(400, "malformed request line");
  const target = m[2]!;
  // origin-form only, printable ASCII only (RFC 9112 3.2.1; clients percent-encode the rest)
  if (!target.startsWith("/") || !/^[\x21-\x7e]+$/.test(target)) throw new Reject(400, "request target must be an ASCII path");
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const c = l.indexOf(":");
    if (c <= 0) throw new Reject(400, "malformed header line");
    const name = l.slice(0, c);
    if (!TOKEN.test(name)) throw new Reject(400, "malformed header name");
    const value = l.slice(c + 1).trim();
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new Reject(400, "control character in a header value");
    const k = name.toLowerCase();
    const prev = headers.get(k);
    headers.set(k, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { method: m[1]!, target, version: m[3]!, headers };
}

export function startHttp1(o: Http1Options): Http1Server {
  const maxHead = o.maxHead ?? 8192;
  const maxBody = o.maxBody ?? 16384;
  const idle = o.idleSeconds ?? 10;
  const maxConn = o.maxConnections ?? 256;
  let open = 0;

  const write = (s: Sock, data: string | Buffer) => {
    const c = s.data;
    if (c.closed) return;
    const b = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (c.out.length) {
      c.out.push(b);
      return;
    }
    const n = s.write(b);
    if (n < b.length) c.out.push(b.subarray(Math.max(0, n)));
  };
  const flush = (s: Sock) => {
    const c = s.data;
    while (c.out.length) {
      const b = c.out[0]!;
      const n = s.write(b);
      if (n < b.length) {
        c.out[0] = b.subarray(Math.max(0, n));
        return;
      }
      c.out.shift();
    }
    if (c.closeAfterFlush) s.end();
  };
  const finish = (s: Sock, close: boolean) => {
    const c = s.data;
    if (close) {
      c.closeAfterFlush = true;
      if (!c.out.length) s.end();
    }
  };

  const respond = (s: Sock, req: { method: string; version: string; headers: Map<string, string> }, r: HttpResponse) => {
    const conn = (req.headers.get("connection") ?? "").toLowerCase();
    const close = s.data.closeAfterFlush || conn.includes("close") || (req.version === "1.0" && !conn.includes("keep-alive"));
    if ("events" in r) {
      s.data.streaming = true;
      s.timeout(0);
      write(s, formatHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "close", ...r.headers }));
      const c = s.data;
      const sink: EventSink = {
        send(data, event) {
          if (c.closed) return false;
          // one data: line per text line (WHATWG HTML 9.2.6); no raw CR/LF can break the framing
          let frame = event ? `event: ${event.replace(/[\r\n]/g, " ")}\n` : "";
          for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
          write(s, frame + "\n");
          return true;
        },
        ping() {
          if (c.closed) return false;
          write(s, ": ping\n\n");
          return true;
        },
        onClose(f) {
          c.onClose.push(f);
        },
        get closed() {
          return c.closed;
        },
      };
      r.events(sink);
      return;
    }
    const body = r.body === undefined ? Buffer.alloc(0) : typeof r.body === "string" ? Buffer.from(r.body, "utf8") : Buffer.from(r.body);
    const headers: Record<string, string> = { ...r.headers, "content-length": String(body.length) };
    if (close) headers.connection = "close";
    write(s, formatHead(r.status, headers));
    if (req.method !== "HEAD" && body.length) write(s, body);
    finish(s, close);
  };

  const reject = (s: Sock, status: number, message: string) => {
    s.data.closeAfterFlush = true;
    const body = Buffer.from(message + "\n");
    write(s, formatHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(body.length), connection: "close" }));
    write(s, body);
    s.data.buf = Buffer.alloc(0);
    finish(s, true);
  };

  /** Takes requests off the buffer one at a time; the next waits for the previous answer. */
  const pump = async (s: Sock) => {
    const c = s.data;
    while (!c.busy && !c.closed && !c.closeAfterFlush && !c.streaming) {
      const end = c.buf.indexOf(CRLF2);
      if (end < 0) {
        if (c.buf.length > maxHead) reject(s, 431, "request head too large");
        return;
      }
      if (end > maxHead) return reject(s, c.buf.subarray(0, end).indexOf("\r\n") > maxHead / 2 ? 414 : 431, "request head too large");
      let head;
      try {
        head = parseHead(c.buf.subarray(0, end).toString("latin1"));
      } catch (e) {
        return reject(s, e instanceof Reject ? e.status : 400, e instanceof Error ? e.message : "bad request");
      }
      if (head.headers.has("transfer-encoding")) return reject(s, 501, "transfer-encoding not supported; send Content-Length");
      const cl = head.headers.get("content-length");
      let len = 0;
      if (cl !== undefined) {
        if (!/^\d{1,9}$/.test(cl)) return reject(s, 400, "bad content-length");
        len = Number(cl);
        if (len > maxBody) return reject(s, 413, "request body too large");
      }
      if (c.buf.length < end + 4 + len) return; // body still arriving
      const body = c.buf.subarray(end + 4, end + 4 + len);
      c.buf = c.buf.subarray(end + 4 + len);
      const q = head.target.indexOf("?");
      let path: string;
      try {
        path = decodeURIComponent(q < 0 ? head.target : head.target.slice(0, q));
      } catch {
        return reject(s, 400, "bad percent-encoding in path");
      }
      const req: HttpRequest = {
        method: head.method,
        target: head.target,
        path,
        query: new URLSearchParams(q < 0 ? "" : head.target.slice(q + 1)),
        headers: head.headers,
        body: new Uint8Array(body),
        remote: s.remoteAddress,
      };
      c.busy = true;
      s.timeout(0);
      let r: HttpResponse;
      try {
        r = await o.handler(req);
      } catch (e) {
        o.onError(e);
        r = { status: 500, headers: { "content-type": "text/plain; charset=utf-8" }, body: "internal error\n" };
      }
      c.busy = false;
      if (c.closed) return;
      respond(s, head, r);
      if (!c.streaming) s.timeout(idle);
    }
  };

  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: o.host,
    port: o.port,
    socket: {
      open(s) {
        s.data = { buf: Buffer.alloc(0), busy: false, out: [], closeAfterFlush: false, closed: false, streaming: false, onClose: [] };
        if (++open > maxConn) {
          s.data.closed = true;
          s.end();
          return;
        }
        s.timeout(idle);
      },
      data(s, d) {
        const c = s.data;
        if (c.closed || c.closeAfterFlush || c.streaming) return;
        c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : Buffer.from(d);
        // a pipelining client may queue a few requests; not megabytes of them
        if (c.buf.length > maxHead * 4 + maxBody) {
          c.buf = Buffer.alloc(0);
          c.closed = true;
          s.end();
          return;
        }
        void pump(s);
      },
      drain(s) {
        flush(s);
      },
      timeout(s) {
        if (!s.data.busy && !s.data.streaming) s.end();
      },
      close(s) {
        open--;
        const c = s.data;
        if (!c) return;
        c.closed = true;
        for (const f of c.onClose.splice(0)) {
          try {
            f();
          } catch {
            /* a listener's cleanup must not break the others */
          }
        }
      },
      error(s) {
        s.data.closed = true;
      },
    },
  });
  return {
    port: listener.port,
    stop() {
      listener.stop(true);
    },
  };
}
