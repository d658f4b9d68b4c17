/**
 * ISC Kea as a known-good reference server for the harness: if a client or
 * the relay misbehaves against Kea, the harness is wrong, not the server.
 * Reservations by MAC (direct link) and by circuit-id (relayed link).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Daemon, type Topology, spawnIn, waitFor } from "./netns.ts";

export interface KeaReservation {
  /** colon MAC, or null when keyed by circuit-id */
  mac?: string;
  /** circuit-id as text (dhcrelay -a puts the interface name there) */
  circuitId?: string;
  ip: string;
}

export interface KeaOptions {
  reservations: KeaReservation[];
  router: string;
  dns: string[];
  leaseTime: number;
  /** renew (T1) timer; defaults to half the lease */
  renewTimer?: number;
}

export interface KeaServer {
  daemon: Daemon;
  config: unknown;
  stop(): Promise<void>;
}

function subnetOf(topo: Topology): { subnet: string; pool: string } {
  return topo.kind === "direct"
    ? { subnet: "198.18.0.0/24", pool: "198.18.0.100 - 198.18.0.199" }
    : { subnet: "198.18.1.0/24", pool: "198.18.1.100 - 198.18.1.199" };
}

export function keaConfig(topo: Topology, opts: KeaOptions, dir: string): unknown {
  const { subnet, pool } = subnetOf(topo);
  return {
    Dhcp4: {
      "interfaces-config": { interfaces: [topo.server.ifname], "dhcp-socket-type": "raw" },
      "lease-database": { type: "memfile", persist: false },
      "host-reservation-identifiers": ["circuit-id", "hw-address"],
      "valid-lifetime": opts.leaseTime,
      "renew-timer": opts.renewTimer ?? Math.floor(opts.leaseTime / 2),
      "rebind-timer": Math.floor((opts.leaseTime * 7) / 8),
      subnet4: [
        {
          id: 1,
          subnet,
          pools: [{ pool }],
          "option-data": [
            { name: "routers", data: opts.router },
            { name: "domain-name-servers", data: opts.dns.join(", ") },
          ],
          reservations: opts.reservations.map((r) =>
            r.circuitId !== undefined
              ? { "circuit-id": `'${r.circuitId}'`, "ip-address": r.ip }
              : { "hw-address": r.mac, "ip-address": r.ip },
          ),
        },
      ],
      loggers: [
        {
          name: "kea-dhcp4",
          output_options: [{ output: join(dir, "kea.log") }],
          severity: "DEBUG",
          debuglevel: 40,
        },
      ],
    },
  };
}

/** Starts kea-dhcp4 in the server namespace and waits until it serves. */
export async function startKea(topo: Topology, opts: KeaOptions): Promise<KeaServer> {
  const dir = mkdtempSync(join(tmpdir(), "pde2e-kea-"));
  const config = keaConfig(topo, opts, dir);
  const cfgPath = join(dir, "kea.json");
  await Bun.write(cfgPath, JSON.stringify(config, null, 2));
  const daemon = spawnIn(topo.serverNs, "kea-dhcp4", ["kea-dhcp4", "-c", cfgPath], join(dir, "stdout.log"), {
    KEA_PIDFILE_DIR: dir,
    KEA_LOCKFILE_DIR: dir,
    KEA_LOGGER_DESTINATION: join(dir, "kea.log"),
  });
  const logFile = join(dir, "kea.log");
  try {
    await waitFor(
      "kea-dhcp4 to open its sockets",
      async () => {
        if (daemon.proc.exitCode !== null) {
          throw new Error(`kea-dhcp4 exited ${daemon.proc.exitCode}: ${await daemon.log()}`);
        }
        const f = Bun.file(logFile);
        const text = (await f.exists()) ? await f.text() : "";
        return /DHCP4_STARTED|DHCPSRV_CFGMGR_SOCKET_TYPE_SELECT|DHCP4_CONFIG_COMPLETE/.test(text) &&
          /DHCP4_STARTED/.test(text)
          ? true
          : undefined;
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
    config,
    stop: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
