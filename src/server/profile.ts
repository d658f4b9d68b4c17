/**
 * Adds the vendor-profile variables (option82/vendors.ts) to a packet's
 * variables, choosing the profile by the relay rules from <relay_profiles>.
 */
import type { DhcpMessage } from "../codec/message.ts";
import { decodeOption82Profile, remoteIdMac, selectProfile, type ProfileRule } from "../option82/profiles.ts";
import type { Vars } from "../variables/types.ts";
import { OPTION } from "../options/table.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../option82/parse.ts";

const OPT_RAI = OPTION.RELAY_AGENT_INFO;

export function profileVariables(vars: Vars, msg: DhcpMessage, rules: readonly ProfileRule[], relay?: RelayAgentInfoResult): void {
  const rai = msg.options.get(OPT_RAI);
  if (!rai) return;
  // a malformed option 82 gives no sub-option variables, as in variables/extract.ts
  const p = relay ?? parseRelayAgentInfo(rai);
  if (!p.ok) return;
  const circuit = p.subs.get(1);
  const remote = p.subs.get(2);
  const id = selectProfile(rules, msg.giaddr, remoteIdMac(remote));
  if (id === null) return;
  const r = decodeOption82Profile(id, circuit, remote, msg.giaddr);
  if (!r) return;
  for (const [name, value] of r.vars) vars.set(name, value);
}
