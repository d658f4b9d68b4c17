/**
 * Imports point down: no two modules import each other (even for types),
 * db/ does not know config/, and the pure core (core/, codec/, options/,
 * option82/, variables/) knows nothing of databases, configs, sockets or
 * the CLI. Read from the source text, so a new cycle fails here first.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** src-relative path -> the src-relative paths it imports (static, dynamic, type-only, re-exports). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  const spec = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (const f of files(SRC)) {
    const text = readFileSync(f, "utf8");
    const deps = new Set<string>();
    for (const m of text.matchAll(spec)) {
      const target = resolve(dirname(f), m[1]!);
      if (target.startsWith(SRC + "/")) deps.add(relative(SRC, target));
    }
    g.set(relative(SRC, f), [...deps]);
  }
  return g;
}

/** Every cycle's members (Tarjan's strongly connected components of size > 1, or a self-import). */
export function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const G = graph();

test("the cycle finder finds a cycle (it can fail)", () => {
  expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toEqual([["a", "b", "c"]]);
  expect(cycles(new Map([["a", ["b"]], ["b", []]]))).toEqual([]);
});

test("no import cycles in src/", () => {
  expect(G.size).toBeGreaterThan(50);
  expect(cycles(G)).toEqual([]);
});

/** [directory, directories it must not import] */
const LAYERS: readonly [string, readonly string[]][] = [
  ["db/", ["config/", "server/", "cli/", "service/"]],
  ["core/", ["db/", "config/", "server/", "cli/", "service/", "log/"]],
  ["codec/", ["core/", "db/", "config/", "server/", "cli/", "service/", "variables/", "option82/"]],
  ["options/", ["core/", "db/", "config/", "server/", "cli/", "service/"]],
  ["option82/", ["core/", "db/", "config/", "server/", "cli/", "service/"]],
  ["variables/", ["core/", "db/", "config/", "server/", "cli/", "service/"]],
  ["config/", ["server/", "cli/", "service/"]],
  ["server/", ["cli/"]],
];

for (const [dir, banned] of LAYERS) {
  test(`${dir} imports none of ${banned.join(", ")}`, () => {
    const bad: string[] = [];
    for (const [f, deps] of G) {
      if (!f.startsWith(dir)) continue;
      for (const d of deps) if (banned.some((b) => d.startsWith(b))) bad.push(`${f} -> ${d}`);
    }
    expect(bad).toEqual([]);
  });
}
