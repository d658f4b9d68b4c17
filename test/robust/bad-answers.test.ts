/**
 * Rows that must not go on the wire, against the running server (SQLite):
 * (a) an ip that is not a usable IPv4 address (loopback and link-local included), (b) the network or broadcast
 * address of its mask, (c) a non-contiguous mask, (d) a bad router or DNS
 * server, (e) an address lease memory already gives another client. The
 * client gets no reply, neither to DISCOVER nor to REQUEST, and the log
 * names the query and the row (the problem, the row's columns).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { ip } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { Relay, SERVER_ID, freeUdpPort, macOf, option82, replyType, serverConfig, text } from "./support.ts";

let server: RunningServer;
let relay: Relay;

/** [case, ip, mask, router, dns, what the log must say] */
const BAD: [string, string, string, string, string, RegExp][] = [
  ["a: not an address", "not-an-ip", "255.255.255.0", "198.18.10.1", "198.18.0.53", /ip \\?"not-an-ip\\?" is not an IPv4 address/],
  ["a: IPv6", "2001:db8::1", "255.255.255.0", "198.18.10.1", "198.18.0.53", /is not an IPv4 address/],
  ["a: octet over 255", "198.18.10.300", "255.255.255.0", "198.18.10.1", "198.18.0.53", /is not an IPv4 address/],
  ["a: multicast", "224.0.0.9", "255.255.255.0", "198.18.10.1", "198.18.0.53", /is a multicast address/],
  ["a: this network, /32", "0.0.0.0", "255.255.255.255", "198.18.10.1", "198.18.0.53", /0\.0\.0\.0\/8/],
  ["a: limited broadcast, /32", "255.255.255.255", "255.255.255.255", "198.18.10.1", "198.18.0.53", /reserved range/],
  ["a: loopback, /8", "127.0.0.1", "255.0.0.0", "198.18.10.1", "198.18.0.53", /ip 127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8\)/],
  ["a: loopback, /24", "127.0.1.5", "255.255.255.0", "198.18.10.1", "198.18.0.53", /is a loopback address/],
  ["a: link-local", "169.254.1.1", "255.255.0.0", "198.18.10.1", "198.18.0.53", /ip 169\.254\.1\.1 is a link-local address \(169\.254\.0\.0\/16\)/],
  ["b: network address", "198.18.10.0", "255.255.255.0", "198.18.10.1", "198.18.0.53", /is the network address of 198\.18\.10\.0\/24/],
  ["b: broadcast address", "198.18.11.255", "255.255.254.0", "198.18.10.1", "198.18.0.53", /is the broadcast address of 198\.18\.10\.0\/23/],
  ["c: non-contiguous mask", "198.18.10.20", "255.0.255.0", "198.18.10.1", "198.18.0.53", /is not contiguous/],
  ["c: mask not an address", "198.18.10.21", "255.255.255.256", "198.18.10.1", "198.18.0.53", /is not a netmask/],
  ["d: router not an address", "198.18.10.22", "255.255.255.0", "gateway", "198.18.0.53", /router \\?"gateway\\?" is not an IPv4 address/],
  ["d: router multicast", "198.18.10.23", "255.255.255.0", "224.0.0.1", "198.18.0.53", /router \\?"224\.0\.0\.1\\?" is a multicast address/],
  ["d: router loopback", "198.18.10.28", "255.255.255.0", "127.0.0.1", "198.18.0.53", /router \\?"127\.0\.0\.1\\?" is a loopback address/],
  ["d: dns loopback", "198.18.10.29", "255.255.255.0", "198.18.10.1", "198.18.0.53, 127.0.0.53", /dns \\?"127\.0\.0\.53\\?" is a loopback address/],
  ["d: router is the client", "198.18.10.24", "255.255.255.0", "198.18.10.24", "198.18.0.53", /is the client's own address/],
  ["d: router is the broadcast", "198.18.10.25", "255.255.255.0", "198.18.10.255", "198.18.0.53", /broadcast address of the client's subnet/],
  ["d: dns not an address", "198.18.10.26", "255.255.255.0", "198.18.10.1", "198.18.0.53, dns.example", /dns \\?"dns\.example\\?" is not an IPv4 address/],
  ["d: dns 0.0.0.0", "198.18.10.27", "255.255.255.0", "198.18.10.1", "0.0.0.0", /dns \\?"0\.0\.0\.0\\?" is in 0\.0\.0\.0\/8/],
];

const badMac = (i: number) => macOf(i, 0x0b);
const HOLDER = macOf(1, 0x0d);
const SECOND = macOf(2, 0x0d);
const SHARED_IP = "198.18.12.7";

beforeAll(async () => {
  const serverPort = await freeUdpPort();
  server = await startServer({
    config: serverConfig({
      serverPort,
      clientPort: 68,
      database: "<sqlite><path>{dir}/t.db</path></sqlite>",
      offer: "select ip, mask, router, dns, mac from users where mac = '{ClientMacAddress}'",
    }),
  });
  const db = new Database(join(server.dir, "t.db"));
  const add = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, '')");
  BAD.forEach(([, a, m, r, d], i) => add.run(a, m, r, d, badMac(i)));
  // (e) two subscribers given the same address by the database
  add.run(SHARED_IP, "255.255.255.0", "198.18.12.1", "198.18.0.53", HOLDER);
  add.run(SHARED_IP, "255.255.255.0", "198.18.12.1", "198.18.0.53", SECOND);
  db.close();
  relay = await Relay.open(serverPort);
});

