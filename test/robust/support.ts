/**
 * Shared pieces for the robustness tests: a loopback relay that speaks for
 * many clients (replies come back to its own port through RFC 8357's
 * relay-source-port sub-option), configs for SQLite and MariaDB, reply
 * counting by type, and the server's resident memory.
 */
import { readFileSync } from "node:fs";
import { MessageType, type DhcpMessage } from "../../src/codec/message.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";

export const SERVER_ID = "198.18.0.1";
export const RELAY = "127.0.0.1";

export { freeUdpPort } from "../support/ports.ts";
import { freeTcpPort as freeTcp } from "../support/ports.ts";

export async function freeTcpPort(): Promise<number> {
  return freeTcp();
}

/** Option 82 with a circuit id (sub-option 1), optional remote id (2) and relay-source-port (19, empty). */
export function option82(circuit: Uint8Array, remote?: Uint8Array): Uint8Array {
  const parts: number[] = [1, circuit.length, ...circuit];
  if (remote) parts.push(2, remote.length, ...remote);
  parts.push(19, 0);
  return Uint8Array.from(parts);
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export function macOf(n: number, prefix = 0x02): string {
  return [prefix, 0x00, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export interface DatabaseXml {
  /** inner XML of <database> */
  database: string;
}

export interface ConfigSpec {
  serverPort: number;
  clientPort: number;
  database: string;
  offer: string;
  history?: string;
  extra?: string;
  threadLimit?: number;
  leaseTime?: number;
}

export function serverConfig(s: ConfigSpec): string {
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host>
    <port>${s.serverPort}</port>
    <clientPort>${s.clientPort}</clientPort>
    <broadcast>127.0.0.1</broadcast>
    <DHCPServer>${SERVER_ID}</DHCPServer>
    <LeaseTime>${s.leaseTime ?? 3600}</LeaseTime>
    <ThreadLimit>${s.threadLimit ?? 8}</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter>
    <defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database>${s.database}</database>
  <query>
    <offer_count>1</offer_count>
    <offer_1>${s.offer}</offer_1>
    ${s.history ? `<history_sql>${s.history}</history_sql>` : ""}
  </query>
  ${s.extra ?? ""}
</config>`;
}

/** Replies received, by message type name. */
export type Counts = Record<string, number>;
const NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k]));

export function replyType(m: DhcpMessage | null): string | null {
  if (!m) return null;
  const t = m.options.get(53);
  return t && t.length === 1 ? (NAMES[t[0]!] ?? String(t[0])) : "?";
}

/**
 * Relayed exchanges on loopback for many clients through one socket.
 * Every reply that arrives is counted once: the ones handed to a waiter and,
 * at drain(), the ones that arrived after their waiter gave up.
 */
export class Relay {
  readonly counts: Counts = {};
  private constructor(
    readonly client: TestClient,
    readonly serverPort: number,
  ) {}

  static async open(serverPort: number): Promise<Relay> {
    return new Relay(await testClient(), serverPort);
  }

  private count(m: DhcpMessage | null): DhcpMessage | null {
    const t = replyType(m);
    if (t) this.counts[t] = (this.counts[t] ?? 0) + 1;
    return m;
  }

  /** Counts replies that came late; returns them. */
  drain(): DhcpMessage[] {
    const late = this.client.drain();
    for (const m of late) this.count(m);
    return late;
  }

  async exchange(spec: Parameters<typeof buildRequest>[0], timeoutMs = 1500): Promise<DhcpMessage | null> {
    const xid = spec.xid ?? Math.floor(Math.random() * 0xffffffff);
    this.client.send(buildRequest({ giaddr: RELAY, ...spec, xid }), this.serverPort);
    return this.count(await this.client.reply(xid, timeoutMs));
  }

  /** Sends `spec` up to `tries` times (same xid, as a client retransmits) until a reply comes. */
  private async retransmit(spec: Parameters<typeof buildRequest>[0], timeoutMs: number | undefined, tries: number): Promise<DhcpMessage | null> {
    for (let t = 1; ; t++) {
      const r = await this.exchange(spec, timeoutMs);
      if (r || t >= tries) return r;
    }
  }

  /**
   * DISCOVER, then REQUEST for the offered address; the ACK, or null with the
   * step that failed. `tries` > 1 retransmits each step that got no reply,
   * as a real client does (RFC 2131 4.1).
   */
  async dora(
    mac: string,
    rai: Uint8Array,
    opts: { xid?: number; options?: [number, Uint8Array][]; timeoutMs?: number; tries?: number } = {},
  ): Promise<{ offer: DhcpMessage; ack: DhcpMessage } | { failed: string }> {
    const extra = opts.options ?? [];
    const tries = opts.tries ?? 1;
    const xid = opts.xid ?? Math.floor(Math.random() * 0xffffffff);
    const offer = await this.retransmit({ type: MessageType.DISCOVER, mac, xid, options: [...extra, [82, rai]] }, opts.timeoutMs, tries);
    if (replyType(offer) !== "OFFER") return { failed: `DISCOVER got ${replyType(offer)}` };
    const ack = await this.retransmit(
      {
        type: MessageType.REQUEST,
        mac,
        xid,
        options: [...extra, [50, ip(offer!.yiaddr)], [54, ip(SERVER_ID)], [82, rai]],
      },
      opts.timeoutMs,
      tries,
    );
    if (replyType(ack) !== "ACK") return { failed: `REQUEST got ${replyType(ack)}` };
    return { offer: offer!, ack: ack! };
  }

  /** RENEWING (RFC 2131 4.3.2): ciaddr set, no server id, no requested address. */
  renew(mac: string, addr: string, rai: Uint8Array, xid?: number, timeoutMs?: number): Promise<DhcpMessage | null> {
    return this.exchange({ type: MessageType.REQUEST, mac, ciaddr: addr, ...(xid !== undefined ? { xid } : {}), options: [[82, rai]] }, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}

/** Options of a reply as comparable hex, without the ones that change per exchange. */
export function optionsHex(m: DhcpMessage): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [c, v] of m.options) out[c] = Buffer.from(v).toString("hex");
  return out;
}

/** Resident set size of a process, KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : -1;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads one Prometheus sample: name{label="v"} value. */
export async function metric(port: number, name: string, labels = ""): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = body.split("\n").find((l) => l.startsWith(name + (labels ? `{${labels}}` : " ")) || (!labels && l.startsWith(name + "{}")));
  return line ? Number(line.split(/\s+/).pop()) : NaN;
}
