/** --explain's row lines: a binary column reads as hex, as an operator types it in SQL. */
import { expect, test } from "bun:test";
import { rowText } from "../../../src/server/explain-render.ts";

test("a binary column (mysql2 Buffer, bun:sqlite Uint8Array) is shown as 0x-hex; text and numbers as before", () => {
  expect(rowText({ ip: "198.18.0.7", mac: Buffer.from([0x00, 0x25, 0x22, 0x4a, 0xd7, 0x64]), n: 3, none: null })).toBe('{"ip":"198.18.0.7","mac":"0x0025224ad764","n":3,"none":null}');
  expect(rowText({ blob: Uint8Array.of(1, 2, 255) })).toBe('{"blob":"0x0102ff"}');
});
