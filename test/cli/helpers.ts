/**
 * Helpers for command-line tests: run pydhcp from the sources as an operator
 * would, write pydhcpdb's reference config pointed at SQLite or MariaDB, and
 * build relayed packets with the project's encoder.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildRequest, ip } from "../support/client.ts";
import { REFERENCE_CONFIG } from "../fixtures/reference.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const MAIN = join(ROOT, "src/cli/main.ts");
export { REFERENCE_CONFIG };

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `pydhcp ARGS` (the sources under bun), optionally feeding stdin. */
export async function pydhcp(args: string[], stdin?: Uint8Array | string, cwd = ROOT): Promise<Run> {
  const p = Bun.spawn([BUN, MAIN, ...args], {
    cwd,
    stdin: stdin === undefined ? "ignore" : typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** pydhcpdb's reference config.xml with its <mysql> block replaced by `database` XML. */
export function referenceConfig(database: string, extra = ""): string {
  const s = readFileSync(REFERENCE_CONFIG, "utf8");
  const out = s.replace(/<mysql>[\s\S]*?<\/mysql>/, database).replace("<query>", `${extra}\n    <query>`);
  if (out === s) throw new Error("reference config has no <mysql> block");
  return out;
}

export const sqliteDatabase = (path: string) => `<database><sqlite><path>${path}</path></sqlite></database>`;

export const mysqlDatabase = (o: { socket: string; user: string; password: string; database: string }) =>
  `<database><mysql><socket>${o.socket}</socket><user>${o.user}</user><password>${o.password}</password><database>${o.database}</database></mysql></database>`;

/** Option 82 value from sub-options in the order given (RFC 3046 2.0). */
export function option82(subs: [number, Uint8Array][]): Uint8Array {
  const parts: number[] = [];
  for (const [code, v] of subs) parts.push(code, v.length, ...v);
  return Uint8Array.from(parts);
}

export const hexBytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/[\s:]/g, ""), "hex"));

/** The seed packet's option 82: D-Link circuit-id (VLAN 1, module 0, port 6), remote-id switch 00:1e:58:9e:b2:ad. */
export const DLINK_CIRCUIT = hexBytes("000400010006");
export const DLINK_REMOTE = hexBytes("0006001e589eb2ad");

export interface PacketSpec {
  type?: number;
  mac: string;
  xid?: number;
  giaddr?: string;
  ciaddr?: string;
  rai?: Uint8Array;
  /** more options, in order, before option 82 */
  options?: [number, Uint8Array][];
}

/** A request as a relay forwards it: options 53, 55, then any given, then 82 last (RFC 3046 2.1). */
export function packet(s: PacketSpec): Uint8Array {
  const options: [number, Uint8Array][] = [[55, Uint8Array.of(1, 3, 6, 15)], ...(s.options ?? [])];
  if (s.rai) options.push([82, s.rai]);
  return buildRequest({
    type: s.type ?? 1,
    mac: s.mac,
    xid: s.xid ?? 0x5eed0001,
    ...(s.giaddr ? { giaddr: s.giaddr } : {}),
    ...(s.ciaddr ? { ciaddr: s.ciaddr } : {}),
    options,
  });
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export { ip };

/** "  name = value" lines of a text dump or explanation -> map. */
export function varLines(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of text.split("\n")) {
    const r = /^ {2}([A-Za-z0-9_]+) +=(?: (.*))?$/.exec(l);
    if (r) m.set(r[1]!, r[2] ?? "");
  }
  return m;
}
