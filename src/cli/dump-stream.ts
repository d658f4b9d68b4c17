/**
 * `pydhcp --dump` on a host where pydhcp serves: instead of binding the DHCP
 * port (which would take it from the server), read the server's exchange
 * stream (GET /api/exchanges/stream on its <metrics> listener) and print
 * each request exactly as a live capture would, plus what the server did.
 */
import type { Slice } from "../config/types.ts";
import { displayValue } from "../variables/format.ts";
import { dumpPacket, type DumpOptions } from "./dump.ts";

export interface StreamDumpOptions extends DumpOptions {
  url: string;
  token: string | null;
  slices: readonly Slice[];
  out(s: string): void;
  /** how long to wait for the server to answer, ms */
  connectTimeoutMs?: number;
}

export type StreamDump =
  | { ok: true; close(): void; /** resolves when the server ends the stream */ ended: Promise<void> }
  | { ok: false; status: number; reason: string };

interface ExchangeEvent {
  from?: string;
  request?: string;
  result?: string;
  ip?: string | null;
  reason?: string | null;
  query?: string | null;
}

export async function dumpFromServer(o: StreamDumpOptions): Promise<StreamDump> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), o.connectTimeoutMs ?? 1500);
  let res: Response;
  try {
    res = await fetch(o.url, { headers: o.token ? { authorization: `Bearer ${o.token}` } : {}, signal: ctl.signal });
  } catch (e) {
    return { ok: false, status: 0, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => {});
    return { ok: false, status: res.status, reason: `HTTP ${res.status}` };
  }
  const reader = res.body.getReader();
  const more: DumpOptions = {};
  if (o.format) more.format = o.format;
  if (o.addVariables) more.addVariables = o.addVariables;
  const print = (data: string) => {
    let x: ExchangeEvent;
    try {
      x = JSON.parse(data) as ExchangeEvent;
    } catch {
      return;
    }
    if (typeof x.request !== "string" || !/^([0-9a-f]{2})*$/.test(x.request)) return;
    const bytes = Uint8Array.from(Buffer.from(x.request, "hex"));
    const from = /^(.*):(\d+)$/.exec(x.from ?? "");
    const sender = from ? { address: from[1]!, port: Number(from[2]) } : undefined;
    o.out(dumpPacket(bytes, o.slices, { ...(sender ? { sender } : {}), ...more }));
    if (o.format !== "json") {
      const what = x.result === "no reply" ? `no reply (${x.reason ?? "?"})` : `${x.result ?? "?"}${x.ip ? " " + x.ip : ""}`;
      o.out(`  => the server answered: ${displayValue(what)}${x.query ? ` by ${displayValue(x.query)}` : ""}\n`);
    }
  };
  const ended = (async () => {
    const dec = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const lines = frame.split("\n");
          if (!lines.includes("event: exchange")) continue;
          print(lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n"));
        }
      }
    } catch {
      /* closed by us or by the server */
    }
  })();
  return {
    ok: true,
    ended,
    close() {
      void reader.cancel().catch(() => {});
    },
  };
}
