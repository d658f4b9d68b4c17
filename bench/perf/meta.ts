/** The machine and the software versions a result was measured with. */
import { readFileSync } from "node:fs";
import { hostname, release } from "node:os";
import { mariadbVersion } from "./mariadb.ts";
import { postgresqlVersion } from "./postgresql.ts";
import { run } from "./sys.ts";

function firstLine(argv: string[]): string {
  try {
    const r = run(argv, { allow: [0, 1, 2] });
    return (r.stdout.trim() || r.stderr.trim()).split("\n")[0]!.trim();
  } catch (e) {
    return `unavailable (${(e as Error).message.split("\n")[0]})`;
  }
}

export function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const mem = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  return {
    cpuModel: model.trim(),
    cores: navigator.hardwareConcurrency,
    kernel: release(),
    memTotalKb: mem,
    loadAvgAtStart: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  };
}

export function shortHost(): string {
  return hostname().split(".")[0]!.replace(/[^A-Za-z0-9-]/g, "-") || "host";
}

export async function versions(): Promise<Record<string, string>> {
  let mariadb = "unknown";
  try {
    mariadb = await mariadbVersion();
  } catch (e) {
    mariadb = `unavailable (${(e as Error).message})`;
  }
  return {
    "kea-dhcp4": firstLine(["kea-dhcp4", "-v"]),
    perfdhcp: firstLine(["perfdhcp", "-v"]).replace(/^VERSION:\s*/, ""),
    bun: Bun.version,
    mariadb,
    postgresql: await postgresqlVersion(),
  };
}
