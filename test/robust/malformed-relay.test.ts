/**
 * Relayed requests whose relay fields cannot be trusted, against the running
 * server (SQLite): a giaddr no relay agent can have, an Option 82 whose
 * sub-option overruns it, an hlen past chaddr. Each client has a row, so a
 * reply would be sent if the packet were taken; none is, each drop is
 * counted in pydhcp_dropped_total and logged at debug like a malformed packet.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest } from "../support/client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { Relay, freeTcpPort, freeUdpPort, macOf, metric, option82, replyType, serverConfig, text } from "./support.ts";

let server: RunningServer;
let relay: Relay;
let metricsPort: number;
const mac = (n: number) => macOf(n, 0x0e);
const dropped = (reason: string) => metric(metricsPort, "pydhcp_dropped_total", `reason="${reason}"`);

beforeAll(async () => {
  const serverPort = await freeUdpPort();
  metricsPort = await freeTcpPort();
  server = await startServer({
    config: serverConfig({
      serverPort,
      clientPort: 68,
      database: "<sqlite><path>{dir}/t.db</path></sqlite>",
      offer: "select ip, mask, router, dns, mac from users where mac = '{ClientMacAddress}'",
      extra: `<metrics><host>127.0.0.1</host><port>${metricsPort}</port></metrics><log><level>debug</level></log>`,
    }),
  });
  const db = new Database(join(server.dir, "t.db"));
  const add = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, '255.255.255.0', '198.18.14.1', '198.18.0.53', ?, '')");
  for (let i = 1; i <= 9; i++) add.run(`198.18.14.${10 + i}`, mac(i));
  db.close();
  relay = await Relay.open(serverPort);
});

afterAll(async () => {
  relay?.close();
  await server?.close();
});

test("a well-formed relayed DISCOVER is answered (the rows work)", async () => {
  expect(replyType(await relay.exchange({ type: MessageType.DISCOVER, mac: mac(1), options: [[82, option82(text("ok"))]] }))).toBe("OFFER");
});

test.each([
  ["255.255.255.255", 2],
  ["0.1.2.3", 3],
  ["224.0.0.2", 4],
  ["240.0.0.9", 5],
  ["169.254.7.1", 9],
])("giaddr %s: no reply, dropped as bad_giaddr, logged", async (giaddr, n) => {
  const before = await dropped("bad_giaddr");
  const from = server.output().length;
  expect(replyType(await relay.exchange({ type: MessageType.DISCOVER, mac: mac(n), giaddr, options: [[82, option82(text("p"))]] }, 400))).toBeNull();
  expect(await dropped("bad_giaddr")).toBe(before + 1);
  const line = await server.waitFor(/DISCOVER no reply: bad-giaddr/, 2000, from);
  expect(line).toContain(`giaddr ${giaddr} is `);
  if (giaddr.startsWith("169.254.")) expect(line).toContain("link-local address (169.254.0.0/16), which a reply cannot be routed to");
});

test("Option 82 whose sub-option overruns it: no reply, counted as decode_error, logged", async () => {
  const before = await dropped("decode_error");
  const from = server.output().length;
  // circuit id 2 bytes, then remote id claiming 9 bytes with 3 left
  const rai = Uint8Array.from([1, 2, 0x70, 0x31, 2, 9, 0xaa, 0xbb, 0xcc]);
  expect(replyType(await relay.exchange({ type: MessageType.DISCOVER, mac: mac(6), options: [[82, rai]] }, 400))).toBeNull();
  expect(await dropped("decode_error")).toBe(before + 1);
  const line = await server.waitFor(/DISCOVER no reply: bad-option82/, 2000, from);
  expect(line).toContain("sub-option 2 length 9 exceeds 3 remaining bytes");
});

test("hlen 255, and htype 32 with hlen 20: no reply, decode_error, logged as malformed", async () => {
  for (const [htype, hlen, n] of [[1, 255, 7], [32, 20, 8]] as const) {
    const before = await dropped("decode_error");
    const from = server.output().length;
    const b = buildRequest({ type: MessageType.DISCOVER, mac: mac(n), giaddr: "127.0.0.1", xid: 0x7000 + n, options: [[82, option82(text("h"))]] });
    b[1] = htype;
    b[2] = hlen;
    relay.client.send(b, relay.serverPort);
    expect(await relay.client.reply(0x7000 + n, 400)).toBeNull();
    expect(await dropped("decode_error")).toBe(before + 1);
    const line = await server.waitFor(/malformed packet dropped/, 2000, from);
    expect(line).toContain(`hlen ${hlen} exceeds the 16 bytes of chaddr`);
  }
});
