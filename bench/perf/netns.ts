/**
 * Two namespaces joined by one veth pair, addresses only from 198.18.0.0/15:
 *
 *   <tag>-srv  veth <tag>s  198.18.0.1/24   the server under test
 *   <tag>-cli  veth <tag>c  198.18.0.2/24   perfdhcp, acting as the relay
 *
 * Nothing touches the host's own interfaces. Databases are reached over the
 * MariaDB unix socket, which is a file and so crosses namespaces.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { onCleanup, run } from "./sys.ts";

export interface Netns {
  server: string;
  client: string;
  serverIf: string;
  serverAddr: string;
  clientAddr: string;
  /** argv prefix to run a command inside a namespace */
  exec(ns: string): string[];
}

export function createNetns(tag: string): Netns {
  const n: Netns = {
    server: `${tag}-srv`,
    client: `${tag}-cli`,
    serverIf: `${tag}s`,
    serverAddr: "198.18.0.1",
    clientAddr: "198.18.0.2",
    exec: (ns) => ["ip", "netns", "exec", ns],
  };
  const clientIf = `${tag}c`;
  if (n.serverIf.length > 15) throw new Error(`interface name ${n.serverIf} is longer than 15 characters`);
  for (const ns of [n.server, n.client]) {
    run(["ip", "netns", "add", ns]);
    onCleanup(`netns ${ns}`, () => void run(["ip", "netns", "del", ns], { allow: [1] }));
  }
  run(["ip", "link", "add", n.serverIf, "netns", n.server, "type", "veth", "peer", "name", clientIf, "netns", n.client]);
  // deleting the namespaces removes the pair too; this covers a half-made setup
  onCleanup(`veth ${n.serverIf}`, () => void run(["ip", "link", "del", n.serverIf], { allow: [1] }));
  const steps: [string, string[]][] = [
    [n.server, ["addr", "add", `${n.serverAddr}/24`, "dev", n.serverIf]],
    [n.server, ["link", "set", n.serverIf, "up"]],
    [n.server, ["link", "set", "lo", "up"]],
    [n.client, ["addr", "add", `${n.clientAddr}/24`, "dev", clientIf]],
    [n.client, ["link", "set", clientIf, "up"]],
    [n.client, ["link", "set", "lo", "up"]],
  ];
  for (const [ns, args] of steps) run(["ip", "-n", ns, ...args]);
  return n;
}

/** perfdhcp's socket receive buffer for the run, in bytes. */
export const GENERATOR_RMEM = 4 * 1024 * 1024;

/**
 * Raises net.core.rmem_default (the size of every new socket's receive
 * buffer; it is not per namespace) while the benchmark runs and restores it
 * at cleanup. perfdhcp has no option for it, and at 208 KiB its receive
 * queue overflows under bursts of replies. Null when no change was needed.
 */
export function raiseReceiveBuffer(bytes: number): { was: number } | null {
  const path = "/proc/sys/net/core/rmem_default";
  const was = Number(readFileSync(path, "utf8").trim());
  if (!(was < bytes)) return null;
  writeFileSync(path, String(bytes));
  onCleanup(`rmem_default ${was}`, () => writeFileSync(path, String(was)));
  return { was };
}
