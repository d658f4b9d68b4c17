/**
 * The DHCP socket's send path on loopback: bytes arrive intact, a reply to a
 * client that has gone (ICMP port-unreachable) costs nothing to the replies
 * after it, and a send that cannot happen says so instead of throwing.
 */
import { afterEach, expect, test } from "bun:test";
import { openDhcpSocket, type DhcpSocket } from "../../src/server/socket.ts";
import { freeUdpPort } from "../support/ports.ts";
import { openUdp } from "../support/udp.ts";

const open: { close(): void }[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function receiver(): Promise<{ port: number; got: Uint8Array[] }> {
  const got: Uint8Array[] = [];
  const s = await openUdp({ onData: (b) => void got.push(new Uint8Array(b)) });
  open.push(s);
  return { port: s.port, got };
}

async function dhcpSocket(errors: string[]): Promise<DhcpSocket> {
  // port 0: the kernel picks a free one, no clash with a running server
  const s = await openDhcpSocket({ host: "127.0.0.1", port: 0, onPacket() {}, onError: (e) => errors.push(e.message) });
  open.push(s);
  return s;
}

async function until(f: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!f() && performance.now() < end) await Bun.sleep(5);
}

test("datagrams of different sizes and offsets arrive byte for byte", async () => {
  const errors: string[] = [];
  const s = await dhcpSocket(errors);
  const r = await receiver();
  const big = Uint8Array.from({ length: 1400 }, (_, i) => (i * 7) & 255);
  const sent = [big.subarray(0, 300), big, big.subarray(100, 400)];
  for (const b of sent) expect(s.send(b, r.port, "127.0.0.1")).toBe(true);
  await until(() => r.got.length === 3);
  expect(r.got.map((b) => Array.from(b))).toEqual(sent.map((b) => Array.from(b)));
  expect(errors).toEqual([]);
});

test("replies to a port that is gone (ICMP port-unreachable) do not cost the next replies", async () => {
  const errors: string[] = [];
  const s = await dhcpSocket(errors);
  const gonePort = await freeUdpPort();
  const r = await receiver();
  const b = new Uint8Array(300);
  for (let i = 0; i < 50; i++) {
    b[0] = i;
    expect(s.send(b, gonePort, "127.0.0.1")).toBe(true);
    // let the ICMP error come back before the next send
    await Bun.sleep(1);
    expect(s.send(b, r.port, "127.0.0.1")).toBe(true);
  }
  await until(() => r.got.length === 50);
  expect(r.got.map((x) => x[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(errors).toEqual([]);
});

test("a send that cannot happen returns false and reports it; it never throws", async () => {
  const errors: string[] = [];
  const s = await dhcpSocket(errors);
  const b = new Uint8Array(300);
  expect(s.send(b, 68, "not-an-address")).toBe(false);
  expect(errors.length).toBe(1);
  s.close();
  expect(s.send(b, 68, "127.0.0.1")).toBe(false);
  expect(errors.length).toBe(2);
});

test("test sockets (test/support/udp.ts) meet ICMP errors the same way: no error, no lost send", async () => {
  // a plain Bun socket here raises ECONNREFUSED and throws on the next send
  const s = await openUdp();
  open.push(s);
  const gonePort = await freeUdpPort();
  const r = await receiver();
  const b = new Uint8Array(300);
  for (let i = 0; i < 20; i++) {
    b[0] = i;
    expect(s.send(b, gonePort)).toBe(true);
    await Bun.sleep(1);
    expect(s.send(b, r.port)).toBe(true);
  }
  await until(() => r.got.length === 20);
  expect(r.got.map((x) => x[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(s.errors).toEqual([]);
});

test("queuedBytes reports what waits in the kernel's receive queue (SO_MEMINFO) and drops to 0 once read", async () => {
  const port = await freeUdpPort();
  let got = 0;
  const s = await openDhcpSocket({ host: "127.0.0.1", port, onPacket: () => void got++ });
  open.push(s);
  const tx = await openUdp();
  open.push(tx);
  expect(s.queuedBytes()).toBe(0);
  // sent and measured in one turn of the event loop: nothing has been read yet
  for (let i = 0; i < 10; i++) tx.send(new Uint8Array(300), port);
  const queued = s.queuedBytes()!;
  expect(queued).toBeGreaterThanOrEqual(10 * 300);
  expect(queued).toBeLessThanOrEqual(10 * 4096);
  await until(() => got === 10);
  expect(got).toBe(10);
  expect(s.queuedBytes()).toBe(0);
});

test("receiveBuffer is the limit the kernel set for the receive queue, in the bytes queuedBytes counts", async () => {
  const port = await freeUdpPort();
  const s = await openDhcpSocket({ host: "127.0.0.1", port, receiveBuffer: 1 << 20, onPacket: () => {} });
  open.push(s);
  // the kernel doubles what is asked for its bookkeeping; as root SO_RCVBUFFORCE passes rmem_max
  if (process.getuid?.() === 0) expect(s.receiveBuffer).toBe(2 << 20);
  else expect(s.receiveBuffer).toBeGreaterThan(0);
});

test("sendMany: a datagram that cannot go fails alone with its own error, the ones after it still go, in order; onError is not called", async () => {
  const errors: string[] = [];
  const s = await dhcpSocket(errors);
  const r = await receiver();
  const b = (i: number) => Uint8Array.of(i, ...new Uint8Array(299));
  // a socket bound to 127.0.0.1 cannot reach 198.19.255.254 (EINVAL): the kernel stops the sendmmsg there
  const res = s.sendMany([b(0), r.port, "127.0.0.1", b(1), r.port, "127.0.0.1", b(2), 68, "198.19.255.254", b(3), r.port, "127.0.0.1", b(4), 68, "198.19.255.254", b(5), r.port, "127.0.0.1"]);
  expect(res.map((e) => e === null)).toEqual([true, true, false, true, false, true]);
  expect(res[2]!.message).toMatch(/EINVAL/);
  expect(res[4]!.message).toMatch(/EINVAL/);
  await until(() => r.got.length === 4);
  expect(r.got.map((x) => x[0])).toEqual([0, 1, 3, 5]);
  // the caller reports them, with the exchange each belongs to
  expect(errors).toEqual([]);
  s.close();
  const closed = s.sendMany([b(6), r.port, "127.0.0.1", b(7), r.port, "127.0.0.1"]);
  expect(closed.map((e) => e instanceof Error)).toEqual([true, true]);
});
