/**
 * The variables of one packet, computed when read. A config's queries,
 * slices and history statements name a handful of the ~60 variables a
 * packet has; building all of them per packet was most of the heap the
 * packet path allocated (bench/alloc.ts). A PacketVars is a Map with the
 * same contents extractVariables() gives, but:
 *
 * - get/has of a catalogue name computes that one value (a resolver per
 *   name below, checked against extractVariables by
 *   test/unit/variables/lazy.test.ts) and keeps it, in a small array, not
 *   in the Map itself: a Map past four entries allocates over a kilobyte,
 *   and a packet reads about ten names;
 * - set() is kept in order and wins over the packet's value, as a set after
 *   extraction did; setComputed() is a group of sets whose values are
 *   computed when read (the history event's answer_* and event*, the relay
 *   profile's names: most configs name few or none of them);
 * - anything that sees the whole map (size, iteration, keys, entries,
 *   forEach, delete) first makes it whole: extractVariables() in its own
 *   order, then the sets replayed in theirs, so --dump, --explain, -d and
 *   the help-desk views see exactly the map (and key order) they saw before.
 */
import type { DhcpMessage } from "../codec/message.ts";
import { BROADCAST_FLAG } from "../codec/message.ts";
import { formatIPv4Bytes as ipAt } from "../codec/ip.ts";
import { parseRelayAgentInfo, type RelayAgentInfoResult } from "../option82/parse.ts";
import { extractVariables, HEADER_OP, LEGACY_KNOWN, LEGACY_OP_MAX, lengthByteValue, MSG_TYPE, REQ_LIST } from "./extract.ts";
import { DEC, DEFAULT_HOSTNAME_CODEPAGE, HEX, hex, hexColons, hostnameText, isPrintableAscii, optionText, pythonBytesRepr, u32At } from "./text.ts";

type Resolver = (p: PacketVars) => string | undefined;

/**
 * Values a later step defines together, computed only when read: the
 * history event's answer_* and event* (history-event.ts), the relay
 * profile's names (server/profile.ts). Each must give the same text every
 * time it is asked.
 */
export interface ComputedGroup {
  /** true for every name the group may define */
  covers(name: string): boolean;
  /** the value it gives `name`, undefined when it defines none */
  value(name: string): string | undefined;
  /** every name it defines with its value, in the order they would have been set */
  entries(): Iterable<readonly [string, string]>;
}

/** In the journal of sets: "group N was defined here". */
const COMPUTED = Symbol("computed");

export class PacketVars extends Map<string, string> {
  /** true once the map holds every variable (and the sets) */
  private whole = false;
  /** set() calls before the map was made whole: name, value, name, value... (COMPUTED, group index for setComputed) */
  private sets: (string | number | typeof COMPUTED)[] | null = null;
  /** setComputed's groups, in order, until the map is made whole */
  private groups: ComputedGroup[] | null = null;
  /**
   * Until the map is made whole: the values read or set so far, name,
   * value, name, value... (undefined: computed, absent). The Map itself
   * stays empty until then.
   */
  private known: (string | undefined)[] | null = null;
  private relayParsed: RelayAgentInfoResult | null | undefined;
  private hex82: string | undefined;

  /**
   * `relay`: the message's Option 82 already parsed (absent: parsed here
   * when a relay variable is read). `codepage`: hostname_text's fallback.
   */
  constructor(
    readonly msg: DhcpMessage,
    relay?: RelayAgentInfoResult,
    readonly codepage: string = DEFAULT_HOSTNAME_CODEPAGE,
  ) {
    super();
    this.relayParsed = relay;
  }

  override get(name: string): string | undefined {
    if (this.whole) return super.get(name);
    const groups = this.groups;
    if (groups !== null) {
      // the last group that defines the name wins; sets of its names came before it (set() sees to that)
      for (let g = groups.length - 1; g >= 0; g--) {
        const grp = groups[g]!;
        if (!grp.covers(name)) continue;
        const c = grp.value(name);
        if (c !== undefined) return c;
      }
    }
    const known = this.known;
    if (known !== null) {
      for (let i = 0; i < known.length; i += 2) if (known[i] === name) return known[i + 1];
    }
    const r = RESOLVERS.get(name);
    if (r === undefined) return undefined;
    const value = r(this);
    // undefined kept too: "computed, absent" (never seen outside: makeWhole() starts over)
    (this.known ??= []).push(name, value);
    return value;
  }

  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  override set(name: string, value: string): this {
    // a set after a group that may define the name: rare, so simply made whole first
    const groups = this.groups;
    if (groups !== null) {
      for (let g = 0; g < groups.length; g++) {
        if (groups[g]!.covers(name)) {
          this.makeWhole();
          break;
        }
      }
    }
    if (this.whole) return super.set(name, value);
    (this.sets ??= []).push(name, value);
    const known = (this.known ??= []);
    for (let i = 0; i < known.length; i += 2) {
      if (known[i] === name) {
        known[i + 1] = value;
        return this;
      }
    }
    known.push(name, value);
    return this;
  }

