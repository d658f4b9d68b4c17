/**
 * Real DHCP clients (busybox udhcpc, ISC dhclient, dhcpcd) run inside a
 * client namespace, each with its own hook script that records every event's
 * variables to a file and applies the address and default route the way the
 * distribution scripts would (minus resolv.conf, which lives on the shared
 * filesystem and must never be touched). dhcpcd configures the interface
 * itself; its hook only records.
 *
 * Each run is a foreground process (the client stays alive after binding, so
 * renew and release can be driven), stopped without release unless asked.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Daemon, type IfState, ifState, nsRun, run, setMac, spawnIn, waitFor } from "./netns.ts";

export type ClientKind = "udhcpc" | "dhclient" | "dhcpcd";
export const CLIENT_KINDS: readonly ClientKind[] = ["udhcpc", "dhclient", "dhcpcd"];
export const CLIENT_BINARIES: Record<ClientKind, string> = {
  udhcpc: "udhcpc",
  dhclient: "dhclient",
  dhcpcd: "dhcpcd",
};

/** What a client configured, normalised across the three clients. */
export interface ClientLease {
  /** the hook's reason: bound / BOUND / REBOOT / RENEW ... as the client named it */
  reason: string;
  address: string;
  prefix: number;
  mask: string;
  router: string | null;
  dns: string[];
  leaseTime: number | null;
  serverId: string | null;
}

export interface ClientEvent {
  reason: string;
  vars: Record<string, string>;
}

export interface ClientOptions {
  /** colon-separated MAC set on the interface before the client starts */
  mac: string;
  /** udhcpc -r / dhcpcd -r: ask for this address (DISCOVER with option 50) */
  requestIp?: string;
  /** reuse a previous run's state dir (dhclient lease file: INIT-REBOOT) */
  stateDir?: string;
  /** udhcpc -x hostname:NAME: option 12 in its requests */
  hostname?: string;
}

/** Reasons each client gives its hook when it has an address. */
const BOUND_REASONS: Record<ClientKind, readonly string[]> = {
  udhcpc: ["bound", "renew"],
  dhclient: ["BOUND", "RENEW", "REBIND", "REBOOT"],
  dhcpcd: ["BOUND", "RENEW", "REBIND", "REBOOT", "STATIC"],
};

/** Reasons for a renewal (unicast REQUEST to the server, RFC 2131 4.4.5). */
export const RENEW_REASONS: Record<ClientKind, string> = {
  udhcpc: "renew",
  dhclient: "RENEW",
  dhcpcd: "RENEW",
};

const RECORD = `{ echo "@@EVENT $REASON"; env; echo "@@END"; } >> "$OUT"`;

/** udhcpc: $1 is the event; env ip, subnet (dotted), mask (prefix), router, dns, lease, serverid. */
function udhcpcScript(out: string): string {
  return `#!/bin/sh
OUT='${out}'; REASON="$1"
${RECORD}
case "$1" in
  deconfig) ip link set dev "$interface" up; ip -4 addr flush dev "$interface" ;;
  bound) ip -4 addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"
         [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface" ;;
  renew) ip addr replace "$ip/$mask" dev "$interface"
         [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface" ;;
esac
exit 0
`;
}

/** dhclient-script contract: $reason, new_ip_address, new_subnet_mask, new_routers, ... */
function dhclientScript(out: string): string {
  return `#!/bin/sh
OUT='${out}'; REASON="$reason"
${RECORD}
case "$reason" in
  PREINIT) ip link set dev "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then ip -4 addr flush dev "$interface"; fi
    ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    [ -n "$new_routers" ] && ip route replace default via "\${new_routers%% *}" dev "$interface" ;;
  EXPIRE|FAIL|RELEASE|STOP) ip -4 addr flush dev "$interface" ;;
esac
exit 0
`;
}

/** dhcpcd configures the interface itself; the hook only records. */
function dhcpcdScript(out: string): string {
  return `#!/bin/sh
OUT='${out}'; REASON="$reason"
${RECORD}
exit 0
`;
}

const SCRIPTS: Record<ClientKind, (out: string) => string> = {
  udhcpc: udhcpcScript,
  dhclient: dhclientScript,
  dhcpcd: dhcpcdScript,
};

