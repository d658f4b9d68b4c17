import { describe, expect, test } from "bun:test";
import { createLogger, type Level, type LogFormat } from "../../../src/log/logger.ts";
import { memorySink } from "../../../src/log/sink.ts";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 123);

function make(format: LogFormat, level: Level = "debug", maxValueLength?: number) {
  const out = memorySink();
  const err = memorySink();
  const log = createLogger({ level, format, out, err, now: () => T0, ...(maxValueLength ? { maxValueLength } : {}) });
  return { log, out, err };
}

/** Every byte of a safe line is printable ASCII or a printable non-control code point. */
function assertOneSafeLine(line: string) {
  expect(line.includes("\n")).toBe(false);
  expect(line.includes("\r")).toBe(false);
  // no C0, DEL, C1, replacement char, line/paragraph separators, bidi overrides, lone surrogates
  expect(/[\x00-\x1f\x7f-\x9f\ufffd\u2028-\u202e\u2066-\u2069]/.test(line)).toBe(false);
  expect(/\p{Surrogate}/u.test(line)).toBe(false);
}

describe("text format", () => {
  test("timestamp, level, message, key=value, quoting", () => {
    const { log, out } = make("text");
    log.info("message", { key: "value", key2: "quoted value", n: 42, ok: true, none: null, skip: undefined });
    expect(out.text()).toBe('2026-11-25T10:00:00.123Z INFO message key=value key2="quoted value" n=42 ok=true none=null\n');
  });

  test("warn and error go to err, debug and info to out", () => {
    const { log, out, err } = make("text");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(out.lines()).toEqual(["2026-11-25T10:00:00.123Z DEBUG d", "2026-11-25T10:00:00.123Z INFO i"]);
    expect(err.lines()).toEqual(["2026-11-25T10:00:00.123Z WARN w", "2026-11-25T10:00:00.123Z ERROR e"]);
  });

  test("values with = quote and backslash are quoted and escaped; empty is quoted", () => {
    const { log, out } = make("text");
    log.info("m", { a: "x=y", b: 'say "hi"', c: "C:\\dir", d: "" });
    expect(out.lines()[0]).toBe('2026-11-25T10:00:00.123Z INFO m a="x=y" b="say \\"hi\\"" c="C:\\\\dir" d=""');
  });

  test("bytes as hex, errors with kind, objects as JSON, dates as ISO", () => {
    const { log, out } = make("text");
    const e = Object.assign(new Error("timed out"), { name: "DbError", kind: "timeout" });
    log.info("m", { id: new Uint8Array([1, 0x2c, 0xab, 0xff]), err: e, o: { a: 1 }, t: new Date(T0) });
    expect(out.lines()[0]).toBe(
      '2026-11-25T10:00:00.123Z INFO m id=012cabff err="DbError(timeout): timed out" o="{\\"a\\":1}" t=2026-11-25T10:00:00.123Z',
    );
  });

  test("child binds fields once; grandchild adds more", () => {
    const { log, out } = make("text");
    const c = log.child({ iface: "eth1" }).child({ xid: "0x23cfde1d" });
    c.info("reply sent", { type: "ACK" });
    expect(out.lines()[0]).toBe("2026-11-25T10:00:00.123Z INFO reply sent iface=eth1 xid=0x23cfde1d type=ACK");
  });

  test("hostile keys become one clean token", () => {
    const { log, out } = make("text");
    log.info("m", { "bad key\n=x": 1 });
    expect(out.lines()[0]).toBe("2026-11-25T10:00:00.123Z INFO m bad_key__x=1");
  });
});

