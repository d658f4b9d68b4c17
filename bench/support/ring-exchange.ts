/**
 * One request through the packet path as the server runs it, kept in the
 * exchange ring when one is given: decode, Option 82, respond, the history
 * event journaled. What bench/retained.ts and bench/gc-cost.ts fill their
 * structures with.
 */
import { decode } from "../../src/codec/decode.ts";
import type { Request } from "../../src/core/exchange.ts";
import { respond } from "../../src/core/respond.ts";
import { parseRelayAgentInfo } from "../../src/option82/parse.ts";
import { ringEntry, type ExchangeRing } from "../../src/server/exchange-ring.ts";
import { recordExchange } from "../../src/server/history-event.ts";
import type { HistoryWriter } from "../../src/server/history.ts";
import type { Runtime } from "../../src/server/runtime.ts";

export async function ringExchange(buf: Uint8Array, rt: Runtime, history: HistoryWriter, leaseTime: number, ring: ExchangeRing | null): Promise<void> {
  // the datagram as the socket hands it: a buffer of its own
  buf = buf.slice();
  const d = decode(buf);
  if (!d.ok) throw new Error(d.error.message);
  const msg = d.msg;
  const rai = msg.options.get(82);
  const req: Request = { msg, type: msg.options.get(53)![0]!, size: buf.length, from: { address: "198.18.0.2", port: 67 }, arrived: performance.now() };
  if (rai) req.relay = parseRelayAgentInfo(rai);
  const ex = await respond(req, rt.deps);
  if (ex.outcome.kind !== "reply") throw new Error(`no reply: ${ex.outcome.note}`);
  recordExchange(history, ex, leaseTime);
  ring?.push(ringEntry(ex, buf, rt, performance.now() - req.arrived));
}
