/**
 * `pydhcp probe`: asks a running DHCP server for an address, as dhcping or
 * perfdhcp do, and says what it answered and how fast. A monitoring check:
 * exit 0 when the server answered (OFFER, or ACK with --request), 1 on a
 * NAK or no answer, 2 on bad usage.
 *
 * As a relay (default): unicast to --server from giaddr:67, the address a
 * server sends relayed replies to (RFC 2131 4.1). With --source-port N the
 * probe listens on N instead and adds RFC 8357's relay-source-port
 * sub-option, so a server that supports it (pydhcp does) answers there and
 * the probe needs no root. As a client (--broadcast IFACE): broadcast out of
 * IFACE from port 68 with the BROADCAST flag, as a client without an address.
 */
import { decode } from "../codec/decode.ts";
import { encode } from "../codec/encode.ts";
import { parseIPv4 } from "../codec/ip.ts";
import type { DhcpMessage } from "../codec/message.ts";
import { openDhcpSocket, type DhcpSocket } from "../server/socket.ts";
import { type FlagRow, flagLines, parseArgs, UsageError } from "./args.ts";
import {
  discover,
  hexOrText,
  isReplyTo,
  messageTypeName,
  parseMac,
  rebootRequest,
  relayAgentInfo,
  release,
  request,
  summarize,
  type ProbeIdentity,
  type ReplySummary,
} from "./probe-packet.ts";

export const PROBE_FLAGS: readonly FlagRow[] = [
  { long: "server", value: "ADDR", help: "the DHCP server to ask (as a client: default 255.255.255.255)" },
  { long: "port", value: "N", help: "the server's UDP port; default 67" },
  { long: "mac", value: "MAC", help: "client hardware address to ask for (required)" },
  { long: "giaddr", value: "IP", help: "relay address: an address of this host; default the one that routes to --server" },
  { long: "circuit-id", value: "HEX|TEXT", help: "option 82 circuit-id (hex with 0x prefix, or text)" },
  { long: "remote-id", value: "HEX|TEXT", help: "option 82 remote-id (hex with 0x prefix, or text)" },
  { long: "source-port", value: "N", help: "relay: listen here instead of 67 (adds RFC 8357 relay-source-port)" },
  { long: "broadcast", value: "IFACE", help: "act as a client: broadcast out of IFACE from port 68" },
  { long: "request", help: "after the OFFER, REQUEST it and wait for the ACK" },
  { long: "release", help: "after the ACK, RELEASE the address (implies --request)" },
  { long: "requested-ip", value: "IP", help: "skip the DISCOVER: REQUEST this address as a rebooting client (ACK or NAK)" },
  { long: "timeout", value: "MS", help: "how long to wait for each reply; default 2000" },
  { long: "tries", value: "N", help: "send each message up to N times when no reply comes; default 1" },
  { long: "json", help: "print one JSON object instead of text" },
  { long: "help", short: "h", help: "print this help and exit" },
];

export const PROBE_EXIT = { ANSWERED: 0, NO_ANSWER: 1, USAGE: 2 } as const;

export function probeHelp(): string {
  const lines = [
    "Usage: pydhcp probe --server ADDR --mac MAC [--giaddr IP] [--circuit-id X] [--remote-id Y] [--request] [--release] [--json]",
    "       pydhcp probe --broadcast IFACE --mac MAC [--request] [--release] [--json]",
    "",
    "Asks a running DHCP server for an address and prints the decoded answer and the time it took.",
    "Exit codes: 0 answered (OFFER; ACK with --request), 1 NAK or no answer, 2 bad usage.",
    "",
    "Options:",
  ];
  lines.push(...flagLines(PROBE_FLAGS));
  lines.push(
    "",
    "Examples:",
    "  pydhcp probe --server 198.18.0.1 --mac 02:00:00:00:00:01 --request",
    "  pydhcp probe --server 198.18.0.1 --source-port 6767 --mac 02:00:00:00:00:01 --circuit-id 0x000400010006",
    "  pydhcp probe --broadcast eth1 --mac 02:00:00:00:00:01",
  );
  return lines.join("\n") + "\n";
}

