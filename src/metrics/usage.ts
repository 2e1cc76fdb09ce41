import { WeightedIntDistribution } from './distribution.js';
import type { IntDistributionSummary } from './types.js';

/**
 * Busy time of one replica, bucketed by simulated time (default 1-minute buckets). Busy means a
 * step was running; intervals that straddle a bucket edge are split between the buckets.
 */
export class BusyTimeline {
  private busy = new Float64Array(64);
  private used = 0;
  constructor(readonly bucketS = 60) {}

  addInterval(startS: number, durS: number): void {
    if (!(durS > 0)) return;
    let t = startS;
    const end = startS + durS;
    let b = Math.floor(t / this.bucketS);
    while (t < end) {
      const edge = (b + 1) * this.bucketS;
      const part = Math.min(end, edge) - t;
      if (b >= this.busy.length) this.grow(b);
      this.busy[b]! += part;
      if (b + 1 > this.used) this.used = b + 1;
      t = edge;
      b++;
    }
  }

  private grow(b: number): void {
    let size = this.busy.length;
    while (size <= b) size *= 2;
    const next = new Float64Array(size);
    next.set(this.busy);
    this.busy = next;
  }

  /** Busy fraction per bucket up to `endS` (the last bucket is divided by its covered length). */
  fractions(endS: number): number[] {
    const n = Math.max(this.used, Math.ceil(endS / this.bucketS));
    const out: number[] = [];
    for (let b = 0; b < n; b++) {
      const len = Math.min(this.bucketS, Math.max(0, endS - b * this.bucketS));
      const busy = b < this.busy.length ? this.busy[b]! : 0;
      out.push(len > 0 ? Math.min(1, busy / len) : busy > 0 ? 1 : 0);
    }
    return out;
  }
}

/** What one replica did, summed over its steps. */
export interface ReplicaUsageSummary {
  index: number;
  label: string;
  kvBlocks: number;
  blockSize: number;
  steps: number;
  busyS: number;
  /** Busy time attributed to prefill and to decode (they add up to busyS). */
  prefillBusyS: number;
  decodeBusyS: number;
  idleS: number;
  busyFraction: number;
  /** Busy fraction per timeline bucket. */
  busySeries: number[];
  prefillTokens: number;
  decodeTokens: number;
  preemptions: number;
  /** Sequences per step (weighted by steps). */
  batchSize: IntDistributionSummary;
  /** KV blocks in use by running sequences, per mille of the pool, per step. */
  kvOccupancyPermille: IntDistributionSummary;
}

/** Per-replica usage accumulator: the engine adds steps, the summary is pure arithmetic. */
export class ReplicaUsage {
  steps = 0;
  busyS = 0;
  prefillBusyS = 0;
  decodeBusyS = 0;
  prefillTokens = 0;
  decodeTokens = 0;
  preemptions = 0;
  readonly timeline: BusyTimeline;
  readonly batchSize = new WeightedIntDistribution();
  readonly kvOccupancy = new WeightedIntDistribution();

  constructor(
    readonly index: number,
    readonly label: string,
    readonly kvBlocks: number,
    readonly blockSize: number,
    bucketS = 60,
  ) {
    this.timeline = new BusyTimeline(bucketS);
  }

  /**
   * A run of contiguous steps from startS lasting durS in all; prefillS of it attributed to prefill.
   */
  addBusy(startS: number, durS: number, prefillS: number): void {
    this.busyS += durS;
    this.prefillBusyS += prefillS;
    this.decodeBusyS += durS - prefillS;
    this.timeline.addInterval(startS, durS);
  }

  summary(endS: number): ReplicaUsageSummary {
    return {
      index: this.index,
      label: this.label,
      kvBlocks: this.kvBlocks,
      blockSize: this.blockSize,
      steps: this.steps,
      busyS: this.busyS,
      prefillBusyS: this.prefillBusyS,
      decodeBusyS: this.decodeBusyS,
      idleS: Math.max(0, endS - this.busyS),
      busyFraction: endS > 0 ? this.busyS / endS : 0,
      busySeries: this.timeline.fractions(endS),
      prefillTokens: this.prefillTokens,
      decodeTokens: this.decodeTokens,
      preemptions: this.preemptions,
      batchSize: this.batchSize.summary(),
      kvOccupancyPermille: this.kvOccupancy.summary(),
    };
  }
}
