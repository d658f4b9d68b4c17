/**
 * --dump: show what pydhcp sees in a packet, i.e. the message type, the
 * sender, and every variable a query can use (slices included), sorted.
 * Offline from hex text, a file or stdin; live by binding the DHCP port and
 * printing each datagram without answering it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import type { Slice } from "../config/types.ts";
import { decode } from "../codec/decode.ts";
import type { DhcpMessage } from "../codec/message.ts";
import { openDhcpSocket } from "../server/socket.ts";
import { extractVariables } from "../variables/extract.ts";
import { displayValue, escapeJsonUnsafe, formatPairs, formatVars } from "../variables/format.ts";
import { isOptionMap } from "../codec/option-map.ts";
import { applySlices } from "../variables/slices.ts";
import { hex } from "../variables/text.ts";
import type { Vars } from "../variables/types.ts";

export interface DumpOptions {
  /** where the datagram came from, when known */
  sender?: { address: string; port: number };
  /** "text" (default) or "json" (one object) */
  format?: "text" | "json";
  /**
   * Runs after the slices, as the server does, e.g. to add the vendor-profile
   * variables from <relay_profiles> so the dump shows every name a query sees.
   */
  addVariables?: (vars: Vars, msg: DhcpMessage) => void;
}

/** Bytes shown from the error offset onwards. */
const CONTEXT_BYTES = 16;

/** The one-line heading: message type and, when known, the sender. */
function heading(msg: DhcpMessage, vars: Map<string, string>, size: number, sender?: DumpOptions["sender"]): string {
  const t = vars.get("msg_type");
  const type = t ? "DHCP" + t : msg.op === 2 ? "BOOTREPLY (no option 53)" : "BOOTREQUEST (no option 53)";
  const from = sender ? ` from ${displayValue(sender.address)}:${sender.port}` : "";
  return `${displayValue(type)}${from}, ${size} bytes\n`;
}

/** Header numbers shown in hex, as the variables show them. */
const HEX_WIDTH: Record<string, number> = { xid: 8, flags: 4 };

/** Header fields (in header order) then the options a failed decode got through. */
function partialFields(partial: Partial<DhcpMessage>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(partial)) {
    if (v instanceof Uint8Array) {
      out.push([k, v.every((b) => b === 0) ? `(${v.length} zero bytes)` : hex(v)]);
    } else if (isOptionMap(v)) {
      for (const [code, val] of v as Map<number, Uint8Array>) out.push([`option ${code}`, hex(val)]);
    } else if (typeof v === "number") {
      const w = HEX_WIDTH[k];
      out.push([k, w ? (v >>> 0).toString(16).padStart(w, "0") : String(v)]);
    } else if (typeof v === "string") {
      out.push([k, v]);
    }
  }
  return out;
}

/**
 * Renders one datagram. Never throws: a datagram that does not decode is
 * shown as its error (kind, offset, message), the bytes at that offset and
 * the fields decoded before it.
 */
export function dumpPacket(buf: Uint8Array, slices: readonly Slice[], opts: DumpOptions = {}): string {
  const r = decode(buf);
  if (r.ok) {
    const vars = extractVariables(r.msg);
    applySlices(vars, slices);
    opts.addVariables?.(vars, r.msg);
    if (opts.format === "json") {
      return json({ ok: true, type: vars.get("msg_type") ?? null, sender: opts.sender ?? null, size: buf.length, vars });
    }
    return heading(r.msg, vars, buf.length, opts.sender) + formatVars(vars, "  ");
  }
  const { kind, offset, message } = r.error;
  const at = buf.subarray(Math.min(offset, buf.length), Math.min(offset + CONTEXT_BYTES, buf.length));
  const partial = partialFields(r.partial);
  if (opts.format === "json") {
    return json({
      ok: false,
      sender: opts.sender ?? null,
      size: buf.length,
      error: { kind, offset, message },
      bytesAtOffset: hex(at),
      partial: Object.fromEntries(partial),
    });
  }
  const from = opts.sender ? ` from ${displayValue(opts.sender.address)}:${opts.sender.port}` : "";
  let out = `malformed packet${from}, ${buf.length} bytes\n`;
  out += `  error ${displayValue(kind)} at offset ${offset}: ${displayValue(message)}\n`;
  out += `  bytes at offset ${offset}: ${at.length ? spaced(at) : "(end of packet)"}\n`;
  out += partial.length ? "  decoded before the error:\n" + formatPairs(partial, "    ") : "  nothing decoded before the error\n";
  return out;
}

function spaced(b: Uint8Array): string {
  return hex(b).replace(/(..)(?!$)/g, "$1 ");
}

function json(value: Record<string, unknown>): string {
  const plain = (v: unknown): unknown => {
    if (isOptionMap(v)) {
      const o: Record<string, unknown> = {};
      for (const k of [...v.keys()].sort()) o[k] = v.get(k);
      return o;
    }
    return v;
  };
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) obj[k] = plain(v);
  return escapeJsonUnsafe(JSON.stringify(obj, null, 2)) + "\n";
}

