import type { ReadOptions, ReadReport, TraceRequest } from './types.js';
import { openTrace } from './read.js';
import { IntDistribution, RunningMoments, quantilesOf } from '../util/stats.js';

export interface LengthSummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The vendor-neutral "price our trace" figures. Field names are part of the CLI's JSON contract. */
export interface TraceProfile {
  requests: number;
  /** Last arrival minus first arrival, seconds. */
  durationS: number;
  meanRatePerS: number;
  /** Requests arriving in the busiest one-minute bucket, buckets counted from t = 0. */
  peakRatePerMin: number;
  /** Coefficient of variation of the inter-arrival gaps (population std / mean). */
  interarrivalCv: number | null;
  promptTokens: LengthSummary;
  outputTokens: LengthSummary;
  /** Fraction of all prefix blocks whose hash appeared in an earlier request; null without hashes. */
  prefixReuse: number | null;
  sessions: { count: number; turnsMean: number; gapS: { p50: number; p90: number } | null } | null;
  /** Requests the source marked as failed (e.g. BurstGPT response tokens = 0). */
  sourceFailed: number;
  /** Requests served partly from a prefix cache as the source recorded it (cached prompt tokens / prompt tokens). */
  cachedPromptFraction: number | null;
  /** Requests per one-minute bucket from t = 0 (for rate-over-time charts). */
  ratePerMin: number[];
  promptHistogram: { low: number; high: number; count: number }[];
  outputHistogram: { low: number; high: number; count: number }[];
  source: {
    file: string;
    format: string;
    rows: number;
    badRows: number;
    firstBadRows: string[];
    warnings: string[];
  };
}

const QS = [0.5, 0.9, 0.99];

function lengthSummary(d: IntDistribution): LengthSummary {
  const [p50, p90, p99] = d.quantiles(QS) as [number, number, number];
  return { mean: d.mean, p50, p90, p99, max: d.max };
}

/** Streaming accumulator: feed requests in arrival order, then `finish`. Bounded memory except the
 * prefix-hash set (one entry per distinct block) and the per-minute series. */
export class TraceProfiler {
  private n = 0;
  private firstArrivalS = NaN;
  private lastArrivalS = NaN;
  private readonly gaps = new RunningMoments();
  private readonly prompt = new IntDistribution();
  private readonly output = new IntDistribution();
  private perMin = new Uint32Array(64);
  private maxMin = -1;
  private readonly seenHashes = new Set<number>();
  private blocks = 0;
  private reusedBlocks = 0;
  private readonly sessionIds = new Set<string>();
  private sessionRequests = 0;
  private readonly sessionGapsS: number[] = [];
  private failed = 0;
  private cachedTokens = 0;
  private cachedKnownPrompt = 0;

  add(r: TraceRequest): void {
    const t = r.arrivalS;
    if (this.n === 0) this.firstArrivalS = t;
    else this.gaps.add(t - this.lastArrivalS);
    this.lastArrivalS = t;
    this.n += 1;
    this.prompt.add(r.promptTokens);
    this.output.add(r.outputTokens);
    const minute = Math.floor(t / 60);
    if (minute >= this.perMin.length) {
      let size = this.perMin.length;
      while (size <= minute) size *= 2;
      const next = new Uint32Array(size);
      next.set(this.perMin);
      this.perMin = next;
    }
    this.perMin[minute]! += 1;
    if (minute > this.maxMin) this.maxMin = minute;
    const hashes = r.hashIds;
    if (hashes !== undefined) {
      this.blocks += hashes.length;
      for (const h of hashes) if (this.seenHashes.has(h)) this.reusedBlocks += 1;
      for (const h of hashes) this.seenHashes.add(h);
    }
    if (r.sessionId !== undefined) {
      this.sessionIds.add(r.sessionId);
      this.sessionRequests += 1;
      if (r.gapS !== undefined && r.dependsOnPrevious === true) this.sessionGapsS.push(r.gapS);
    }
    if (r.sourceFailed === true) this.failed += 1;
    if (r.cachedPromptTokens !== undefined) {
      this.cachedTokens += r.cachedPromptTokens;
      this.cachedKnownPrompt += r.promptTokens;
    }
  }

  finish(report: ReadReport): TraceProfile {
    const durationS = this.n === 0 ? 0 : this.lastArrivalS - this.firstArrivalS;
    let peak = 0;
    for (let m = 0; m <= this.maxMin; m++) if (this.perMin[m]! > peak) peak = this.perMin[m]!;
    const gapQ = quantilesOf(this.sessionGapsS, [0.5, 0.9]);
    return {
      requests: this.n,
      durationS,
      meanRatePerS: durationS > 0 ? this.n / durationS : 0,
      peakRatePerMin: peak,
      interarrivalCv: this.gaps.n > 0 && this.gaps.mean > 0 ? this.gaps.cv : null,
      promptTokens: lengthSummary(this.prompt),
      outputTokens: lengthSummary(this.output),
      prefixReuse: this.blocks > 0 ? this.reusedBlocks / this.blocks : null,
      sessions:
        this.sessionIds.size === 0
          ? null
          : {
              count: this.sessionIds.size,
              turnsMean: this.sessionRequests / this.sessionIds.size,
              gapS: this.sessionGapsS.length === 0 ? null : { p50: gapQ[0]!, p90: gapQ[1]! },
            },
      sourceFailed: this.failed,
      cachedPromptFraction: this.cachedKnownPrompt > 0 ? this.cachedTokens / this.cachedKnownPrompt : null,
      ratePerMin: Array.from(this.perMin.subarray(0, this.maxMin + 1)),
      promptHistogram: this.prompt.log2Buckets(),
      outputHistogram: this.output.log2Buckets(),
      source: {
        file: report.file,
        format: report.format,
        rows: report.rows,
        badRows: report.badRows,
        firstBadRows: report.firstBadRows,
        warnings: report.warnings,
      },
    };
  }
}

/** Stream a trace file through the profiler. */
export async function profileTrace(path: string, opts: ReadOptions = {}): Promise<TraceProfile> {
  const stream = await openTrace(path, opts);
  const profiler = new TraceProfiler();
  for await (const batch of stream.batches()) for (const r of batch) profiler.add(r);
  return profiler.finish(stream.report);
}