export function maskToPrefix(mask: string): number {
  return mask
    .split(".")
    .map((o) => Number(o).toString(2).replace(/0/g, "").length)
    .reduce((a, b) => a + b, 0);
}

export function prefixToMask(prefix: number): string {
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

function words(s: string | undefined): string[] {
  return (s ?? "").split(/\s+/).filter(Boolean);
}

function num(s: string | undefined): number | null {
  return s === undefined || s === "" ? null : Number(s);
}

/** One row per client: how its hook variables map onto ClientLease. */
const NORMALISE: Record<ClientKind, (v: Record<string, string>) => Omit<ClientLease, "reason">> = {
  udhcpc: (v) => ({
    address: v.ip ?? "",
    prefix: Number(v.mask ?? maskToPrefix(v.subnet ?? "0.0.0.0")),
    mask: v.subnet ?? prefixToMask(Number(v.mask ?? 0)),
    router: words(v.router)[0] ?? null,
    dns: words(v.dns),
    leaseTime: num(v.lease),
    serverId: v.serverid ?? null,
  }),
  dhclient: (v) => ({
    address: v.new_ip_address ?? "",
    prefix: maskToPrefix(v.new_subnet_mask ?? "0.0.0.0"),
    mask: v.new_subnet_mask ?? "",
    router: words(v.new_routers)[0] ?? null,
    dns: words(v.new_domain_name_servers),
    leaseTime: num(v.new_dhcp_lease_time),
    serverId: v.new_dhcp_server_identifier ?? null,
  }),
  dhcpcd: (v) => ({
    address: v.new_ip_address ?? "",
    prefix: Number(v.new_subnet_cidr ?? maskToPrefix(v.new_subnet_mask ?? "0.0.0.0")),
    mask: v.new_subnet_mask ?? "",
    router: words(v.new_routers)[0] ?? null,
    dns: words(v.new_domain_name_servers),
    leaseTime: num(v.new_dhcp_lease_time),
    serverId: v.new_dhcp_server_identifier ?? null,
  }),
};

export function parseEvents(text: string): ClientEvent[] {
  const events: ClientEvent[] = [];
  let cur: ClientEvent | null = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("@@EVENT ")) cur = { reason: line.slice(8).trim(), vars: {} };
    else if (line === "@@END") {
      if (cur) events.push(cur);
      cur = null;
    } else if (cur) {
      const eq = line.indexOf("=");
      if (eq > 0) cur.vars[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return events;
}

export function toLease(kind: ClientKind, e: ClientEvent): ClientLease {
  return { reason: e.reason, ...NORMALISE[kind](e.vars) };
}

function dhclientConf(): string {
  // explicit request list and short retry timers; never Debian's dhclient.conf
  return `timeout 30;
retry 1;
initial-interval 1;
request subnet-mask, broadcast-address, routers, domain-name-servers;
`;
}

function dhcpcdConf(): string {
  // clientid: send 01+MAC (RFC 2132 9.14) rather than a DUID, like the other two
  // nodelay: skip the random 0-2 s wait before the first DISCOVER (RFC 2131 4.4.1 allows it)
  return `clientid
nodelay
noipv4ll
noarp
nohook resolv.conf, hostname, ntp, timesyncd, chrony, openntpd
option domain_name_servers, routers, subnet_mask
`;
}

function commandFor(kind: ClientKind, ifname: string, dir: string, opts: ClientOptions): string[] {
  const script = join(dir, "hook.sh");
  switch (kind) {
    case "udhcpc":
      return [
        "udhcpc", "-f", "-i", ifname, "-s", script, "-t", "10", "-T", "1", "-n",
        ...(opts.requestIp ? ["-r", opts.requestIp] : []),
        ...(opts.hostname ? ["-x", `hostname:${opts.hostname}`] : []),
      ];
    case "dhclient":
      return [
        "dhclient", "-d", "-1", "-4", "-v", "-cf", join(dir, "dhclient.conf"), "-sf", script,
        "-lf", join(dir, "dhclient.leases"), "-pf", join(dir, "dhclient.pid"), ifname,
      ];
    case "dhcpcd":
      return [
        "dhcpcd", "-B", "-4", "-d", "-f", join(dir, "dhcpcd.conf"), "-c", script, "-t", "30",
        ...(opts.requestIp ? ["-r", opts.requestIp] : []), ifname,
      ];
  }
}

export interface ClientRun {
  kind: ClientKind;
  ns: string;
  ifname: string;
  /** state dir (hook, events, lease file); pass it to a later run for INIT-REBOOT */
  dir: string;
  daemon: Daemon;
  events(): Promise<ClientEvent[]>;
  /** waits for the first event at index >= from matching pred */
  waitEvent(pred: (e: ClientEvent) => boolean, timeoutMs: number, from?: number): Promise<ClientEvent>;
  /** waits for a bound-like event at index >= from; normalised */
  waitBound(timeoutMs: number, from?: number): Promise<ClientLease>;
  ifState(): Promise<IfState>;
  /** asks the client to renew now (udhcpc SIGUSR1, dhcpcd -n); dhclient has no such knob */
  renewNow(): Promise<void>;
  /** sends DHCPRELEASE and stops the client */
  release(): Promise<void>;
  /** stops the client without releasing (its lease file stays in dir) */
  stop(): Promise<void>;
  /** stop + remove the state dir and dhcpcd's files */
  dispose(): Promise<void>;
}

async function dhcpcdCtl(ns: string, flag: string, ifname: string, dir: string): Promise<void> {
  await nsRun(ns, ["dhcpcd", "-4", "-f", join(dir, "dhcpcd.conf"), flag, ifname], { timeoutMs: 10_000 });
}

/** dhcpcd keys these by interface name; topology names are unique, so this is ours. */
function dhcpcdFiles(ifname: string): string[] {
  return [
    `/var/lib/dhcpcd/${ifname}.lease`,
    `/run/dhcpcd/${ifname}-4.pid`,
    `/run/dhcpcd/${ifname}-4.sock`,
    `/run/dhcpcd/${ifname}-4.unpriv.sock`,
    `/run/dhcpcd/${ifname}.pid`,
    `/run/dhcpcd/${ifname}.sock`,
  ];
}

/**
 * dhclient writes its lease file and pid file only after the BOUND hook has
 * returned: a release or restart in that window finds no lease (no
 * DHCPRELEASE; DISCOVER instead of INIT-REBOOT). Wait until both are on disk.
 */
async function leaseWritten(kind: ClientKind, dir: string, ifname: string, address: string): Promise<void> {
  const files =
    kind === "dhclient"
      ? [{ path: join(dir, "dhclient.leases"), needle: `fixed-address ${address};` }, { path: join(dir, "dhclient.pid"), needle: "" }]
      : kind === "dhcpcd"
        ? [{ path: `/var/lib/dhcpcd/${ifname}.lease`, needle: "" }]
        : [];
  for (const f of files) {
    await waitFor(
      `${kind} to write ${f.path}`,
      async () => {
        const file = Bun.file(f.path);
        if (!(await file.exists())) return undefined;
        const text = await file.text();
        return text.length > 0 && text.includes(f.needle) ? true : undefined;
      },
      5000,
      20,
    );
  }
}

const liveClients = new Set<ClientRun>();

/** Disposes every client run still held (call in finally/afterAll). */
export async function disposeAllClients(): Promise<void> {
  for (const c of [...liveClients]) await c.dispose();
}

export async function startClient(
  kind: ClientKind,
  ns: string,
  ifname: string,
  opts: ClientOptions,
): Promise<ClientRun> {
  const dir = opts.stateDir ?? mkdtempSync(join(tmpdir(), `pde2e-${kind}-`));
  const out = join(dir, "events.log");
  await Bun.write(out, "");
  await Bun.write(join(dir, "hook.sh"), SCRIPTS[kind](out));
  await run(["chmod", "755", join(dir, "hook.sh")]);
  await Bun.write(join(dir, "dhclient.conf"), dhclientConf());
  await Bun.write(join(dir, "dhcpcd.conf"), dhcpcdConf());
  await setMac(ns, ifname, opts.mac);
  if (!opts.stateDir) await nsRun(ns, ["ip", "-4", "addr", "flush", "dev", ifname]);
  const daemon = spawnIn(ns, kind, commandFor(kind, ifname, dir, opts), join(dir, "client.log"));

  const events = async () => parseEvents(await Bun.file(out).text());
  const waitEvent = async (pred: (e: ClientEvent) => boolean, timeoutMs: number, from = 0) =>
    waitFor(
      `${kind} event`,
      async () => {
        const found = (await events()).slice(from).find(pred);
        if (found) return found;
        if (daemon.proc.exitCode !== null) {
          throw new Error(`${kind} exited ${daemon.proc.exitCode} first:\n${await daemon.log()}`);
        }
        return undefined;
      },
      timeoutMs,
    );
  const stop = async () => {
    if (kind === "dhcpcd" && daemon.proc.exitCode === null) {
      // -x: exit without releasing; dhcpcd deconfigures but keeps its lease file
      await dhcpcdCtl(ns, "-x", ifname, dir);
    }
    await daemon.stop();
  };
  const c: ClientRun = {
    kind,
    ns,
    ifname,
    dir,
    daemon,
    events,
    waitEvent,
    waitBound: async (timeoutMs, from = 0) => {
      const lease = toLease(kind, await waitEvent((e) => BOUND_REASONS[kind].includes(e.reason), timeoutMs, from));
      await leaseWritten(kind, dir, ifname, lease.address);
      return lease;
    },
    ifState: () => ifState(ns, ifname),
    renewNow: async () => {
      if (kind === "udhcpc") daemon.proc.kill("SIGUSR1");
      else if (kind === "dhcpcd") await dhcpcdCtl(ns, "-n", ifname, dir);
      else throw new Error("dhclient cannot be told to renew: use a short lease and wait for T1");
    },
    release: async () => {
      if (kind === "udhcpc") {
        daemon.proc.kill("SIGUSR2"); // release, then stays unbound
        await waitEvent((e) => e.reason === "deconfig", 5000, 1);
        await daemon.stop();
      } else if (kind === "dhclient") {
        // a second dhclient -r reads the pid file, stops the first and sends DHCPRELEASE
        await nsRun(ns, [
          "dhclient", "-r", "-4", "-v", "-cf", join(dir, "dhclient.conf"), "-sf", join(dir, "hook.sh"),
          "-lf", join(dir, "dhclient.leases"), "-pf", join(dir, "dhclient.pid"), ifname,
        ], { timeoutMs: 10_000 });
        await daemon.stop();
      } else {
        await dhcpcdCtl(ns, "-k", ifname, dir);
        await daemon.stop();
      }
    },
    stop,
    dispose: async () => {
      liveClients.delete(c);
      await stop();
      if (kind === "dhcpcd") for (const f of dhcpcdFiles(ifname)) rmSync(f, { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  liveClients.add(c);
  return c;
}

export interface Obtained {
  lease: ClientLease;
  state: IfState;
  /** start to bound, ms */
  ms: number;
  run: ClientRun;
}

/** Starts a client, waits for its first lease and reads back the interface. */
export async function obtain(
  kind: ClientKind,
  ns: string,
  ifname: string,
  opts: ClientOptions,
  timeoutMs = 20_000,
): Promise<Obtained> {
  const t0 = performance.now();
  const c = await startClient(kind, ns, ifname, opts);
  try {
    const lease = await c.waitBound(timeoutMs);
    const ms = performance.now() - t0;
    // dhcpcd adds the address after its hook runs, and the hooks record the
    // event before they configure: wait until the address and route show
    const state = await waitFor(
      "address and default route on interface",
      async () => {
        const s = await c.ifState();
        const addressed = s.addresses.some((a) => a.startsWith(`${lease.address}/`));
        const routed = !lease.router || s.defaultRouter !== null;
        return addressed && routed ? s : undefined;
      },
      5000,
    ).catch(() => c.ifState());
    return { lease, state, ms, run: c };
  } catch (e) {
    const log = await c.daemon.log();
    await c.dispose();
    throw new Error(`${(e as Error).message}\n--- ${kind} log ---\n${log}`);
  }
}
