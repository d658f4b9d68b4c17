/**
 * formatEventTime and isoWithOffset keep a second's text while it lasts;
 * every value must be what building it from a Date each time gives.
 */
import { describe, expect, test } from "bun:test";
import { formatEventTime, isoWithOffset, type TimeFormat } from "../../src/db/event-time.ts";

const p2 = (n: number) => (n < 10 ? "0" + n : String(n));
function parts(d: Date, utc: boolean) {
  return utc
    ? { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() }
    : { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() };
}
function fraction(ms: number, digits: number): string {
  if (digits === 0) return "";
  return "." + String(((ms % 1000) + 1000) % 1000).padStart(3, "0").padEnd(6, "0").slice(0, digits);
}
/** The formats as they were built before: a Date and its fields per call. */
function reference(time: TimeFormat, frac: number, ms: number): string {
  const d = new Date(ms);
  if (time === "unix") return String(Math.floor(ms / 1000));
  if (time === "sqlite-now") {
    const u = parts(d, true);
    return `${u.y}-${p2(u.mo)}-${p2(u.d)} ${p2(u.h)}:${p2(u.mi)}:${p2(u.s)}${fraction(ms, 3)}`;
  }
  const t = parts(d, time.startsWith("utc-"));
  const date = `${t.y}-${p2(t.mo)}-${p2(t.d)}`;
  const clock = `${p2(t.h)}:${p2(t.mi)}:${p2(t.s)}${fraction(ms, frac)}`;
  if (time === "date" || time === "utc-date") return date;
  if (time === "time" || time === "utc-time") return clock;
  return `${date} ${clock}`;
}
function referenceIso(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  const t = parts(d, false);
  return `${t.y}-${p2(t.mo)}-${p2(t.d)}T${p2(t.h)}:${p2(t.mi)}:${p2(t.s)}${fraction(ms, 3)}${off < 0 ? "-" : "+"}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

const FORMATS: TimeFormat[] = ["datetime", "date", "time", "utc-datetime", "utc-date", "utc-time", "unix", "sqlite-now"];

describe("event time text", () => {
  const base = Date.UTC(2026, 11, 1, 21, 29, 4, 117);
  const times = [
    base, base + 1, base + 882, base + 883, base + 884, base - 117, base - 118, base + 60_000, base,
    0, -1, -999, -1000, -1001, 0.5, -0.5, 999.5, base + 0.25, 1e15, -1e15, 253402300799999, NaN,
  ];
  // interleaved: a second's cached text must never answer for another second or format
  test("every format and digit count, across seconds, as a Date built per call gives", () => {
    for (let round = 0; round < 2; round++) {
      for (const ms of times) {
        for (const f of FORMATS) {
          for (let frac = 0; frac <= 6; frac++) expect(formatEventTime({ time: f, frac }, ms)).toBe(reference(f, frac, ms));
        }
        expect(isoWithOffset(ms)).toBe(referenceIso(ms));
      }
    }
  });

  test("consecutive milliseconds over several seconds", () => {
    for (let ms = base - 2500; ms < base + 2500; ms += 7) {
      expect(isoWithOffset(ms)).toBe(referenceIso(ms));
      expect(formatEventTime({ time: "datetime", frac: 3 }, ms)).toBe(reference("datetime", 3, ms));
      expect(formatEventTime({ time: "utc-time", frac: 6 }, ms)).toBe(reference("utc-time", 6, ms));
    }
  });
});
