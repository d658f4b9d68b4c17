/**
 * Network namespaces for end-to-end tests: a client, an optional relay and a
 * server, joined by veth pairs, addressed only inside 198.18.0.0/15 (RFC 2544
 * benchmarking space), so nothing here ever touches the host's own links.
 *
 *   direct:   [client ns] c-ID ──── s-ID 198.18.0.1/24 [server ns]
 *   relayed:  [client ns] c-ID ──── rd-ID 198.18.1.1/24 [relay ns]
 *                                   ru-ID 198.18.2.2/24 ──── s-ID 198.18.2.1/24 [server ns]
 *
 * Names embed the creating process id (`pde2e-<pid>-<n>-<role>`), so a sweep
 * at start removes namespaces left by a test run that died, and never those of
 * a run still alive. Interface names are unique per topology too: dhcpcd keys
 * its pid, lease and socket files by interface name on the shared filesystem.
 */
import { closeSync, openSync } from "node:fs";

export const NS_PREFIX = "pde2e-";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs a command to completion (killed after timeoutMs), capturing output. */
export async function run(cmd: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const proc = Bun.spawn([...cmd], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs ?? 15_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr, timedOut, ms: performance.now() - t0 };
}

/** Like run, but throws with the command line and stderr when it fails. */
export async function must(cmd: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, opts);
  if (r.code !== 0 || r.timedOut) {
    throw new Error(
      `command failed (${r.timedOut ? "timeout" : `exit ${r.code}`}): ${cmd.join(" ")}\n${r.stderr}${r.stdout}`,
    );
  }
  return r.stdout;
}

export function inNs(ns: string, cmd: readonly string[]): string[] {
  return ["ip", "netns", "exec", ns, ...cmd];
}

export function nsRun(ns: string, cmd: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run(inNs(ns, cmd), opts);
}

export function nsMust(ns: string, cmd: readonly string[], opts?: RunOptions): Promise<string> {
  return must(inNs(ns, cmd), opts);
}

/** A long-running process started inside a namespace, output kept to files. */
export interface Daemon {
  readonly name: string;
  readonly proc: Bun.Subprocess;
  readonly logPath: string;
  /** stdout+stderr so far */
  log(): Promise<string>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>;
}

export function spawnIn(
  ns: string,
  name: string,
  cmd: readonly string[],
  logPath: string,
  env?: Record<string, string>,
): Daemon {
  // one descriptor (one offset) for both streams: two opens of the same file would each write
  // from offset 0, and stderr's WARN lines would overwrite stdout's
  const fd = openSync(logPath, "w");
  let proc: Bun.Subprocess;
  try {
    proc = Bun.spawn(inNs(ns, cmd), {
      stdout: fd,
      stderr: fd,
      stdin: "ignore",
      env: { ...process.env, ...env },
    });
  } finally {
    closeSync(fd);
  }
  return {
    name,
    proc,
    logPath,
    log: async () => ((await Bun.file(logPath).exists()) ? Bun.file(logPath).text() : ""),
    stop: async (graceMs = 2000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode ?? -1;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      const code = await proc.exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Polls `check` every stepMs until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  stepMs = 50,
): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(stepMs);
  }
}

export interface Link {
  ns: string;
  ifname: string;
  /** address with prefix, e.g. 198.18.0.1/24, or null for a client link */
  cidr: string | null;
}

export interface Topology {
  kind: "direct" | "relayed";
  id: string;
  clientNs: string;
  serverNs: string;
  relayNs: string | null;
  client: Link;
  server: Link;
  /** relay legs: down faces the client, up faces the server */
  relayDown: Link | null;
  relayUp: Link | null;
  /** address the server listens on / clients see as server identifier */
  serverIp: string;
  /** giaddr the relay stamps (its client-side address) or null */
  relayIp: string | null;
  /** every namespace of this topology */
  namespaces: string[];
  destroy(): Promise<void>;
}

let counter = 0;

function nextId(): { tag: string; nsBase: string } {
  counter += 1;
  // interface names are limited to 15 bytes: "rd-" + ~7 chars
  const tag = `${process.pid.toString(36)}${counter.toString(36)}`;
  return { tag, nsBase: `${NS_PREFIX}${process.pid}-${counter}` };
}

async function addNs(ns: string): Promise<void> {
  await must(["ip", "netns", "add", ns]);
  await nsMust(ns, ["ip", "link", "set", "dev", "lo", "up"]);
}

/** veth pair created straight inside both namespaces (never in the host's). */
async function addVeth(a: Link, b: Link): Promise<void> {
  await must([
    "ip", "link", "add", a.ifname, "netns", a.ns, "type", "veth", "peer", "name", b.ifname, "netns", b.ns,
  ]);
  for (const l of [a, b]) {
    if (l.cidr) await nsMust(l.ns, ["ip", "addr", "add", l.cidr, "dev", l.ifname]);
    await nsMust(l.ns, ["ip", "link", "set", "dev", l.ifname, "up"]);
  }
}

