/**
 * config.example.xml says every extension tag in it shows the default. Load
 * it, and a copy with those tags removed: the values must be the same.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";

const REPO = join(import.meta.dir, "../..");
const path = join(REPO, "config.example.xml");
const example = readFileSync(path, "utf8");

/** The extension elements the example spells out with their default values. */
const EXTENSIONS = [
  /<port>67<\/port>/,
  /<clientPort>68<\/clientPort>/,
  /<queueLimit>1000<\/queueLimit>/,
  /<timeout>2000<\/timeout>/,
  /<log>[\s\S]*?<\/log>/,
  /<leases>[\s\S]*?<\/leases>/,
  /<history>[\s\S]*?<\/history>/,
  /<rateLimit>[\s\S]*?<\/rateLimit>/,
];

const pick = (c: Config) => ({
  port: c.server.port,
  clientPort: c.server.clientPort,
  queueLimit: c.server.queueLimit,
  queryTimeoutMs: c.queryTimeoutMs,
  log: c.log,
  leases: c.leases,
  historyRetentionDays: c.historyRetentionDays,
  spoolPath: c.spoolPath,
  rateLimit: c.rateLimit,
});

test("config.example.xml's extension values are the defaults", () => {
  let bare = example;
  for (const re of EXTENSIONS) {
    const next = bare.replace(re, "");
    expect({ re: String(re), found: next !== bare }).toEqual({ re: String(re), found: true });
    bare = next;
  }
  const a = parseConfig(example, path);
  const b = parseConfig(bare, path);
  if (!a.ok || !b.ok) throw new Error(JSON.stringify([a, b]));
  expect(pick(a.config)).toEqual(pick(b.config));
});
