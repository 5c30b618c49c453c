/** Small statistics helpers shared by the benchmark processes. */

/** Exact percentiles of a sample (values in ms); nulls when empty. */
export function percentiles(values) {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  const at = (p) => (n ? a[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] : null);
  let sum = 0;
  for (const v of a) sum += v;
  return { count: n, mean: n ? sum / n : null, min: n ? a[0] : null, p50: at(50), p90: at(90), p99: at(99), max: n ? a[n - 1] : null };
}

/** min / median / max of repeated figures (nulls ignored; all null when nothing is left). */
export function spread(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((x, y) => x - y);
  if (!v.length) return { min: null, median: null, max: null, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { min: v[0], median, max: v[v.length - 1], n: v.length };
}
