/**
 * perfdhcp's command line and its report, as data. Pure: no processes here.
 *
 * Relayed mode: with `-l <local address>` and a unicast server address,
 * perfdhcp 2.2 (DHCPv4) sets giaddr to the local address, hops to 1 and sends
 * from port 67 to the server's port 67 (RFC 2131 4.1: replies to a relay go
 * to giaddr:67). `-A` is DHCPv6-only in 2.2. No broadcast ever leaves the
 * client namespace.
 */

export interface PerfdhcpArgs {
  /** the client namespace's address, becomes giaddr */
  local: string;
  server: string;
  baseMac: string;
  clients: number;
  rate: number;
  seconds: number;
  /** print per-exchange timestamps (-x t) for percentiles */
  timestamps?: boolean;
  /** print every lease (-x l) for the reservation check */
  leases?: boolean;
}

export function perfdhcpArgv(a: PerfdhcpArgs): string[] {
  const x = (a.timestamps ? "t" : "") + (a.leases ? "l" : "");
  return [
    "perfdhcp", "-4",
    "-l", a.local,
    "-b", `mac=${a.baseMac}`,
    "-R", String(a.clients),
    "-r", String(a.rate),
    "-p", String(a.seconds),
    // an answer later than 1 s counts as lost (perfdhcp's default, made explicit)
    "-d", "1",
    // after the period, wait 1 s for answers still in flight before reporting
    "-W", "1000000",
    ...(x ? ["-x", x] : []),
    a.server,
  ];
}

export interface HalfStats {
  sent: number;
  received: number;
  drops: number;
  orphans: number;
  rejectedLeases: number;
  /** ms; null when perfdhcp printed n/a */
  minMs: number | null;
  avgMs: number | null;
  maxMs: number | null;
  stdMs: number | null;
}

export interface PerfdhcpReport {
  /** "Rate: N 4-way exchanges/second" */
  rate: number | null;
  expectedRate: number | null;
  do: HalfStats;
  ra: HalfStats;
  /** DISCOVER sent minus ACK received, over DISCOVER sent */
  loss: number;
  /** per-exchange delays in ms from -x t, when asked */
  doDelaysMs: number[];
  raDelaysMs: number[];
  /** client_id (hex, 01 + MAC) -> address, from -x l (REQUEST-ACK section) */
  ackLeases: Map<string, string>;
}

const EMPTY: HalfStats = {
  sent: 0, received: 0, drops: 0, orphans: 0, rejectedLeases: 0,
  minMs: null, avgMs: null, maxMs: null, stdMs: null,
};

/** Field name in perfdhcp's stats block -> HalfStats key. */
const COUNTS: ReadonlyArray<readonly [string, keyof HalfStats]> = [
  ["sent packets", "sent"],
  ["received packets", "received"],
  ["drops", "drops"],
  ["orphans", "orphans"],
  ["rejected leases", "rejectedLeases"],
  ["min delay", "minMs"],
  ["avg delay", "avgMs"],
  ["max delay", "maxMs"],
  ["std deviation", "stdMs"],
];

function parseHalf(lines: string[]): HalfStats {
  const h: HalfStats = { ...EMPTY };
  for (const line of lines) {
    for (const [label, key] of COUNTS) {
      // "avg delay: min delay: n/a" is perfdhcp's own typo when nothing came back
      const m = new RegExp(`^${label}: ([0-9.]+|inf|n/a)`).exec(line.trim());
      if (!m) continue;
      const v = m[1] === "n/a" || m[1] === "inf" ? null : Number(m[1]);
      (h as unknown as Record<string, number | null>)[key] = key.endsWith("Ms") ? v : (v ?? 0);
    }
  }
  return h;
}

/** Split on "***Title***" headers. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  out.set("", cur);
  for (const line of text.split("\n")) {
    const m = /^\*\*\*(.+)\*\*\*\s*$/.exec(line);
    if (m) {
      cur = [];
      out.set(m[1]!, cur);
    } else cur.push(line);
  }
  return out;
}

function delays(lines: string[] | undefined): number[] {
  const out: number[] = [];
  for (const line of lines ?? []) {
    const m = /^sent \/ received: ([0-9.]+) \/ ([0-9.]+)/.exec(line);
    if (m) out.push((Number(m[2]) - Number(m[1])) * 1000);
  }
  return out;
}

export function parsePerfdhcp(text: string): PerfdhcpReport {
  const s = sections(text);
  const rateLine = (s.get("Rate statistics") ?? []).find((l) => l.startsWith("Rate:")) ?? "";
  const rm = /^Rate: ([0-9.]+) 4-way exchanges\/second, expected rate: ([0-9.]+)/.exec(rateLine);
  const d = parseHalf(s.get("Statistics for: DISCOVER-OFFER") ?? []);
  const r = parseHalf(s.get("Statistics for: REQUEST-ACK") ?? []);
  const ackLeases = new Map<string, string>();
  for (const line of s.get("Leases for REQUEST-ACK") ?? []) {
    const m = /^([0-9a-f]+),([0-9.]+),/.exec(line.trim());
    if (m) ackLeases.set(m[1]!, m[2]!);
  }
  return {
    rate: rm ? Number(rm[1]) : null,
    expectedRate: rm ? Number(rm[2]) : null,
    do: d,
    ra: r,
    loss: d.sent > 0 ? Math.max(0, d.sent - r.received) / d.sent : 1,
    doDelaysMs: delays(s.get("Timestamps for packets: DISCOVER-OFFER")),
    raDelaysMs: delays(s.get("Timestamps for packets: REQUEST-ACK")),
    ackLeases,
  };
}
