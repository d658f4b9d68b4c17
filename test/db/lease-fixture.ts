/** A bound lease for client `i` (MAC 02..., an address in 198.18.0.0/16), an hour from `now`. */
import type { Lease } from "../../src/db/backend.ts";

export const NOW = Math.floor(Date.now() / 1000);

export function testLease(i: number, over: Partial<Lease> = {}, now = NOW): Lease {
  const mac = "02" + i.toString(16).padStart(10, "0");
  return { clientKey: mac, mac, ip: `198.18.${i >> 8}.${i & 255}`, option82: "", expires: now + 3600, state: "bound", answer: "{}", updated: now, relay: "", hostname: "", ...over };
}
