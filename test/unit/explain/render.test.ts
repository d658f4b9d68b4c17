/**
 * The explanation text, from values alone: each decision the handler can
 * reach, rows shown and counted, hostile values escaped, option 82 shown by
 * sub-option and marked when echoed.
 */
import { describe, expect, test } from "bun:test";
import type { DhcpMessage } from "../../../src/codec/message.ts";
import { describeRelayAgentInfo, renderExplanation, type Explanation, type ExplainedQuery } from "../../../src/server/explain-render.ts";
import type { Outcome } from "../../../src/core/exchange.ts";

const RAI = Uint8Array.from(Buffer.from("010600040001000602080006001e589eb2ad", "hex"));

function request(o: Partial<DhcpMessage> = {}): DhcpMessage {
  const chaddr = new Uint8Array(16);
  chaddr.set([0x08, 0x00, 0x27, 0x05, 0x9e, 0xd0]);
  return {
    op: 1, htype: 1, hlen: 6, hops: 1, xid: 0xabcdef01, secs: 0, flags: 0,
    ciaddr: "0.0.0.0", yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "198.18.20.1",
    chaddr, sname: new Uint8Array(64), file: new Uint8Array(128),
    options: new Map([[53, Uint8Array.of(1)], [82, RAI]]),
    ...o,
  };
}

const q = (name: string, rows: ExplainedQuery["rows"], error: string | null = null): ExplainedQuery => ({
  name, sql: "select ip from users where mac=?", names: ["sw_mac"], params: ["001e589eb2ad"], rows, error, ms: 0.5,
});

function explain(outcome: Outcome, ran: ExplainedQuery[], more: Partial<Explanation> = {}): string {
  return renderExplanation({
    msg: request(),
    type: 1,
    vars: new Map([["sw_mac", "001e589eb2ad"], ["profile", "dlink"]]),
    configured: ["offer_1", "offer_2", "offer_3"],
    ran,
    outcome,
    dest: null,
    encoded: null,
    ...more,
  });
}

