/**
 * The lookup queue under overload: stale requests dropped, REQUESTs before
 * DISCOVERs, about maxWait of work held, the oldest DISCOVER making room.
 */
import { expect, test } from "bun:test";
import { MessageType } from "../../../src/codec/message.ts";
import { AdmissionQueue } from "../../../src/server/admission.ts";

interface P {
  type: number;
  at: number;
  id: string;
}
const D = (id: string, at = 0): P => ({ type: MessageType.DISCOVER, at, id });
const R = (id: string, at = 0): P => ({ type: MessageType.REQUEST, at, id });

test("REQUESTs go before DISCOVERs; within a class, first come first served", () => {
  const q = new AdmissionQueue<P>({ maxWaitMs: 1000, hardLimit: 100, concurrency: 1 });
  for (const p of [D("d1"), D("d2"), R("r1"), D("d3"), R("r2")]) expect(q.push(p)).toBeUndefined();
  const order: string[] = [];
  for (let p = q.take(0, () => {}); p; p = q.take(0, () => {})) order.push(p.id);
  expect(order).toEqual(["r1", "r2", "d1", "d2", "d3"]);
});

test("a request that waited longer than maxWait is dropped, not run", () => {
  const q = new AdmissionQueue<P>({ maxWaitMs: 100, hardLimit: 100, concurrency: 1 });
  q.push(D("old", 0));
  q.push(R("old-r", 10));
  q.push(D("fresh", 150));
  const stale: string[] = [];
  expect(q.take(200, (p) => stale.push(p.id))?.id).toBe("fresh");
  expect(stale).toEqual(["old-r", "old"]);
  expect(q.length).toBe(0);
  // exactly maxWait is still in time
  q.push(D("edge", 100));
  expect(q.take(200, () => {})?.id).toBe("edge");
});

test("the queue holds about maxWait of work at the measured service time; the oldest DISCOVER makes room", () => {
  const q = new AdmissionQueue<P>({ maxWaitMs: 1000, hardLimit: 1000, concurrency: 4 });
  // unmeasured: the hard limit
  expect(q.limit).toBe(1000);
  // 4 in flight at 20 ms each: 200/s, so a second of work is 200 requests
  q.done(20);
  expect(q.limit).toBe(200);
  for (let i = 0; i < 100; i++) q.done(20);
  expect(q.limit).toBe(200);
  // slower lookups shrink it, never below 16; never above the hard limit
  for (let i = 0; i < 1000; i++) q.done(1000);
  expect(q.limit).toBe(16);
  for (let i = 0; i < 2000; i++) q.done(0.01);
  expect(q.limit).toBe(1000);

  const small = new AdmissionQueue<P>({ maxWaitMs: 100, hardLimit: 1000, concurrency: 1 });
  small.done(10); // 10 requests of work in 100 ms, so the floor of 16 holds
  expect(small.limit).toBe(16);
  for (let i = 0; i < 8; i++) small.push(R(`r${i}`));
  const out: string[] = [];
  for (let i = 0; i < 10; i++) {
    const o = small.push(D(`d${i}`));
    if (o) out.push(o.id);
  }
  expect(small.length).toBe(16);
  expect(out).toEqual(["d0", "d1"]);
  // with no DISCOVER left to drop, the oldest REQUEST goes
  const only = new AdmissionQueue<P>({ maxWaitMs: 100, hardLimit: 2, concurrency: 1 });
  only.push(R("a"));
  only.push(R("b"));
  expect(only.push(R("c"))?.id).toBe("a");
});

test("the kernel's queue: nothing dropped while its newest packet will be read within a quarter of maxWait; past that the oldest go down to a tenth", async () => {
  const { KERNEL_BYTES_PER_PACKET: B, kernelBacklog } = await import("../../../src/server/admission.ts");
  expect(kernelBacklog(0, 500, 1000)).toEqual({ waitMs: 0, discard: 0 });
  // 125 packets at 500/s: 250 ms, a burst the queue absorbs
  expect(kernelBacklog(125 * B, 500, 1000)).toEqual({ waitMs: 250, discard: 0 });
  // 400 packets at 500/s: 800 ms; every REQUEST behind them would wait that long: keep 100 ms (50), drop 350
  expect(kernelBacklog(400 * B, 500, 1000)).toEqual({ waitMs: 800, discard: 350 });
  // 6,000 packets at 500/s: 12 s; drop the oldest 5,950
  expect(kernelBacklog(6000 * B, 500, 1000)).toEqual({ waitMs: 12_000, discard: 5950 });
  // a longer maxWait absorbs a longer burst: 2,000 ms at maxWait 10 s
  expect(kernelBacklog(1000 * B, 500, 10_000).discard).toBe(0);
  // counted generously per packet: a loopback packet's 1,280 bytes count as less than one
  expect(B).toBeGreaterThanOrEqual(1280);
  // no rate known yet: nothing dropped on a guess
  expect(kernelBacklog(6000 * B, 0, 1000).discard).toBe(0);
  // the capacity the queue measures is ThreadLimit over the time per request
  const q = new AdmissionQueue<P>({ maxWaitMs: 1000, hardLimit: 100, concurrency: 16 });
  expect(q.capacity).toBeNull();
  q.done(8);
  expect(q.capacity).toBe(2000);
});

