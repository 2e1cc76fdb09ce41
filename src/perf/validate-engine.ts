/**
 * Engine-in-the-loop validation (issue "Simulation engine", item 8): MLPerf Server and Interactive
 * cases run through the discrete-event engine (src/engine) at the rate MLPerf ran them, next to the
 * steady-state prediction of src/perf/validate.ts.
 *
 * For a Server / Interactive case:
 *  - layout (TP, PP, attention DP), replicas = count / (tp·pp), stack batch limits, weights and KV
 *    precision: what the steady-state prediction chose (`predictPrepared`); the engine's
 *    max_num_seqs is the steady-state batch (the largest batch meeting the latency limits, what a
 *    submitter tunes to), max_num_batched_tokens the stack's token budget at that batch;
 *  - replicas: `buildReplicaPerf` with the profiles `validate` loads (MLA with attention DP: KV
 *    capacity × dp and decode attention over a rank's share of the contexts, as the steady model);
 *    KV is allocated as tokens arrive even for TensorRT-LLM (whose default scheduler reserves
 *    isl+osl up front): the engine has one allocation model;
 *  - requests: Poisson arrivals at the case's `latency.target_qps` (MLPerf's scheduled rate — an
 *    input here, not the answer), fixed prompt/output lengths at the dataset means the steady model
 *    uses (no spreads are known for them, so every request has the mean lengths: the p99s carry
 *    queueing and batching variation only, not length variation);
 *  - replicas are independent under least-outstanding routing, so k = min(replicas, 8) replicas are
 *    simulated at target_qps × k / replicas — fewer when 2,000 requests would not cover the window
 *    (the longer of 120 s and 4 × a request's expected time in the system), so that the batch
 *    settles; the stream is seeded from the case id (deterministic);
 *  - engine: chunked prefill, least-outstanding routing, prefix caching off (MLPerf prompts are
 *    distinct), SLO = the case's p99 TTFT / TPOT constraints.
 *
 * Measured over the steady part of the run (arrivals after the warm-up, the first max(25 %,
 * expected time in system) of the arrival window, until the last arrival): output tokens/s
 * (each request's tokens spread from its first token to its end, counted inside the window),
 * p50 / p99 / mean TTFT and per-request TPOT of the requests arriving in it. The run keeps up when
 * the served tokens/s reach 90 % of the offered rate × output length and the median TTFT of the
 * last quarter of arrivals is not more than twice (+ 0.5 s) that of the second quarter.
 */
import type { Catalog } from '../catalog/load.js';
import { BYTES_PER_ELEMENT, totalParams } from '../catalog/params.js';
import { simulate } from '../engine/index.js';
import type { RequestRecord } from '../metrics/types.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { TraceRequest } from '../workload/types.js';
import { medianAbs } from './optimize.js';
import { effectiveKernel, type PerfProfile } from './profile.js';
import { buildReplicaPerf } from './profiles.js';
import { chipRates } from './calibrate.js';
import { decodeAttentionTime } from './kernels.js';
import { kvBytesPerTokenPerLayerPerChip } from './memory.js';
import { kvReadDivisor } from './steady.js';
import { emptyStep, type ReplicaPerf, type StepBatch } from './types.js';
import {
  fnv1a,
  predictPrepared,
  prepareCase,
  profileFor,
  validateCases,
  type PreparedCase,
  type PublishedCase,
  type ValidationReport,
  type ValidationRow,
  type ValidationSummary,
} from './validate.js';

export interface EngineValidationOptions {
  /** Most requests simulated per case (default 2000). */
  maxRequests?: number;
  /** Shortest arrival window, seconds (default 120). */
  minWindowS?: number;
  /** Most replicas simulated per case (default 8). */
  maxReplicas?: number;
  /** Only these case ids get an engine run (default: every Server / Interactive case). */
  only?: (id: string) => boolean;
}

