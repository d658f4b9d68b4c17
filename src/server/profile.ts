/**
 * Adds the vendor-profile variables (option82/vendors.ts) to a packet's
 * variables, choosing the profile by the relay rules from <relay_profiles>.
 */
import type { DhcpMessage } from "../codec/message.ts";
import { decodeOption82Profile, remoteIdMac, selectProfile, type ProfileRule } from "../option82/profiles.ts";
import type { Vars } from "../variables/types.ts";

const OPT_RAI = 82;

/** Sub-options 1 and 2 of option 82 (RFC 3046 2.0); a malformed option yields none. */
function circuitAndRemote(rai: Uint8Array): { circuit?: Uint8Array; remote?: Uint8Array } | null {
  const out: { circuit?: Uint8Array; remote?: Uint8Array } = {};
  for (let i = 0; i < rai.length; ) {
    if (i + 2 > rai.length) return null;
    const code = rai[i]!;
    const len = rai[i + 1]!;
    if (i + 2 + len > rai.length) return null;
    const v = rai.subarray(i + 2, i + 2 + len);
    if (code === 1) out.circuit = v;
    else if (code === 2) out.remote = v;
    i += 2 + len;
  }
  return out;
}

export function profileVariables(vars: Vars, msg: DhcpMessage, rules: readonly ProfileRule[]): void {
  const rai = msg.options.get(OPT_RAI);
  if (!rai) return;
  const subs = circuitAndRemote(rai);
  if (!subs) return;
  const mac = remoteIdMac(subs.remote);
  const id = selectProfile(rules, msg.giaddr, mac);
  if (id === null) return;
  const r = decodeOption82Profile(id, subs.circuit, subs.remote, msg.giaddr);
  if (!r) return;
  for (const [name, value] of r.vars) vars.set(name, value);
}