describe("renderExplanation", () => {
  test("no match lists every query tried and says there is no reply", () => {
    const out = explain({ kind: "silent", reason: "no-match", note: "no query matched" }, [q("offer_1", []), q("offer_2", []), q("offer_3", [])]);
    expect(out).toStartWith("packet: DISCOVER from 08:00:27:05:9e:d0 via relay 198.18.20.1, xid abcdef01\n  option 82: circuit-id 000400010006, remote-id 0006001e589eb2ad  (profile dlink)\n\nvariables:\n  profile = dlink\n  sw_mac  = 001e589eb2ad\n");
    expect(out).toContain("  offer_2  no rows  0.50 ms\n    sql:    select ip from users where mac=?\n    values: [\"001e589eb2ad\"]\n    from:   {sw_mac} = 001e589eb2ad\n");
    expect(out).toEndWith("decision: no query matched (tried offer_1, offer_2, offer_3); no reply\nreply: none\n");
  });

  test("a failing query ends the chain: the error and the queries not run", () => {
    const out = explain({ kind: "silent", reason: "db-error", note: "timeout after 2000 ms", query: "offer_1" }, [q("offer_1", null, "timeout after 2000 ms")]);
    expect(out).toContain("  offer_1  FAILED  0.50 ms\n");
    expect(out).toContain("    error:  timeout after 2000 ms\n");
    expect(out).toContain("  not run: offer_2, offer_3\n");
    expect(out).toContain("decision: offer_1 failed; no reply: timeout after 2000 ms\n");
  });

  test("rows beyond five are counted, not printed; hostile text is escaped", () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ ip: `192.0.2.${i}`, note: i === 0 ? "\x1b[2Jevil\n" : "" }));
    const out = explain({ kind: "silent", reason: "bad-answer", note: "ip \"x\" is not an IPv4 address", query: "offer_1" }, [q("offer_1", rows, "ip is not an IPv4 address")]);
    expect(out).toContain("  offer_1  FAILED  0.50 ms\n");
    expect(out.match(/ {4}row: {4}/g)!.length).toBe(5);
    expect(out).toContain("    ... 2 more rows\n");
    expect(out).not.toContain("\x1b");
    expect(out).toContain("decision: no reply (bad-answer, query offer_1): ");
  });

  test("a reply: destination, header, options with option 82 marked as echoed", () => {
    const reply = request({ op: 2, yiaddr: "192.168.0.77", options: new Map([[53, Uint8Array.of(2)], [54, Uint8Array.of(192, 168, 0, 71)], [3, Uint8Array.of(192, 168, 0, 1, 192, 168, 0, 2)], [82, RAI]]) });
    const out = explain(
      { kind: "reply", reply, type: 2, query: "offer_2", ip: "192.168.0.77", note: "offer" },
      [q("offer_1", []), q("offer_2", [{ ip: "192.168.0.77" }])],
      { dest: { address: "198.18.20.1", port: 67, setBroadcastFlag: false, why: "relay" }, encoded: { ok: true, size: 300 }, size: 300, sender: "198.18.20.1:67" },
    );
    expect(out).toStartWith("packet: DISCOVER from 08:00:27:05:9e:d0 via relay 198.18.20.1 (sender 198.18.20.1:67), 300 bytes, xid abcdef01\n");
    expect(out).toMatch(/ {2}offer_2 {2}1 row {2}0\.50 ms {2}<- decided\n/);
    expect(out).toContain("  not run: offer_3\n");
    expect(out).toContain("decision: offer_2 matched: 192.168.0.77 (offer)\nreply: OFFER 192.168.0.77 to 198.18.20.1:67 (relay), 300 bytes\n");
    expect(out).toContain("  yiaddr 192.168.0.77  ciaddr 0.0.0.0  siaddr 0.0.0.0  giaddr 198.18.20.1  flags 0000\n");
    expect(out).toContain("     53 dhcp-message-type        2 (DHCPOFFER)\n");
    expect(out).toContain("      3 routers                  192.168.0.1, 192.168.0.2\n");
    expect(out).toContain("     82 dhcp-agent-options       circuit-id 000400010006, remote-id 0006001e589eb2ad  (echoed from the request, RFC 3046 2.2)\n");
  });

  test("an answer from lease memory and a NAK through a relay", () => {
    const ack = request({ op: 2, yiaddr: "192.168.0.77", options: new Map([[53, Uint8Array.of(5)]]) });
    const mem = explain({ kind: "reply", reply: ack, type: 5, query: "lease memory", ip: "192.168.0.77", note: "database unavailable: connect ECONNREFUSED" }, [q("offer_1", null, "connect ECONNREFUSED")]);
    expect(mem).toContain('decision: answered from lease memory: database unavailable: connect ECONNREFUSED\n');
    const nak = request({ op: 2, options: new Map([[53, Uint8Array.of(6)]]) });
    const out = explain({ kind: "reply", reply: nak, type: 6, query: null, ip: null, note: "subscriber no longer matches" }, [q("offer_1", [])], {
      dest: { address: "198.18.20.1", port: 67, setBroadcastFlag: true, why: "relay" },
    });
    expect(out).toContain('decision: NAK without a query: subscriber no longer matches\nreply: NAK to 198.18.20.1:67 (relay)\n');
    expect(out).toContain("flags 0000 (+ broadcast bit)\n");
  });

  test("describeRelayAgentInfo: names, unknown codes, empty and malformed values", () => {
    expect(describeRelayAgentInfo(Uint8Array.of(5, 4, 198, 18, 20, 0, 19, 0, 200, 1, 0xaa))).toBe("link-selection c6121400, relay-source-port (empty), sub-option 200 aa");
    expect(describeRelayAgentInfo(Uint8Array.of(1, 9, 0))).toStartWith("010900 (malformed: ");
  });
});
