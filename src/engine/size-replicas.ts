/**
 * `replicas: auto` (DESIGN.md §4: "plan finds the fewest that meet the SLO"): the fewest replicas
 * N ≥ 1 whose simulated run meets the scenario's SLO (`summary.slo.met`: attainment ≥ target and
 * every percentile limit met). This is the replica part of the planner only; `pertoken plan`
 * (DESIGN.md §10: replicas × TP × precision × batch limits, cheapest first) is not this module.
 *
 * Search: runs at 1, 2, 4, … replicas until one meets the SLO (at most `maxReplicas`,
 * MAX_AUTO_REPLICAS by default), then a binary search between the last count that failed and the
 * first that met. Every trial is a full simulation through the caller's `run(n)`; the engine is
 * deterministic for a seed, so the same inputs give the same trials and the same answer.
 *
 * Assumption: meeting the SLO is monotone in N — more replicas never turn a met SLO into a missed
 * one. Under the routers we have (round-robin, least-outstanding, least-kv, prefix-affinity,
 * random) more replicas mean shorter queues and smaller batches; the exceptions are second-order
 * (a prefix cache split over more replicas hits less; a random router's draws change with N).
 * If it does not hold the search still answers with a count that was simulated and met, whose
 * predecessor N − 1 was simulated and failed (by construction: the binary search ends with
 * N − 1 = the largest failing count tried, or N = 1), so the answer is at least a boundary;
 * a smaller count between two tried ones might also meet. The trials say what was run.
 *
 * Pure but for the calls to `run` and the wall clock read for the trials' `wallS`.
 */
import { InputError } from '../util/errors.js';
import type { SimulationSummary } from './simulate.js';

/** The most replicas `auto` tries before it gives up (an error naming the best attainment reached). */
export const MAX_AUTO_REPLICAS = 1024;

/** One simulated replica count. */
export interface SizingTrial {
  replicas: number;
  /** Accepted requests / all requests in that run (summary.slo.attainment). */
  attainment: number;
  /** summary.slo.met: attainment ≥ target and every percentile limit met. */
  met: boolean;
  /** Wall-clock seconds the run took (for progress lines; not deterministic, so not in JSON outputs). */
  wallS: number;
}

/** A trial as outputs record it: deterministic (no wall-clock time). */
export type SizingTrialRecord = Omit<SizingTrial, 'wallS'>;

export interface ReplicaSizing {
  /** The fewest replicas found that meet the SLO. */
  replicas: number;
  /** The run at `replicas` — the trial's own run, not repeated. */
  summary: SimulationSummary;
  /** Every count simulated, in the order run. */
  trials: SizingTrial[];
}

export interface SizeReplicasOptions {
  /** Candidate name, for errors. */
  name: string;
  /** Give up above this many replicas (default MAX_AUTO_REPLICAS). */
  maxReplicas?: number;
  /** Called after each trial (progress). */
  onTrial?: (trial: SizingTrial) => void;
}

/** `auto` found no count that meets the SLO; `trials` says what was tried. */
export class SizingError extends InputError {
  constructor(
    message: string,
    readonly trials: SizingTrial[],
  ) {
    super(message);
    this.name = 'SizingError';
  }
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : '–');
const secs = (x: number): string =>
  Number.isFinite(x) ? (x < 1 ? `${(x * 1000).toFixed(1)} ms` : `${x.toFixed(3)} s`) : '–';

/** "1✗ 2✗ 4✓ 3✓": the counts tried, in order, and whether each met the SLO. */
export function describeTrials(trials: readonly SizingTrialRecord[]): string {
  return trials.map((t) => `${t.replicas}${t.met ? '✓' : '✗'}`).join(' ');
}

/** "auto: fewest meeting the SLO; tried 1✗ 2✗ 4✓ 3✓" — how an auto replica count was found. */
export function describeSizing(trials: readonly SizingTrialRecord[]): string {
  return `auto: fewest meeting the SLO; tried ${describeTrials(trials)}`;
}

/** A progress line for one trial: "h100: sizing, 4 replicas: SLO met (attainment 99.52 %; 1.3 s)". */
export function sizingTrialLine(name: string, t: SizingTrial): string {
  return (
    `${name}: sizing, ${t.replicas} replica${t.replicas === 1 ? '' : 's'}: SLO ${t.met ? 'met' : 'missed'} ` +
    `(attainment ${pct(t.attainment)}; ${t.wallS.toFixed(1)} s)`
  );
}

/** The trials without their wall-clock times (what JSON and text outputs keep). */
export function trialRecords(trials: readonly SizingTrial[]): SizingTrialRecord[] {
  return trials.map(({ replicas, attainment, met }) => ({ replicas, attainment, met }));
}

