// Latency from a frame's arrival to the service's acknowledgement, as a fixed-bucket histogram: cheap to
// add to per batch, mergeable across calls (the load bench and Analytics Engine add them up).

/** Upper bounds of the buckets, in ms; one more bucket counts what lies above the last. */
export const LATENCY_BOUNDS_MS = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] as const;

export interface LatencySummary {
  count: number;
  /** Upper bound of the bucket holding the median, ms (null when empty). */
  p50: number | null;
  p99: number | null;
  max: number | null;
  histogram: { bounds: number[]; counts: number[] };
}

export class LatencyHistogram {
  private readonly counts: number[] = new Array(LATENCY_BOUNDS_MS.length + 1).fill(0);
  private n = 0;
  private maxMs = 0;

  add(ms: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > (LATENCY_BOUNDS_MS[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n += 1;
    this.maxMs = Math.max(this.maxMs, ms);
  }

  summary(): LatencySummary {
    return {
      count: this.n,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      max: this.n > 0 ? this.maxMs : null,
      histogram: { bounds: [...LATENCY_BOUNDS_MS], counts: [...this.counts] },
    };
  }

  /** The bucket bound below which a fraction q of the samples lie (the max for the open last bucket). */
  private quantile(q: number): number | null {
    if (this.n === 0) return null;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return Math.min(LATENCY_BOUNDS_MS[i] ?? this.maxMs, this.maxMs);
    }
    return this.maxMs;
  }
}
