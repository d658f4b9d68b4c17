/**
 * What handing a history batch to the SQLite writer thread costs the
 * serving thread (sqlite-writer.ts): postMessage of the batch as an object
 * (a structured clone) against as JSON text, with each statement's SQL in
 * every item or once per batch. The worker only parses and answers; the
 * time is the sender's, per post, medians of 5 rounds of 300 posts.
 *
 *   ./node_modules/.bin/bun bench/writer-post.ts
 */
const WORKER = `self.onmessage = (e) => { const m = typeof e.data === "string" ? JSON.parse(e.data) : e.data; postMessage(m.id); };`;
const worker = new Worker(URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" })));

// pydhcpdb's history statement, as the writer holds it
const SQL = "INSERT INTO history (mac, ip, port, switch, created, event) VALUES (?, ?, ?, ?, ?, ?)";
const MARK = "INSERT INTO pydhcp_history_mark (run, seq, at) VALUES (?, ?, ?) ON CONFLICT (run) DO UPDATE SET seq = excluded.seq, at = excluded.at";

type Item = { name: string; sql: string; params: (string | null)[] };
function batch(n: number): { items: Item[]; marks: (string | number)[][] } {
  const items: Item[] = [];
  for (let i = 0; i < n; i++) {
    items.push({ name: "history_sql", sql: SQL, params: [`0025224ad7${(i % 100).toString().padStart(2, "0")}`, `198.18.0.${i % 250}`, "Gi0/1", null, "2026-12-01 21:29:04", "ack"] });
  }
  return { items, marks: [["mi5x2kq0a1f3", n, 1764624544]] };
}

const encodings: Record<string, (b: ReturnType<typeof batch>, id: number) => unknown> = {
  "structured clone": (b, id) => ({ kind: "batch", ...b, id }),
  "JSON text": (b, id) => JSON.stringify({ kind: "batch", ...b, id }),
  "JSON text, SQL once": (b, id) => {
    const stmts: [string, string][] = [];
    const index = new Map<string, number>();
    const items = b.items.map((it) => {
      let k = index.get(it.sql);
      if (k === undefined) index.set(it.sql, (k = stmts.push([it.name, it.sql]) - 1));
      return [k, it.params];
    });
    return JSON.stringify({ kind: "batch", stmts, items, marks: b.marks, id });
  },
};

let pending = 0;
let drained: (() => void) | null = null;
worker.onmessage = () => {
  if (--pending === 0) drained?.();
};

async function round(encode: (b: ReturnType<typeof batch>, id: number) => unknown, b: ReturnType<typeof batch>): Promise<number> {
  let spent = 0;
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    worker.postMessage(encode(b, i));
    spent += performance.now() - t0;
    pending++;
  }
  await new Promise<void>((resolve) => {
    drained = resolve;
    if (pending === 0) resolve();
  });
  return (spent / 300) * 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log("| items per batch | " + Object.keys(encodings).join(" | ") + " |");
console.log("| --- |" + " --- |".repeat(Object.keys(encodings).length));
for (const n of [10, 50, 200]) {
  const b = batch(n);
  const runs = new Map<string, number[]>();
  // interleaved, so a slower stretch of the machine falls on every encoding alike
  for (let r = 0; r < 5; r++) for (const [name, enc] of Object.entries(encodings)) runs.set(name, [...(runs.get(name) ?? []), await round(enc, b)]);
  console.log(`| ${n} | ` + [...runs.values()].map((v) => `${median(v).toFixed(1)} µs`).join(" | ") + " |");
}
worker.terminate();
export {};
