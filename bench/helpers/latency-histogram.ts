// A latency histogram for the benchmarks' JSON output: log-spaced buckets (8 per decade, 1 µs to
// 100 s), so a chart shows the shape of the distribution (the fdatasync mode, the group-commit
// wait, the tail) that a mean or two percentiles hide. Recording is one loop over ~65 bounds per
// sample, far below the cost of the durable commit it times.

/** Upper bounds of the buckets, in µs: 10^(k/8) rounded to 3 significant digits, k = 0..64. */
const BOUNDS_US: readonly number[] = Array.from({ length: 65 }, (_, k) =>
  Number((10 ** (k / 8)).toPrecision(3)),
);

/**
 * One bucket of a histogram JSON line. `le_us` is the bucket's upper bound in µs (`null`: above
 * the last bound, 100 s); `count` is the samples in (previous bucket's `le_us`, `le_us`]: not
 * cumulative, unlike Prometheus's `le` buckets.
 */
export interface HistogramBucket {
  le_us: number | null;
  count: number;
}

/** The benchmarks' histogram line: `value` is the number of samples, `unit` is `'histogram'`. */
export interface HistogramLine {
  name: string;
  value: number;
  unit: 'histogram';
  buckets: HistogramBucket[];
}

export class LatencyHistogram {
  private readonly counts = new Array<number>(BOUNDS_US.length + 1).fill(0);
  private total = 0;

  /** Records one sample of `ns` nanoseconds. */
  record(ns: number): void {
    const us = ns / 1000;
    let i = 0;
    while (i < BOUNDS_US.length && us > BOUNDS_US[i]!) i++;
    this.counts[i]!++;
    this.total++;
  }

  /** The JSON line, buckets from the first non-empty one to the last (none when no samples). */
  toLine(name: string): HistogramLine {
    const first = this.counts.findIndex((c) => c > 0);
    const last = this.counts.findLastIndex((c) => c > 0);
    const buckets: HistogramBucket[] = [];
    if (first >= 0)
      for (let i = first; i <= last; i++)
        buckets.push({ le_us: BOUNDS_US[i] ?? null, count: this.counts[i]! });
    return { name, value: this.total, unit: 'histogram', buckets };
  }

  /** Upper bound (µs) of the bucket holding quantile `q` (0..1); `null` above 100 s or when empty. */
  quantileUpperBoundUs(q: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= Math.max(1, rank)) return BOUNDS_US[i] ?? null;
    }
    return null;
  }
}
