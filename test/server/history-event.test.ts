/**
 * The answer and event variables a history statement sees, per event.
 */
import { expect, test } from "bun:test";
import type { Answer } from "../../src/core/answer.ts";
import { addEventVars } from "../../src/server/history-event.ts";

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
