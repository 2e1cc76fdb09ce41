import type { Outcome, PercentileTarget, SloLimit, SloSpec } from './types.js';

/**
 * Classify a completed request against the per-request limits: `accepted`, or `slo-miss` with the
 * first limit broken (ttft, then tpot, then e2e). A TPOT of NaN (fewer than two output tokens)
 * meets any TPOT limit.
 */
/** The first per-request limit a completed request breaks (ttft, tpot, e2e), or undefined. Allocation-free. */
export function sloMissOf(slo: SloSpec, ttftS: number, tpotS: number, e2eS: number): SloLimit | undefined {
  if (slo.ttftS !== undefined && ttftS > slo.ttftS) return 'ttft';
  if (slo.tpotS !== undefined && tpotS > slo.tpotS) return 'tpot';
  if (slo.e2eS !== undefined && e2eS > slo.e2eS) return 'e2e';
  return undefined;
}

export function classifyCompleted(
  slo: SloSpec,
  ttftS: number,
  tpotS: number,
  e2eS: number,
): { outcome: Outcome; miss: SloLimit | undefined } {
  const miss = sloMissOf(slo, ttftS, tpotS, e2eS);
  return { outcome: miss === undefined ? 'accepted' : 'slo-miss', miss };
}

export interface PercentileCheck extends PercentileTarget {
  /** The measured percentile over completed requests (NaN when none completed). */
  valueS: number;
  met: boolean;
}

export interface SloSummary {
  limits: { ttftS: number | null; tpotS: number | null; e2eS: number | null };
  /** Required share of requests accepted. */
  attainmentTarget: number;
  /** Accepted requests / all requests (rejected, failed and timed-out ones count against it). */
  attainment: number;
  percentiles: PercentileCheck[];
  /** attainment ≥ target and every percentile target met. */
  met: boolean;
}

/**
 * The engine's SloSpec from a scenario's `slo` block (`ttft_p95_s`, … , `attainment`). Each metric's
 * per-request limit is the loosest of the percentile limits given for it (a request under the
 * p99 limit is acceptable even if it is above the p50 limit); every percentile limit is also
 * checked on the distribution.
 */
export function sloFromScenarioBlock(block: Record<string, number | undefined>): SloSpec {
  const percentiles: PercentileTarget[] = [];
  const limit: Partial<Record<SloLimit, number>> = {};
  for (const [key, value] of Object.entries(block)) {
    const m = /^(ttft|tpot|e2e)_p(\d+)_s$/.exec(key);
    if (m === null || value === undefined) continue;
    const metric = m[1] as SloLimit;
    percentiles.push({ metric, percentile: Number(m[2]), limitS: value });
    limit[metric] = Math.max(limit[metric] ?? 0, value);
  }
  percentiles.sort((a, b) =>
    a.metric === b.metric ? a.percentile - b.percentile : a.metric < b.metric ? -1 : 1,
  );
  const spec: SloSpec = { attainment: block.attainment ?? 0.99, percentiles };
  if (limit.ttft !== undefined) spec.ttftS = limit.ttft;
  if (limit.tpot !== undefined) spec.tpotS = limit.tpot;
  if (limit.e2e !== undefined) spec.e2eS = limit.e2e;
  return spec;
}