describe("hostile packet strings", () => {
  const hostile: Record<string, string> = {
    clear: "\x1b[2J\x1b[H",
    forged: "pc\r\n2026-11-25T10:00:00.000Z ERROR database dropped",
    nul: "a\x00b",
    c1csi: "x\x9b31mred",
    del: "\x7f",
    badutf8: new TextDecoder().decode(new Uint8Array([0x41, 0xff, 0xfe, 0xc3, 0x28])),
    lone: "a\ud800b\udc00",
    bidi: "abc\u202edcba",
    ls: "one\u2028two",
  };

  for (const format of ["text", "json"] as const) {
    test(`${format}: each hostile value stays on one safe line`, () => {
      const { log, out } = make(format);
      log.info("client", hostile);
      log.info("client " + hostile.forged, { hostname: hostile.clear });
      const lines = out.lines();
      expect(lines.length).toBe(2);
      for (const l of lines) assertOneSafeLine(l);
    });
  }

  test("text: exact escapes", () => {
    const { log, out } = make("text");
    log.info("m", hostile);
    const l = out.lines()[0]!;
    expect(l).toContain('clear="\\x1b[2J\\x1b[H"');
    expect(l).toContain('forged="pc\\r\\n2026-11-25T10:00:00.000Z ERROR database dropped"');
    expect(l).toContain('nul="a\\x00b"');
    expect(l).toContain('c1csi="x\\x9b31mred"');
    expect(l).toContain('del="\\x7f"');
    expect(l).toContain('badutf8="A\\ufffd\\ufffd\\ufffd("');
    expect(l).toContain('lone="a\\ud800b\\udc00"');
    expect(l).toContain('bidi="abc\\u202edcba"');
    expect(l).toContain('ls="one\\u2028two"');
  });

  test("json: parses back to the original strings (except truncation)", () => {
    const { log, out } = make("json");
    log.info("m", hostile);
    const o = JSON.parse(out.lines()[0]!);
    for (const [k, v] of Object.entries(hostile)) expect(o[k]).toBe(v);
  });

  test("valid astral characters and accents pass through", () => {
    const { log, out } = make("text");
    log.info("m", { h: "héllo😀" });
    expect(out.lines()[0]).toBe("2026-11-25T10:00:00.123Z INFO m h=héllo😀");
  });

  test("10 kB value is cut with a marker naming the length", () => {
    for (const format of ["text", "json"] as const) {
      const { log, out } = make(format);
      log.info("m", { v: "A".repeat(10240), b: new Uint8Array(5000) });
      const l = out.lines()[0]!;
      expect(l.length).toBeLessThan(1000);
      expect(l).toContain("A".repeat(256) + "...[truncated, 10240 chars]");
      expect(l).not.toContain("A".repeat(257));
      expect(l).toContain("...[truncated, 5000 bytes]");
    }
  });

  test("truncation never splits a surrogate pair", () => {
    const { log, out } = make("text", "debug", 16);
    log.info("m", { v: "a".repeat(15) + "😀" + "b".repeat(20) });
    const l = out.lines()[0]!;
    assertOneSafeLine(l);
    expect(l).toContain('v="' + "a".repeat(15) + '...[truncated, 37 chars]"');
  });
});

describe("json format", () => {
  test("one object per line with ts, level, msg and fields", () => {
    const { log, out, err } = make("json");
    log.child({ iface: "eth1" }).info("reply sent", { type: "OFFER", n: 3, arr: [1, "x"], msg: "clash" });
    log.error("db down", { nan: NaN });
    expect(JSON.parse(out.lines()[0]!)).toEqual({
      ts: "2026-11-25T10:00:00.123Z",
      level: "info",
      msg: "reply sent",
      iface: "eth1",
      type: "OFFER",
      n: 3,
      arr: [1, "x"],
      _msg: "clash",
    });
    expect(JSON.parse(err.lines()[0]!)).toEqual({ ts: "2026-11-25T10:00:00.123Z", level: "error", msg: "db down", nan: "NaN" });
  });

  test("cyclic objects do not throw", () => {
    const { log, out } = make("json");
    const o: Record<string, unknown> = {};
    o.self = o;
    log.info("m", { o });
    expect(JSON.parse(out.lines()[0]!).o).toBe("[unserializable]");
  });
});

describe("levels", () => {
  test("lines below the level are not written and cost no formatting", () => {
    const { log, out, err } = make("text", "warn");
    let touched = 0;
    const trap = {
      get x() {
        touched++;
        return "x";
      },
    };
    log.debug("d", trap);
    log.info("i", trap);
    expect(touched).toBe(0);
    expect(log.debug).toBe(log.info); // both the shared no-op
    log.warn("w");
    expect(out.text()).toBe("");
    expect(err.lines().length).toBe(1);
    expect(log.enabled("info")).toBe(false);
    expect(log.enabled("error")).toBe(true);
  });

  test("each level admits itself and above", () => {
    const order: Level[] = ["debug", "info", "warn", "error"];
    for (const [i, level] of order.entries()) {
      const { log, out, err } = make("text", level);
      for (const l of order) log[l]("x");
      expect(out.lines().length + err.lines().length).toBe(4 - i);
    }
  });
});
