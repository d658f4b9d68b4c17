/**
 * The DHCP UDP socket. Created through libc with bun:ffi, then adopted by
 * Bun.udpSocket({ fd }), because Bun's own sockets:
 *  - set IP_RECVERR, so one ICMP port-unreachable (a client that left before
 *    its reply landed) makes the NEXT send throw and lose its datagram
 *    (oven-sh/bun#29116); an ffi socket never has IP_RECVERR on;
 *  - cannot SO_BINDTODEVICE, which is how a server on a multi-homed host
 *    learns which link a broadcast came in on and sends its broadcast reply
 *    out of that link with no route needed;
 *  - cannot raise the receive buffer past rmem_max (SO_RCVBUFFORCE as root),
 *    which absorbs a DISCOVER storm instead of dropping it in the kernel;
 *  - cannot attach a socket filter, which drops a share of a storm's
 *    DISCOVERs before the server has to read them (socket-filter.ts).
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { discoverFilterProgram } from "./socket-filter.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_RCVBUF = 8;
const SO_SNDBUF = 7;
const SO_BINDTODEVICE = 25;
const SO_RCVBUFFORCE = 33;
const SO_SNDBUFFORCE = 32;
const SO_MEMINFO = 55;
const SO_ATTACH_FILTER = 26;
const SO_DETACH_FILTER = 27;
const IPPROTO_IP = 0;
const IP_RECVERR = 11;

let libc: ReturnType<typeof openLibc> | null = null;
function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    setsockopt: {
      args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32],
      returns: FFIType.i32,
    },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    getsockopt: {
      args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr],
      returns: FFIType.i32,
    },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

export interface DhcpSocket {
  /** Sends one datagram; false (and onError) instead of throwing. */
  send(buf: Uint8Array, port: number, address: string): boolean;
  /**
   * Sends a batch in order, [buf, port, address, buf, port, address, ...],
   * with one sendmmsg when all goes well; per datagram, null when it went,
   * else why not. A datagram that fails fails alone and the ones after it
   * still go. Failures are returned, not passed to onError: the caller
   * knows which exchange each belongs to.
   */
  sendMany(packets: (Uint8Array | number | string)[]): (Error | null)[];
  /** Bytes waiting in the kernel's receive queue (SO_MEMINFO), null when unknown. */
  queuedBytes(): number | null;
  /** What the kernel lets that queue hold, in the same bytes (SO_MEMINFO's rcvbuf); null when unknown. */
  readonly receiveBuffer: number | null;
  /**
   * Has the kernel drop `share` (0..1) of arriving DISCOVERs before they are
   * queued (socket-filter.ts); 0 removes the filter. Null on success, else why not.
   */
  dropDiscovers(share: number): string | null;
  close(): void;
  readonly iface: string | null;
  readonly port: number;
}

export interface DhcpSocketOptions {
  host: string;
  port: number;
  /** bind to this interface (SO_BINDTODEVICE) */
  iface?: string;
  /** SO_REUSEADDR: share the address with other sockets that set it too (tests only) */
  reuseAddress?: boolean;
  /** receive buffer in bytes (default 4 MiB) */
  receiveBuffer?: number;
  onPacket(buf: Uint8Array, port: number, address: string): void;
  /** errors the socket raises by itself, and send()'s failures (sendMany returns its own) */
  onError?(e: Error): void;
}

/** Why a socket could not be opened; `errno` 98 (EADDRINUSE) means another process holds the address. */
export class SocketError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
    this.name = "SocketError";
  }
  get inUse(): boolean {
    return this.errno === EADDRINUSE;
  }
}

const EADDRINUSE = 98;
const ENOENT = 2;

/** errno is a thread-local int behind __errno_location(). */
function errno(sym: ReturnType<typeof openLibc>): number {
  const p = sym.__errno_location();
  return p ? read.i32(p, 0) : 0;
}

function setInt(sym: ReturnType<typeof openLibc>, fd: number, level: number, opt: number, v: number): number {
  const val = new Int32Array([v]);
  return sym.setsockopt(fd, level, opt, ptr(val), 4);
}

/**
 * Turns IP_RECVERR off on a socket Bun created, so an ICMP port-unreachable
 * is neither raised as an error nor makes the next send throw. True on success.
 */
export function clearIpRecvErr(fd: number): boolean {
  libc ??= openLibc();
  return setInt(libc, fd, IPPROTO_IP, IP_RECVERR, 0) === 0;
}

