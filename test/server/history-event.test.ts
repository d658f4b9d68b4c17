/**
 * The answer and event variables a history statement sees, per event.
 */
import { expect, test } from "bun:test";
import type { Answer } from "../../src/core/answer.ts";
import { addEventVars } from "../../src/server/history-event.ts";
import type { DhcpMessage } from "../../src/codec/message.ts";
import { extractVariables } from "../../src/variables/extract.ts";
import { PacketVars } from "../../src/variables/lazy.ts";
import { message } from "../unit/variables/packets.ts";

const answer: Answer = { ip: "198.51.100.7", mask: "255.255.255.0", router: "198.51.100.1", dns: ["198.51.100.53", "198.51.100.54"], options: new Map() };
const AT = Date.parse("2026-12-01T21:29:04.117Z");

function vars(event: Parameters<typeof addEventVars>[0]["event"], v: [string, string][], a: Answer | null, query: string | null) {
  const m = new Map(v);
  addEventVars({ event, vars: m, answer: a, query }, AT, "run1-7", 3600);
  return Object.fromEntries([...m].filter(([k]) => k.startsWith("answer_") || k.startsWith("event")));
}

test("OFFER and ACK: the address, mask, router, DNS and lease time sent, and the deciding query", () => {
  expect(vars("offer", [["msg_type", "DISCOVER"]], answer, "offer_2")).toEqual({
    event: "OFFER",
    event_time: expect.stringMatching(/^2026-12-0[12]T\d\d:29:04\.117[+-]\d\d:\d\d$/),
    event_unixtime: "1796160544",
    event_id: "run1-7",
    answer_ip: "198.51.100.7",
    answer_mask: "255.255.255.0",
    answer_router: "198.51.100.1",
    answer_dns: "198.51.100.53,198.51.100.54",
    answer_lease_time: "3600",
    answer_query: "offer_2",
  });
  expect(vars("ack", [["msg_type", "REQUEST"]], { ...answer, leaseTime: 600 }, "lease memory").answer_lease_time).toBe("600");
});

test("INFORM: the client's ciaddr, no lease time; RELEASE: ciaddr; DECLINE: the declined address; NAK and UNKNOWN: no address", () => {
  const inform = vars("ack", [["msg_type", "INFORM"], ["ciaddr", "198.51.100.9"]], answer, "offer_1");
  expect(inform.event).toBe("INFORM");
  expect(inform.answer_ip).toBe("198.51.100.9");
  expect(inform.answer_lease_time).toBeUndefined();
  expect(vars("release", [["ciaddr", "198.51.100.7"]], null, null)).toMatchObject({ event: "RELEASE", answer_ip: "198.51.100.7" });
  expect(vars("decline", [["requested_ip", "198.51.100.8"]], null, null)).toMatchObject({ event: "DECLINE", answer_ip: "198.51.100.8" });
  const nak = vars("nak", [["ciaddr", "0.0.0.0"]], null, "offer_1");
  expect(nak.event).toBe("NAK");
  expect(nak.answer_ip).toBeUndefined();
  expect(nak.answer_query).toBe("offer_1");
  expect(vars("unknown", [], null, null).answer_ip).toBeUndefined();
});

test("a packet's own variables (PacketVars) compute them when read: the same names, values and order as set at once", () => {
  const msg = (type: number, over: Partial<DhcpMessage> = {}) =>
    message([[53, Uint8Array.of(type)], [50, Uint8Array.of(198, 51, 100, 8)], [61, Uint8Array.of(1, 2, 0, 0x5e, 0x10, 0x20, 0x30)]], over);
  const cases: [Parameters<typeof addEventVars>[0]["event"], DhcpMessage, Answer | null, string | null][] = [
    ["offer", msg(1), answer, "offer_2"],
    ["ack", msg(3), { ...answer, leaseTime: 600, router: "", dns: [] }, "lease memory"],
    ["ack", msg(8, { ciaddr: "198.51.100.9" }), answer, "offer_1"],
    ["release", msg(7, { ciaddr: "198.51.100.7" }), null, null],
    ["decline", msg(4), null, null],
    ["nak", msg(3), null, "offer_1"],
    ["unknown", msg(1), null, null],
  ];
  for (const [event, m, a, query] of cases) {
    for (const readFirst of [[], ["event_id", "answer_ip", "answer_lease_time", "xid"], EVENT_NAMES_ALL]) {
      const want = extractVariables(m);
      want.set("answer_ip", "from a slice");
      addEventVars({ event, vars: want, answer: a, query }, AT, "run1-7", 3600);
      const got = new PacketVars(m);
      got.set("answer_ip", "from a slice");
      addEventVars({ event, vars: got, answer: a, query }, AT, "run1-7", 3600);
      for (const n of readFirst) expect(got.get(n)).toBe(want.get(n));
      expect([...got]).toEqual([...want]);
    }
  }
  // a set after them wins, as it did
  const want = extractVariables(msg(1));
  addEventVars({ event: "offer", vars: want, answer, query: "offer_1" }, AT, "run1-8", 3600);
  want.set("event", "X");
  const got = new PacketVars(msg(1));
  addEventVars({ event: "offer", vars: got, answer, query: "offer_1" }, AT, "run1-8", 3600);
  got.set("event", "X");
  expect(got.get("event")).toBe("X");
  expect([...got]).toEqual([...want]);
  // recorded twice (a second event on the same variables): the second wins
  const twice = new PacketVars(msg(1));
  addEventVars({ event: "offer", vars: twice, answer, query: "offer_1" }, AT, "run1-9", 3600);
  expect(twice.get("event_id")).toBe("run1-9");
  addEventVars({ event: "nak", vars: twice, answer: null, query: null }, AT + 1000, "run1-10", 3600);
  expect(twice.get("event_id")).toBe("run1-10");
  expect(twice.get("answer_mask")).toBe("255.255.255.0");
  const plain = extractVariables(msg(1));
  addEventVars({ event: "offer", vars: plain, answer, query: "offer_1" }, AT, "run1-9", 3600);
  addEventVars({ event: "nak", vars: plain, answer: null, query: null }, AT + 1000, "run1-10", 3600);
  expect([...twice]).toEqual([...plain]);
});

const EVENT_NAMES_ALL = ["event", "event_time", "event_unixtime", "event_id", "answer_ip", "answer_mask", "answer_router", "answer_dns", "answer_lease_time", "answer_query"];
