/**
 * Relay Agent Information sub-options (RFC 3046 2.0 and later RFCs), one row
 * each. `lengths` lists the allowed exact lengths, else `min`..255 applies.
 * Codes not in the table are kept raw with any length.
 */

export interface SubOptionDef {
  code: number;
  name: string;
  rfc: string;
  /** smallest length accepted */
  min: number;
  /** exact lengths allowed, when the value has fixed size(s) */
  lengths?: readonly number[];
}

export const SUBOPTIONS: readonly SubOptionDef[] = [
  // "00 04 00 01 00 06": D-Link style vlan 1, port 6
  { code: 1, name: "circuit-id", rfc: "RFC 3046 2.1.1", min: 1 },
  // "00 06 00 1e 58 9e b2 ad": type 0, length 6, the switch MAC
  { code: 2, name: "remote-id", rfc: "RFC 3046 2.1.2", min: 1 },
  { code: 4, name: "docsis-device-class", rfc: "RFC 3256", min: 4, lengths: [4] },
  // the relay's address on the client's link, used instead of giaddr
  { code: 5, name: "link-selection", rfc: "RFC 3527", min: 4, lengths: [4] },
  { code: 6, name: "subscriber-id", rfc: "RFC 3993", min: 1 },
  { code: 7, name: "radius-attributes", rfc: "RFC 4014", min: 0 },
  { code: 8, name: "authentication", rfc: "RFC 4030", min: 1 },
  { code: 9, name: "vendor-specific", rfc: "RFC 4243", min: 0 },
  { code: 10, name: "relay-agent-flags", rfc: "RFC 5010", min: 1, lengths: [1] },
  // the relay's address the client should use as server id (and send to)
  { code: 11, name: "server-id-override", rfc: "RFC 5107", min: 4, lengths: [4] },
  { code: 12, name: "relay-id", rfc: "RFC 6925", min: 1 },
  { code: 151, name: "virtual-subnet-selection", rfc: "RFC 6607", min: 1 },
  { code: 152, name: "virtual-subnet-selection-control", rfc: "RFC 6607", min: 0, lengths: [0] },
  // empty from a relay asking for replies to its source port; 2-byte port from a downstream relay
  { code: 19, name: "relay-source-port", rfc: "RFC 8357 5.1", min: 0, lengths: [0, 2] },
];

const BY_CODE: (SubOptionDef | undefined)[] = new Array(256);
for (const d of SUBOPTIONS) BY_CODE[d.code] = d;

export const SUBOPTION = {
  CIRCUIT_ID: 1,
  REMOTE_ID: 2,
  LINK_SELECTION: 5,
  SUBSCRIBER_ID: 6,
  SERVER_ID_OVERRIDE: 11,
  RELAY_SOURCE_PORT: 19,
} as const;

export function subOptionDef(code: number): SubOptionDef | undefined {
  return BY_CODE[code];
}

/** What a sub-option of this code accepts, in words; null when the length is fine. */
export function subOptionLengthProblem(code: number, length: number): string | null {
  const d = BY_CODE[code];
  if (d === undefined) return null;
  if (d.lengths !== undefined) {
    return d.lengths.includes(length) ? null : `must be ${d.lengths.join(" or ")}`;
  }
  return length < d.min ? `must be at least ${d.min}` : null;
}
