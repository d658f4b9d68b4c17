/**
 * Hand-built DHCP packets sent from inside a namespace, for the cases real
 * clients cannot be made to produce on demand (a REQUEST naming another
 * server, a REQUEST for an address the server must NAK, a relayed packet
 * with a chosen option 82).
 *
 * Run as a script in the namespace (`ip netns exec NS bun rawclient.ts SPEC`):
 * it binds one UDP socket, sends each packet, collects every datagram that
 * arrives for listenMs, and prints them as JSON. `rawExchange` does that
 * from the test process.
 */
import { openUdp } from "../support/udp.ts";
import { type Topology, nsMust, nsRun } from "./netns.ts";

export interface RawSpec {
  /** local address and port to bind: 0.0.0.0:68 as a client, <addr>:67 as a relay */
  bind: { address: string; port: number };
  to: { address: string; port: number };
  /** packets as hex, sent in order */
  packets: string[];
  /** how long to listen after the last send */
  listenMs: number;
  /** stop early once this many datagrams arrived */
  expect?: number;
}

export interface RawReceived {
  from: string;
  port: number;
  hex: string;
}

async function main(spec: RawSpec): Promise<void> {
  const got: RawReceived[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const sock = await openUdp({
    hostname: spec.bind.address,
    port: spec.bind.port,
    broadcast: true,
    onData(buf, port, address) {
      got.push({ from: address, port, hex: Buffer.from(buf).toString("hex") });
      if (spec.expect !== undefined && got.length >= spec.expect) done();
    },
  });
  for (const h of spec.packets) {
    if (!sock.send(Buffer.from(h, "hex"), spec.to.port, spec.to.address)) console.error(`send failed: ${sock.errors.at(-1)?.message}`);
  }
  await Promise.race([finished, Bun.sleep(spec.listenMs)]);
  sock.close();
  await Bun.write(Bun.stdout, `${JSON.stringify(got)}\n`);
  // the losing Bun.sleep would otherwise keep the process alive
  process.exit(0);
}

if (import.meta.main) {
  await main(JSON.parse(process.argv[2] ?? "{}") as RawSpec);
}

/** Runs the exchange inside `ns` and returns what came back. */
export async function rawExchange(ns: string, spec: RawSpec): Promise<RawReceived[]> {
  const r = await nsRun(ns, [process.execPath, import.meta.path, JSON.stringify(spec)], {
    timeoutMs: spec.listenMs + 10_000,
  });
  if (r.code !== 0) throw new Error(`raw client failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "[]") as RawReceived[];
}

/**
 * Gives the client-side interface an address so a raw sender can act as a
 * relay on the client link (unicast to the server from <addr>:67 with
 * giaddr = addr). Direct topology: 198.18.0.2/24; relayed: the relay's own
 * address is used instead, from the relay namespace.
 */
export async function rawRelayEndpoint(topo: Topology): Promise<{ ns: string; address: string }> {
  if (topo.kind === "relayed") return { ns: topo.relayNs ?? "", address: topo.relayIp ?? "" };
  const addr = "198.18.0.2";
  const have = await nsMust(topo.clientNs, ["ip", "-4", "-o", "addr", "show", "dev", topo.client.ifname]);
  if (!have.includes(`${addr}/`)) {
    await nsMust(topo.clientNs, ["ip", "addr", "add", `${addr}/24`, "dev", topo.client.ifname]);
  }
  return { ns: topo.clientNs, address: addr };
}
