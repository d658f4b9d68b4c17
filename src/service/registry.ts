/**
 * A tiny Prometheus registry: counters, gauges and fixed-bucket histograms
 * with labels, rendered in the text exposition format 0.0.4.
 *
 * Hot path: `metric.labels("DISCOVER")` resolves (and creates) a child once,
 * with its label text rendered once; callers keep the child and call
 * `inc()` / `observe()`, which touch numbers only.
 */

export type MetricKind = "counter" | "gauge" | "histogram";

/** HELP text escapes backslash and newline (exposition format 0.0.4). */
export function escapeHelp(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Label values escape backslash, double quote and newline. */
export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Sample values as Go's ParseFloat reads them: +Inf, -Inf, NaN, else JS number text. */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function labelText(names: readonly string[], values: readonly string[], extra = ""): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
  if (extra !== "") parts.push(extra);
  return parts.length === 0 ? "" : "{" + parts.join(",") + "}";
}

abstract class Metric<Child> {
  private readonly children = new Map<string, Child>();
  private readonly order: { labels: string[]; child: Child }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME_RE.test(name)) throw new Error(`Cannot register metric: bad name ${JSON.stringify(name)}`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith("__") || l === "le") {
        throw new Error(`Cannot register metric ${name}: bad label name ${JSON.stringify(l)}`);
      }
    }
  }

  abstract readonly kind: MetricKind;
  protected abstract make(labels: readonly string[]): Child;
  protected abstract renderChild(child: Child, labels: readonly string[], out: string[]): void;

  /** The child for these label values, created on first use. Keep it; do not call per packet. */
  labels(...values: string[]): Child {
    if (values.length !== this.labelNames.length) {
      throw new Error(`Cannot resolve ${this.name}: ${values.length} label values for ${this.labelNames.length} labels`);
    }
    const key = values.join("\u0000");
    let c = this.children.get(key);
    if (c === undefined) {
      c = this.make(values);
      this.children.set(key, c);
      this.order.push({ labels: values.slice(), child: c });
    }
    return c;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.kind}`);
    for (const { labels, child } of this.order) this.renderChild(child, labels, out);
  }
}

export class CounterChild {
  value = 0;
  constructor(readonly labelText: string) {}
  /** Adds n (default 1); negative amounts are ignored (counters only go up). */
  inc(n = 1): void {
    if (n > 0) this.value += n;
  }
}

export class Counter extends Metric<CounterChild> {
  readonly kind = "counter";
  protected make(labels: readonly string[]) {
    return new CounterChild(labelText(this.labelNames, labels));
  }
  protected renderChild(c: CounterChild, _l: readonly string[], out: string[]) {
    out.push(`${this.name}${c.labelText} ${formatValue(c.value)}`);
  }
}

export class GaugeChild {
  value = 0;
  constructor(readonly labelText: string) {}
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class Gauge extends Metric<GaugeChild> {
  readonly kind = "gauge";
  protected make(labels: readonly string[]) {
    return new GaugeChild(labelText(this.labelNames, labels));
  }
  protected renderChild(c: GaugeChild, _l: readonly string[], out: string[]) {
    out.push(`${this.name}${c.labelText} ${formatValue(c.value)}`);
  }
}

export class HistogramChild {
  /** per-bucket counts, not cumulative; the last slot is +Inf */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class Histogram extends Metric<HistogramChild> {
  readonly kind = "histogram";
  readonly bounds: Float64Array;
  private readonly leText: string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`Cannot register histogram ${name}: buckets must increase`);
    }
    const finite = buckets.filter((b) => b !== Infinity);
    this.bounds = Float64Array.from(finite);
    this.leText = [...finite.map(formatValue), "+Inf"];
  }

  protected make() {
    return new HistogramChild(this.bounds);
  }

  protected renderChild(c: HistogramChild, labels: readonly string[], out: string[]) {
    let cum = 0;
    for (let i = 0; i < c.counts.length; i++) {
      cum += c.counts[i]!;
      out.push(`${this.name}_bucket${labelText(this.labelNames, labels, `le="${this.leText[i]}"`)} ${formatValue(cum)}`);
    }
    const lt = labelText(this.labelNames, labels);
    out.push(`${this.name}_sum${lt} ${formatValue(c.sum)}`, `${this.name}_count${lt} ${formatValue(c.count)}`);
  }
}

export class Registry {
  private readonly metrics: Metric<unknown>[] = [];
  private readonly names = new Set<string>();
  private readonly hooks: (() => void)[] = [];

  private add<M extends Metric<unknown>>(m: M): M {
    if (this.names.has(m.name)) throw new Error(`Cannot register metric ${m.name}: already registered`);
    this.names.add(m.name);
    this.metrics.push(m);
    return m;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs before each exposition: refresh gauges read from elsewhere (lease count...). */
  onCollect(fn: () => void): void {
    this.hooks.push(fn);
  }

  /** The whole registry in text format 0.0.4, ending in a newline. */
  expose(): string {
    for (const h of this.hooks) {
      try {
        h();
      } catch {
        // a failing refresh must not take /metrics down; the old values stand
      }
    }
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return out.join("\n") + "\n";
  }
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
