/**
 * A runtime on a throwaway SQLite database with the answer cache on and a
 * clock the test moves: what the answer-cache and query-memo tests share.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import type { Backend } from "../../src/db/backend.ts";
import { openBackend } from "../../src/db/open.ts";
import { AnswerCache, type CacheResult } from "../../src/server/answer-cache.ts";
import { LeaseMemory } from "../../src/server/leases.ts";
import { buildRuntime, type Runtime } from "../../src/server/runtime.ts";
import { memoryLog } from "./mariadb.ts";

export interface CacheRigOptions {
  /** offer_1..offer_N */
  offers: string[];
  maxEntries: number;
  /** rows of `users`: [ip, mac], port '' */
  users: [string, string][];
  /** the cache's clock, ms */
  now: () => number;
  /** each lookup's cache result */
  count: (r: CacheResult) => void;
  /** more config inside <config> (e.g. <pools>) */
  extra?: string;
}

export interface CacheRig {
  dir: string;
  backend: Backend;
  /** the test's own handle on the database */
  db: Database;
  rt: Runtime;
  cache: AnswerCache;
  close(): Promise<void>;
}

export function cacheConfigXml(path: string, o: Pick<CacheRigOptions, "offers" | "maxEntries" | "extra">): string {
  const offers = o.offers.map((q, i) => `    <offer_${i + 1}>${q}</offer_${i + 1}>`).join("\n");
  return `<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host><broadcast>127.0.0.1</broadcast><DHCPServer>198.18.0.1</DHCPServer>
    <LeaseTime>600</LeaseTime><ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database><sqlite><path>${path}</path></sqlite></database>
  <query>
    <offer_count>${o.offers.length}</offer_count>
${offers}
  </query>
  <answerCache><ttl>5</ttl><maxEntries>${o.maxEntries}</maxEntries></answerCache>
  ${o.extra ?? ""}
</config>`;
}

export async function openCacheRig(o: CacheRigOptions): Promise<CacheRig> {
  const dir = mkdtempSync(join(tmpdir(), `pdc-cache-${process.pid}-`));
  const path = join(dir, "t.db");
  const cfgPath = join(dir, "config.xml");
  const xml = cacheConfigXml(path, o);
  writeFileSync(cfgPath, xml);
  const loaded = parseConfig(xml, cfgPath);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const config = loaded.config;
  const log = memoryLog();
  const backend = await openBackend(config.database, log);
  const db = new Database(path);
  for (const [ip, mac] of o.users) {
    db.run("insert into users (ip, mask, router, dns, mac, port) values (?, '255.255.255.0', '198.18.0.1', '198.18.0.53', ?, '')", [ip, mac]);
  }
  const cache = new AnswerCache(config.answerCache, o.count, o.now);
  const rt = await buildRuntime({ config, backend, leases: new LeaseMemory(backend.leases, log), cache, log });
  return {
    dir,
    backend,
    db,
    rt,
    cache,
    close: async () => {
      db.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
