/**
 * Ports for the servers the tests start (pydhcp, private databases, metrics
 * listeners), chosen below the kernel's ephemeral range. A port the kernel
 * handed out (bind to 0) can be taken by any client's outgoing connection
 * while its server is stopped for a restart; a private PostgreSQL restarted
 * in an outage test once found its port taken that way.
 */
import { readFileSync } from "node:fs";
import { openUdp } from "./udp.ts";

const LOW = 20000;

function ephemeralStart(): number {
  try {
    const n = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(n) && n > LOW + 1000 ? n : 32768;
  } catch {
    return 32768;
  }
}

const HIGH = ephemeralStart() - 1;

function candidate(): number {
  return LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
}

/** A TCP port free on 127.0.0.1 now, outside the ephemeral range. */
export function freeTcpPort(): number {
  for (let i = 0; i < 200; i++) {
    const port = candidate();
    try {
      const s = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.stop(true);
      return port;
    } catch {
      // taken: try another
    }
  }
  throw new Error(`no free TCP port in ${LOW}-${HIGH}`);
}

/** A UDP port free on `hostname` now, outside the ephemeral range. */
export async function freeUdpPort(hostname = "127.0.0.1"): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = candidate();
    try {
      const s = await openUdp({ hostname, port });
      s.close();
      return port;
    } catch {
      // taken: try another
    }
  }
  throw new Error(`no free UDP port in ${LOW}-${HIGH}`);
}
