/**
 * UDP sockets for tests and benchmarks, hardened the way the server's own is
 * (src/server/socket.ts, BUN-FACTS "ICMP errors"): an `error` handler is always
 * installed, `send` never throws, and IP_RECVERR is cleared. A datagram sent
 * to a port nobody has bound yet (a server still starting, a client that left)
 * brings back an ICMP port-unreachable; on a plain Bun socket that is an
 * unhandled ECONNREFUSED between tests and a lost next send.
 */
import { clearIpRecvErr } from "../../src/server/socket.ts";

export interface UdpOptions {
  hostname?: string;
  /** 0 (default) = any free port */
  port?: number;
  broadcast?: boolean;
  onData?(buf: Uint8Array, port: number, address: string): void;
}

export interface Udp {
  readonly port: number;
  /** false instead of throwing when the datagram could not go out */
  send(buf: Uint8Array, port: number, host?: string): boolean;
  /** [buf, port, host, ...]; how many went out */
  sendMany(packets: (Uint8Array | number | string)[]): number;
  /** socket errors seen (none expected with IP_RECVERR off), for tests that want to assert it */
  readonly errors: Error[];
  close(): void;
}

export async function openUdp(o: UdpOptions = {}): Promise<Udp> {
  const errors: Error[] = [];
  const onData = o.onData;
  const sock = await Bun.udpSocket({
    hostname: o.hostname ?? "127.0.0.1",
    port: o.port ?? 0,
    socket: {
      data(_s: unknown, buf: Uint8Array, port: number, address: string) {
        onData?.(buf, port, address);
      },
      // Bun passes one argument, the Error (BUN-FACTS)
      error(err: unknown) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      },
    },
  } as never as Parameters<typeof Bun.udpSocket>[0]);
  const fd = (sock as unknown as { fd?: number }).fd;
  if (typeof fd !== "number" || !clearIpRecvErr(fd)) {
    sock.close();
    throw new Error("Cannot clear IP_RECVERR on a test UDP socket");
  }
  if (o.broadcast) sock.setBroadcast(true);
  return {
    port: sock.port,
    errors,
    send(buf, port, host = "127.0.0.1") {
      try {
        return sock.send(buf, port, host);
      } catch (e) {
        errors.push(e instanceof Error ? e : new Error(String(e)));
        return false;
      }
    },
    sendMany(packets) {
      try {
        return sock.sendMany(packets as never);
      } catch (e) {
        errors.push(e instanceof Error ? e : new Error(String(e)));
        return 0;
      }
    },
    close() {
      sock.close();
    },
  };
}