export type InputResult = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

/**
 * Hex text to bytes. Groups of hex digits are separated by whitespace,
 * `:`, `,` or `-`; `#` starts a comment to the end of the line (annotated
 * fixtures); each group must have an even number of digits, so a dropped
 * digit is an error rather than a silent shift.
 */
export function parseHexText(text: string): InputResult {
  const out: number[] = [];
  const lines = text.split("\n");
  for (let ln = 0; ln < lines.length; ln++) {
    let line = lines[ln]!;
    const hash = line.indexOf("#");
    if (hash >= 0) line = line.slice(0, hash);
    for (const group of line.split(/[\s:,-]+/)) {
      if (group === "") continue;
      if (!/^[0-9a-fA-F]+$/.test(group)) {
        return { ok: false, error: `line ${ln + 1}: ${quoteShort(group)} is not hex` };
      }
      if (group.length % 2 !== 0) {
        return { ok: false, error: `line ${ln + 1}: ${quoteShort(group)} has an odd number of hex digits (${group.length})` };
      }
      for (let i = 0; i < group.length; i += 2) out.push(parseInt(group.slice(i, i + 2), 16));
    }
  }
  if (out.length === 0) return { ok: false, error: "no bytes in the input" };
  return { ok: true, bytes: Uint8Array.from(out) };
}

/** An input quoted in an error: at most 40 characters of it, so a 100 KB argument is not echoed back. */
function quoteShort(s: string): string {
  return s.length <= 40 ? `"${s}"` : `"${s.slice(0, 32)}..." (${s.length} characters)`;
}

/** Text files hold only printable ASCII and whitespace; a raw datagram never does (op, htype, zeros). */
function looksLikeText(b: Uint8Array): boolean {
  for (const c of b) {
    if (c !== 0x09 && c !== 0x0a && c !== 0x0d && (c < 0x20 || c > 0x7e)) return false;
  }
  return true;
}

/** A file's bytes: hex text is parsed, anything else is the raw datagram. */
export function readPacketFile(path: string): InputResult {
  let data: Uint8Array;
  try {
    data = readFileSync(path);
  } catch (e) {
    return { ok: false, error: `cannot read ${path}: ${(e as Error).message}` };
  }
  if (!looksLikeText(data)) return { ok: true, bytes: new Uint8Array(data) };
  const r = parseHexText(new TextDecoder().decode(data));
  return r.ok ? r : { ok: false, error: `${path}: ${r.error}` };
}

/**
 * The packet named on the command line: `-` or nothing reads stdin (hex
 * text or raw bytes), an existing file path reads that file, anything else
 * is hex text itself. `kind` says which flag gave it: --file is always a
 * file (a missing one is "cannot read", not "not hex"), --hex always hex.
 * Hex never holds a "/", so such an argument is read as a file too.
 */
export async function readDumpInput(
  arg: string | undefined,
  readStdin: () => Promise<Uint8Array> = async () => new Uint8Array(await Bun.stdin.arrayBuffer()),
  kind: "auto" | "hex" | "file" = "auto",
): Promise<InputResult> {
  if (kind === "hex" && arg !== undefined) return parseHexText(arg);
  if (arg !== undefined && arg !== "-" && (kind === "file" || arg.includes("/"))) return readPacketFile(arg);
  if (arg === undefined || arg === "-") {
    const data = await readStdin();
    if (!looksLikeText(data)) return { ok: true, bytes: data };
    const r = parseHexText(new TextDecoder().decode(data));
    return r.ok ? r : { ok: false, error: `stdin: ${r.error}` };
  }
  if (existsSync(arg) && statSync(arg).isFile()) return readPacketFile(arg);
  return parseHexText(arg);
}

export interface LiveDumpOptions {
  host: string;
  port: number;
  slices: readonly Slice[];
  out: (s: string) => void;
  format?: "text" | "json";
  /** bind to this interface (SO_BINDTODEVICE) */
  iface?: string;
  addVariables?: DumpOptions["addVariables"];
}

/**
 * Binds host:port and prints every datagram that arrives, answering none.
 * A malformed datagram prints its error and the dump carries on.
 */
export async function runLiveDump(opts: LiveDumpOptions): Promise<{ close(): void }> {
  const sock = await openDhcpSocket({
    host: opts.host,
    port: opts.port,
    ...(opts.iface ? { iface: opts.iface } : {}),
    onPacket(buf, port, address) {
      const more: DumpOptions = {};
      if (opts.format) more.format = opts.format;
      if (opts.addVariables) more.addVariables = opts.addVariables;
      try {
        opts.out(dumpPacket(buf, opts.slices, { sender: { address, port }, ...more }));
      } catch (e) {
        // dumpPacket is total; this guards the listener against a bug, not input.
        opts.out(`cannot dump a ${buf.length}-byte packet from ${address}:${port}: ${displayValue(String(e))}\n`);
      }
    },
    onError(e) {
      opts.out(`socket error: ${displayValue(e.message)}\n`);
    },
  });
  return { close: () => sock.close() };
}
