/**
 * Decides whether end-to-end tests can run here. They need root (network
 * namespaces, port 67/68, raw sockets) and the real binaries. Outside CI a
 * missing piece skips them with a message saying what is missing; in CI as
 * root (CI=true) a missing binary is a failure, so a CI machine without the
 * packages cannot pass by skipping.
 */

/** Debian package that ships each binary, for the message. */
const PACKAGES: Record<string, string> = {
  ip: "iproute2",
  udhcpc: "udhcpc (or busybox)",
  dhclient: "isc-dhcp-client",
  dhcpcd: "dhcpcd-base",
  dhcrelay: "isc-dhcp-relay",
  "kea-dhcp4": "kea-dhcp4-server",
  dumpcap: "tshark (brings dumpcap)",
  mariadb: "mariadb-client",
};

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function mustRun(): boolean {
  return process.env.CI === "true" && isRoot();
}

export function missingBinaries(bins: readonly string[]): string[] {
  return bins.filter((b) => Bun.which(b, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` }) === null);
}

/**
 * null when the tests can run; otherwise the reason to skip. Throws (so the
 * test file fails loudly) when CI as root lacks a binary.
 */
export function skipReason(area: string, bins: readonly string[]): string | null {
  if (process.platform !== "linux") return `${area}: skipped, end-to-end tests need Linux network namespaces`;
  if (!isRoot()) return `${area}: skipped, end-to-end tests need root (ip netns, ports 67/68)`;
  const missing = missingBinaries(["ip", ...bins]);
  if (missing.length === 0) return null;
  const msg = `${area}: missing ${missing.map((b) => `${b} [apt: ${PACKAGES[b] ?? b}]`).join(", ")}`;
  if (mustRun()) throw new Error(`${msg} (CI=true as root: end-to-end tests must run)`);
  return `${msg}; skipped`;
}

/** Logs the reason once, for `describe.skipIf(reason !== null)`. */
export function gate(area: string, bins: readonly string[]): string | null {
  const reason = skipReason(area, bins);
  if (reason) console.warn(`[e2e] ${reason}`);
  return reason;
}
