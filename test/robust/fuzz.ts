/**
 * Hostile packet generator for fuzzing the running server. Deterministic for
 * a seed. Every packet's ciaddr and giaddr are forced to 0.0.0.0 or
 * 127.0.0.1 after generation, so no reply the server might send can leave
 * the loopback interface.
 */
import { loadPackets } from "../fixtures/load.ts";

export type FuzzKind =
  | "random"
  | "truncated"
  | "mutated"
  | "option-past-end"
  | "suboption-past-end"
  | "huge-option-55"
  | "option-82-garbage"
  | "wrong-cookie"
  | "bootreply"
  | "odd-htype"
  | "hlen-over-16"
  | "overload-garbage"
  | "random-options";

export const FUZZ_KINDS: readonly FuzzKind[] = [
  "random",
  "truncated",
  "mutated",
  "option-past-end",
  "suboption-past-end",
  "huge-option-55",
  "option-82-garbage",
  "wrong-cookie",
  "bootreply",
  "odd-htype",
  "hlen-over-16",
  "overload-garbage",
  "random-options",
];

const COOKIE = [99, 130, 83, 99];

/** xorshift32: fast, reproducible. */
export function rng(seed: number) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    u32: next,
    int: (n: number) => next() % n,
    bytes(n: number): Uint8Array {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = next() & 255;
      return b;
    },
  };
}

type Rng = ReturnType<typeof rng>;

/** A BOOTREQUEST header (236 bytes) with a MAC whose last bytes come from n, then the cookie. */
function header(r: Rng, mac: Uint8Array | null): number[] {
  const h = new Array<number>(236).fill(0);
  h[0] = 1;
  h[1] = 1;
  h[2] = 6;
  const xid = r.u32();
  h[4] = xid >>> 24;
  h[5] = (xid >>> 16) & 255;
  h[6] = (xid >>> 8) & 255;
  h[7] = xid & 255;
  const m = mac ?? r.bytes(6);
  for (let i = 0; i < 6; i++) h[28 + i] = m[i]!;
  return [...h, ...COOKIE];
}

function opt(code: number, value: ArrayLike<number>): number[] {
  return [code, value.length, ...Array.from(value)];
}

const MESSAGE_TYPES = [1, 3, 4, 7, 8];

export interface Fuzzer {
  next(): { kind: FuzzKind; bytes: Uint8Array };
}

/**
 * @param knownMacs MACs the test database answers, so some fuzzed requests
 *   reach the whole path (lookup, lease memory, reply)
 */
export function makeFuzzer(seed: number, knownMacs: Uint8Array[]): Fuzzer {
  const r = rng(seed);
  const captures = loadPackets().map((f) => f.bytes);
  const pick = <T>(a: readonly T[]): T => a[r.int(a.length)]!;
  const someMac = () => (r.int(4) === 0 ? pick(knownMacs) : r.bytes(6));
  const typeOpt = () => opt(53, [pick(MESSAGE_TYPES)]);

  const make: Record<FuzzKind, () => number[] | Uint8Array> = {
    random: () => r.bytes(r.int(4) === 0 ? r.int(240) : 240 + r.int(1300)),
    truncated: () => pick(captures).slice(0, r.int(pick(captures).length)),
    mutated: () => {
      const b = pick(captures).slice();
      const n = 1 + r.int(12);
      for (let i = 0; i < n; i++) b[r.int(b.length)] = r.u32() & 255;
      // a new MAC now and then so the per-client paths see more than the captures' few
      if (r.int(2) === 0) b.set(someMac(), 28);
      return b;
    },
    "option-past-end": () => {
      const len = 1 + r.int(255);
      const value = r.bytes(r.int(Math.min(len, 40)));
      return [...header(r, someMac()), ...typeOpt(), r.int(256), len, ...value];
    },
    "suboption-past-end": () => {
      const circuit = r.bytes(r.int(8));
      const inner = [1, circuit.length + 1 + r.int(40), ...circuit];
      return [...header(r, someMac()), ...typeOpt(), ...opt(82, inner), 255];
    },
    "huge-option-55": () => {
      // several instances concatenate (RFC 3396): over 1 KB of parameter list
      const parts: number[] = [];
      for (let i = 0, n = 1 + r.int(5); i < n; i++) parts.push(...opt(55, r.bytes(255)));
      return [...header(r, someMac()), ...typeOpt(), ...parts, 255];
    },
    "option-82-garbage": () => {
      const inner: number[] = [];
      while (inner.length < 200) {
        const code = r.int(256);
        const body = r.bytes(r.int(30));
        // nested: a sub-option whose body looks like more option 82
        if (r.int(3) === 0) body.set([82, body.length, 1, 200].slice(0, body.length));
        inner.push(code, r.int(4) === 0 ? r.int(256) : body.length, ...body);
        if (r.int(4) === 0) break;
      }
      return [...header(r, someMac()), ...typeOpt(), ...opt(82, inner.slice(0, 255)), 255];
    },
    "wrong-cookie": () => {
      const b = pick(captures).slice();
      b.set(r.bytes(4), 236);
      return b;
    },
    bootreply: () => {
      const b = pick(captures).slice();
      b[0] = 2;
      return b;
    },
    "odd-htype": () => {
      const b = pick(captures).slice();
      b[1] = r.int(255) + 2;
      b[2] = r.int(17);
      return b;
    },
    "hlen-over-16": () => {
      const b = pick(captures).slice();
      b[2] = 17 + r.int(239);
      return b;
    },
    "overload-garbage": () => {
      const h = header(r, someMac());
      // sname and file carry random bytes that option 52 says are options
      const sf = r.bytes(192);
      for (let i = 0; i < 192; i++) h[44 + i] = sf[i]!;
      return [...h, ...typeOpt(), ...opt(52, [1 + r.int(3)]), 255];
    },
    "random-options": () => {
      const out = [...header(r, someMac()), ...typeOpt()];
      for (let i = 0, n = r.int(20); i < n; i++) {
        const code = 1 + r.int(254);
        out.push(...opt(code, r.bytes(r.int(64))));
      }
      if (r.int(2) === 0) out.push(255);
      return out;
    },
  };

  return {
    next() {
      const kind = pick(FUZZ_KINDS);
      const raw = make[kind]();
      const bytes = raw instanceof Uint8Array ? raw : Uint8Array.from(raw);
      // keep every possible reply on loopback (route.ts: giaddr, then ciaddr)
      if (bytes.length >= 28) {
        const loop = [127, 0, 0, 1];
        bytes.set(r.int(2) ? loop : [0, 0, 0, 0], 12);
        bytes.set(r.int(2) ? loop : [0, 0, 0, 0], 24);
      } else if (bytes.length > 12) {
        bytes.fill(0, 12);
      }
      return { kind, bytes };
    },
  };
}
