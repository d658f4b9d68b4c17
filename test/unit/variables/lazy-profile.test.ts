/**
 * Relay-profile names on a packet's own variables (PacketVars) are decoded
 * when read: the same names, values and order as set at once on a Map.
 */
import { expect, test } from "bun:test";
import { encodeRelayAgentInfo } from "../../../src/option82/parse.ts";
import { PROFILE_VARIABLES, type ProfileRule } from "../../../src/option82/profiles.ts";
import { ROWS } from "../../../src/option82/vendors.ts";
import { profileVariables } from "../../../src/server/profile.ts";
import { extractVariables } from "../../../src/variables/extract.ts";
import { PacketVars } from "../../../src/variables/lazy.ts";
import { applySlices } from "../../../src/variables/slices.ts";
import { message } from "./packets.ts";

const SLICES = [
  { source: "option_82_hex", name: "sw_port1", start: 20, end: 22 },
  { source: "option_82_hex", name: "port", start: 0, end: 4 },
];

function option82(circuit: Uint8Array, remote?: Uint8Array): Uint8Array {
  const subs = new Map<number, Uint8Array>([[1, circuit]]);
  if (remote) subs.set(2, remote);
  const r = encodeRelayAgentInfo(subs);
  if (!r.ok) throw new Error("encode");
  return r.bytes;
}

test("every vendor example, with auto, its own row and none: same map, same values", () => {
  let decoded = 0;
  for (const row of ROWS) {
    const msg = message([[53, Uint8Array.of(1)], [82, option82(row.example.circuitId, row.example.remoteId)]], { giaddr: "198.18.0.2" });
    for (const profile of ["auto", row.id, null]) {
      const rules: ProfileRule[] = [{ kind: "default", profile }];
      const want = extractVariables(msg);
      applySlices(want, SLICES);
      profileVariables(want, msg, rules);
      want.set("event", "ACK");
      if (want.has("profile")) decoded++;
      // one name at a time from a fresh map, then all from one map
      for (const n of [...PROFILE_VARIABLES, "sw_port1", "xid"]) {
        const one = new PacketVars(msg);
        applySlices(one, SLICES);
        profileVariables(one, msg, rules);
        one.set("event", "ACK");
        expect(one.get(n)).toBe(want.get(n));
      }
      const got = new PacketVars(msg);
      applySlices(got, SLICES);
      profileVariables(got, msg, rules);
      got.set("event", "ACK");
      expect(got.get("profile")).toBe(want.get("profile"));
      expect([...got]).toEqual([...want]);
    }
  }
  expect(decoded).toBeGreaterThan(ROWS.length);
});

test("a set of a profile name after the profile wins, as it did", () => {
  const row = ROWS[0]!;
  const msg = message([[82, option82(row.example.circuitId, row.example.remoteId)]], { giaddr: "198.18.0.2" });
  const rules: ProfileRule[] = [{ kind: "default", profile: "auto" }];
  const want = extractVariables(msg);
  profileVariables(want, msg, rules);
  want.set("port", "99");
  const got = new PacketVars(msg);
  profileVariables(got, msg, rules);
  got.set("port", "99");
  expect(got.get("port")).toBe("99");
  expect([...got]).toEqual([...want]);
});

test("no option 82, or malformed: nothing added", () => {
  const rules: ProfileRule[] = [{ kind: "default", profile: "auto" }];
  for (const msg of [message([[53, Uint8Array.of(1)]]), message([[82, Uint8Array.of(1, 9, 0)]])]) {
    const want = extractVariables(msg);
    profileVariables(want, msg, rules);
    const got = new PacketVars(msg);
    profileVariables(got, msg, rules);
    expect(got.get("profile")).toBeUndefined();
    expect([...got]).toEqual([...want]);
  }
});
