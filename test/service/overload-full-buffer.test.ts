/**
 * A receive buffer that fills with a short wait: a burst of DISCOVERs past
 * half the server's receive buffer, whose wait stays far under a quarter
 * of <maxWait>. A full buffer
 * would drop what arrives next, REQUESTs too, so the oldest DISCOVERs are
 * read and dropped (stale) until an eighth of the buffer is left; every
 * REQUEST behind them is answered and every packet read is accounted for.
 * On SQLite, where the kernel's queue is the only one that grows.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Udp } from "../support/udp.ts";
import { ipOf, scrape } from "./helpers.ts";
import { awaitAcks, sendDiscovers, sendRequests, startStormServer, stormCounts, type StormServer } from "./storm.ts";

/** past half of the 8 MiB the kernel allows the server's 4 MiB buffer (1,280 bytes a packet on loopback), under all of it */
const BURST = 4500;
const REQUESTS = 40;
/** the longest allowed: the wait alone never starts the shedding here (a quarter of it is 15 s) */
const MAX_WAIT_MS = 60_000;
/** 25 rounds of 20 DISCOVERs 10 ms apart, for the rate */
const WARM_ROUNDS = 25;

let storm: StormServer;
let clients: Udp;
let relay: Udp;
let port: number;
let mport: number;
let acks: Map<number, { yiaddr: string; at: number }>;

beforeAll(async () => {
  storm = await startStormServer("overload-full", BURST + REQUESTS + WARM_ROUNDS * 20, MAX_WAIT_MS);
  ({ clients, relay, port, mport, acks } = storm);
}, 30_000);
afterAll(async () => {
  await storm?.close();
});

test("a burst past half the receive buffer with a short wait: the oldest DISCOVERs are dropped as stale, every REQUEST is answered, every packet accounted for", async () => {
  // the server measures its rate before it drops anything: a steady stretch it handles in full,
  // right before the burst (after an idle gap the first look would count the gap and see a slow server)
  for (let r = 0; r < WARM_ROUNDS; r++) {
    sendDiscovers(clients, port, BURST + REQUESTS + r * 20, 20, 0x10000 + r * 20);
    await Bun.sleep(10);
  }
  const before = await scrape(mport);
  sendDiscovers(clients, port, 0, BURST, 0x20000);
  sendRequests(relay, port, BURST, REQUESTS, 0x30000);
  await awaitAcks(acks, REQUESTS);

  expect(acks.size).toBe(REQUESTS);
  for (let i = 0; i < REQUESTS; i++) expect(acks.get(0x30000 + i)?.yiaddr).toBe(ipOf(BURST + i));
  const { received, offers, acks: acked, stale } = await stormCounts(mport, before);
  // the wait was short, yet the buffer was cut back: some of the oldest went unanswered
  expect(stale).toBeGreaterThan(0);
  expect(offers).toBeGreaterThan(0);
  expect(offers + stale).toBe(received);
  expect(received).toBe(BURST);
  expect(acked).toBe(REQUESTS);
}, 30_000);
