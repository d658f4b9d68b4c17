/**
 * Where log lines go. The server logs one line per exchange at thousands of
 * exchanges per second, so the default file-descriptor sink gathers lines and
 * writes them once per event-loop turn (or when 64 KiB are waiting), and
 * flushes synchronously on exit so nothing written before a clean stop is lost.
 */
import { writeSync } from "node:fs";

export interface Sink {
  /** One or more complete lines, each ending in "\n". */
  write(chunk: string): void;
  /** Writes out anything buffered, synchronously. */
  flush(): void;
}

export interface FdSinkOptions {
  /** gather lines and write once per event-loop turn (default true) */
  buffered?: boolean;
  /** write at once when this many UTF-16 units wait (default 65536) */
  highWater?: number;
}

const live = new Set<Sink>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const s of live) s.flush();
  });
}

function writeAll(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // A closed stdout/stderr must never take the DHCP service down with it.
  }
}

/** A sink on a file descriptor (1 = stdout, 2 = stderr); journald reads both. */
export function fdSink(fd: number, opts: FdSinkOptions = {}): Sink {
  if (opts.buffered === false) {
    return { write: (chunk) => writeAll(fd, chunk), flush: () => {} };
  }
  const highWater = opts.highWater ?? 65536;
  let pending: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (size === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join("");
    pending = [];
    size = 0;
    writeAll(fd, text);
  };
  const sink: Sink = {
    write(chunk) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= highWater) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
  live.add(sink);
  hookExit();
  return sink;
}

/** Collects lines in memory (tests, and `--dump` style tools). */
export function memorySink(): Sink & { lines(): string[]; text(): string } {
  let buf = "";
  return {
    write(chunk) {
      buf += chunk;
    },
    flush() {},
    text: () => buf,
    lines: () => (buf === "" ? [] : buf.slice(0, -1).split("\n")),
  };
}