  /** As if the group's entries were set now, in their order; computed when read or when the map is made whole. */
  setComputed(group: ComputedGroup): void {
    if (this.whole) {
      for (const [n, v] of group.entries()) super.set(n, v);
      return;
    }
    (this.groups ??= []).push(group);
    (this.sets ??= []).push(COMPUTED, this.groups.length - 1);
  }

  override delete(name: string): boolean {
    this.makeWhole();
    return super.delete(name);
  }

  override clear(): void {
    this.whole = true;
    this.sets = null;
    this.groups = null;
    this.known = null;
    super.clear();
  }

  override keys(): MapIterator<string> {
    this.makeWhole();
    return super.keys();
  }

  override values(): MapIterator<string> {
    this.makeWhole();
    return super.values();
  }

  override entries(): MapIterator<[string, string]> {
    this.makeWhole();
    return super.entries();
  }

  override [Symbol.iterator](): MapIterator<[string, string]> {
    this.makeWhole();
    return super.entries();
  }

  override forEach(f: (value: string, key: string, map: Map<string, string>) => void, thisArg?: unknown): void {
    this.makeWhole();
    super.forEach(f, thisArg);
  }

  /** Every variable, in extractVariables' order, then the sets in theirs. */
  private makeWhole(): void {
    if (this.whole) return;
    const all = extractVariables(this.msg, this.relayParsed ?? undefined);
    if (this.codepage !== DEFAULT_HOSTNAME_CODEPAGE) {
      const h = this.msg.options.get(12);
      if (h) all.set("hostname_text", hostnameText(h, this.codepage));
    }
    // the Map is still empty: what was read before is in `known`, dropped below
    for (const [k, v] of all) super.set(k, v);
    const sets = this.sets;
    if (sets) {
      for (let i = 0; i < sets.length; i += 2) {
        const k = sets[i]!;
        if (k === COMPUTED) {
          for (const [n, v] of this.groups![sets[i + 1] as number]!.entries()) super.set(n, v);
        } else {
          super.set(k as string, sets[i + 1] as string);
        }
      }
    }
    this.sets = null;
    this.groups = null;
    this.known = null;
    this.whole = true;
  }

  /** Option 82 parsed (once), null when the message has none. */
  relay(): RelayAgentInfoResult | null {
    if (this.relayParsed === undefined) {
      const o = this.msg.options.get(82);
      // extractVariables takes a given parse only with option 82 present
      this.relayParsed = o ? parseRelayAgentInfo(o) : null;
    } else if (this.relayParsed !== null && !this.msg.options.has(82)) {
      return null;
    }
    return this.relayParsed;
  }

  /** hex of option 82's value (sub-option values are substrings of it). */
  relayHex(): string {
    return (this.hex82 ??= hex(this.msg.options.get(82)!));
  }
}

// size is an accessor on Map.prototype: the subclass makes the map whole first
const sizeOf = Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!;
Object.defineProperty(PacketVars.prototype, "size", {
  configurable: true,
  get(this: PacketVars) {
    (this as unknown as { makeWhole(): void }).makeWhole();
    return sizeOf.call(this) as number;
  },
});

// ---- one resolver per variable name: the value extractVariables gives it ----

