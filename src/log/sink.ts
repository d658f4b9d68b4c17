/**
 * Where log lines go. The server logs one line per exchange at thousands of
 * exchanges per second, so the default file-descriptor sink gathers lines and
 * writes them once per event-loop turn (or when 64 KiB are waiting), and
 * flushes synchronously on exit so nothing written before a clean stop is lost.
 *
 * Lines are gathered as UTF-8 in one buffer kept for the sink's life, not as
 * a list of strings: a collection during a busy turn promoted the turn's
 * strings to the old generation, garbage for a full collection to free
 * (bench/promoted.ts). A line's string now dies young whenever the GC runs.
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
  /** write at once when this many bytes wait (default 65536) */
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

function writeBytes(fd: number, buf: Uint8Array, length: number): void {
  try {
    for (let off = 0; off < length; ) {
      const n = writeSync(fd, buf, off, length - off);
      if (n <= 0) return;
      off += n;
    }
  } catch {
    // as writeAll
  }
}

/** room after the high-water mark, so a line that crosses it still fits */
const SLACK = 16 * 1024;

/** A sink on a file descriptor (1 = stdout, 2 = stderr); journald reads both. */
export function fdSink(fd: number, opts: FdSinkOptions = {}): Sink {
  if (opts.buffered === false) {
    return { write: (chunk) => writeAll(fd, chunk), flush: () => {} };
  }
  const highWater = opts.highWater ?? 65536;
  const buf = Buffer.allocUnsafe(highWater + SLACK);
  let used = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (used === 0) return;
    const n = used;
    used = 0;
    writeBytes(fd, buf, n);
  };
  const sink: Sink = {
    write(chunk) {
      // UTF-8 takes at most 3 bytes per UTF-16 unit
      if (used + chunk.length * 3 > buf.length) {
        flush();
        if (chunk.length * 3 > buf.length) {
          writeAll(fd, chunk);
          return;
        }
      }
      used += buf.write(chunk, used, "utf8");
      if (used >= highWater) flush();
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
