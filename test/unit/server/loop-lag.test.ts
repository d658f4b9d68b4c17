/**
 * The event-loop lag monitor on a clock the test moves: each tick's lag is
 * the gap since the previous tick minus the interval (never negative), the
 * longest of the last minute is kept, and the timer runs only while packets
 * arrive.
 */
import { expect, test } from "bun:test";
import { IDLE_STOP_MS, LoopLag } from "../../../src/server/loop-lag.ts";

function monitor() {
  let t = 1000;
  const seen: number[] = [];
  const lag = new LoopLag(5, (ms) => seen.push(ms), () => t);
  return { lag, seen, at: (ms: number) => (t = ms) };
}

test("a tick on time has no lag; a late tick's lag is how late it is", () => {
  const { lag, seen, at } = monitor();
  lag.poke(); // arms the timer at t = 1000; the test drives tick() itself
  at(1005);
  lag.tick();
  at(1010);
  lag.tick();
  at(1045); // the loop was held for 30 ms past the next tick
  lag.tick();
  at(1047); // an early tick (timers are coarse) is not a negative lag
  lag.tick();
  lag.stop();
  expect(seen).toEqual([0, 0, 30, 0]);
  expect(lag.maxMs).toBe(30);
});

test("the max covers the last minute, then forgets, also while the timer is off", () => {
  const { lag, at } = monitor();
  lag.poke();
  at(1080);
  lag.tick(); // 75 ms late
  expect(lag.maxMs).toBe(75);
  at(1080 + 50_000);
  expect(lag.maxMs).toBe(75);
  at(1080 + 61_000);
  expect(lag.maxMs).toBe(0);
  lag.stop();
});

test("no packet for a second stops the timer; the next packet starts it, and the quiet time is not lag", () => {
  const { lag, seen, at } = monitor();
  expect(lag.running).toBe(false);
  lag.poke();
  expect(lag.running).toBe(true);
  let t = 1000;
  // the first tick sees the packet; then a second of ticks without one
  for (let i = 0; i < IDLE_STOP_MS / 5; i++) {
    at((t += 5));
    lag.tick();
  }
  expect(lag.running).toBe(true);
  at((t += 5));
  lag.tick();
  expect(lag.running).toBe(false);
  at((t += 30_000));
  lag.poke();
  expect(lag.running).toBe(true);
  at((t += 5));
  lag.tick();
  expect(Math.max(...seen)).toBe(0);
  // packets keep it on
  for (let i = 0; i < 1000; i++) {
    lag.poke();
    at((t += 5));
    lag.tick();
  }
  expect(lag.running).toBe(true);
  lag.stop();
  lag.poke();
  expect(lag.running).toBe(false);
});

test("the real timer measures a held loop", async () => {
  const seen: number[] = [];
  const lag = new LoopLag(5, (ms) => seen.push(ms));
  lag.poke();
  await Bun.sleep(12);
  lag.poke();
  const t0 = performance.now();
  while (performance.now() - t0 < 30) {
    // hold the loop: the next tick is at least ~25 ms late
  }
  await Bun.sleep(12);
  lag.stop();
  expect(seen.length).toBeGreaterThan(0);
  expect(Math.max(...seen)).toBeGreaterThanOrEqual(20);
});