const opt = (p: PacketVars, code: number) => p.msg.options.get(code);
const chaddr6 = (p: PacketVars) => hex(p.msg.chaddr, 0, Math.min(6, p.msg.chaddr.length));
const xidText = (p: PacketVars) => {
  const x = p.msg.xid;
  return HEX[(x >>> 24) & 0xff]! + HEX[(x >>> 16) & 0xff]! + HEX[(x >>> 8) & 0xff]! + HEX[x & 0xff]!;
};
const hwLen = (p: PacketVars) => Math.min(p.msg.hlen, p.msg.chaddr.length);
/** First IPv4 address of an option, when it holds one. */
const ipOf = (code: number): Resolver => (p) => {
  const o = opt(p, code);
  return o && o.length >= 4 ? ipAt(o, 0) : undefined;
};
const textOf = (code: number): Resolver => (p) => {
  const o = opt(p, code);
  return o ? optionText(o) : undefined;
};
const clientMac: Resolver = (p) => {
  const o = opt(p, 61);
  return o && o.length >= 2 ? hex(o, 1) : chaddr6(p);
};
const leaseTime: Resolver = (p) => {
  const o = opt(p, 51);
  return o && o.length >= 4 ? String(u32At(o, 0)) : undefined;
};
const option82Hex: Resolver = (p) => {
  const o = opt(p, 82);
  return o ? HEX[lengthByteValue(o.length)]! + p.relayHex() : undefined;
};
/** A relay sub-option's value, when option 82 parsed. */
const sub = (p: PacketVars, code: number): Uint8Array | undefined => {
  const r = p.relay();
  return r && r.ok ? r.subs.get(code) : undefined;
};
/** Its hex, cut from option 82's hex as extractVariables cuts it. */
const subHex = (p: PacketVars, s: Uint8Array): string => {
  const at = (s.byteOffset - opt(p, 82)!.byteOffset) * 2;
  return p.relayHex().slice(at, at + s.length * 2);
};
const subHexOf = (code: number): Resolver => (p) => {
  const s = sub(p, code);
  return s ? subHex(p, s) : undefined;
};
const subLen = (code: number): Resolver => (p) => {
  const s = sub(p, code);
  return s ? DEC[s.length]! : undefined;
};
const subText = (code: number): Resolver => (p) => {
  const s = sub(p, code);
  return s && isPrintableAscii(s) ? optionText(s) : undefined;
};
const subIp = (code: number): Resolver => (p) => {
  const s = sub(p, code);
  return s && s.length === 4 ? ipAt(s, 0) : undefined;
};
const msgTypeByte = (p: PacketVars): number => {
  const o = opt(p, 53);
  return o && o.length >= 1 ? o[0]! : -1;
};
const reqList = (code: number, value: string): Resolver => (p) => {
  const o = opt(p, 55);
  return o && o.includes(code) ? value : undefined;
};

