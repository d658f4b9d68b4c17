/**
 * docs/variables.md, generated from the catalogue so the two cannot drift.
 * Regenerate with `./node_modules/.bin/bun src/variables/doc.ts` (a test compares them).
 */
import { writeFileSync } from "node:fs";
import { VARIABLES, type VariableRow } from "./catalogue.ts";

const INTRO = `# Variables

Every packet pydhcp receives becomes a flat map of name -> text. SQL
templates use the names as \`{name}\` (each becomes a bound parameter, never
SQL text), \`<options>\` slices derive new names from them, and
\`pydhcp --dump\` prints the whole map for a packet. A query naming a variable
that can never exist is rejected when the config is loaded.

This file is generated from \`src/variables/catalogue.ts\` by
\`./node_modules/.bin/bun src/variables/doc.ts\`; edit the catalogue, not this file.

## Conventions

- Hex is lower case with no separators (\`0025224ad764\`).
- Addresses are dotted quads, numbers are decimal.
- A variable whose source is absent from the packet is not defined, except
  where a row gives a default (\`HostName\`, \`RequestedIpAddress\`,
  \`ClientMacAddress\`, \`option82\`).
- Names with \`N\` are patterns: \`N\` is the option (or sub-option) code in
  decimal, e.g. \`opt_60_hex\`, \`unknown_option_77_len\`, \`option12\`.
- **Text rule** (host name, vendor class, subscriber-id): trailing NUL
  bytes are dropped; valid UTF-8 is decoded as UTF-8; anything else is read
  as Latin-1, one character per byte, so no byte is lost and decoding never
  fails. Control characters are kept in the value (it is a bound parameter);
  \`--dump\` prints them escaped. The exact bytes are always in \`opt_N_hex\`.
- \`circuit_id_text\` and \`remote_id_text\` exist only when every byte is
  printable ASCII (0x20..0x7e); otherwise use the \`_hex\` form.

## pydhcpdb compatibility

The legacy names are pydhcpdb's, with pydhcpdb's text, so existing queries
and \`<options>\` keep working. Where pydhcpdb held raw bytes (and so put
Python's \`b'...'\` into the SQL) pydhcp gives hex or text instead, as each row
says. pydhcpdb's parser state \`gpoz\` and \`result\` are not variables.
Legacy \`option_82_hex\` and \`unknown_option_N_hex\` start with the option's
length byte; the modern \`opt_N_hex\` is the value alone.

## <options> slices

\`<option>source:name:start:end</option>\` defines \`name\` as the Python slice
\`source[start:end]\` of the text of \`source\`: character offsets, end
excluded, negative offsets count from the end, out-of-range offsets clamp, an
empty bound is omitted (\`option_82_hex:head::4\`). Slices apply in order, so
one may read a name an earlier one defined. A slice of a variable the packet
lacks defines nothing. For the reference packet, whose \`option_82_hex\` is
\`12010600040001000602080006001e589eb2ad\`:

| slice | value |
| --- | --- |
| \`option_82_hex:sw_port1:20:22\` | \`08\` |
| \`option_82_hex:sw_port2:16:18\` | \`06\` |
| \`option_82_hex:sw_mac:26:40\` | \`001e589eb2ad\` |
| \`option_82_hex:tail:-4:\` | \`b2ad\` |

## --dump

\`pydhcp --dump --hex '01 01 06 ...'\` (or \`--file\`, a hex text or raw
capture, or \`--stdin\`) prints one packet; \`pydhcp --dump\` alone binds the
configured address and port and prints every packet that arrives without
answering. Hex input may contain spaces, \`:\`, \`,\`, \`-\`, newlines and \`#\`
comments; each group must have an even number of digits.

The first line names the message type, the sender (live) and the size; then
every variable, slices included, one \`name = value\` line each, sorted by name
(upper case first, as pydhcpdb's pprint dump did). A value is printed bare
when that is unambiguous; otherwise (empty, leading or trailing space,
leading \`"\`, a backslash, or any character a terminal would act on:
C0/C1 controls, DEL, line separators, bidi controls) it is printed in double
quotes with \`\\xNN\`/\`\\uNNNN\` escapes, so packet contents can never drive the
terminal. A packet that does not decode prints the error kind, its byte
offset and message, the bytes at that offset, and the header fields and
options decoded before it; a live dump then carries on.
`;

const HISTORY_INTRO = `
## The answer and the event (history statements only)

A history statement (\`history_sql\`, \`history_<event>\`) records an
answer, so besides the request's variables it can name what was decided.
These are bound like any other variable; an offer query naming one is
rejected at load, since no answer exists yet when it runs. \`pydhcp
--explain\` prints them with the history statements. Time functions in a
history statement (\`now()\` and the rest) are the event time too, see
docs/queries.md.

`;

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function code(s: string): string {
  if (s === "") return "(empty)";
  // a backtick inside the value needs a longer fence
  return s.includes("`") ? "`` " + cell(s) + " ``" : "`" + cell(s) + "`";
}

function table(rows: readonly VariableRow[]): string {
  let out = "| name | source | example | description |\n| --- | --- | --- | --- |\n";
  for (const r of rows) {
    out += `| \`${r.name}\` | ${cell(r.source)} | ${code(r.example)} | ${cell(r.description)} |\n`;
  }
  return out;
}

export function renderVariablesDoc(): string {
  return (
    INTRO +
    "\n## Legacy names (pydhcpdb)\n\n" +
    table(VARIABLES.filter((r) => r.legacy)) +
    "\n## Modern names\n\n" +
    table(VARIABLES.filter((r) => !r.legacy && !r.history)) +
    HISTORY_INTRO +
    table(VARIABLES.filter((r) => r.history))
  );
}

if (import.meta.main) {
  const path = new URL("../../docs/variables.md", import.meta.url).pathname;
  writeFileSync(path, renderVariablesDoc());
  console.log(`wrote ${path}`);
}
