/**
 * The DISCOVER filter (socket-filter.ts) on a real socket on loopback: with
 * a share of 1 the kernel drops every DISCOVER whose first option is 53 and
 * passes everything else; a share of a half drops about half; a share of 0
 * takes the filter off. What the server's socket received is counted.
 */
import { afterEach, expect, test } from "bun:test";
import { MessageType } from "../../src/codec/message.ts";
import { openDhcpSocket, type DhcpSocket } from "../../src/server/socket.ts";
import { buildRequest } from "../support/client.ts";
import { freeUdpPort } from "../support/ports.ts";
import { openUdp, type Udp } from "../support/udp.ts";

const open: { close(): void }[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** the server's socket and what it read, as labels; a client socket to send from */
async function pair(): Promise<{ server: DhcpSocket; port: number; got: string[]; client: Udp }> {
  const got: string[] = [];
  const port = await freeUdpPort();
  const server = await openDhcpSocket({ host: "127.0.0.1", port, onPacket: (b) => void got.push(label(b)) });
  open.push(server);
  const client = await openUdp({});
  open.push(client);
  return { server, port, got, client };
}

/** which of the packets below a datagram is, by its first bytes after the cookie and its xid */
function label(b: Uint8Array): string {
  if (b.length < 243) return "short";
  const xid = new DataView(b.buffer, b.byteOffset).getUint32(4);
  return xid >= 0xd0000 ? "discover" : xid >= 0xc0000 ? "late-53" : xid >= 0xb0000 ? "no-cookie" : xid >= 0xa0000 ? "request" : "other";
}

const discover = (i: number) => buildRequest({ type: MessageType.DISCOVER, mac: "02:00:00:00:00:01", xid: 0xd0000 + i });
const request = (i: number) => buildRequest({ type: MessageType.REQUEST, mac: "02:00:00:00:00:01", xid: 0xa0000 + i });
/** a DISCOVER whose option 53 comes after a host name: the filter does not look that far */
function late53(i: number): Uint8Array {
  const b = buildRequest({ type: MessageType.DISCOVER, mac: "02:00:00:00:00:01", xid: 0xc0000 + i });
  const out = new Uint8Array(b.length + 3);
  out.set(b.subarray(0, 240));
  out.set([12, 1, 0x61], 240);
  out.set(b.subarray(240), 243);
  return out;
}
/** 53 = DISCOVER where the filter looks, but no magic cookie: not a DHCP message the filter may judge */
function noCookie(i: number): Uint8Array {
  const b = discover(i);
  b.set([0, 0, 0, 0], 236);
  new DataView(b.buffer).setUint32(4, 0xb0000 + i);
  return b;
}

async function sendAll(client: Udp, port: number, packets: Uint8Array[]): Promise<void> {
  for (let i = 0; i < packets.length; i += 256) {
    client.sendMany(packets.slice(i, i + 256).flatMap((b) => [b, port, "127.0.0.1"]));
    // the receive buffer is 4 MiB; a pause keeps the test about the filter, not the buffer
    await Bun.sleep(2);
  }
}

async function settle(got: string[], n: number): Promise<void> {
  const end = performance.now() + 3000;
  while (got.length < n && performance.now() < end) await Bun.sleep(10);
  await Bun.sleep(100);
}

const count = (got: string[], l: string) => got.filter((x) => x === l).length;

test("share 1: every first-option DISCOVER is dropped in the kernel; REQUESTs, short packets, a later option 53 and a packet without the cookie all arrive", async () => {
  const { server, port, got, client } = await pair();
  expect(server.dropDiscovers(1)).toBeNull();
  const packets: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) packets.push(discover(i), request(i));
  for (let i = 0; i < 50; i++) packets.push(late53(i), noCookie(i), new Uint8Array(100 + i));
  await sendAll(client, port, packets);
  await settle(got, 350);
  expect(count(got, "discover")).toBe(0);
  expect(count(got, "request")).toBe(200);
  expect(count(got, "late-53")).toBe(50);
  expect(count(got, "no-cookie")).toBe(50);
  expect(count(got, "short")).toBe(50);
  expect(got.length).toBe(350);
});

test("share 0.5 drops about half of the DISCOVERs and no REQUEST; share 0 takes the filter off", async () => {
  const { server, port, got, client } = await pair();
  // no filter yet: taking it off is not an error
  expect(server.dropDiscovers(0)).toBeNull();
  expect(server.dropDiscovers(0.5)).toBeNull();
  const packets: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) packets.push(discover(i), request(i));
  await sendAll(client, port, packets);
  await settle(got, 2800);
  const half = count(got, "discover");
  console.log(`share 0.5: ${half} of 2000 DISCOVERs arrived`);
  // binomial, sd 22: 800..1200 is nine of them either side
  expect(half).toBeGreaterThan(800);
  expect(half).toBeLessThan(1200);
  expect(count(got, "request")).toBe(2000);

  got.length = 0;
  expect(server.dropDiscovers(0)).toBeNull();
  await sendAll(client, port, packets.slice(0, 1000));
  await settle(got, 1000);
  expect(count(got, "discover")).toBe(500);
  expect(count(got, "request")).toBe(500);
});