/** Why a run missed its SLO, in words: the misses by limit and the percentile checks that failed. */
function missedBy(s: SimulationSummary): string {
  const parts: string[] = [];
  const m = s.requests.sloMissBy;
  const o = s.requests.byOutcome;
  const misses = [
    ['ttft', m.ttft],
    ['tpot', m.tpot],
    ['e2e', m.e2e],
    ['timeout', o.timeout],
    ['failed', o.failed],
    ['rejected', o.rejected],
  ].filter(([, n]) => (n as number) > 0);
  if (misses.length > 0) parts.push(`requests missed by ${misses.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const p of s.slo.percentiles)
    if (!p.met) parts.push(`p${p.percentile} ${p.metric} ${secs(p.valueS)} > ${secs(p.limitS)}`);
  return parts.join('; ');
}

/**
 * Every request ran alone on its replica, none waited, and none was rejected, timed out or failed:
 * more replicas cannot change any
 * latency (each request already had a replica to itself), so a run that misses the SLO here
 * misses it at every larger count.
 */
function saturated(s: SimulationSummary): boolean {
  return (
    s.utilization.batchSize.max <= 1 &&
    s.latency.queueDelay.count > 0 &&
    s.latency.queueDelay.maxS <= 0 &&
    s.requests.byOutcome.rejected === 0 &&
    // a request that timed out or failed while queued has no queue delay on record
    s.requests.byOutcome.timeout === 0 &&
    s.requests.byOutcome.failed === 0
  );
}

/**
 * The fewest replicas N ≥ 1 whose run meets the SLO (see the module comment for the search and
 * its monotonicity assumption). `run(n)` simulates the candidate at n replicas; it is called once
 * per count tried, never twice for the same count. Throws SizingError when no count up to
 * `maxReplicas` meets the SLO, or earlier when a run shows more replicas cannot help.
 */
export async function sizeReplicas(
  run: (replicas: number) => Promise<SimulationSummary>,
  opts: SizeReplicasOptions,
): Promise<ReplicaSizing> {
  const max = opts.maxReplicas ?? MAX_AUTO_REPLICAS;
  if (!Number.isInteger(max) || max < 1)
    throw new InputError(`${opts.name}: maxReplicas: expected an integer ≥ 1, found ${max}`);
  const trials: SizingTrial[] = [];
  let best: { trial: SizingTrial; summary: SimulationSummary } | null = null;
  const trial = async (n: number): Promise<{ trial: SizingTrial; summary: SimulationSummary }> => {
    const t0 = performance.now();
    const summary = await run(n);
    if (summary.replicaCount !== n)
      throw new Error(`${opts.name}: sizing asked for ${n} replicas, the run had ${summary.replicaCount}`);
    const t: SizingTrial = {
      replicas: n,
      attainment: summary.slo.attainment,
      met: summary.slo.met,
      wallS: (performance.now() - t0) / 1000,
    };
    trials.push(t);
    opts.onTrial?.(t);
    // ties go to the later (larger) count: its latencies say more about why the SLO is out of reach
    if (best === null || t.attainment >= best.trial.attainment) best = { trial: t, summary };
    return { trial: t, summary };
  };
  const giveUp = (why: string, last: SimulationSummary): never => {
    const b = best!;
    throw new SizingError(
      `${opts.name}: replicas: auto found no replica count that meets the SLO: ${why}; ` +
        `best attainment ${pct(b.trial.attainment)} (target ${pct(last.slo.attainmentTarget)}) at ${b.trial.replicas} replica(s)` +
        `; ${missedBy(b.summary)}; tried ${describeTrials(trials)}. ` +
        'Loosen the SLO, or choose faster hardware, parallelism or precision for this candidate, or give replicas an integer',
      trials,
    );
  };

  // Grow 1, 2, 4, … until a count meets the SLO. `lo` is the largest count known to fail (0: none).
  let lo = 0;
  let n = 1;
  let r = await trial(n);
  while (!r.trial.met) {
    lo = n;
    if (saturated(r.summary))
      giveUp(
        `at ${n} replica(s) every request already ran alone with no queueing, so more replicas cannot help`,
        r.summary,
      );
    if (n >= max) giveUp(`none up to ${max} replicas (the most auto tries) meets it`, r.summary);
    n = Math.min(2 * n, max);
    r = await trial(n);
  }
  let hi = n;
  let answer = r.summary;
  // Binary search in (lo, hi]: lo fails, hi meets.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await trial(mid);
    if (m.trial.met) {
      hi = mid;
      answer = m.summary;
    } else lo = mid;
  }
  // By construction N − 1 = lo was simulated and failed (or N = 1); check it, so a change to the
  // search above cannot silently break the guarantee the outputs state.
  if (hi > 1 && !trials.some((t) => t.replicas === hi - 1 && !t.met))
    throw new Error(`${opts.name}: sizing ended at ${hi} replicas without a failing run at ${hi - 1}`);
  return { replicas: hi, summary: answer, trials };
}