export interface ProbeSettings {
  server: string;
  serverPort: number;
  /** local address and port to listen on */
  bindHost: string;
  bindPort: number;
  iface: string | null;
  id: ProbeIdentity;
  /** INIT-REBOOT: REQUEST this address straight away */
  requestedIp: string | null;
  request: boolean;
  release: boolean;
  timeoutMs: number;
  /** sends of each message before giving up */
  tries: number;
  json: boolean;
}

const str = (f: Map<string, string | true>, k: string): string | undefined => {
  const v = f.get(k);
  return typeof v === "string" ? v : undefined;
};

function port(text: string | undefined, flag: string, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag} ${text}: not a UDP port`);
  return n;
}

/** The local address a datagram to `server` leaves from (a connected UDP socket sends nothing). */
async function sourceAddressFor(server: string, serverPort: number): Promise<string> {
  try {
    const s = await Bun.udpSocket({ connect: { hostname: server, port: serverPort } });
    const a = s.address.address;
    s.close();
    return a;
  } catch (e) {
    throw new Error(`no local address routes to ${server} (${(e as Error).message}); give --giaddr`);
  }
}

/** Flags -> settings. Throws UsageError for bad flags, Error when no local address routes to --server. */
export async function probeSettings(argv: readonly string[]): Promise<ProbeSettings | "help"> {
  const { flags: f, rest } = parseArgs(argv, PROBE_FLAGS);
  if (f.has("help")) return "help";
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
  const macText = str(f, "mac");
  if (!macText) throw new UsageError("probe needs --mac MAC");
  const mac = parseMac(macText);
  if (!mac) throw new UsageError(`--mac ${macText}: not a MAC address`);
  const iface = str(f, "broadcast") ?? null;
  const serverPort = port(str(f, "port"), "port", 67);
  const timeoutText = str(f, "timeout");
  const timeoutMs = timeoutText === undefined ? 2000 : Number(timeoutText);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout ${timeoutText}: not a number of milliseconds`);
  const triesText = str(f, "tries");
  const tries = triesText === undefined ? 1 : Number(triesText);
  if (!Number.isInteger(tries) || tries < 1 || tries > 100) throw new UsageError(`--tries ${triesText}: a count from 1 to 100`);
  const xid = (Math.random() * 0x100000000) >>> 0;
  const rel = f.has("release");
  const requestedIp = str(f, "requested-ip") ?? null;
  if (requestedIp !== null && (parseIPv4(requestedIp) === null || requestedIp === "0.0.0.0")) {
    throw new UsageError(`--requested-ip ${requestedIp}: not an IPv4 address`);
  }
  const common = { request: f.has("request") || rel || requestedIp !== null, release: rel, requestedIp, timeoutMs, tries, json: f.has("json"), serverPort };

  if (iface !== null) {
    for (const k of ["giaddr", "circuit-id", "remote-id", "source-port"]) {
      if (f.has(k)) throw new UsageError(`--${k} is for relay mode; --broadcast acts as a client`);
    }
    const server = str(f, "server") ?? "255.255.255.255";
    if (parseIPv4(server) === null) throw new UsageError(`--server ${server}: not an IPv4 address`);
    return { ...common, server, bindHost: "0.0.0.0", bindPort: 68, iface, id: { mac, xid, giaddr: "0.0.0.0", option82: null } };
  }

  const server = str(f, "server");
  if (!server) throw new UsageError("probe needs --server ADDR (or --broadcast IFACE to act as a client)");
  if (parseIPv4(server) === null) throw new UsageError(`--server ${server}: not an IPv4 address`);
  const giaddr = str(f, "giaddr") ?? (await sourceAddressFor(server, serverPort));
  if (parseIPv4(giaddr) === null || giaddr === "0.0.0.0") throw new UsageError(`--giaddr ${giaddr}: not a relay address`);
  const bindPort = port(str(f, "source-port"), "source-port", 67);
  const ids: (Uint8Array | null)[] = [];
  for (const k of ["circuit-id", "remote-id"]) {
    const t = str(f, k);
    const b = t === undefined ? null : hexOrText(t);
    if (t !== undefined && (b === null || b.length === 0 || b.length > 255)) throw new UsageError(`--${k} ${t}: 1-255 bytes of hex (0x...) or text`);
    ids.push(b);
  }
  const o82 = relayAgentInfo(ids[0] ?? null, ids[1] ?? null, bindPort !== 67);
  if (typeof o82 === "string") throw new UsageError(o82);
  return { ...common, server, bindHost: giaddr, bindPort, iface: null, id: { mac, xid, giaddr, option82: o82 } };
}