/** Kills every process still inside the namespace, then deletes it. */
export async function deleteNs(ns: string): Promise<void> {
  const pids = await run(["ip", "netns", "pids", ns], { timeoutMs: 5000 });
  for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  await run(["ip", "netns", "delete", ns], { timeoutMs: 5000 });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes namespaces with our prefix whose creating process is gone. */
export async function sweepStale(): Promise<string[]> {
  const out = await run(["ip", "netns", "list"], { timeoutMs: 5000 });
  const removed: string[] = [];
  for (const line of out.stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = /^pde2e-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await deleteNs(name);
    removed.push(name);
  }
  return removed;
}

const live = new Set<Topology>();

/** Destroys every topology this process still holds (for afterAll). */
export async function destroyAll(): Promise<void> {
  for (const t of [...live]) await t.destroy();
}

function makeTopology(
  fields: Omit<Topology, "destroy">,
  onDestroy: Array<() => Promise<void>>,
): Topology {
  let done = false;
  const topo: Topology = {
    ...fields,
    destroy: async () => {
      if (done) return;
      done = true;
      live.delete(topo);
      for (const f of onDestroy) await f().catch(() => {});
      for (const ns of fields.namespaces) await deleteNs(ns);
    },
  };
  live.add(topo);
  return topo;
}

/** client ns <-> server ns; the server gets 198.18.0.1/24 and a default route on its link. */
export async function createDirect(): Promise<Topology> {
  const { tag, nsBase } = nextId();
  const clientNs = `${nsBase}-c`;
  const serverNs = `${nsBase}-s`;
  const client: Link = { ns: clientNs, ifname: `c-${tag}`, cidr: null };
  const server: Link = { ns: serverNs, ifname: `s-${tag}`, cidr: "198.18.0.1/24" };
  const namespaces = [clientNs, serverNs];
  const topo = makeTopology(
    {
      kind: "direct", id: tag, clientNs, serverNs, relayNs: null, client, server,
      relayDown: null, relayUp: null, serverIp: "198.18.0.1", relayIp: null, namespaces,
    },
    [],
  );
  try {
    for (const ns of namespaces) await addNs(ns);
    await addVeth(client, server);
    // limited broadcast (255.255.255.255) follows the routing table
    await nsMust(serverNs, ["ip", "route", "add", "default", "dev", server.ifname]);
  } catch (e) {
    await topo.destroy();
    throw e;
  }
  return topo;
}

/** client ns <-> relay ns <-> server ns; the server routes 198.18.1.0/24 via the relay. */
export async function createRelayed(): Promise<Topology> {
  const { tag, nsBase } = nextId();
  const clientNs = `${nsBase}-c`;
  const relayNs = `${nsBase}-r`;
  const serverNs = `${nsBase}-s`;
  const client: Link = { ns: clientNs, ifname: `c-${tag}`, cidr: null };
  const relayDown: Link = { ns: relayNs, ifname: `rd-${tag}`, cidr: "198.18.1.1/24" };
  const relayUp: Link = { ns: relayNs, ifname: `ru-${tag}`, cidr: "198.18.2.2/24" };
  const server: Link = { ns: serverNs, ifname: `s-${tag}`, cidr: "198.18.2.1/24" };
  const namespaces = [clientNs, relayNs, serverNs];
  const topo = makeTopology(
    {
      kind: "relayed", id: tag, clientNs, serverNs, relayNs, client, server, relayDown, relayUp,
      serverIp: "198.18.2.1", relayIp: "198.18.1.1", namespaces,
    },
    [],
  );
  try {
    for (const ns of namespaces) await addNs(ns);
    await addVeth(client, relayDown);
    await addVeth(relayUp, server);
    await nsMust(serverNs, ["ip", "route", "add", "default", "via", "198.18.2.2", "dev", server.ifname]);
  } catch (e) {
    await topo.destroy();
    throw e;
  }
  return topo;
}

/** Sets the client interface's MAC (lower-case, colon separated). */
export async function setMac(ns: string, ifname: string, mac: string): Promise<void> {
  await nsMust(ns, ["ip", "link", "set", "dev", ifname, "down"]);
  await nsMust(ns, ["ip", "link", "set", "dev", ifname, "address", mac]);
  await nsMust(ns, ["ip", "link", "set", "dev", ifname, "up"]);
}

export interface IfState {
  /** "a.b.c.d/len" entries */
  addresses: string[];
  /** `ip -4 route show` lines */
  routes: string[];
  defaultRouter: string | null;
}

export async function ifState(ns: string, ifname: string): Promise<IfState> {
  const a = await nsMust(ns, ["ip", "-4", "-o", "addr", "show", "dev", ifname]);
  const addresses = [...a.matchAll(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/g)].map((m) => m[1] ?? "");
  const r = await nsMust(ns, ["ip", "-4", "route", "show"]);
  const routes = r.split("\n").map((l) => l.trim()).filter(Boolean);
  const def = /^default via (\S+)/m.exec(r);
  return { addresses, routes, defaultRouter: def?.[1] ?? null };
}
