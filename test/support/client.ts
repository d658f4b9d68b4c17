/**
 * A scriptable DHCP client (or relay) on loopback for tests that need exact
 * control of every field: builds requests with the project's encoder, sends
 * them to the server and collects decoded replies.
 */
import { decode } from "../../src/codec/decode.ts";
import { encode } from "../../src/codec/encode.ts";
import { emptyMessage } from "../../src/codec/header.ts";
import type { DhcpMessage } from "../../src/codec/message.ts";
import { openUdp } from "./udp.ts";

export interface RequestSpec {
  type: number;
  mac: string;
  xid?: number;
  flags?: number;
  ciaddr?: string;
  giaddr?: string;
  hops?: number;
  /** options other than 53, in order */
  options?: [number, Uint8Array][];
}

export function macBytes(mac: string): Uint8Array {
  const b = new Uint8Array(16);
  b.set(Buffer.from(mac.replace(/[:.-]/g, ""), "hex"));
  return b;
}

export function ip(text: string): Uint8Array {
  return Uint8Array.from(text.split(".").map(Number));
}

export function buildRequest(s: RequestSpec): Uint8Array {
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(s.type)]]);
  for (const [c, v] of s.options ?? []) options.set(c, v);
  const msg: DhcpMessage = {
    ...emptyMessage(),
    op: 1,
    htype: 1,
    hlen: 6,
    hops: s.hops ?? (s.giaddr ? 1 : 0),
    xid: s.xid ?? Math.floor(Math.random() * 0xffffffff),
    flags: s.flags ?? 0,
    ciaddr: s.ciaddr ?? "0.0.0.0",
    giaddr: s.giaddr ?? "0.0.0.0",
    chaddr: macBytes(s.mac),
    options,
  };
  const r = encode(msg);
  if (!r.ok) throw new Error(r.error.message);
  return r.bytes;
}

export interface TestClient {
  readonly port: number;
  send(bytes: Uint8Array, port: number, host?: string): void;
  /** the next reply matching xid (any when omitted), or null after timeoutMs */
  reply(xid?: number, timeoutMs?: number): Promise<DhcpMessage | null>;
  /** all decoded replies received so far (and clears them) */
  drain(): DhcpMessage[];
  close(): void;
}

/**
 * Binds host:port (0 = any free port) and decodes everything that arrives.
 * Bind 0.0.0.0 to also receive replies sent to other 127.x addresses (a
 * RENEWING client's ciaddr on loopback tests).
 */
export async function testClient(port = 0, host = "127.0.0.1"): Promise<TestClient> {
  const inbox: DhcpMessage[] = [];
  const waiters: { xid?: number; resolve: (m: DhcpMessage | null) => void }[] = [];
  const sock = await openUdp({
    hostname: host,
    port,
    onData(buf) {
      const d = decode(new Uint8Array(buf));
      if (!d.ok) return;
      const i = waiters.findIndex((w) => w.xid === undefined || w.xid === d.msg.xid);
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(d.msg);
      else inbox.push(d.msg);
    },
  });
  return {
    port: sock.port,
    send(bytes, port, host = "127.0.0.1") {
      sock.send(bytes, port, host);
    },
    reply(xid, timeoutMs = 2000) {
      const i = inbox.findIndex((m) => xid === undefined || m.xid === xid);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
      return new Promise((resolve) => {
        const w = { ...(xid !== undefined ? { xid } : {}), resolve };
        waiters.push(w);
        setTimeout(() => {
          const j = waiters.indexOf(w);
          if (j >= 0) {
            waiters.splice(j, 1);
            resolve(null);
          }
        }, timeoutMs);
      });
    },
    drain() {
      return inbox.splice(0);
    },
    close() {
      sock.close();
    },
  };
}
