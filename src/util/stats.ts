/**
 * Exact distribution of non-negative integers (token counts) in O(max value) memory:
 * a growable count array indexed by value. Percentiles are linear-interpolated between
 * order statistics (the same definition as numpy's default `linear`).
 */
export class IntDistribution {
  private counts = new Float64Array(1024);
  private maxSeen = 0;
  count = 0;
  private sumValue = 0;

  add(value: number): void {
    if (value >= this.counts.length) this.grow(value);
    this.counts[value]! += 1;
    this.count += 1;
    this.sumValue += value;
    if (value > this.maxSeen) this.maxSeen = value;
  }

  private grow(value: number): void {
    let size = this.counts.length;
    while (size <= value) size *= 2;
    const next = new Float64Array(size);
    next.set(this.counts);
    this.counts = next;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sumValue / this.count;
  }
  get max(): number {
    return this.count === 0 ? NaN : this.maxSeen;
  }
  get sum(): number {
    return this.sumValue;
  }

  /** Values at the given 0-based order-statistic ranks (ascending ranks), one pass over the counts. */
  private valuesAtRanks(ranks: number[]): number[] {
    const out: number[] = [];
    let cum = 0;
    let i = 0;
    for (let v = 0; v <= this.maxSeen && i < ranks.length; v++) {
      cum += this.counts[v]!;
      while (i < ranks.length && ranks[i]! < cum) {
        out.push(v);
        i++;
      }
    }
    return out;
  }

  /** Linear-interpolated percentiles, q in [0, 1]. */
  quantiles(qs: number[]): number[] {
    if (this.count === 0) return qs.map(() => NaN);
    const ranks: number[] = [];
    for (const q of qs) {
      const h = (this.count - 1) * q;
      ranks.push(Math.floor(h), Math.ceil(h));
    }
    const order = ranks.map((r, k) => [r, k] as const).sort((a, b) => a[0] - b[0]);
    const vals = this.valuesAtRanks(order.map((o) => o[0]));
    const byIndex = new Array<number>(ranks.length);
    order.forEach((o, j) => (byIndex[o[1]] = vals[j]!));
    return qs.map((q, k) => {
      const h = (this.count - 1) * q;
      const lo = byIndex[2 * k]!;
      const hi = byIndex[2 * k + 1]!;
      return lo + (h - Math.floor(h)) * (hi - lo);
    });
  }

  /** Counts in power-of-two buckets [0], [1], [2,3], [4,7], … for histograms. */
  log2Buckets(): { low: number; high: number; count: number }[] {
    const out: { low: number; high: number; count: number }[] = [];
    if (this.count === 0) return out;
    let low = 0;
    let high = 0;
    while (low <= this.maxSeen) {
      let c = 0;
      for (let v = low; v <= Math.min(high, this.maxSeen); v++) c += this.counts[v]!;
      out.push({ low, high, count: c });
      low = high + 1;
      high = low * 2 - 1;
    }
    return out;
  }
}

/** Linear-interpolated percentiles of an array of numbers (sorted in place). */
export function quantilesOf(values: number[] | Float64Array, qs: number[]): number[] {
  if (values.length === 0) return qs.map(() => NaN);
  const sorted = values instanceof Float64Array ? values.sort() : values.sort((a, b) => a - b);
  return qs.map((q) => {
    const h = (sorted.length - 1) * q;
    const lo = sorted[Math.floor(h)]!;
    const hi = sorted[Math.ceil(h)]!;
    return lo + (h - Math.floor(h)) * (hi - lo);
  });
}

/** Running mean and variance (Welford). */
export class RunningMoments {
  n = 0;
  private meanValue = 0;
  private m2 = 0;
  add(x: number): void {
    this.n += 1;
    const d = x - this.meanValue;
    this.meanValue += d / this.n;
    this.m2 += d * (x - this.meanValue);
  }
  get mean(): number {
    return this.n === 0 ? NaN : this.meanValue;
  }
  /** Population standard deviation. */
  get std(): number {
    return this.n === 0 ? NaN : Math.sqrt(this.m2 / this.n);
  }
  /** Coefficient of variation (std / mean). */
  get cv(): number {
    return this.std / this.mean;
  }
}