afterAll(async () => {
  relay?.close();
  await server?.close();
});

test.each(BAD.map((b, i) => [b[0], i] as const))("%s: no reply, the log names query and row", async (_name, i) => {
  const [, addr, , , , why] = BAD[i]!;
  const mac = badMac(i);
  const from = server.output().length;
  const rai = option82(text(`bad-${i}`));
  expect(replyType(await relay.exchange({ type: MessageType.DISCOVER, mac, options: [[82, rai]] }, 500))).toBeNull();
  const requested = /^[0-9.]+$/.test(addr) && addr.split(".").every((o) => Number(o) <= 255) ? addr : "198.18.10.99";
  expect(
    replyType(await relay.exchange({ type: MessageType.REQUEST, mac, options: [[50, ip(requested)], [82, rai]] }, 500)),
  ).toBeNull();
  const line = await server.waitFor(/returned an unusable row/, 2000, from);
  expect(line).toContain("query offer_1");
  expect(line).toMatch(why);
  // the row, with its key column, is in the line
  expect(line).toContain(mac);
});

test("e: an address lease memory gives another client is not offered, nor ACKed, to a second one", async () => {
  const first = await relay.dora(HOLDER, option82(text("holder")));
  if ("failed" in first) throw new Error(first.failed);
  expect(first.ack.yiaddr).toBe(SHARED_IP);
  const from = server.output().length;
  const rai = option82(text("second"));
  expect(replyType(await relay.exchange({ type: MessageType.DISCOVER, mac: SECOND, options: [[82, rai]] }, 500))).toBeNull();
  // INIT-REBOOT and SELECTING for the held address: no ACK either
  expect(replyType(await relay.exchange({ type: MessageType.REQUEST, mac: SECOND, options: [[50, ip(SHARED_IP)], [82, rai]] }, 500))).toBeNull();
  expect(
    replyType(await relay.exchange({ type: MessageType.REQUEST, mac: SECOND, options: [[50, ip(SHARED_IP)], [54, ip(SERVER_ID)], [82, rai]] }, 500)),
  ).toBeNull();
  const line = await server.waitFor(new RegExp(`DISCOVER no reply: address-in-use .*mac=${SECOND}`), 2000, from);
  expect(line).toContain("query=offer_1");
  expect(line).toContain(`${SHARED_IP} is leased to ${HOLDER}`);
  await server.waitFor(new RegExp(`REQUEST no reply: address-in-use .*mac=${SECOND}`), 2000, from);
  // the holder keeps renewing it
  const renewed = await relay.renew(HOLDER, SHARED_IP, option82(text("holder")));
  expect(replyType(renewed)).toBe("ACK");
  expect(renewed!.yiaddr).toBe(SHARED_IP);
});
