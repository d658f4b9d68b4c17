/**
 * Variables for the database tests, made by the real pipeline (decode,
 * extract, <options> slices) from captured packets.
 */

import { join } from "node:path";
import { decode } from "../../src/codec/decode.ts";
import { extractVariables } from "../../src/variables/extract.ts";
import { applySlices } from "../../src/variables/slices.ts";
import type { Slice } from "../../src/config/types.ts";
import type { Vars } from "../../src/variables/types.ts";
import { loadFixture, PACKETS_DIR } from "../fixtures/load.ts";

export function packetVars(fixture: string, slices: readonly Slice[] = []): Vars {
  const f = loadFixture(join(PACKETS_DIR, `${fixture}.hex`));
  const r = decode(f.bytes);
  if (!r.ok) throw new Error(`fixture ${fixture} does not decode: ${r.error.kind}`);
  const v = extractVariables(r.msg);
  if (slices.length) applySlices(v, slices);
  return v;
}

/** The seed's relayed DHCPINFORM (option 82: switch 00:1e:58:9e:b2:ad, port 6). */
export function seedVars(slices: readonly Slice[]): Vars {
  return packetVars("seed-msft-inform-relayed", slices);
}

/** A non-relayed DISCOVER whose client MAC is `mac` (12 hex digits). */
export function macVars(mac: string, slices: readonly Slice[] = []): Vars {
  const v = packetVars("udhcpc-discover", slices);
  v.set("ClientMacAddress", mac);
  v.set("chaddr", mac);
  return v;
}
