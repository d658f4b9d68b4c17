/**
 * A real headless Chromium for page tests: Debian's `chromium` driven by
 * playwright-core over its debugging pipe. Inside a network namespace the
 * browser is started through `ip netns exec` (a wrapper script as the
 * executable), so it reaches a server listening on that namespace's loopback.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";

export const CHROMIUM = process.env.PYDHCP_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"];

/** null when a browser test can run here, else why not. */
export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium; test/setup.sh does)`;
  return null;
}

/** Launches Chromium (in `ns` when given); close() also removes the wrapper. */
export async function launchBrowser(ns?: string): Promise<{ browser: Browser; close(): Promise<void> }> {
  const { chromium } = await import("playwright-core");
  let exe = CHROMIUM;
  let dir: string | null = null;
  if (ns) {
    dir = mkdtempSync(join(tmpdir(), `pydhcp-chromium-${process.pid}-`));
    exe = join(dir, "chromium-in-ns");
    writeFileSync(exe, `#!/bin/sh\nexec ip netns exec '${ns}' '${CHROMIUM}' "$@"\n`);
    chmodSync(exe, 0o755);
  }
  const browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS, timeout: 30_000 });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
