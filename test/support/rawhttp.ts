/**
 * Raw TCP for HTTP tests: send exact bytes (pipelined requests, broken
 * heads, non-ASCII targets) and read back exactly what the server wrote,
 * split into responses by their Content-Length.
 */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Parses back-to-back HTTP/1.1 responses; stops at the first incomplete one. */
export function splitResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return out;
    const lines = rest.slice(0, end).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? NaN);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    const len = Number(headers.get("content-length") ?? 0);
    const bytes = Buffer.from(rest.slice(end + 4), "latin1");
    if (bytes.length < len) return out;
    out.push({ status, headers, body: bytes.subarray(0, len).toString("utf8") });
    rest = bytes.subarray(len).toString("latin1");
  }
}

/**
 * Sends `payload`, collects bytes until `want` responses arrived, the server
 * closed, or `timeoutMs` passed. `closed` says whether the server closed.
 */
export async function rawHttp(port: number, payload: string | Uint8Array, want: number, timeoutMs = 3000): Promise<{ responses: RawResponse[]; raw: string; closed: boolean }> {
  let raw = "";
  let closed = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    let sock: { end(): void } | null = null;
    function done() {
      clearTimeout(timer);
      sock?.end();
      resolve();
    }
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          sock = s;
          s.write(typeof payload === "string" ? Buffer.from(payload, "latin1") : payload);
        },
        data(_s, d) {
          raw += Buffer.from(d).toString("latin1");
          if (splitResponses(raw).length >= want) done();
        },
        close() {
          closed = true;
          done();
        },
        error() {
          done();
        },
      },
    });
  });
  return { responses: splitResponses(raw), raw, closed };
}
