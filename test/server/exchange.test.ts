/**
 * RFC 2131 exchanges against the running server on loopback (SQLite):
 * DORA, renewal without Option 82, INIT-REBOOT, NAK on a changed address,
 * a REQUEST for another server, RELEASE, relayed replies with Option 82
 * echoed unchanged (RFC 3046 2.2) and routed by RFC 8357's source port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { buildRequest, ip, testClient, type TestClient } from "../support/client.ts";
import { freeUdpPort } from "../support/ports.ts";

const SERVER_ID = "198.18.0.1";
// Leased addresses are 198.18.x (127/8 is never leased): a reply unicast to
// such a ciaddr leaves loopback, so those cases read the exchange as -d
// explains it (the same Exchange the socket is given).
// An INFORM's ciaddr is the client's own configuration, so it can be 127.x.
let server: RunningServer;
let client: TestClient;
let port: number;
let db: Database;

const config = (serverPort: number, clientPort: number) => `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host>
    <port>${serverPort}</port>
    <clientPort>${clientPort}</clientPort>
    <broadcast>127.0.0.1</broadcast>
    <DHCPServer>${SERVER_ID}</DHCPServer>
    <LeaseTime>600</LeaseTime>
    <ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask>
    <defaultRouter>198.18.0.1</defaultRouter>
    <defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database><sqlite><path>{dir}/t.db</path></sqlite></database>
  <relay_profiles><default>auto</default></relay_profiles>
  <!-- rows change between exchanges here: every lookup asks the database (the cache has its own tests) -->
  <answerCache><ttl>0</ttl></answerCache>
  <query>
    <offer_count>2</offer_count>
    <offer_1>select ip, mask, router, dns from users where mac = '{relay_mac_hex}' and port = '{port}'</offer_1>
    <offer_2>select ip, mask, router, dns from users where mac = '{ClientMacAddress}'</offer_2>
    <history_sql>insert into history (dt, mac, ip, comment) values (now(), '{ClientMacAddress}', '{RequestedIpAddress}', '{op}')</history_sql>
  </query>
</config>`;


// The seed's option 82: circuit-id 00 04 00 01 00 06 (D-Link: vlan 1, port 6), remote-id 00 06 + switch MAC 00:1e:58:9e:b2:ad
const OPTION_82 = Uint8Array.from(Buffer.from("010600040001000602080006001e589eb2ad", "hex"));
// the same plus RFC 8357 relay-source-port (sub-option 19, empty from the relay)
const OPTION_82_PORT = Uint8Array.from([...OPTION_82, 19, 0]);

beforeAll(async () => {
  client = await testClient(0, "0.0.0.0");
  port = await freeUdpPort();
  server = await startServer({ config: config(port, client.port), args: ["-d"] });
  db = new Database(join(server.dir, "t.db"));
  const add = db.prepare("insert into users (ip, mask, router, dns, mac, port) values (?, ?, ?, ?, ?, ?)");
  add.run("198.18.0.19", "255.255.255.0", "198.18.0.1", "198.18.0.53,198.18.0.54", "080027059ed0", "");
  add.run("198.18.0.20", "", "", "", "0800270000aa", "");
  add.run("198.18.7.6", "255.255.255.0", "198.18.7.1", "198.18.0.53", "001e589eb2ad", "6");
  add.run("198.18.0.20", "", "", "", "0800270000dd", "");
  add.run("198.18.0.30", "255.255.255.0", "198.18.0.1", "198.18.0.53", "0800270000bb", "");
});

afterAll(async () => {
  db?.close();
  client?.close();
  await server?.close();
});

async function exchange(spec: Parameters<typeof buildRequest>[0]) {
  const xid = spec.xid ?? Math.floor(Math.random() * 0xffffffff);
  client.send(buildRequest({ ...spec, xid }), port);
  return client.reply(xid, 1500);
}

const type = (m: { options: Map<number, Uint8Array> } | null) => m?.options.get(53)?.[0];
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString("hex") : undefined);

describe("direct client", () => {
  test("DISCOVER -> OFFER with the database's address, mask, router, DNS, lease and server id", async () => {
    const offer = await exchange({ type: MessageType.DISCOVER, mac: "08:00:27:05:9e:d0", flags: 0x8000 });
    expect(type(offer)).toBe(MessageType.OFFER);
    expect(offer!.op).toBe(2);
    expect(offer!.yiaddr).toBe("198.18.0.19");
    expect(hex(offer!.options.get(1))).toBe("ffffff00");
    expect(hex(offer!.options.get(3))).toBe("c6120001");
    expect(hex(offer!.options.get(6))).toBe("c6120035c6120036");
    expect(hex(offer!.options.get(51))).toBe("00000258"); // 600
    expect(hex(offer!.options.get(58))).toBe("0000012c"); // T1 = 300
    expect(hex(offer!.options.get(59))).toBe("0000020d"); // T2 = 525
    expect(hex(offer!.options.get(54))).toBe("c6120001");
    expect(offer!.options.has(82)).toBe(false);
  });

  test("empty mask/router/dns columns take the config defaults; lease_time column absent = LeaseTime", async () => {
    const offer = await exchange({ type: MessageType.DISCOVER, mac: "08:00:27:00:00:aa" });
    expect(offer!.yiaddr).toBe("198.18.0.20");
    expect(hex(offer!.options.get(1))).toBe("ffffff00");
    expect(hex(offer!.options.get(3))).toBe("c6120001");
    expect(hex(offer!.options.get(6))).toBe("c6120035");
  });

  test("SELECTING REQUEST -> ACK; the lease is remembered", async () => {
    const xid = 0x1000;
    await exchange({ type: MessageType.DISCOVER, mac: "08:00:27:05:9e:d0", xid });
    const ack = await exchange({
      type: MessageType.REQUEST,
      mac: "08:00:27:05:9e:d0",
      xid,
      options: [
        [50, ip("198.18.0.19")],
        [54, ip(SERVER_ID)],
      ],
    });
    expect(type(ack)).toBe(MessageType.ACK);
    expect(ack!.yiaddr).toBe("198.18.0.19");
  });

  test("REQUEST naming another server is ignored (RFC 2131 4.3.2)", async () => {
    const r = await exchange({
      type: MessageType.REQUEST,
      mac: "08:00:27:05:9e:d0",
      options: [
        [50, ip("198.18.0.19")],
        [54, ip("198.18.0.99")],
      ],
    });
    expect(r).toBeNull();
  });

  test("RENEWING (ciaddr) -> ACK to ciaddr", async () => {
    const from = server.output().length;
    client.send(buildRequest({ type: MessageType.REQUEST, mac: "08:00:27:05:9e:d0", ciaddr: "198.18.0.19", xid: 0x4001 }), port);
    await server.waitFor(new RegExp(`explain 00004001 \\| reply: ACK 198\\.18\\.0\\.19 to 198\\.18\\.0\\.19:${client.port} \\(ciaddr\\)`), 2000, from);
  });

  test("INIT-REBOOT for the right address -> ACK; for a wrong one -> NAK; unknown client -> silence", async () => {
    const ok = await exchange({ type: MessageType.REQUEST, mac: "08:00:27:05:9e:d0", options: [[50, ip("198.18.0.19")]] });
    expect(type(ok)).toBe(MessageType.ACK);
    const nak = await exchange({ type: MessageType.REQUEST, mac: "08:00:27:05:9e:d0", options: [[50, ip("198.18.0.77")]] });
    expect(type(nak)).toBe(MessageType.NAK);
    expect(nak!.yiaddr).toBe("0.0.0.0");
    expect(nak!.options.has(51)).toBe(false);
    const none = await exchange({ type: MessageType.REQUEST, mac: "08:00:27:ff:ff:ff", options: [[50, ip("198.18.0.19")]] });
    expect(none).toBeNull();
  });

  test("the database changes the address: the renewal gets a NAK", async () => {
    const mac = "08:00:27:00:00:bb";
    const xid = 0x2000;
    await exchange({ type: MessageType.DISCOVER, mac, xid });
    const ack = await exchange({ type: MessageType.REQUEST, mac, xid, options: [[50, ip("198.18.0.30")], [54, ip(SERVER_ID)]] });
    expect(ack!.yiaddr).toBe("198.18.0.30");
    db.run("update users set ip = '198.18.0.31' where mac = '0800270000bb'");
    const nak = await exchange({ type: MessageType.REQUEST, mac, ciaddr: "198.18.0.30" });
    expect(type(nak)).toBe(MessageType.NAK);
    const offer = await exchange({ type: MessageType.DISCOVER, mac });
    expect(offer!.yiaddr).toBe("198.18.0.31");
  });

  test("an address the lease memory holds for another client is refused (no reply)", async () => {
    const first = await exchange({ type: MessageType.DISCOVER, mac: "08:00:27:00:00:aa" });
    expect(first!.yiaddr).toBe("198.18.0.20");
    expect(await exchange({ type: MessageType.DISCOVER, mac: "08:00:27:00:00:dd" })).toBeNull();
    await server.waitFor(/no reply: address-in-use.*0800270000dd/);
  });

  test("unknown client: no reply", async () => {
    expect(await exchange({ type: MessageType.DISCOVER, mac: "02:00:00:00:00:01" })).toBeNull();
  });

  test("INFORM -> ACK with options, no yiaddr, no lease time", async () => {
    const ack = await exchange({ type: MessageType.INFORM, mac: "08:00:27:05:9e:d0", ciaddr: "127.0.0.19" });
    expect(type(ack)).toBe(MessageType.ACK);
    expect(ack!.yiaddr).toBe("0.0.0.0");
    expect(ack!.options.has(51)).toBe(false);
    expect(hex(ack!.options.get(1))).toBe("ffffff00");
  });

  test("RELEASE is recorded: no reply, lease marked released", async () => {
    const r = await exchange({ type: MessageType.RELEASE, mac: "08:00:27:05:9e:d0", ciaddr: "198.18.0.19", options: [[54, ip(SERVER_ID)]] });
    expect(r).toBeNull();
    await Bun.sleep(400); // lease writes are batched
    const row = db.query("select state from pydhcp_lease where mac = '080027059ed0'").get() as { state: string } | null;
    expect(row?.state).toBe("released");
  });
});

describe("relayed client (Option 82)", () => {
  test("DISCOVER via relay: matched by switch MAC and port; Option 82 echoed unchanged; reply to the relay's source port", async () => {
    const offer = await exchange({
      type: MessageType.DISCOVER,
      mac: "00:25:22:4a:d7:64",
      giaddr: "127.0.0.1",
      options: [[82, OPTION_82_PORT]],
    });
    expect(type(offer)).toBe(MessageType.OFFER);
    expect(offer!.yiaddr).toBe("198.18.7.6");
    expect(offer!.giaddr).toBe("127.0.0.1");
    expect(hex(offer!.options.get(82))).toBe(hex(OPTION_82_PORT));
    expect(hex(offer!.options.get(3))).toBe("c6120701");
  });

  test("a device swapped on the same switch port takes the port's address over; renewal unicast without Option 82 is answered from the lease's remembered Option 82", async () => {
    const mac = "00:25:22:4a:d7:65";
    const xid = 0x3000;
    const relayed = { giaddr: "127.0.0.1", options: [[82, OPTION_82_PORT]] as [number, Uint8Array][] };
    await exchange({ type: MessageType.DISCOVER, mac, xid, ...relayed });
    const ack = await exchange({
      type: MessageType.REQUEST,
      mac,
      xid,
      giaddr: "127.0.0.1",
      options: [[82, OPTION_82_PORT], [50, ip("198.18.7.6")], [54, ip(SERVER_ID)]],
    });
    if (type(ack) !== MessageType.ACK) console.log(server.output().split("\n").filter((l) => l.includes("d765")).join("\n"));
    expect(type(ack)).toBe(MessageType.ACK);
    await Bun.sleep(300);
    // unicast renewal straight from the client: no giaddr, no option 82
    const from = server.output().length;
    client.send(buildRequest({ type: MessageType.REQUEST, mac, ciaddr: "198.18.7.6", xid: 0x4002 }), port);
    await server.waitFor(new RegExp(`explain 00004002 \\| reply: ACK 198\\.18\\.7\\.6 to 198\\.18\\.7\\.6:${client.port} \\(ciaddr\\)`), 2000, from);
    // offer_1 keys on the switch port: only the remembered Option 82 can match it
    const lines = server.output().slice(from).split("\n").filter((l) => l.includes("explain 00004002 |"));
    expect(lines.some((l) => /offer_1 .*<- decided/.test(l))).toBe(true);
    expect(lines.some((l) => /^\S+ DEBUG explain 00004002 \| +82 /.test(l))).toBe(false);
  });
});

describe("history", () => {
  test("history_sql ran on OFFERs and ACKs with bound values", async () => {
    await Bun.sleep(300);
    const rows = db.query("select mac, ip, comment from history where mac = '080027059ed0' order by id").all() as { comment: string }[];
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(new Set(rows.map((r) => r.comment))).toEqual(new Set(["DHCPDISCOVER", "DHCPREQUEST", "DHCPINFORM"]));
  });
});
