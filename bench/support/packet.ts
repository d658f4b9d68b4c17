/**
 * What server.ts does with one relayed packet, without the socket: decode,
 * the flood check, Option 82 parsed once, respond, the history event
 * journaled, the INFO line. The heap benchmarks (bench/alloc.ts,
 * promoted.ts) run their exchanges through it.
 */
import { decode } from "../../src/codec/decode.ts";
import type { DhcpMessage } from "../../src/codec/message.ts";
import type { Request } from "../../src/core/exchange.ts";
import { parseRelayAgentInfo } from "../../src/option82/parse.ts";
import type { ExchangeLog } from "../../src/server/exchange-log.ts";
import { respond } from "../../src/core/respond.ts";
import { recordExchange } from "../../src/server/history-event.ts";
import type { HistoryWriter } from "../../src/server/history.ts";
import type { Runtime } from "../../src/server/runtime.ts";

const NO_SUBS = new Map<number, Uint8Array>();

export interface PacketPath {
  rt: Runtime;
  history: HistoryWriter;
  lines: ExchangeLog;
  leaseTime: number;
  /** the flood check; false refuses the packet, which a benchmark does not expect */
  admit(msg: DhcpMessage): boolean;
  /** stop after this stage (bench/alloc.ts ALLOC_UPTO): where the bytes go */
  upTo?: Stage;
}

/** The packet path's stages, in order. */
export const STAGES = ["decode", "respond", "history", "log"] as const;
export type Stage = (typeof STAGES)[number];

/** One packet in, its reply made, journaled and logged; throws on anything but a reply. */
export function packetPath(p: PacketPath): (buf: Uint8Array) => Promise<void> {
  const last = STAGES.indexOf(p.upTo ?? "log");
  return async (buf) => {
    const d = decode(buf);
    if (!d.ok) throw new Error(d.error.message);
    const msg = d.msg;
    const type = msg.options.get(53)![0]!;
    if (!p.admit(msg)) throw new Error("rate-limited");
    const rai = msg.options.get(82);
    const relay = rai ? parseRelayAgentInfo(rai) : undefined;
    const req: Request = { msg, type, size: buf.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() };
    if (relay) req.relay = relay;
    if (last < 1) return;
    const ex = await respond(req, p.rt.deps);
    const o = ex.outcome;
    if (o.kind !== "reply") throw new Error(`no reply: ${o.reason} ${o.note}`);
    if (!ex.encoded?.ok || !ex.dest) throw new Error("not encoded");
    if (last < 2) return;
    recordExchange(p.history, ex, p.leaseTime);
    if (last < 3) return;
    const subs = relay && relay.ok ? relay.subs : NO_SUBS;
    p.lines.write("info", `${type === 1 ? "DISCOVER" : "REQUEST"} -> ${o.type === 2 ? "OFFER" : "ACK"} ${o.ip}`, msg, subs, o.query, `${ex.dest.address}:${ex.dest.port}`, undefined, performance.now() - req.arrived);
  };
}
