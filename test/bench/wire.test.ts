/**
 * The wire-latency reader of bench/perf/probe.ts (PROBE_WIRE=1): requests
 * paired with replies by xid and type, the generator's evenness, stalls.
 */
import { describe, expect, test } from "bun:test";
import { analyse, describe as describeWire, parseFields } from "../../bench/perf/wire.ts";

const SERVER = "198.18.0.1";
const CLIENT = "198.18.0.2";

describe("wire latency", () => {
  test("pairs DISCOVER with OFFER and REQUEST with ACK by xid, in ms", () => {
    const text = [
      `1000.000000 ${CLIENT} 0x00000001 1`,
      `1000.001000 ${CLIENT} 0x00000002 1`,
      `1000.001500 ${SERVER} 0x00000001 2`,
      `1000.004000 ${SERVER} 0x00000002 2`,
      `1000.005000 ${CLIENT} 0x00000001 3`,
      `1000.005250 ${SERVER} 0x00000001 5`,
      // a NAK answers nothing we time; an OFFER with no DISCOVER in the capture is left out
      `1000.006000 ${SERVER} 0x00000009 2`,
      "",
    ].join("\n");
    const r = analyse(parseFields(text, SERVER));
    expect(r.doMs.map((x) => Math.round(x * 1000) / 1000)).toEqual([1.5, 3]);
    expect(r.raMs.map((x) => Math.round(x * 1000) / 1000)).toEqual([0.25]);
  });

  test("a retransmission is timed from the copy the reply answered (the latest)", () => {
    const r = analyse(parseFields([`5.000 ${CLIENT} 0x7 1`, `5.010 ${CLIENT} 0x7 1`, `5.011 ${SERVER} 0x7 2`].join("\n"), SERVER));
    expect(r.doMs.length).toBe(1);
    expect(r.doMs[0]!).toBeCloseTo(1, 3);
  });

  test("counts requests per 10 ms window, quiet windows included", () => {
    const lines = [`0.000 ${CLIENT} 0x1 1`, `0.001 ${CLIENT} 0x2 1`, `0.002 ${CLIENT} 0x3 1`, `0.035 ${CLIENT} 0x4 1`];
    const r = analyse(parseFields(lines.join("\n"), SERVER));
    // windows 0..3: 3, 0, 0, 1
    expect(r.perWindow).toEqual([0, 0, 1, 3]);
  });

  test("the longest stall is the gap between replies while a request waits, not idle time", () => {
    const lines = [
      `10.000 ${CLIENT} 0x1 1`,
      `10.001 ${SERVER} 0x1 2`,
      // idle for a second: nothing waits, no stall
      `11.000 ${CLIENT} 0x2 1`,
      `11.002 ${CLIENT} 0x3 1`,
      `11.030 ${SERVER} 0x2 2`,
      `11.031 ${SERVER} 0x3 2`,
    ];
    const r = analyse(parseFields(lines.join("\n"), SERVER));
    expect(r.longestStallMs).toBeCloseTo(30, 3);
    const line = describeWire(r);
    expect(line).toContain("DO p50/p99 ");
    expect(line).toContain("longest stall with requests waiting 30 ms");
    expect(line).toContain("(66.67% over 5 ms)");
  });

  test("a request never answered stops counting as waiting after a second", () => {
    const lines = [
      `20.000 ${CLIENT} 0x1 1`,
      // 0x1 is lost; two seconds later a quick exchange
      `22.000 ${CLIENT} 0x2 1`,
      `22.002 ${SERVER} 0x2 2`,
    ];
    expect(analyse(parseFields(lines.join("\n"), SERVER)).longestStallMs).toBeCloseTo(2, 3);
  });

  test("lines tshark left short (a packet without DHCP fields) are skipped", () => {
    expect(parseFields(`1.0 ${CLIENT}\n\n2.0 ${SERVER} 0x1 2\n`, SERVER)).toEqual([{ t: 2, fromServer: true, xid: "0x1", type: 2 }]);
  });
});