/** The engine's comparison for one case (latencies in ms, errors in % of the reported value). */
export interface EngineFigures {
  /** Output tokens/s per chip, like the reported figure. */
  throughput: number;
  errorPct: number;
  ttftP99Ms: number;
  ttftErrorPct: number | null;
  tpotP99Ms: number;
  tpotErrorPct: number | null;
  ttftP50Ms: number;
  ttftMeanMs: number;
  tpotP50Ms: number;
  tpotMeanMs: number;
  /** Reported p50 / mean latencies, where published. */
  reportedTtftP50Ms: number | null;
  reportedTtftMeanMs: number | null;
  reportedTpotP50Ms: number | null;
  reportedTpotMeanMs: number | null;
  /** The queue does not diverge at the scheduled rate. */
  keepsUp: boolean;
  /** Keeps up and p99 TTFT / TPOT within the case's constraints. */
  meetsConstraints: boolean;
  /** How it was simulated. */
  targetQps: number;
  simulatedReplicas: number;
  replicas: number;
  requests: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  windowS: number;
}

export interface EngineGroup {
  n: number;
  medianAbsThroughputErrorPct: number;
  medianAbsTtftP99ErrorPct: number;
  medianAbsTpotP99ErrorPct: number;
}

export interface EngineSummary extends EngineGroup {
  keepsUp: number;
  meetsConstraints: number;
  /** Server / Interactive cases the engine could not run, with the reason. */
  skipped: { id: string; reason: string }[];
  byHardware: Record<string, EngineGroup>;
}

export type EngineValidationRow = ValidationRow & { engine: EngineFigures | null };

export interface EngineValidationReport extends ValidationReport {
  cases: EngineValidationRow[];
  summary: ValidationSummary & { engine: EngineSummary };
}

const errPct = (pred: number, rep: number): number => (100 * (pred - rep)) / rep;

