/**
 * Command-line flags, one table row each: the parser, --help and the docs
 * come from the same rows. pydhcpdb's -c and -d keep their meaning.
 */
export interface FlagRow {
  long: string;
  short?: string;
  /** takes a value */
  value?: string;
  help: string;
}

export const FLAGS: readonly FlagRow[] = [
  { long: "config", short: "c", value: "FILE", help: "configuration file (pydhcpdb's config.xml works unchanged); default ./config.xml" },
  { long: "debug", short: "d", help: "debug output: each packet's variables, each SQL with its bound values and rows, each reply" },
  { long: "check", help: "check the configuration: load it, connect to the database, prepare every query; print OK or the errors" },
  { long: "dump", help: "print each packet's variables without answering (live on the DHCP port, or offline with --hex/--file/--stdin)" },
  { long: "explain", help: "show how a packet would be answered: variables, each query with bound values and rows, the reply; sends nothing" },
  { long: "hex", value: "HEX", help: "with --dump/--explain: the packet as hex (spaces, colons and # comments allowed)" },
  { long: "file", value: "PATH", help: "with --dump/--explain: read the packet (hex text or raw bytes) from a file; with history replay: the set-aside journal" },
  { long: "stdin", help: "with --dump/--explain: read the packet from standard input" },
  { long: "json", help: "with --dump and leases: one JSON object per line instead of text" },
  { long: "mac", value: "MAC", help: "with --explain: build a packet with this client MAC" },
  { long: "type", value: "TYPE", help: "with --explain: DISCOVER (default), REQUEST, INFORM, RELEASE, DECLINE" },
  { long: "giaddr", value: "IP", help: "with --explain: relay address" },
  { long: "circuit-id", value: "HEX|TEXT", help: "with --explain: option 82 circuit-id (hex with 0x prefix, or text)" },
  { long: "remote-id", value: "HEX|TEXT", help: "with --explain: option 82 remote-id (hex with 0x prefix, or text)" },
  { long: "requested-ip", value: "IP", help: "with --explain: option 50" },
  { long: "port", value: "PORT", help: "UDP port to listen on (overrides the config); with leases --relay: the switch port" },
  { long: "ip", value: "ADDRESS", help: "with leases / lease release: the leased address" },
  { long: "relay", value: "MAC|IP", help: "with leases: the relay (switch MAC from option 82, or its giaddr)" },
  { long: "expired", help: "with leases: ended leases only (expired, released, declined)" },
  { long: "dry-run", help: "with history replay: say what would be written; write nothing" },
  { long: "version", short: "V", help: "print the version and exit" },
  { long: "help", short: "h", help: "print this help and exit" },
];

export type Args = { flags: Map<string, string | true>; rest: string[] };

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], table: readonly FlagRow[] = FLAGS): Args {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") {
      rest.push(a);
      continue;
    }
    const [name, inline] = a.startsWith("--") ? splitEq(a.slice(2)) : [a.slice(1), undefined];
    const row = table.find((f) => (a.startsWith("--") ? f.long === name : f.short === name));
    if (!row) throw new UsageError(`unknown option ${a}`);
    if (row.value) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value (${row.value})`);
      flags.set(row.long, v);
    } else {
      if (inline !== undefined) throw new UsageError(`${a} takes no value`);
      flags.set(row.long, true);
    }
  }
  return { flags, rest };
}

function splitEq(s: string): [string, string | undefined] {
  const i = s.indexOf("=");
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/** One help line per flag: `  -c, --config FILE    what it does`. */
export function flagLines(table: readonly FlagRow[]): string[] {
  return table.map((f) => {
    const name = `${f.short ? `-${f.short}, ` : "    "}--${f.long}${f.value ? ` ${f.value}` : ""}`;
    return `  ${name.padEnd(28)} ${f.help}`;
  });
}

export function helpText(version: string): string {
  const lines = [
    `pydhcp ${version}: a DHCPv4 server whose answers come from SQL (MySQL/MariaDB, PostgreSQL or embedded SQLite)`,
    "",
    "Usage: pydhcp [-c FILE] [-d]            serve",
    "       pydhcp --check -c FILE           check config and database",
    "       pydhcp --dump [-c FILE] [--json] [--hex HEX | --file PATH | --stdin]",
    "       pydhcp --explain -c FILE (--hex HEX | --mac MAC [--giaddr IP --circuit-id X --remote-id Y])",
    "       pydhcp probe --server ADDR --mac MAC [--request] ...   ask a running server (pydhcp probe --help)",
    "       pydhcp leases -c FILE [--mac M | --ip A | --relay MAC_OR_IP [--port N] | --expired] [--json]",
    "       pydhcp lease release -c FILE (--mac M | --ip A)",
    "       pydhcp history replay -c FILE --file PATH [--dry-run]   write a journal set aside for another database",
    "",
    "Options:",
  ];
  lines.push(...flagLines(FLAGS));
  lines.push(
    "",
    "Signals: SIGHUP reloads the config (a bad one is logged and the old one keeps serving);",
    "         SIGTERM/SIGINT finish packets in flight, flush history and exit 0.",
    "",
    "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.",
    "",
    "Example:",
    "  pydhcp -c /etc/pydhcp/config.xml",
    "  pydhcp --dump --hex '0101060100...'",
    "  pydhcp --explain -c config.xml --mac 08:00:27:05:9e:d0",
  );
  return lines.join("\n") + "\n";
}