test("shedding the kernel's backlog drops DISCOVERs only among the packets queued at the look, never one that came after", async () => {
  const { KERNEL_BYTES_PER_PACKET: B, KernelShed } = await import("../../../src/server/admission.ts");
  const shed = new KernelShed();
  // 400 queued at 500/s with maxWait 1 s: the oldest 350 are the backlog
  shed.look(400 * B, 500, 1000);
  let dropped = 0;
  // the backlog is mostly not DISCOVERs (a REQUEST storm, or garbage): they are handled, and they count
  for (let i = 0; i < 350; i++) if (shed.drop(i % 10 === 0 ? MessageType.DISCOVER : MessageType.REQUEST)) dropped++;
  expect(dropped).toBe(35);
  expect(shed.active).toBe(false);
  // a client's DISCOVER behind the backlog is read and answered
  expect(shed.drop(MessageType.DISCOVER)).toBe(false);
  // a new look replaces the count; a drained queue ends the shedding
  shed.look(400 * B, 500, 1000);
  expect(shed.active).toBe(true);
  shed.look(0, 500, 1000);
  expect(shed.drop(MessageType.DISCOVER)).toBe(false);
});

test("a long queue serves the newest DISCOVER first (its client still waits); REQUESTs still go first", () => {
  const q = new AdmissionQueue<P>({ maxWaitMs: 1000, hardLimit: 100, concurrency: 1 });
  for (let t = 0; t <= 400; t += 100) q.push(D(`d${t}`, t));
  q.push(R("r", 350));
  const order: string[] = [];
  // at 450 the oldest DISCOVER waited 450 ms, over a quarter of maxWait: newest first
  for (let p = q.take(450, () => {}); p; p = q.take(450, () => {})) order.push(p.id);
  expect(order).toEqual(["r", "d400", "d300", "d200", "d100", "d0"]);
  // a short queue is first come first served
  q.push(D("a", 1000));
  q.push(D("b", 1010));
  expect(q.take(1100, () => {})?.id).toBe("a");
});

test("a receive buffer past half full is cut back to an eighth, oldest DISCOVERs first, however short its wait", async () => {
  const { KERNEL_BYTES_PER_PACKET: B, kernelBacklog, KernelShed } = await import("../../../src/server/admission.ts");
  const buffer = 800 * B;
  // 300 queued at 10,000/s: a 30 ms wait, under the quarter of maxWait, and under half the buffer: nothing
  expect(kernelBacklog(300 * B, 10_000, 1000, buffer)).toEqual({ waitMs: 30, discard: 0 });
  // 500 queued: still a 50 ms wait, but past half the buffer: back to an eighth of it (100)
  expect(kernelBacklog(500 * B, 10_000, 1000, buffer)).toEqual({ waitMs: 50, discard: 400 });
  // a long wait in a large buffer: the wait's own target (a tenth of maxWait, 50 at 500/s) is the smaller
  expect(kernelBacklog(500 * B, 500, 1000, buffer)).toEqual({ waitMs: 1000, discard: 450 });
  // no buffer size known: the wait alone decides, as before
  expect(kernelBacklog(500 * B, 10_000, 1000)).toEqual({ waitMs: 50, discard: 0 });
  // no rate measured yet: nothing is dropped, full or not
  expect(kernelBacklog(790 * B, 0, 1000, buffer).discard).toBe(0);
  const shed = new KernelShed();
  shed.look(500 * B, 10_000, 1000, buffer);
  let dropped = 0;
  for (let i = 0; i < 400; i++) if (shed.drop(i % 2 ? MessageType.DISCOVER : MessageType.REQUEST)) dropped++;
  expect(dropped).toBe(200);
  expect(shed.active).toBe(false);
});
