import { createRequire } from 'node:module';
import type * as Hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

type HdrModule = typeof Hdr;
let hdrModule: HdrModule | null = null;
/**
 * hdr-histogram-js, loaded on first use: percentiles are computed here, and importing the library
 * costs ~80 ms at startup (it builds Intl number formatters for its log writer).
 */
function build(): Histogram {
  hdrModule ??= createRequire(import.meta.url)('hdr-histogram-js') as HdrModule;
  return hdrModule.build({ numberOfSignificantValueDigits: 3 });
}
import type { LatencyStats } from './types.js';

/**
 * A latency histogram in microseconds: an HDR histogram with 3 significant digits.
 *
 * `hdr-histogram-js`'s recordValue costs ~250 ns (a floating-point log2 per value) and its
 * getValueAtPercentile walks every bucket per call; the engine records five latencies per request.
 * So values below 2^32 µs (71 minutes) are counted here in an array laid out exactly like that
 * library's (2,048 unit sub-buckets, then 1,024 sub-buckets per power of two), and percentiles are
 * read with its definition in one pass — the same numbers it gives (a test checks). `toHdr()`
 * pours the counts into a real `hdr-histogram-js` histogram (to merge, encode or plot). Larger
 * values go straight into one.
 */
const SUB_BUCKETS = 2048;
const HALF = 1024;
/** Buckets 1…21 cover [2^11, 2^32). */
const SIZE = SUB_BUCKETS + 21 * HALF;

/** The spacing of doubles at x (as hdr-histogram-js computes it). */
function ulp(x: number): number {
  return Math.pow(2, Math.floor(Math.log2(x)) - 52);
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(SIZE);
  /** Values of 2^32 µs and more (rare): a real HDR histogram, made on first use. */
  private overflow: Histogram | null = null;
  private overflowCount = 0;
  private n = 0;
  /** Highest bucket index counted (bounds the percentile scan). */
  private maxIndex = 0;
  private sumS = 0;
  private maxSeenS = 0;

  /** Record a latency in seconds (NaN and negative values are ignored). */
  record(valueS: number): void {
    if (!(valueS >= 0)) return;
    this.n++;
    this.sumS += valueS;
    if (valueS > this.maxSeenS) this.maxSeenS = valueS;
    const us = Math.round(valueS * 1e6);
    if (us < 4294967296) {
      let i = us;
      if (us >= SUB_BUCKETS) {
        const b = 31 - Math.clz32(us) - 10; // 1…21
        i = SUB_BUCKETS + (b - 1) * HALF + ((us >>> b) - HALF); // sub-bucket us >>> b is in [1024, 2048)
      }
      this.counts[i]! += 1;
      if (i > this.maxIndex) this.maxIndex = i;
    } else {
      this.overflow ??= build();
      this.overflow.recordValue(us);
      this.overflowCount++;
    }
  }

  get count(): number {
    return this.n;
  }

  /** Merge another histogram into this one. */
  add(other: LatencyHistogram): void {
    for (let i = 0; i <= other.maxIndex; i++) this.counts[i]! += other.counts[i]!;
    if (other.maxIndex > this.maxIndex) this.maxIndex = other.maxIndex;
    if (other.overflow !== null) {
      this.overflow ??= build();
      this.overflow.add(other.overflow);
      this.overflowCount += other.overflowCount;
    }
    this.n += other.n;
    this.sumS += other.sumS;
    if (other.maxSeenS > this.maxSeenS) this.maxSeenS = other.maxSeenS;
  }

  /** The HDR histogram of everything recorded (µs). */
  toHdr(): Histogram {
    const h = build();
    for (let i = 0; i <= this.maxIndex; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      let value: number;
      if (i < SUB_BUCKETS) value = i;
      else {
        const b = Math.floor((i - SUB_BUCKETS) / HALF) + 1;
        const sub = HALF + ((i - SUB_BUCKETS) % HALF);
        value = sub * 2 ** b;
      }
      h.recordValueWithCount(value, c);
    }
    if (this.overflow !== null) h.add(this.overflow);
    return h;
  }

  /**
   * Percentiles (0–100] in seconds, as HDR's getValueAtPercentile gives them (the highest value
   * equivalent to the bucket holding rank ⌈p/100 × count⌉), in one pass over the buckets; capped at
   * the exact maximum.
   */
  percentilesS(ps: readonly number[]): number[] {
    if (this.n === 0) return ps.map(() => NaN);
    if (this.overflowCount > 0) {
      const h = this.toHdr();
      return ps.map((p) => Math.min(h.getValueAtPercentile(p) / 1e6, this.maxSeenS));
    }
    // HDR's rank: ⌈p/100 × count − ulp⌉ (rounding up, guarded against a 1-ulp excess), at least 1
    const rank = (p: number): number => {
      const fp = (Math.min(p, 100) / 100) * this.n;
      return Math.max(Math.ceil(fp - ulp(fp)), 1);
    };
    const order = ps.map((p, k) => [rank(p), k] as const);
    order.sort((a, b) => a[0] - b[0]);
    const out = new Array<number>(ps.length).fill(NaN);
    let cum = 0;
    let j = 0;
    for (let i = 0; i <= this.maxIndex && j < order.length; i++) {
      cum += this.counts[i]!;
      while (j < order.length && cum >= order[j]![0]) {
        let highestUs: number;
        if (i < SUB_BUCKETS) highestUs = i;
        else {
          const b = Math.floor((i - SUB_BUCKETS) / HALF) + 1;
          const sub = HALF + ((i - SUB_BUCKETS) % HALF);
          highestUs = (sub + 1) * 2 ** b - 1;
        }
        out[order[j]![1]] = Math.min(highestUs / 1e6, this.maxSeenS);
        j++;
      }
    }
    return out;
  }

  /** Count, exact mean and max, HDR percentiles (seconds). All NaN when empty. */
  stats(): LatencyStats {
    if (this.n === 0)
      return { count: 0, meanS: NaN, p50S: NaN, p90S: NaN, p95S: NaN, p99S: NaN, p999S: NaN, maxS: NaN };
    const [p50S, p90S, p95S, p99S, p999S] = this.percentilesS([50, 90, 95, 99, 99.9]) as [
      number,
      number,
      number,
      number,
      number,
    ];
    return { count: this.n, meanS: this.sumS / this.n, p50S, p90S, p95S, p99S, p999S, maxS: this.maxSeenS };
  }

  /** A percentile (0–100] in seconds, capped at the exact maximum. */
  percentileS(p: number): number {
    return this.percentilesS([p])[0]!;
  }
}
