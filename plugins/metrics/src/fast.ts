/**
 * Counters and histograms for the per-request path. prom-client's own hash and validate their
 * label object on every call (about 2-3 µs each, and a request touches ten of them); these keep
 * one series per label-value tuple, found through one Map per label (no key string joined and
 * hashed per call: the values are mostly the same configured strings, whose hashes V8 keeps),
 * and hand prom-client the same `get()` shape its own metrics do, so the registry renders them
 * and its cluster aggregator sums them like any other metric.
 */
import type { Registry } from 'prom-client';

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** Label value -> the next label's index, or (at the last label) the series. */
type Index<S> = Map<string, Index<S> | S>;

abstract class FastMetric<S> {
  /** Every series, in the order first used (the order `get()` lists them). */
  protected readonly series: S[] = [];
  private readonly index: Index<S> = new Map();
  private only: S | undefined;
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], registry: Registry) {
    registry.registerMetric(this as never);
  }

  /** The series of these label values (in `labelNames` order; a missing one is ''), made on first use. */
  protected at(values: readonly string[]): S {
    const last = this.labelNames.length - 1;
    if (last < 0) return this.only ??= this.add(values);
    let node = this.index;
    for (let i = 0; i < last; i++) {
      const v = values[i] ?? '';
      let next = node.get(v) as Index<S> | undefined;
      if (!next) { next = new Map(); node.set(v, next); }
      node = next;
    }
    const v = values[last] ?? '';
    let s = node.get(v) as S | undefined;
    if (!s) { s = this.add(values); node.set(v, s); }
    return s;
  }

  private add(values: readonly string[]): S {
    const labels: Record<string, string> = {};
    for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = values[i] ?? '';
    const s = this.make(labels);
    this.series.push(s);
    return s;
  }

  protected abstract make(labels: Record<string, string>): S;
  abstract get(): Promise<{ name: string; help: string; type: string; values: Value[]; aggregator: string }>;
}

interface CounterSeries { labels: Record<string, string>; value: number }

export class FastCounter extends FastMetric<CounterSeries> {
  readonly type = 'counter' as const;
  protected make(labels: Record<string, string>): CounterSeries { return { labels, value: 0 }; }

  /** Add `by` (default 1; ignored unless positive and finite). */
  inc(values: readonly string[], by = 1): void {
    if (!(by > 0) || by === Infinity) return;
    this.at(values).value += by;
  }

  async get() {
    const values: Value[] = [];
    for (const s of this.series) values.push({ labels: { ...s.labels }, value: s.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

interface HistogramSeries { labels: Record<string, string>; counts: Float64Array; sum: number; count: number }

export class FastHistogram extends FastMetric<HistogramSeries> {
  readonly type = 'histogram' as const;
  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
  }

  protected make(labels: Record<string, string>): HistogramSeries {
    return { labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
  }

  observe(values: readonly string[], v: number): void {
    if (!Number.isFinite(v)) return;
    const s = this.at(values);
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) if (v <= b[i]!) { s.counts[i]! += 1; break; }
    s.sum += v;
    s.count += 1;
  }

  async get() {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { ...s.labels, le: this.buckets[i]! }, value: acc, metricName: bucket });
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
