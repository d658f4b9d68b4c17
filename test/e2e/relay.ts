/**
 * ISC dhcrelay (4.4) in the relay namespace, adding Relay Agent Information
 * (option 82, RFC 3046) with `-a`. What it puts there, measured on the wire:
 * one sub-option, Agent Circuit ID (1) = the downstream interface name as
 * text; no Remote ID (dhcrelay supports none on the command line in 4.4).
 * It strips option 82 from replies before passing them to the client, and
 * drops a reply whose circuit id names none of its interfaces, so a server
 * that mangles option 82 shows up as a client that never binds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Daemon, type Topology, spawnIn, waitFor } from "./netns.ts";

export interface Relay {
  daemon: Daemon;
  command: string[];
  /** circuit id dhcrelay stamps: the downstream interface name */
  circuitId: string;
  /** option 82 value bytes dhcrelay adds (sub-option 1 only) */
  option82: Uint8Array;
  stop(): Promise<void>;
}

export function relayCommand(topo: Topology, dir: string): string[] {
  if (!topo.relayDown || !topo.relayUp) throw new Error("relayCommand needs a relayed topology");
  return [
    "dhcrelay", "-d", "-4", "-a",
    // -m replace: a packet arriving with option 82 already gets ours instead
    "-m", "replace",
    "-pf", join(dir, "dhcrelay.pid"),
    "-id", topo.relayDown.ifname,
    "-iu", topo.relayUp.ifname,
    topo.serverIp,
  ];
}

/** Option 82 value as dhcrelay -a builds it: 01 len <ifname>. */
export function dhcrelayOption82(ifname: string): Uint8Array {
  const name = new TextEncoder().encode(ifname);
  return Uint8Array.from([1, name.length, ...name]);
}

export async function startRelay(topo: Topology): Promise<Relay> {
  if (!topo.relayNs || !topo.relayDown) throw new Error("startRelay needs a relayed topology");
  const dir = mkdtempSync(join(tmpdir(), "pde2e-relay-"));
  const command = relayCommand(topo, dir);
  const daemon = spawnIn(topo.relayNs, "dhcrelay", command, join(dir, "dhcrelay.log"));
  try {
    // dhcrelay prints "Sending on   Socket/fallback" once its sockets are open
    await waitFor(
      "dhcrelay to open its sockets",
      async () => {
        if (daemon.proc.exitCode !== null) {
          throw new Error(`dhcrelay exited ${daemon.proc.exitCode}: ${await daemon.log()}`);
        }
        return /Sending on\s+Socket\/fallback/.test(await daemon.log()) ? true : undefined;
      },
      10_000,
    );
  } catch (e) {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    daemon,
    command,
    circuitId: topo.relayDown.ifname,
    option82: dhcrelayOption82(topo.relayDown.ifname),
    stop: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
