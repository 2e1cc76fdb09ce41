import type { IntDistributionSummary } from './types.js';

/**
 * Counts of small non-negative integers with weights (e.g. a batch size held for k steps is added
 * once with weight k). O(max value) memory. Percentiles are order statistics (the smallest value
 * whose cumulative weight reaches the quantile), exact.
 */
export class WeightedIntDistribution {
  private counts = new Float64Array(256);
  private maxSeen = -1;
  private total = 0;
  private weightedSum = 0;

  add(value: number, weight = 1): void {
    if (weight <= 0) return;
    if (value >= this.counts.length) this.grow(value);
    this.counts[value]! += weight;
    this.total += weight;
    this.weightedSum += value * weight;
    if (value > this.maxSeen) this.maxSeen = value;
  }

  private grow(value: number): void {
    let size = this.counts.length;
    while (size <= value) size *= 2;
    const next = new Float64Array(size);
    next.set(this.counts);
    this.counts = next;
  }

  merge(other: WeightedIntDistribution): void {
    for (let v = 0; v <= other.maxSeen; v++) {
      const c = other.counts[v]!;
      if (c > 0) this.add(v, c);
    }
  }

  get count(): number {
    return this.total;
  }

  /** Smallest value whose cumulative weight is ≥ q × total (q in [0, 1]). */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const target = q * this.total;
    let cum = 0;
    for (let v = 0; v <= this.maxSeen; v++) {
      cum += this.counts[v]!;
      if (cum >= target && cum > 0) return v;
    }
    return this.maxSeen;
  }

  summary(): IntDistributionSummary {
    const histogram: [number, number][] = [];
    let distinct = 0;
    for (let v = 0; v <= this.maxSeen; v++) if (this.counts[v]! > 0) distinct++;
    if (distinct <= 64) {
      for (let v = 0; v <= this.maxSeen; v++) if (this.counts[v]! > 0) histogram.push([v, this.counts[v]!]);
    } else {
      // power-of-two buckets [0], [1], [2,3], [4,7], … keyed by their low end
      let low = 0;
      let high = 0;
      while (low <= this.maxSeen) {
        let c = 0;
        for (let v = low; v <= Math.min(high, this.maxSeen); v++) c += this.counts[v]!;
        if (c > 0) histogram.push([low, c]);
        low = high + 1;
        high = low * 2 - 1;
      }
    }
    return {
      count: this.total,
      mean: this.total === 0 ? NaN : this.weightedSum / this.total,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.total === 0 ? NaN : this.maxSeen,
      histogram,
    };
  }
}