export interface Exchange {
  sent: string;
  reply: ReplySummary | null;
  from: string | null;
  ms: number;
}

export interface ProbeResult {
  /** the last answer: OFFER, ACK, NAK, or "none" */
  result: string;
  exchanges: Exchange[];
  code: number;
}

/** Sends msg and waits for a reply of one of `want`'s types (or a NAK). */
async function exchange(
  s: ProbeSettings,
  sock: DhcpSocket,
  replies: { next(timeoutMs: number): Promise<{ msg: DhcpMessage; from: string } | null> },
  msg: DhcpMessage,
  expectReply: boolean,
  sendError: () => string,
): Promise<{ ex: Exchange; msg: DhcpMessage | null }> {
  const e = encode(msg);
  if (!e.ok) throw new Error(e.error.message);
  const sent = messageTypeName(msg.options.get(53)?.[0]);
  let r: { msg: DhcpMessage; from: string } | null = null;
  let t0 = 0;
  // a retransmission is the same message, same xid (RFC 2131 4.1); the time is from the last send
  for (let i = 0; i < s.tries && r === null; i++) {
    t0 = performance.now();
    if (!sock.send(e.bytes, s.serverPort, s.server)) throw new Error(`cannot send to ${s.server}:${s.serverPort}: ${sendError()}`);
    if (!expectReply) return { ex: { sent, reply: null, from: null, ms: 0 }, msg: null };
    r = await replies.next(s.timeoutMs);
  }
  const ms = Math.round((performance.now() - t0) * 100) / 100;
  if (!r) return { ex: { sent, reply: null, from: null, ms }, msg: null };
  return { ex: { sent, reply: summarize(r.msg), from: r.from, ms }, msg: r.msg };
}

/** What a failed bind usually means here, by errno. */
const BIND_HINTS: Record<number, string> = {
  1: " (a port below 1024 needs root or CAP_NET_BIND_SERVICE; as a relay, --source-port avoids it)",
  13: " (a port below 1024 needs root or CAP_NET_BIND_SERVICE; as a relay, --source-port avoids it)",
  98: " (the port is taken, e.g. by a DHCP server on this host; as a relay, use --source-port)",
  99: " (--giaddr must be an address of this host: the server sends its replies there)",
  19: " (no such interface)",
};

