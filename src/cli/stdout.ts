/**
 * Exit only after standard output is written. To a pipe, Bun queues what
 * the reader has not taken yet; process.exit() then drops the queue, so a
 * slow reader of `pydhcp --dump --json` got the first 64 KiB of the dump.
 * Bun reports a queued write only through write()'s return value (not
 * writableLength or writableNeedDrain), so it is remembered here.
 */
let queued = false;

/** Wraps process.stdout.write once, to remember a write that was queued. */
export function trackStdout(): void {
  const out = process.stdout;
  const write = out.write.bind(out) as (...a: unknown[]) => boolean;
  out.write = ((...a: unknown[]) => {
    const ok = write(...a);
    if (!ok) queued = true;
    return ok;
  }) as typeof out.write;
}

/** Resolves when the queue is written, or the reader has gone (EPIPE, close). */
export function stdoutDrained(): Promise<void> {
  if (!queued) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => resolve();
    process.stdout.once("drain", done);
    process.stdout.once("error", done);
    process.stdout.once("close", done);
  });
}