function latencyMs(c: PublishedCase, key: string): number | null {
  const v = c.latency?.[key];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * The replica performance model the engine runs: `buildReplicaPerf` with the steady choice's
 * limits; for MLA with attention DP, KV capacity × dp and decode attention over 1/dp of the contexts
 * through the steady timer (which adds the DP ranks' full-head attention).
 */
export function engineReplicaPerf(
  p: PreparedCase,
  r: ReturnType<typeof predictPrepared>['replica'],
  maxNumSeqs: number,
  maxNumBatchedTokens: number,
  profiles: PerfProfile[],
): ReplicaPerf {
  const chips = r.layout.tp * r.layout.pp;
  const weightBytesPerChip = (totalParams(r.model) * BYTES_PER_ELEMENT[r.weights]) / chips;
  const { replica } = buildReplicaPerf(
    {
      model: r.model,
      accelerator: r.accelerator,
      stack: p.stack,
      tp: r.layout.tp,
      pp: r.layout.pp,
      ep: r.layout.attentionDp,
      weights: r.weights,
      kv: r.kv,
      blockSize: r.limits.blockSizeTokens,
      maxNumSeqs,
      maxNumBatchedTokens,
      memoryUtilization: r.limits.memoryUtilization(weightBytesPerChip, r.accelerator.hbmGB * 1e9),
    },
    profiles,
  );
  const dp = kvReadDivisor(r);
  const m = r.model;
  if (dp <= 1 || m.attention.type !== 'mla' || m.attention.mla === null) return replica;
  // the steady timer's MLA correction (src/perf/steady.ts, buildTimer) on top of the replica model
  // with its tables: a DP rank runs every head over its 1/dp share of the contexts
  const mla = m.attention.mla;
  const hc = m.attention.heads / r.layout.tp;
  const flopsPerPairTp = 2 * hc * (mla.kvLoraRank + mla.qkRopeHeadDim) + 2 * hc * mla.kvLoraRank;
  const kvBytes = kvBytesPerTokenPerLayerPerChip(m, r.layout.tp, r.kv);
  const kp = effectiveKernel(profileFor(p, profiles).profile);
  const rates = chipRates(r.accelerator, 'bf16');
  const layers = m.layers / r.layout.pp;
  const tp = r.layout.tp;
  const scratch: StepBatch = emptyStep();
  return {
    label: `${replica.label}, attention DP ${dp}`,
    kv: { tokens: replica.kv.tokens * dp, blockSize: replica.kv.blockSize, blocks: replica.kv.blocks * dp },
    stepTimeS(b: StepBatch): number {
      Object.assign(scratch, b);
      const ctx = Math.round(b.decodeContextTokens / dp);
      scratch.decodeContextTokens = ctx;
      const base = replica.stepTimeS(scratch);
      if (ctx <= 0) return base;
      const bytes = ctx * kvBytes;
      const tpFlops = ctx * flopsPerPairTp;
      const extra =
        decodeAttentionTime(bytes, tpFlops * tp, rates, kp).seconds -
        decodeAttentionTime(bytes, tpFlops, rates, kp).seconds;
      return base + Math.max(0, extra) * layers;
    },
  };
}

export interface EngineRunSpec {
  replicas: ReplicaPerf[];
  /** Arrival rate over the simulated replicas, requests/s. */
  rate: number;
  promptTokens: number;
  outputTokens: number;
  requests: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  ttftLimitS: number;
  tpotLimitS: number;
  /** Arrivals before this time are warm-up (not measured). */
  warmupS: number;
  seed: number;
}

export interface EngineRunResult {
  /** Output tokens/s over the simulated replicas in the measured window. */
  outputTokPerS: number;
  offeredTokPerS: number;
  ttftS: { p50: number; p99: number; mean: number };
  tpotS: { p50: number; p99: number; mean: number };
  keepsUp: boolean;
  windowS: number;
  measured: number;
}

/** Poisson arrivals at `rate` with fixed lengths, through the engine; figures over the steady window. */
export async function runEngineCase(s: EngineRunSpec): Promise<EngineRunResult> {
  const rng = new Rng(s.seed);
  const reqs: TraceRequest[] = [];
  let t = 0;
  for (let i = 0; i < s.requests; i++) {
    t += rng.exponential(1 / s.rate);
    reqs.push({ id: i, arrivalS: t, promptTokens: s.promptTokens, outputTokens: s.outputTokens });
  }
  const lastArrival = t;
  const records: RequestRecord[] = [];
  await simulate({
    requests: [reqs],
    replicas: s.replicas,
    config: {
      replicas: s.replicas.length,
      maxNumSeqs: s.maxNumSeqs,
      maxNumBatchedTokens: s.maxNumBatchedTokens,
      blockSize: s.replicas[0]!.kv.blockSize,
      batchPolicy: 'chunked-prefill',
      router: 'least-outstanding',
      prefixCaching: false,
    },
    slo: { ttftS: s.ttftLimitS, tpotS: s.tpotLimitS, attainment: 0.99 },
    seed: s.seed,
    onRequest: (r) => records.push(r),
  });
  const w0 = Math.min(s.warmupS, 0.75 * lastArrival);
  const w1 = lastArrival;
  let tokens = 0;
  for (const r of records) {
    if (!Number.isFinite(r.firstTokenS) || !Number.isFinite(r.endS)) continue;
    if (r.firstTokenS >= w0 && r.firstTokenS <= w1) tokens += 1;
    const rest = r.outputTokens - 1;
    if (rest <= 0) continue;
    const span = r.endS - r.firstTokenS;
    if (span <= 0) {
      if (r.endS >= w0 && r.endS <= w1) tokens += rest;
      continue;
    }
    const overlap = Math.max(0, Math.min(w1, r.endS) - Math.max(w0, r.firstTokenS));
    tokens += (rest * overlap) / span;
  }
  const windowS = w1 - w0;
  const measuredRecs = records.filter((r) => r.arrivalS >= w0 && r.arrivalS <= w1);
  const done = measuredRecs.filter((r) => Number.isFinite(r.ttftS));
  const ttft = done.map((r) => r.ttftS).sort((a, b) => a - b);
  const tpot = done
    .map((r) => r.tpotS)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  const byArrival = (lo: number, hi: number): number[] =>
    done
      .filter((r) => r.arrivalS >= lo && r.arrivalS < hi)
      .map((r) => r.ttftS)
      .sort((a, b) => a - b);
  const q2 = quantile(byArrival(0.25 * lastArrival, 0.5 * lastArrival), 0.5);
  const q4 = quantile(byArrival(0.75 * lastArrival, lastArrival + 1), 0.5);
  const offered = s.rate * s.outputTokens;
  const outputTokPerS = windowS > 0 ? tokens / windowS : NaN;
  const keepsUp =
    done.length === measuredRecs.length && outputTokPerS >= 0.9 * offered && !(q4 > 2 * q2 + 0.5);
  return {
    outputTokPerS,
    offeredTokPerS: offered,
    ttftS: { p50: quantile(ttft, 0.5), p99: quantile(ttft, 0.99), mean: mean(ttft) },
    tpotS: { p50: quantile(tpot, 0.5), p99: quantile(tpot, 0.99), mean: mean(tpot) },
    keepsUp,
    windowS,
    measured: done.length,
  };
}

/** The engine comparison for one prepared Server / Interactive case (InputError: it cannot run). */
export async function engineFigures(
  p: PreparedCase,
  profiles: PerfProfile[],
  opts: EngineValidationOptions = {},
): Promise<EngineFigures> {
  if (p.mode.kind !== 'latency') throw new InputError(`${p.id}: not a Server / Interactive case`);
  const c = p.source;
  const qps = latencyMs(c, 'target_qps');
  if (qps === null) throw new InputError('no target_qps published');
  const pr = predictPrepared(p, profileFor(p, profiles).profile);
  if (pr.steady === null) throw new InputError('no steady-state batch');
  const r = pr.replica;
  const replicas = Math.max(1, pr.replicas ?? 1);
  const maxNumSeqs = Math.max(1, pr.steady.batch);
  const maxNumBatchedTokens = Math.max(maxNumSeqs, r.limits.tokenBudget(maxNumSeqs));
  const perf = engineReplicaPerf(p, r, maxNumSeqs, maxNumBatchedTokens, profiles);
  const isl = Math.max(1, Math.round(r.workload.inputTokens));
  const osl = Math.max(1, Math.round(r.workload.outputTokens));
  const maxRequests = opts.maxRequests ?? 3000;
  // a request's expected time in the system, for the window and the warm-up
  const inSystemS = pr.steady.ttftS + osl * pr.steady.tpotS;
  const targetWindowS = Math.max(opts.minWindowS ?? 60, 3 * inSystemS);
  const perReplicaRate = qps / replicas;
  let k = Math.min(replicas, opts.maxReplicas ?? 8);
  while (k > 1 && maxRequests / (perReplicaRate * k) < targetWindowS) k--;
  const rate = perReplicaRate * k;
  const requests = Math.max(1, Math.min(maxRequests, Math.ceil(targetWindowS * rate)));
  const run = await runEngineCase({
    replicas: Array.from({ length: k }, () => perf),
    rate,
    promptTokens: isl,
    outputTokens: osl,
    requests,
    maxNumSeqs,
    maxNumBatchedTokens,
    ttftLimitS: p.mode.limits.ttftP99S,
    tpotLimitS: p.mode.limits.tpotP99S,
    warmupS: Math.max(0.25 * (requests / rate), inSystemS),
    seed: fnv1a(p.id),
  });
  const chips = r.layout.tp * r.layout.pp;
  // per chip of the measured system (idle chips, if its size is not a multiple, count)
  const systemChips = p.systemChips ?? replicas * chips;
  const throughput = (run.outputTokPerS * (replicas / k)) / systemChips;
  const repTtft = latencyMs(c, 'ttft_p99_ms');
  const repTpot = latencyMs(c, 'tpot_p99_ms');
  const ttftP99Ms = run.ttftS.p99 * 1000;
  const tpotP99Ms = run.tpotS.p99 * 1000;
  return {
    throughput,
    errorPct: errPct(throughput, p.reported),
    ttftP99Ms,
    ttftErrorPct: repTtft === null ? null : errPct(ttftP99Ms, repTtft),
    tpotP99Ms,
    tpotErrorPct: repTpot === null ? null : errPct(tpotP99Ms, repTpot),
    ttftP50Ms: run.ttftS.p50 * 1000,
    ttftMeanMs: run.ttftS.mean * 1000,
    tpotP50Ms: run.tpotS.p50 * 1000,
    tpotMeanMs: run.tpotS.mean * 1000,
    reportedTtftP50Ms: latencyMs(c, 'ttft_p50_ms'),
    reportedTtftMeanMs: latencyMs(c, 'ttft_mean_ms'),
    reportedTpotP50Ms: latencyMs(c, 'tpot_p50_ms'),
    reportedTpotMeanMs: latencyMs(c, 'tpot_mean_ms'),
    keepsUp: run.keepsUp,
    meetsConstraints:
      run.keepsUp && run.ttftS.p99 <= p.mode.limits.ttftP99S && run.tpotS.p99 <= p.mode.limits.tpotP99S,
    targetQps: qps,
    simulatedReplicas: k,
    replicas,
    requests,
    maxNumSeqs,
    maxNumBatchedTokens,
    windowS: run.windowS,
  };
}

function engineGroup(rows: EngineFigures[]): EngineGroup {
  const nums = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null);
  return {
    n: rows.length,
    medianAbsThroughputErrorPct: medianAbs(rows.map((e) => e.errorPct)),
    medianAbsTtftP99ErrorPct: medianAbs(nums(rows.map((e) => e.ttftErrorPct))),
    medianAbsTpotP99ErrorPct: medianAbs(nums(rows.map((e) => e.tpotErrorPct))),
  };
}

export function summarizeEngine(
  rows: EngineValidationRow[],
  skipped: { id: string; reason: string }[],
): EngineSummary {
  const withEngine = rows.filter((r) => r.engine !== null);
  const figs = withEngine.map((r) => r.engine!);
  const by = new Map<string, EngineFigures[]>();
  for (const r of withEngine) {
    const list = by.get(r.hardwareKey) ?? [];
    list.push(r.engine!);
    by.set(r.hardwareKey, list);
  }
  const byHardware: Record<string, EngineGroup> = {};
  for (const k of [...by.keys()].sort()) byHardware[k] = engineGroup(by.get(k)!);
  return {
    ...engineGroup(figs),
    keepsUp: figs.filter((e) => e.keepsUp).length,
    meetsConstraints: figs.filter((e) => e.meetsConstraints).length,
    skipped,
    byHardware,
  };
}

/**
 * `validateCases` plus an engine run for every predicted Server / Interactive case: rows gain
 * `engine` (null where the engine did not run), the summary gains `engine`.
 */
export async function validateCasesWithEngine(
  cases: PublishedCase[],
  catalog: Catalog,
  profiles: PerfProfile[],
  opts: EngineValidationOptions = {},
): Promise<EngineValidationReport> {
  const base = validateCases(cases, catalog, profiles);
  const byId = new Map(cases.map((c) => [c.id, c]));
  const skipped: { id: string; reason: string }[] = [];
  const rows: EngineValidationRow[] = [];
  for (const row of base.cases) {
    let engine: EngineFigures | null = null;
    const c = byId.get(row.id);
    if (
      row.status === 'predicted' &&
      row.config?.mode === 'latency' &&
      c !== undefined &&
      (opts.only === undefined || opts.only(row.id))
    ) {
      const prep = prepareCase(c, catalog);
      if (prep.ok) {
        try {
          engine = await engineFigures(prep.prepared, profiles, opts);
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          skipped.push({ id: row.id, reason: err.message });
        }
      }
    }
    rows.push({ ...row, engine });
  }
  return { cases: rows, summary: { ...base.summary, engine: summarizeEngine(rows, skipped) } };
}
