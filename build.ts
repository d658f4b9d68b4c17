/**
 * Builds the self-contained executables operators copy to a router host
 * (runtime + code + SQLite driver; no node_modules needed):
 *
 *   dist/pydhcp              this machine (the tests run it)
 *   dist/pydhcp-linux-x64    x86-64, Bun's `baseline` runtime: no AVX2, so it
 *                            runs on the older Atom/Celeron CPUs routers use
 *   dist/pydhcp-linux-arm64  ARM64 (aarch64), glibc
 *
 * `bun build.ts host` builds dist/pydhcp only. Bun's musl targets are not
 * shipped: their runtime links a musl libstdc++ that Debian does not package,
 * so they cannot run the checks here (docs/install.md).
 * --minify and --bytecode cut start-up time (notes in BUN facts).
 */
import { $ } from "bun";

interface Target {
  outfile: string;
  /** Bun's --target; undefined = the machine building */
  bunTarget?: string;
}

export const TARGETS: readonly Target[] = [
  { outfile: "dist/pydhcp" },
  { outfile: "dist/pydhcp-linux-x64", bunTarget: "bun-linux-x64-baseline" },
  { outfile: "dist/pydhcp-linux-arm64", bunTarget: "bun-linux-arm64" },
];

const only = process.argv[2];
if (only !== undefined && only !== "host") {
  console.error(`build.ts: unknown argument ${only} (use: bun build.ts [host])`);
  process.exit(2);
}
await $`mkdir -p dist`;
for (const t of only === "host" ? TARGETS.slice(0, 1) : TARGETS) {
  const t0 = performance.now();
  const target = t.bunTarget ? `--target=${t.bunTarget}` : "--target=bun";
  await $`${process.execPath} build --compile --minify --bytecode --format=esm ${target} src/cli/main.ts --outfile ${t.outfile}`.quiet();
  const size = Bun.file(t.outfile).size;
  console.log(`built ${t.outfile}: ${(size / 1048576).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