const RESOLVERS = new Map<string, Resolver>([
  // header
  ["op", (p) => {
    const t = msgTypeByte(p);
    if (t >= 1 && t <= LEGACY_OP_MAX) return "DHCP" + MSG_TYPE[t];
    return HEADER_OP[p.msg.op] || undefined;
  }],
  ["htype", (p) => (p.msg.htype === 1 ? "MAC" : undefined)],
  ["hlen", (p) => DEC[p.msg.hlen & 0xff]],
  ["hops", (p) => DEC[p.msg.hops & 0xff]],
  ["secs", (p) => String(p.msg.secs)],
  ["xidhex", xidText],
  ["xidbyte", xidText],
  ["xid", xidText],
  ["flags", (p) => HEX[(p.msg.flags >>> 8) & 0xff]! + HEX[p.msg.flags & 0xff]!],
  ["broadcast_flag", (p) => (p.msg.flags & BROADCAST_FLAG ? "1" : "0")],
  ["ciaddr", (p) => p.msg.ciaddr],
  ["yiaddr", (p) => p.msg.yiaddr],
  ["siaddr", (p) => p.msg.siaddr],
  ["giaddr", (p) => p.msg.giaddr],
  ["relay_ip", (p) => (p.msg.giaddr !== "0.0.0.0" ? p.msg.giaddr : undefined)],
  ["chaddr", chaddr6],
  ["magic_cookie", () => "63825363"],
  ["mac", (p) => (hwLen(p) > 0 ? hexColons(p.msg.chaddr, 0, hwLen(p)) : undefined)],
  ["mac_hex", (p) => {
    const n = hwLen(p);
    return n <= 0 ? undefined : n === 6 ? chaddr6(p) : hex(p.msg.chaddr, 0, n);
  }],
  // options, with pydhcpdb's defaults where it had them
  ["HostName", (p) => {
    const o = opt(p, 12);
    const t = o ? optionText(o) : "";
    return t.length > 0 ? t : "unknown";
  }],
  ["hostname", textOf(12)],
  ["hostname_text", (p) => {
    const o = opt(p, 12);
    return o ? hostnameText(o, p.codepage) : undefined;
  }],
  ["ClientMacAddress", clientMac],
  ["ClientMacAddressByte", clientMac],
  ["client_id_hex", (p) => {
    const o = opt(p, 61);
    return o ? hex(o) : undefined;
  }],
  ["HType", (p) => {
    const o = opt(p, 61);
    return o && o.length >= 2 ? (o[0] === 1 ? "Ethernet" : "unknown") : undefined;
  }],
  ["RequestedIpAddress", (p) => ipOf(50)(p) ?? "0.0.0.0"],
  ["requested_ip", ipOf(50)],
  ["DHCPServerIP", ipOf(54)],
  ["server_id", ipOf(54)],
  ["SubnetMask", ipOf(1)],
  ["Router", ipOf(3)],
  ["DNS", ipOf(6)],
  ["NTPS", ipOf(42)],
  ["Vendor", textOf(60)],
  ["vendor_class", textOf(60)],
  ["DHCPLeaseTime", leaseTime],
  ["lease_time", leaseTime],
  ["msg_type", (p) => {
    const t = msgTypeByte(p);
    return t < 0 ? undefined : MSG_TYPE[t] || "UNKNOWN_" + t;
  }],
  ["param_list", (p) => {
    const o = opt(p, 55);
    if (!o) return undefined;
    let list = "";
    for (let i = 0; i < o.length; i++) list += i === 0 ? DEC[o[i]!] : "," + DEC[o[i]!];
    return list;
  }],
  ["DHCPAUTO", (p) => (opt(p, 116) ? "True" : undefined)],
  // option 82 (RFC 3046)
  ["option82", (p) => (opt(p, 82) ? "82" : "none")],
  ["option_82_len", (p) => {
    const o = opt(p, 82);
    return o ? String(o.length) : undefined;
  }],
  ["option_82_hex", option82Hex],
  ["option_82_byte", option82Hex],
  ["option_82_str", (p) => {
    const o = opt(p, 82);
    return o ? pythonBytesRepr(o, lengthByteValue(o.length)) : undefined;
  }],
  ["option_82_AgentCircuitId_len", subLen(1)],
  ["option_82_AgentCircuitId_hex", subHexOf(1)],
  ["option_82_AgentCircuitId_port_hex", (p) => {
    const s = sub(p, 1);
    return s && s.length > 0 ? subHex(p, s).slice(-2) : undefined;
  }],
  ["circuit_id_hex", subHexOf(1)],
  ["circuit_id_text", subText(1)],
  ["option_82_AgentRemoteId_len", subLen(2)],
  ["option_82_AgentRemoteId_hex", subHexOf(2)],
  ["remote_id_hex", subHexOf(2)],
  ["remote_id_text", subText(2)],
  ["link_selection", subIp(5)],
  ["subscriber_id", (p) => {
    const s = sub(p, 6);
    return s ? optionText(s) : undefined;
  }],
  ["server_id_override", subIp(11)],
  ["relay_port", (p) => {
    const s = sub(p, 19);
    return s && s.length === 2 ? String((s[0]! << 8) | s[1]!) : undefined;
  }],
]);
for (let c = 1; c < 256; c++) {
  const r = REQ_LIST[c];
  if (r) RESOLVERS.set(r[0], reqList(c, r[1]));
}
// the per-code names: every code 0..255, as extractVariables names them
for (let c = 0; c < 256; c++) {
  RESOLVERS.set(`opt_${c}_hex`, (p) => {
    const o = opt(p, c);
    return o ? hex(o) : undefined;
  });
  RESOLVERS.set(`relay_sub_${c}_hex`, subHexOf(c));
  if (LEGACY_KNOWN[c] === 1) {
    if (c !== 82) RESOLVERS.set(`option${c}`, (p) => (opt(p, c) ? DEC[c] : undefined));
    continue;
  }
  const lenHex: Resolver = (p) => {
    const o = opt(p, c);
    return o ? HEX[lengthByteValue(o.length)]! + hex(o) : undefined;
  };
  RESOLVERS.set(`unknown_option_${c}_hex`, lenHex);
  RESOLVERS.set(`unknown_option_${c}`, lenHex);
  RESOLVERS.set(`unknown_option_${c}_len`, (p) => {
    const o = opt(p, c);
    return o ? String(o.length) : undefined;
  });
  RESOLVERS.set(`unknown_option_${c}_str`, (p) => {
    const o = opt(p, c);
    return o ? pythonBytesRepr(o, lengthByteValue(o.length)) : undefined;
  });
}

/** Every name a packet can define (tests compare each with extractVariables). */
export const PACKET_VARIABLE_NAMES: readonly string[] = [...RESOLVERS.keys()];
