/**
 * The share of DISCOVERs the kernel drops (discover-shed.ts), driven by a
 * model server: `arrive` DISCOVERs a window, of which the filter passes
 * (1 - share); the server serves up to `capacity` of what it reads and
 * drops the rest (stale, queue full), or, in the burst model, keeps a
 * backlog and cuts it every third window.
 */
import { expect, test } from "bun:test";
import { DiscoverShed, HEADROOM, MAX_SHARE, WINDOW_MS } from "../../../src/server/discover-shed.ts";

let clock = 0;

/** One window of the model; returns the share decided for the next. */
function step(s: DiscoverShed, arrive: number, capacity: number, burst?: { backlog: number; cut: boolean }): { share: number; read: number } {
  const read = Math.round(arrive * (1 - s.share));
  let served: number;
  let dropped: number;
  if (burst) {
    const waiting = burst.backlog + read;
    served = Math.min(waiting, capacity);
    burst.backlog = waiting - served;
    dropped = burst.cut ? burst.backlog : 0;
    burst.backlog -= dropped;
  } else {
    served = Math.min(read, capacity);
    dropped = read - served;
  }
  for (let i = 0; i < served; i++) s.discoverServed();
  for (let i = 0; i < dropped; i++) s.discoverDropped();
  return { share: s.window((clock += WINDOW_MS)), read };
}

test("no drops, or a few: the filter stays off", () => {
  const s = new DiscoverShed();
  for (let i = 0; i < 10; i++) expect(step(s, 1000, 5000).share).toBe(0);
  // a server that drops a quarter of what it reads is overloaded, but reading that excess is cheap
  for (let i = 0; i < 10; i++) expect(step(s, 4000, 3000).share).toBe(0);
});

test("a storm: the share settles where the server reads HEADROOM times what it serves", () => {
  const s = new DiscoverShed();
  // 50,000 DISCOVERs a second offered, 4,500 served: per 250 ms window
  const arrive = 12_500;
  const capacity = 1_125;
  let last = { share: 0, read: arrive };
  for (let i = 0; i < 30; i++) last = step(s, arrive, capacity);
  expect(last.share).toBeCloseTo(1 - (HEADROOM * capacity) / arrive, 2);
  expect(last.read / capacity).toBeCloseTo(HEADROOM, 1);
  // it got there in the first window: the user-space drops of one window say how far over it is
  const fresh = new DiscoverShed();
  expect(step(fresh, arrive, capacity).share).toBeCloseTo(1 - (HEADROOM * capacity) / arrive, 2);
});

test("drops that come in bursts (a backlog cut every third window) move the share little", () => {
  // the server serves `capacity` a window from a backlog and cuts the backlog to nothing every third
  // window, as admission.ts cuts the kernel's queue when it passes a quarter of maxWait
  const s = new DiscoverShed();
  const arrive = 12_500;
  const capacity = 1_125;
  const burst = { backlog: 0, cut: false };
  const shares: number[] = [];
  for (let i = 0; i < 40; i++) {
    burst.cut = i % 3 === 2;
    const r = step(s, arrive, capacity, burst);
    if (i >= 10) shares.push(r.share);
  }
  const ideal = 1 - (HEADROOM * capacity) / arrive;
  console.log(`share between ${Math.min(...shares).toFixed(3)} and ${Math.max(...shares).toFixed(3)}, ideal ${ideal.toFixed(3)}`);
  expect(Math.min(...shares)).toBeGreaterThan(ideal - 0.05);
  expect(Math.max(...shares)).toBeLessThan(ideal + 0.05);
});

test("the share never reaches 1: some DISCOVERs always get through to be measured", () => {
  const s = new DiscoverShed();
  let share = 0;
  for (let i = 0; i < 20; i++) share = step(s, 1_000_000, 10).share;
  expect(share).toBe(MAX_SHARE);
  expect(step(s, 1_000_000, 10).read).toBeGreaterThan(0);
});

test("when the storm ends the filter comes off within a few windows, and a server that got faster reads more at once", () => {
  const s = new DiscoverShed();
  for (let i = 0; i < 10; i++) step(s, 12_500, 1_125);
  expect(s.share).toBeGreaterThan(0.8);
  // fewer arrive than the server has been serving: off in the next window
  expect(step(s, 500, 1_125).share).toBe(0);
  expect(step(s, 500, 1_125).share).toBe(0);

  // capacity doubles mid-storm: within a second the share lets about twice as many through
  for (let i = 0; i < 10; i++) step(s, 12_500, 1_125);
  const before = s.share;
  for (let i = 0; i < 8; i++) step(s, 12_500, 2_250);
  expect(1 - s.share).toBeGreaterThan((1 - before) * 1.8);
});

test("reset forgets the share and the window's counts", () => {
  const s = new DiscoverShed();
  step(s, 12_500, 1_125);
  for (let i = 0; i < 100; i++) s.discoverDropped();
  s.reset();
  expect(s.share).toBe(0);
  expect(s.window((clock += WINDOW_MS))).toBe(0);
});