/** Runs the exchanges; never exits the process. */
export async function runProbe(s: ProbeSettings): Promise<ProbeResult> {
  const queue: { msg: DhcpMessage; from: string }[] = [];
  let wake: (() => void) | null = null;
  let socketError = "";
  const where = `${s.bindHost}:${s.bindPort}${s.iface ? ` on ${s.iface}` : ""}`;
  const sock = await openDhcpSocket({
    host: s.bindHost,
    port: s.bindPort,
    ...(s.iface ? { iface: s.iface } : {}),
    receiveBuffer: 256 * 1024,
    onPacket(buf, port, address) {
      const d = decode(buf);
      if (!d.ok || !isReplyTo(s.id, d.msg)) return;
      queue.push({ msg: d.msg, from: `${address}:${port}` });
      wake?.();
    },
    onError(e) {
      socketError = e.message;
    },
  }).catch((e: Error) => {
    const errno = Number(/errno (\d+)/.exec(e.message)?.[1] ?? 0);
    const hint = s.iface && (errno === 1 || errno === 13) ? " (a client probe binds port 68: run it as root)" : (BIND_HINTS[errno] ?? "");
    throw new Error(`cannot listen on ${where}: ${e.message}${hint}`);
  });
  const replies = {
    async next(timeoutMs: number) {
      const end = performance.now() + timeoutMs;
      while (queue.length === 0) {
        const left = end - performance.now();
        if (left <= 0) return null;
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = null;
      }
      return queue.shift() ?? null;
    },
  };
  const err = () => socketError || "send refused";
  const exchanges: Exchange[] = [];
  const done = (result: string, code: number): ProbeResult => ({ result, exchanges, code });
  try {
    let req: DhcpMessage;
    if (s.requestedIp !== null) {
      req = rebootRequest(s.id, s.requestedIp);
    } else {
      const offer = await exchange(s, sock, replies, discover(s.id), true, err);
      exchanges.push(offer.ex);
      if (!offer.msg) return done("none", PROBE_EXIT.NO_ANSWER);
      const t1 = offer.ex.reply?.type;
      if (t1 !== "OFFER") return done(t1 ?? "none", PROBE_EXIT.NO_ANSWER);
      if (!s.request) return done("OFFER", PROBE_EXIT.ANSWERED);
      queue.length = 0;
      req = request(s.id, offer.msg);
    }
    const ack = await exchange(s, sock, replies, req, true, err);
    exchanges.push(ack.ex);
    const t2 = ack.ex.reply?.type;
    if (!ack.msg || t2 !== "ACK") return done(t2 ?? "none", PROBE_EXIT.NO_ANSWER);
    if (s.release) exchanges.push((await exchange(s, sock, replies, release(s.id, ack.msg), false, err)).ex);
    return done("ACK", PROBE_EXIT.ANSWERED);
  } finally {
    sock.close();
  }
}

function render(s: ProbeSettings, r: ProbeResult): string {
  if (s.json) {
    return JSON.stringify({
      ok: r.code === PROBE_EXIT.ANSWERED,
      result: r.result,
      server: `${s.server}:${s.serverPort}`,
      mode: s.iface ? "client" : "relay",
      giaddr: s.id.giaddr,
      xid: s.id.xid.toString(16).padStart(8, "0"),
      exchanges: r.exchanges.map((e) => ({ ...e, reply: e.reply && { ...e.reply, options: Object.fromEntries(e.reply.options) } })),
    }, null, 2) + "\n";
  }
  let out = "";
  for (const e of r.exchanges) {
    if (e.sent === "RELEASE") {
      out += "RELEASE sent (no reply is expected)\n";
      continue;
    }
    if (!e.reply) {
      const times = s.tries > 1 ? ` (sent ${s.tries} times)` : "";
      out += `${e.sent} -> no answer from ${s.server}:${s.serverPort} within ${s.timeoutMs} ms${times}\n`;
      continue;
    }
    const addr = e.reply.yiaddr !== "0.0.0.0" ? ` ${e.reply.yiaddr}` : "";
    out += `${e.sent} -> ${e.reply.type}${addr} from ${e.from} in ${e.ms} ms\n`;
    for (const [k, v] of e.reply.options) out += `  ${k.padEnd(26)} ${v}\n`;
  }
  return out;
}

export async function probeCommand(argv: readonly string[]): Promise<number> {
  let s: ProbeSettings | "help";
  try {
    s = await probeSettings(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`pydhcp probe: ${e.message}\n(see pydhcp probe --help)\n`);
      return PROBE_EXIT.USAGE;
    }
    process.stderr.write(`pydhcp probe: ${(e as Error).message}\n`);
    return PROBE_EXIT.NO_ANSWER;
  }
  if (s === "help") {
    process.stdout.write(probeHelp());
    return 0;
  }
  let r: ProbeResult;
  try {
    r = await runProbe(s);
  } catch (e) {
    process.stderr.write(`pydhcp probe: ${(e as Error).message}\n`);
    return PROBE_EXIT.NO_ANSWER;
  }
  process.stdout.write(render(s, r));
  return r.code;
}
