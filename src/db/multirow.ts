/**
 * Batched history writes as multi-row INSERTs. pydhcpdb's history_sql is a
 * single-row `INSERT ... VALUES (...)`; a batch of N rows written as one
 * statement with N value tuples (all still bound parameters) costs one round
 * trip instead of N. Chunk sizes are fixed so the server holds at most a few
 * prepared statements per query.
 */

export const CHUNKS = [64, 16, 4, 1] as const;

/**
 * Splits a single-row INSERT into its head (`INSERT INTO t (a, b) VALUES`)
 * and its one value tuple (`(?, now(), ?)`), or null when the statement is
 * anything else (several tuples, ON DUPLICATE KEY, SELECT, ...).
 */
export function splitSingleRowInsert(sql: string): { head: string; tuple: string } | null {
  const m = /^\s*(insert\s+(?:ignore\s+)?into\s+[\s\S]+?\bvalues)\s*\(/i.exec(sql);
  if (!m) return null;
  const start = m[0].length - 1;
  let depth = 0;
  let quote = "";
  for (let i = start; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) {
      // the tuple must end the statement (an optional ; aside)
      if (!/^\s*;?\s*$/.test(sql.slice(i + 1))) return null;
      return { head: m[1]!, tuple: sql.slice(start, i + 1) };
    }
  }
  return null;
}

/** The statement for `n` rows. */
export function multiRowSql(parts: { head: string; tuple: string }, n: number): string {
  return `${parts.head} ${Array.from({ length: n }, () => parts.tuple).join(", ")}`;
}

/** How a run of `n` rows is cut into fixed chunk sizes, largest first. */
export function chunkSizes(n: number): number[] {
  const out: number[] = [];
  for (const c of CHUNKS) while (n >= c) out.push(c), (n -= c);
  return out;
}
