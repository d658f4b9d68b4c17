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

test("the kernel receive buffer: full size unless the queue overflows, then half of maxWait of the read rate", async () => {
  const { RCVBUF_MAX, RCVBUF_MIN, RCVBUF_PER_PACKET, receiveBufferFor } = await import("../../../src/server/admission.ts");
  expect(receiveBufferFor(false, 333, 1000)).toBe(RCVBUF_MAX);
  // reading 2,000 packets a second while overflowing: half a second of them (they may wait in the queue too)
  expect(receiveBufferFor(true, 2000, 1000)).toBe(1000 * RCVBUF_PER_PACKET);
  expect(receiveBufferFor(true, 2000, 2000)).toBe(2000 * RCVBUF_PER_PACKET);
  expect(receiveBufferFor(true, 333, 1000)).toBe(RCVBUF_MIN);
  expect(receiveBufferFor(true, 50_000, 1000)).toBe(RCVBUF_MAX);
  expect(receiveBufferFor(true, 10, 1000)).toBe(RCVBUF_MIN);
  // overflow is what the queue dropped for room or age since it was last asked
  const q = new AdmissionQueue<P>({ maxWaitMs: 100, hardLimit: 1, concurrency: 1 });
  expect(q.takeOverflow()).toBe(0);
  q.push(D("a", 0));
  q.push(D("b", 0));
  q.push(D("c", 500));
  q.take(1000, () => {});
  expect(q.takeOverflow()).toBe(3);
  expect(q.takeOverflow()).toBe(0);
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
