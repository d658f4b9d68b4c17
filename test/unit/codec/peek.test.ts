/**
 * peekMessageType agrees with the decoder on real packets and on every
 * truncation of one, and never reads past the end.
 */
import { expect, test } from "bun:test";
import { decode } from "../../../src/codec/decode.ts";
import { peekMessageType } from "../../../src/codec/peek.ts";
import { buildRequest } from "../../support/client.ts";

test("the type of each message, as the decoder reads it", () => {
  for (const type of [1, 3, 4, 7, 8]) {
    const b = buildRequest({ type, mac: "0c0100000001", xid: 7, options: [[82, Uint8Array.of(1, 2, 0, 1)]] });
    const d = decode(b);
    expect(d.ok).toBe(true);
    expect(peekMessageType(b)).toBe(type);
  }
});

test("option 53 after pads and other options; absent, bad length, no cookie, truncated: 0", () => {
  const base = buildRequest({ type: 1, mac: "0c0100000001", xid: 7 });
  const head = base.slice(0, 240);
  const withOpts = (...opts: number[]) => Uint8Array.from([...head, ...opts]);
  expect(peekMessageType(withOpts(0, 0, 12, 2, 65, 66, 53, 1, 3, 255))).toBe(3);
  expect(peekMessageType(withOpts(12, 2, 65, 66, 255))).toBe(0);
  expect(peekMessageType(withOpts(53, 2, 3, 3, 255))).toBe(0);
  expect(peekMessageType(withOpts(53, 1))).toBe(0);
  expect(peekMessageType(withOpts(12, 200, 1))).toBe(0);
  const noCookie = withOpts(53, 1, 3, 255);
  noCookie[236] = 0;
  expect(peekMessageType(noCookie)).toBe(0);
  for (let n = 0; n < base.length; n++) {
    const t = peekMessageType(base.subarray(0, n));
    expect(t === 0 || t === 1).toBe(true);
  }
});
