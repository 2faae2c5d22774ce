// Percentiles and latency histograms for the simulator's summary and the load bench. Pure.

/** Nearest-rank percentile (p in 0..100) of unsorted values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export interface Distribution {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? null : values.reduce((a, b) => Math.max(a, b)),
  };
}

/**
 * A latency histogram as the worker's call summary reports it: `bounds` ascending, `counts` one longer
 * than `bounds`, the last count being the samples over the last bound. Each other count is either the
 * samples in (bounds[i-1], bounds[i]] ("per bucket") or the samples <= bounds[i] ("cumulative"); see
 * `bucketCounts`.
 */
export interface Histogram {
  bounds: number[];
  counts: number[];
}

/**
 * The per-bucket counts of a histogram whose total is `count`. Both spellings are accepted because the
 * format's one-line description reads either way: per-bucket counts sum to `count`; cumulative counts
 * never decrease and their last bounded count plus the overflow count equals `count`.
 */
export function bucketCounts(h: Histogram, count: number): number[] {
  if (h.counts.length !== h.bounds.length + 1) {
    throw new Error(
      `histogram has ${h.bounds.length} bounds but ${h.counts.length} counts (want bounds + 1)`,
    );
  }
  const sum = h.counts.reduce((a, b) => a + b, 0);
  if (sum === count) return [...h.counts];
  const bounded = h.counts.slice(0, -1);
  const nonDecreasing = bounded.every((c, i) => i === 0 || c >= (bounded[i - 1] as number));
  const overflow = h.counts[h.counts.length - 1] as number;
  if (nonDecreasing && (bounded[bounded.length - 1] ?? 0) + overflow === count) {
    return [...bounded.map((c, i) => c - (i === 0 ? 0 : (bounded[i - 1] as number))), overflow];
  }
  throw new Error(`histogram counts fit neither per-bucket nor cumulative counting of ${count} samples`);
}

/** Adds histograms with identical bounds (per-bucket counts); null when given none. */
export function mergeHistograms(parts: readonly { bounds: number[]; buckets: number[] }[]): {
  bounds: number[];
  buckets: number[];
} | null {
  const first = parts[0];
  if (first === undefined) return null;
  const buckets = new Array<number>(first.buckets.length).fill(0);
  for (const part of parts) {
    if (part.bounds.length !== first.bounds.length || part.bounds.some((b, i) => b !== first.bounds[i])) {
      throw new Error("cannot merge latency histograms with different bounds");
    }
    part.buckets.forEach((c, i) => {
      buckets[i] = (buckets[i] as number) + c;
    });
  }
  return { bounds: [...first.bounds], buckets };
}

/**
 * Nearest-rank percentile from per-bucket counts, reported as the upper bound of the bucket it falls in
 * (an upper estimate: the histogram cannot say where inside the bucket). Samples over the last bound
 * report `overflowValue` (e.g. the largest `max` seen), or Infinity without one.
 */
export function histogramPercentile(
  bounds: readonly number[],
  buckets: readonly number[],
  p: number,
  overflowValue = Number.POSITIVE_INFINITY,
): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] as number;
    if (seen >= rank) return i < bounds.length ? (bounds[i] as number) : overflowValue;
  }
  return overflowValue;
}
