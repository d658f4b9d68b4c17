/**
 * A strict reader of the Prometheus text format 0.0.4, for tests: it throws on
 * any line a scraper would reject, so the tests read back what a scraper reads.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE_RE = new RegExp(`^(${NAME})(\\{(.*)\\})? (\\S+)$`);

function parseValue(s: string): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${s}`);
  return Number(s);
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!m) throw new Error(`bad label at ${i} in ${s}`);
    i += m[0].length;
    let v = "";
    for (;;) {
      const c = s[i++];
      if (c === undefined) throw new Error(`unterminated label value in ${s}`);
      if (c === '"') break;
      if (c === "\n") throw new Error("raw newline in label value");
      if (c === "\\") {
        const e = s[i++];
        if (e === "\\") v += "\\";
        else if (e === '"') v += '"';
        else if (e === "n") v += "\n";
        else throw new Error(`bad escape \\${e} in ${s}`);
      } else v += c;
    }
    if (m[1]! in out) throw new Error(`duplicate label ${m[1]}`);
    out[m[1]!] = v;
    if (s[i] === ",") i++;
    else if (i !== s.length) throw new Error(`expected , at ${i} in ${s}`);
  }
  return out;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c) => (c === "n" ? "\n" : "\\"));
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const fams = new Map<string, Family>();
  let cur: Family | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      if (fams.has(help[1]!)) throw new Error(`family ${help[1]} twice`);
      cur = { name: help[1]!, help: unescapeHelp(help[2]!), type: "untyped", samples: [] };
      fams.set(cur.name, cur);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (!cur || cur.name !== type[1] || cur.samples.length) throw new Error(`TYPE out of place: ${line}`);
      cur.type = type[2]!;
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    if (!m || !cur) throw new Error(`bad line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const base = cur.type === "histogram" ? name.replace(/_(bucket|sum|count)$/, "") : name;
    if (base !== cur.name) throw new Error(`sample ${name} outside its family ${cur.name}`);
    cur.samples.push({ name, labels: parseLabels(m[3] ?? ""), value: parseValue(m[4]!) });
  }
  return fams;
}