/** Opens the UDP socket with the options above and hands it to Bun. */
export async function openDhcpSocket(o: DhcpSocketOptions): Promise<DhcpSocket> {
  libc ??= openLibc();
  const sym = libc;
  const fd = sym.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`Cannot create UDP socket: errno ${errno(sym)}`);
  const fail = (what: string): never => {
    const e = errno(sym);
    sym.close(fd);
    const why = e === EADDRINUSE ? "address in use (another process has this UDP port)" : `errno ${e}`;
    throw new SocketError(`Cannot ${what} for ${o.host}:${o.port}${o.iface ? ` on ${o.iface}` : ""}: ${why}`, e);
  };
  // No SO_REUSEADDR: on Linux it lets a second UDP socket bind the same
  // address and take the unicast traffic from the first (a second server, or
  // a --dump). Sockets bound to different devices (SO_BINDTODEVICE) share a
  // port without it.
  if (o.reuseAddress && setInt(sym, fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0) fail("set SO_REUSEADDR");
  if (setInt(sym, fd, SOL_SOCKET, SO_BROADCAST, 1) < 0) fail("set SO_BROADCAST");
  if (setInt(sym, fd, IPPROTO_IP, IP_RECVERR, 0) < 0) fail("clear IP_RECVERR");
  const rcv = o.receiveBuffer ?? 4 * 1024 * 1024;
  if (setInt(sym, fd, SOL_SOCKET, SO_RCVBUFFORCE, rcv) < 0) setInt(sym, fd, SOL_SOCKET, SO_RCVBUF, rcv);
  if (setInt(sym, fd, SOL_SOCKET, SO_SNDBUFFORCE, 1024 * 1024) < 0) setInt(sym, fd, SOL_SOCKET, SO_SNDBUF, 1024 * 1024);
  if (o.iface) {
    const name = new TextEncoder().encode(o.iface + "\0");
    if (sym.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ptr(name), name.length) < 0) fail(`bind to device ${o.iface}`);
  }
  const addr = new Uint8Array(16);
  const dv = new DataView(addr.buffer);
  dv.setUint16(0, AF_INET, true);
  dv.setUint16(2, o.port, false);
  const parts = o.host.split(".").map(Number);
  if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) fail(`parse address "${o.host}"`);
  addr.set(parts, 4);
  if (sym.bind(fd, ptr(addr), 16) < 0) fail("bind");

  const onError = o.onError ?? (() => {});
  const meminfo = new Uint32Array(16);
  const meminfoLen = new Uint32Array(1);
  const sock = await Bun.udpSocket({
    fd,
    socket: {
      data(_s: unknown, buf: Uint8Array, port: number, address: string) {
        o.onPacket(buf, port, address);
      },
      // Bun passes one argument, the Error (BUN-FACTS); a socket error must never kill the server.
      error(err: unknown) {
        onError(err instanceof Error ? err : new Error(String(err)));
      },
    },
  } as never as Parameters<typeof Bun.udpSocket>[0]);
  const attempt = (buf: Uint8Array, port: number, address: string): Error | null => {
    try {
      // false without a throw: the kernel's send buffer is full
      return sock.send(buf, port, address) ? null : new Error("send buffer full");
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };
  const send = (buf: Uint8Array, port: number, address: string): boolean => {
    const e = attempt(buf, port, address);
    if (e) onError(e);
    return e === null;
  };
  // the limit the kernel set (twice what was asked, for its bookkeeping), in the bytes queuedBytes counts
  meminfoLen[0] = meminfo.byteLength;
  const receiveBuffer = sym.getsockopt(fd, SOL_SOCKET, SO_MEMINFO, ptr(meminfo), ptr(meminfoLen)) < 0 ? null : meminfo[1]!;
  return {
    iface: o.iface ?? null,
    port: o.port,
    receiveBuffer,
    send,
    sendMany(packets) {
      const n = packets.length / 3;
      const result = new Array<Error | null>(n).fill(null);
      for (let i = 0; i < n; ) {
        let k = 0;
        try {
          // sendmmsg stops at the first datagram that fails and returns how many went; it
          // reports an error (Bun throws) only when the first fails, so nothing went then
          k = sock.sendMany((i === 0 ? packets : packets.slice(i * 3)) as never);
        } catch {
          k = 0;
        }
        i += k;
        if (i >= n) break;
        // the one that stopped it goes alone: its own error, or (the queue drained) it goes
        result[i] = attempt(packets[i * 3] as Uint8Array, packets[i * 3 + 1] as number, packets[i * 3 + 2] as string);
        i++;
      }
      return result;
    },
    dropDiscovers(share) {
      if (!(share > 0)) {
        // ENOENT: there was no filter, which is what was asked for
        if (sym.setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, ptr(meminfoLen), 4) < 0 && errno(sym) !== ENOENT) return `errno ${errno(sym)}`;
        return null;
      }
      const program = discoverFilterProgram(share);
      // struct sock_fprog { u16 len; struct sock_filter *filter; }: the kernel copies the program
      const fprog = new DataView(new ArrayBuffer(16));
      fprog.setUint16(0, program.length / 8, true);
      fprog.setBigUint64(8, BigInt(ptr(program)), true);
      return sym.setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, ptr(fprog), 16) < 0 ? `errno ${errno(sym)}` : null;
    },
    queuedBytes() {
      // SK_MEMINFO_RMEM_ALLOC is the first of the u32 values (linux/sock_diag.h)
      meminfoLen[0] = meminfo.byteLength;
      return sym.getsockopt(fd, SOL_SOCKET, SO_MEMINFO, ptr(meminfo), ptr(meminfoLen)) < 0 ? null : meminfo[0]!;
    },
    close() {
      sock.close();
    },
  };
}
