/**
 * Adds the vendor-profile variables (option82/vendors.ts) to a packet's
 * variables, choosing the profile by the relay rules from <relay_profiles>.
 */
import type { DhcpMessage } from "../codec/message.ts";
import { decodeOption82Profile, PROFILE_VARIABLES, remoteIdMac, selectProfile, type ProfileRule } from "../option82/profiles.ts";
import { PacketVars, type ComputedGroup } from "../variables/lazy.ts";
import type { Vars } from "../variables/types.ts";
import { OPTION } from "../options/table.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../option82/parse.ts";

const OPT_RAI = OPTION.RELAY_AGENT_INFO;

export function profileVariables(vars: Vars, msg: DhcpMessage, rules: readonly ProfileRule[], relay?: RelayAgentInfoResult): void {
  const rai = msg.options.get(OPT_RAI);
  if (!rai) return;
  // a packet's own variables decode the profile when one of its names is read
  if (vars instanceof PacketVars) {
    vars.setComputed(new ProfileVars(msg, rules, rai, relay));
    return;
  }
  for (const [name, value] of profileVars(msg, rules, relay ?? parseRelayAgentInfo(rai))) vars.set(name, value);
}

/** A packet's profile names, decoded when one is first read (one object per packet, no closures). */
class ProfileVars implements ComputedGroup {
  private decoded: ReadonlyMap<string, string> | null = null;

  constructor(
    private readonly msg: DhcpMessage,
    private readonly rules: readonly ProfileRule[],
    private readonly rai: Uint8Array,
    private readonly relay: RelayAgentInfoResult | undefined,
  ) {}

  covers(name: string): boolean {
    return PROFILE_VARIABLES.has(name);
  }

  value(name: string): string | undefined {
    return this.entries().get(name);
  }

  entries(): ReadonlyMap<string, string> {
    return (this.decoded ??= new Map(profileVars(this.msg, this.rules, this.relay ?? parseRelayAgentInfo(this.rai))));
  }
}

/** The profile's names and values, in the order they are set; none when no profile decodes the option. */
function profileVars(msg: DhcpMessage, rules: readonly ProfileRule[], p: RelayAgentInfoResult): readonly (readonly [string, string])[] {
  // a malformed option 82 gives no sub-option variables, as in variables/extract.ts
  if (!p.ok) return [];
  const circuit = p.subs.get(1);
  const remote = p.subs.get(2);
  const id = selectProfile(rules, msg.giaddr, remoteIdMac(remote));
  if (id === null) return [];
  const r = decodeOption82Profile(id, circuit, remote, msg.giaddr);
  return r ? r.vars : [];
}
