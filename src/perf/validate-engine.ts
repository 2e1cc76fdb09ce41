/**
 * Engine-in-the-loop validation (issues "Simulation engine" item 8 and "Fidelity"): every
 * throughput case of the published results the engine can run goes through the discrete-event
 * engine (src/engine), next to the steady-state prediction of src/perf/validate.ts. The steady
 * model stays the headline figure (`HEADLINE`); the engine figures check that the bar holds with
 * the engine in the loop and add latency comparisons.
 *
 * Common to every mode:
 *  - layout (TP, PP, attention DP), replicas = count / (tp·pp), weights and KV precision, stack
 *    limits: what the steady-state prediction chose (`predictPrepared`); replicas built by
 *    `buildReplicaPerf` with the profiles `validate` loads (MLA with attention DP: KV capacity × dp
 *    and decode attention over a rank's share of the contexts, as the steady model);
 *  - lengths (`caseLengths`): MLPerf datasets are sampled from calibration/mlperf-datasets.json
 *    (quantiles of the per-sample token lengths of every row of the MLCommons dataset
 *    files, with source and evidence), scaled so the means are the steady model's means and clamped
 *    at the published maxima, stratified draws seeded from the case id (input and output drawn
 *    independently: the steady model's E[i·o]/E[o] carries their correlation, the engine's draws do
 *    not — DeepSeek-R1's running prompts average ~800 tokens here against 632 there); InferenceX's "ISL varied
 *    80–100 % of nominal" is uniform over that range; vendor tables are fixed ISL/OSL;
 *  - engine: chunked prefill (the stacks' chunked-context / chunked-prefill scheduling; TensorRT-LLM
 *    without chunked context, `inflight-batching`, and vLLM V0's prefill-first were tried on the
 *    Server / Interactive cases and gave worse p99 TTFT), least-outstanding routing, prefix caching
 *    off (MLPerf prompts are distinct). KV is allocated as tokens arrive even for TensorRT-LLM
 *    (whose default scheduler reserves isl + max_new_tokens up front): the engine has one
 *    allocation model, and the batch limit taken from the steady model (which reserves isl + osl)
 *    stands in for the reservation.
 *
 * Server / Interactive: Poisson arrivals at the case's `latency.target_qps` (MLPerf's scheduled
 * rate — an input here, not the answer); max_num_seqs is the steady-state batch (the largest batch
 * meeting the latency limits, what a submitter tunes to), max_num_batched_tokens the stack's budget
 * at that batch; replicas are independent under least-outstanding routing, so k = min(replicas, 8)
 * replicas are simulated at target_qps × k / replicas — fewer when 3,000 requests would not cover
 * the window (the longer of 60 s and 3 × a request's expected time in the system). Measured over
 * the steady part (arrivals after the warm-up, the first max(25 %, expected time in system) of the
 * arrival window, until the last arrival): output tokens/s (each request's tokens spread from its
 * first token to its end, counted inside the window), p50 / p99 / mean TTFT and per-request TPOT of
 * the requests arriving in it, compared with the published p99 (and mean / p50). The run keeps up
 * when the served tokens/s reach 90 % of the offered rate × output length and the median TTFT of
 * the last quarter of arrivals is not more than twice (+ 0.5 s) that of the second quarter.
 *
 * Offline (MLPerf Offline, vendor max-throughput tables): one replica (nothing couples replicas
 * without an arrival process), every request at t = 0, max(2,000, 4 × max_num_seqs) requests (at
 * most 8,000); max_num_seqs is the stack's limit (vLLM: KV admission finds the batch) or, where the
 * stack reserves KV for the whole sequence (TensorRT-LLM), the steady batch. Throughput over the
 * part of the run where the queue still feeds the batch: from the time a quarter of the requests
 * have completed to the last admission (or the 10th–75th percentile completions if that is empty).
 * Static batching: one batch of the steady batch size, measured whole. Fixed concurrency
 * (InferenceX): a closed loop of C clients per replica, each sending its next request when the
 * previous completes, measured while all C are in flight; mean TTFT / TPOT compared with the
 * published mean (or p50). Per-chip figures count the system's idle chips like the steady model.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Catalog } from '../catalog/load.js';
import { simulate } from '../engine/index.js';
import type { RequestRecord } from '../metrics/types.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { TraceRequest } from '../workload/types.js';
import { medianAbs } from './optimize.js';
import type { PerfProfile } from './profile.js';
import { buildReplicaPerf } from './profiles.js';
import { attentionDpTimer, kvReadDivisor, steadyReplicaSpec } from './steady.js';
import type { ReplicaPerf, StepBatch } from './types.js';
import {
  fnv1a,
  group,
  groupBy,
  hardwareFamily,
  predictPrepared,
  prepareCase,
  profileFor,
  validateCases,
  type PreparedCase,
  type PublishedCase,
  type ValidationReport,
  type ValidationRow,
  type GroupSummary,
  type ValidationSummary,
} from './validate.js';

export interface EngineValidationOptions {
  /** Most requests simulated per case (default 2000). */
  maxRequests?: number;
  /** Shortest arrival window, seconds (default 120). */
  minWindowS?: number;
  /** Most replicas simulated per case (default 8). */
  maxReplicas?: number;
  /** Only these case ids get an engine run (default: every case the engine can run). */
  only?: (id: string) => boolean;
  /** Modes that get an engine run (default: all — latency, offline, static, concurrency). */
  modes?: EngineFigures['mode'][];
  /** Most requests of a run with every request at t = 0 (default 8000; at least 4 × max_num_seqs up to it). */
  maxSaturatedRequests?: number;
  /** Server / Interactive with every request at the dataset means (no length spread). */
  fixedLengths?: boolean;
  /** Batch-formation policy per case (default `chunked-prefill`). */
  batchPolicy?: (p: PreparedCase) => string;
  /** Server / Interactive token budget per case (default: the stack's budget at the batch). */
  tokenBudget?: (p: PreparedCase, maxNumSeqs: number, stackBudget: number) => number;
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
  /** The case's mode: latency (Server / Interactive), offline, static, concurrency. */
  mode: 'latency' | 'offline' | 'static' | 'concurrency';
  /**
   * Engine mean TTFT / TPOT against the reported mean (or p50) where published: Server /
   * Interactive and fixed concurrency (null otherwise).
   */
  ttftMeanErrorPct: number | null;
  tpotMeanErrorPct: number | null;
  /** Fixed concurrency: clients per simulated replica (closed loop). */
  clients: number | null;
  batchPolicy: string;
  /** How the requests' lengths were chosen, with the source. */
  lengths: string;
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
  /** Server / Interactive by hardware. */
  byHardware: Record<string, EngineGroup>;
  /** Server / Interactive by hardware family. */
  byFamily: Record<string, EngineGroup>;
  /** Every mode the engine ran, with the steady-state model's errors on the same cases. */
  allModes: EngineAllModes;
  /** Which figure is the headline, in words. */
  headline: string;
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

// ---------------------------------------------------------------------------------------------
// Length distributions (calibration/mlperf-datasets.json)
// ---------------------------------------------------------------------------------------------

/** The shipped length distributions of the MLPerf datasets. */
export const BUNDLED_MLPERF_DATASETS = fileURLToPath(
  new URL('../../calibration/mlperf-datasets.json', import.meta.url),
);

const sideSchema = z.looseObject({
  sampleMean: z.number().positive(),
  quantileTokens: z.array(z.number().nonnegative()),
  maxTokens: z.number().positive().optional(),
});
const datasetsSchema = z.looseObject({
  quantileProbabilities: z.array(z.number().min(0).max(1)),
  datasets: z.array(
    z.looseObject({
      key: z.string(),
      match: z.string(),
      name: z.string(),
      source: z.string(),
      evidence: z.string(),
      input: sideSchema.nullable(),
      output: sideSchema.nullable(),
    }),
  ),
});

/** One side (input or output) of a dataset's length distribution: quantiles of a sample. */
export interface LengthShape {
  /** Probabilities, increasing from 0 to 1. */
  probs: number[];
  /** Tokens at those probabilities (nondecreasing). */
  tokens: number[];
  /** Published maximum (sampled lengths are clamped to it), or null. */
  maxTokens: number | null;
}

export interface DatasetLengths {
  key: string;
  match: RegExp;
  name: string;
  source: string;
  /** null: fixed at the mean. */
  input: LengthShape | null;
  output: LengthShape | null;
}

let cachedDatasets: DatasetLengths[] | null = null;

/** The MLPerf dataset length distributions shipped in calibration/mlperf-datasets.json. */
export function mlperfDatasetLengths(file = BUNDLED_MLPERF_DATASETS): DatasetLengths[] {
  if (file === BUNDLED_MLPERF_DATASETS && cachedDatasets !== null) return cachedDatasets;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: cannot read as JSON (${(err as Error).message})`);
  }
  const parsed = datasetsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  const probs = parsed.data.quantileProbabilities;
  const shape = (
    key: string,
    side: 'input' | 'output',
    s: z.infer<typeof sideSchema> | null,
  ): LengthShape | null => {
    if (s === null) return null;
    const t = s.quantileTokens;
    const ok =
      t.length === probs.length &&
      probs[0] === 0 &&
      probs[probs.length - 1] === 1 &&
      probs.every((p, i) => i === 0 || p > probs[i - 1]!) &&
      t.every((x, i) => i === 0 || x >= t[i - 1]!) &&
      t[t.length - 1]! > 0;
    if (!ok)
      throw new InputError(
        `${file}: ${key}.${side}.quantileTokens: expected ${probs.length} nondecreasing token counts at probabilities 0 … 1`,
      );
    return { probs, tokens: t, maxTokens: s.maxTokens ?? null };
  };
  const out = parsed.data.datasets.map((d) => ({
    key: d.key,
    match: new RegExp(d.match, 'i'),
    name: d.name,
    source: d.source,
    input: shape(d.key, 'input', d.input),
    output: shape(d.key, 'output', d.output),
  }));
  if (file === BUNDLED_MLPERF_DATASETS) cachedDatasets = out;
  return out;
}

/** Grid of the quantile function for means: midpoints of this many equal steps of probability. */
const MEAN_GRID = 4096;

function quantileAt(s: LengthShape, u: number): number {
  const p = s.probs;
  let i = 1;
  while (i < p.length - 1 && p[i]! < u) i++;
  const f = (u - p[i - 1]!) / (p[i]! - p[i - 1]!);
  return s.tokens[i - 1]! + Math.max(0, Math.min(1, f)) * (s.tokens[i]! - s.tokens[i - 1]!);
}

/**
 * The quantile function of `s` scaled so that its mean — after clamping at the published maximum —
 * is `mean`: u ↦ min(k · Q(u), max), k found by bisection on a fine grid of u.
 */
export function scaledQuantile(s: LengthShape, mean: number): (u: number) => number {
  const grid = new Float64Array(MEAN_GRID);
  for (let j = 0; j < MEAN_GRID; j++) grid[j] = quantileAt(s, (j + 0.5) / MEAN_GRID);
  const max = s.maxTokens ?? Infinity;
  const meanAt = (k: number): number => {
    let sum = 0;
    for (let j = 0; j < MEAN_GRID; j++) sum += Math.min(k * grid[j]!, max);
    return sum / MEAN_GRID;
  };
  if (mean >= max) return () => max;
  let lo = 0;
  let hi = 1;
  while (meanAt(hi) < mean && hi < 1e9) hi *= 2;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (meanAt(mid) < mean) lo = mid;
    else hi = mid;
  }
  const k = (lo + hi) / 2;
  return (u) => Math.min(k * quantileAt(s, u), max);
}

/**
 * n lengths with mean ≈ `mean` drawn from `s` (null: all `mean`): stratified — one uniform draw
 * in each of n equal slices of probability, in a seeded random order — so the sample's mean and
 * spread track the distribution's even for a few hundred requests. Rounded, at least `min`.
 */
export function sampleLengths(
  s: LengthShape | null,
  mean: number,
  n: number,
  seed: number,
  min = 1,
): number[] {
  if (s === null) return new Array<number>(n).fill(Math.max(min, Math.round(mean)));
  const q = scaledQuantile(s, mean);
  const rng = new Rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map((slot) => Math.max(min, Math.round(q((slot + rng.uniform()) / n))));
}

/** Per-request lengths of an engine run and how they were chosen. */
export interface CaseLengths {
  prompt: number[];
  output: number[];
  /** e.g. "lengths: MLPerf llama2-70b … (input and output spread, source …)". */
  note: string;
}

/**
 * The lengths an engine run of case `p` gives its n requests, with means `isl` / `osl` (the steady
 * model's): an MLPerf dataset's distribution (calibration/mlperf-datasets.json), InferenceX's
 * "ISL varied a–b % of nominal" (uniform over the range, output fixed), or fixed.
 */
export function caseLengths(p: PreparedCase, isl: number, osl: number, n: number, seed: number): CaseLengths {
  const text = p.source.dataset ?? '';
  const fixed = (why: string): CaseLengths => ({
    prompt: new Array<number>(n).fill(Math.max(1, Math.round(isl))),
    output: new Array<number>(n).fill(Math.max(1, Math.round(osl))),
    note: `lengths fixed at ${Math.round(isl)} / ${Math.round(osl)} tokens (${why})`,
  });
  if (p.source.isl === null) {
    const d = mlperfDatasetLengths().find((x) => x.match.test(text));
    if (d === undefined) return fixed('no published length distribution for this dataset');
    return {
      prompt: sampleLengths(d.input, isl, n, seed ^ 0x9e3779b9),
      output: sampleLengths(d.output, osl, n, seed ^ 0x85ebca6b),
      note:
        `lengths: ${d.name}, input ${d.input === null ? 'fixed' : 'spread'} (mean ${Math.round(isl)}), ` +
        `output ${d.output === null ? 'fixed' : 'spread'} (mean ${Math.round(osl)}); source ${d.source}`,
    };
  }
  const varied = /ISL varied (\d+)\s*-\s*(\d+)\s*% of nominal/i.exec(text);
  if (varied !== null && p.source.isl !== null) {
    const a = (Number(varied[1]) / 100) * p.source.isl;
    const b = (Number(varied[2]) / 100) * p.source.isl;
    const rng = new Rng(seed ^ 0x9e3779b9);
    return {
      prompt: Array.from({ length: n }, () => Math.max(1, Math.round(a + (b - a) * rng.uniform()))),
      output: new Array<number>(n).fill(Math.max(1, Math.round(osl))),
      note: `lengths: input uniform ${Math.round(a)}–${Math.round(b)} (${varied[1]}–${varied[2]} % of nominal, as published), output fixed ${Math.round(osl)}`,
    };
  }
  return fixed('fixed ISL/OSL as published');
}

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
  const { replica } = buildReplicaPerf(
    { ...steadyReplicaSpec(r, maxNumSeqs, maxNumBatchedTokens), stack: p.stack },
    profiles,
  );
  if (kvReadDivisor(r) <= 1) return replica;
  // MLA attention data-parallel ranks (the steady model's adjustment, src/perf/steady.ts): the engine
  // passes the whole batch's context, a rank holds 1/dp of it (MLA: its own latent cache, so the
  // replica's KV capacity is dp times one rank's)
  const dp = kvReadDivisor(r);
  const timer = attentionDpTimer(replica, r, profileFor(p, profiles).profile, dp);
  return {
    label: `${replica.label}, attention DP ${r.layout.attentionDp}`,
    kv: { tokens: replica.kv.tokens * dp, blockSize: replica.kv.blockSize, blocks: replica.kv.blocks * dp },
    stepTimeS: (b: StepBatch): number => timer.stepTimeS(b),
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
  /** Per-request lengths (default: every request promptTokens / outputTokens). */
  lengths?: { prompt: number[]; output: number[] };
  /** Batch-formation policy (default `chunked-prefill`). */
  batchPolicy?: string;
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

/** What a run through the engine needs besides the requests. */
interface EngineSetup {
  replicas: ReplicaPerf[];
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  ttftLimitS: number;
  tpotLimitS: number;
  seed: number;
  batchPolicy?: string;
}

/** The requests through the engine (least-outstanding routing, no prefix caching); every record. */
async function simulateRequests(reqs: TraceRequest[], s: EngineSetup): Promise<RequestRecord[]> {
  const records: RequestRecord[] = [];
  await simulate({
    requests: [reqs],
    replicas: s.replicas,
    config: {
      replicas: s.replicas.length,
      maxNumSeqs: s.maxNumSeqs,
      maxNumBatchedTokens: s.maxNumBatchedTokens,
      blockSize: s.replicas[0]!.kv.blockSize,
      batchPolicy: s.batchPolicy ?? 'chunked-prefill',
      router: 'least-outstanding',
      prefixCaching: false,
    },
    slo: { ttftS: s.ttftLimitS, tpotS: s.tpotLimitS, attainment: 0.99 },
    seed: s.seed,
    onRequest: (r) => records.push(r),
  });
  return records;
}

/** Output tokens emitted in [w0, w1]: each request's tokens after the first spread evenly over its decode span. */
function outputTokensIn(records: RequestRecord[], w0: number, w1: number): number {
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
  return tokens;
}

/** Steady throughput of a closed or saturated run, with the latencies of the requests measured. */
export interface SaturatedRunResult {
  /** Output tokens/s over the simulated replicas in the measured window. */
  outputTokPerS: number;
  /** (prompt + output) / output tokens of the requests measured (for total-tokens metrics). */
  totalPerOutput: number;
  ttftS: { p50: number; p99: number; mean: number };
  tpotS: { p50: number; p99: number; mean: number };
  windowS: number;
  measured: number;
  requests: number;
}

function latencyFigures(done: RequestRecord[]): Pick<SaturatedRunResult, 'ttftS' | 'tpotS'> {
  const ttft = done.map((r) => r.ttftS).sort((a, b) => a - b);
  const tpot = done
    .map((r) => r.tpotS)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  return {
    ttftS: { p50: quantile(ttft, 0.5), p99: quantile(ttft, 0.99), mean: mean(ttft) },
    tpotS: { p50: quantile(tpot, 0.5), p99: quantile(tpot, 0.99), mean: mean(tpot) },
  };
}

/**
 * Every request at t = 0 (MLPerf Offline, vendor max-throughput tables): throughput over the part
 * of the run where the queue still feeds the batch — from the time a quarter of the requests have
 * completed (the first batch has turned over) to the time the last request was admitted — or,
 * when that window is empty (few requests per batch), between the 10th and 75th percentile
 * completions. `refill: false` (static batching): the run is one batch, measured whole.
 */
export async function runSaturatedCase(
  s: EngineSetup & { lengths: { prompt: number[]; output: number[] }; refill?: boolean },
): Promise<SaturatedRunResult> {
  const n = s.lengths.prompt.length;
  const reqs: TraceRequest[] = Array.from({ length: n }, (_, i) => ({
    id: i,
    arrivalS: 0,
    promptTokens: s.lengths.prompt[i]!,
    outputTokens: s.lengths.output[i]!,
  }));
  const records = await simulateRequests(reqs, s);
  const done = records.filter((r) => Number.isFinite(r.endS));
  const ends = done.map((r) => r.endS).sort((a, b) => a - b);
  let w0: number;
  let w1: number;
  if (s.refill === false) {
    w0 = 0;
    w1 = ends[ends.length - 1] ?? 0;
  } else {
    w0 = quantile(ends, 0.25);
    w1 = Math.max(...done.map((r) => r.firstScheduledS));
    if (!(w1 - w0 > 0.05 * (ends[ends.length - 1] ?? 0))) {
      w0 = quantile(ends, 0.1);
      w1 = quantile(ends, 0.75);
    }
  }
  const windowS = w1 - w0;
  const tokens =
    s.refill === false ? done.reduce((a, r) => a + r.outputTokens, 0) : outputTokensIn(records, w0, w1);
  const measured = s.refill === false ? done : done.filter((r) => r.endS >= w0 && r.firstTokenS <= w1);
  const out = measured.reduce((a, r) => a + r.outputTokens, 0);
  const inp = measured.reduce((a, r) => a + r.promptTokens, 0);
  return {
    outputTokPerS: windowS > 0 ? tokens / windowS : NaN,
    totalPerOutput: out > 0 ? (inp + out) / out : NaN,
    ...latencyFigures(measured),
    windowS,
    measured: measured.length,
    requests: n,
  };
}

/**
 * Fixed concurrency, closed loop (InferenceX): `clients` clients per simulated replica, each sending
 * its next request when the previous one completes (no think time), `turns` requests each.
 * Measured from the time every client has had its first answer to the time the first client sends
 * its last request (while all `clients` are in flight).
 */
export async function runClosedLoopCase(
  s: EngineSetup & { clients: number; turns: number; lengths: { prompt: number[]; output: number[] } },
): Promise<SaturatedRunResult> {
  const reqs: TraceRequest[] = [];
  let id = 0;
  for (let c = 0; c < s.clients; c++)
    for (let k = 0; k < s.turns; k++) {
      reqs.push({
        id,
        arrivalS: 0,
        promptTokens: s.lengths.prompt[id]!,
        outputTokens: s.lengths.output[id]!,
        sessionId: `c${c}`,
        turn: k,
        dependsOnPrevious: k > 0,
        gapS: 0,
      });
      id++;
    }
  const records = await simulateRequests(reqs, s);
  const firstEnd = new Map<string, number>();
  const lastStart = new Map<string, number>();
  for (const r of records) {
    const sid = r.sessionId ?? '';
    if (!Number.isFinite(r.endS)) continue;
    firstEnd.set(sid, Math.min(firstEnd.get(sid) ?? Infinity, r.endS));
    lastStart.set(sid, Math.max(lastStart.get(sid) ?? 0, r.arrivalS));
  }
  let w0 = Math.max(...firstEnd.values());
  let w1 = Math.min(...lastStart.values());
  const ends = records
    .map((r) => r.endS)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  if (!(w1 > w0)) {
    w0 = quantile(ends, 0.1);
    w1 = quantile(ends, 0.75);
  }
  const windowS = w1 - w0;
  const measured = records.filter((r) => Number.isFinite(r.endS) && r.arrivalS >= w0 && r.arrivalS <= w1);
  const out = measured.reduce((a, r) => a + r.outputTokens, 0);
  const inp = measured.reduce((a, r) => a + r.promptTokens, 0);
  return {
    outputTokPerS: windowS > 0 ? outputTokensIn(records, w0, w1) / windowS : NaN,
    totalPerOutput: out > 0 ? (inp + out) / out : NaN,
    ...latencyFigures(measured),
    windowS,
    measured: measured.length,
    requests: reqs.length,
  };
}

/** Poisson arrivals at `rate` with fixed lengths, through the engine; figures over the steady window. */
export async function runEngineCase(s: EngineRunSpec): Promise<EngineRunResult> {
  const rng = new Rng(s.seed);
  const reqs: TraceRequest[] = [];
  let t = 0;
  for (let i = 0; i < s.requests; i++) {
    t += rng.exponential(1 / s.rate);
    reqs.push({
      id: i,
      arrivalS: t,
      promptTokens: s.lengths?.prompt[i] ?? s.promptTokens,
      outputTokens: s.lengths?.output[i] ?? s.outputTokens,
    });
  }
  const lastArrival = t;
  const records = await simulateRequests(reqs, s);
  const w0 = Math.min(s.warmupS, 0.75 * lastArrival);
  const w1 = lastArrival;
  const tokens = outputTokensIn(records, w0, w1);
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
  const offered = s.rate * (s.lengths === undefined ? s.outputTokens : mean(s.lengths.output));
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

/**
 * The engine comparison for one prepared case (InputError: it cannot run): Server / Interactive
 * at the scheduled rate, Offline / vendor max-throughput tables with every request at t = 0,
 * static batching as one batch, fixed concurrency as a closed loop.
 */
export async function engineFigures(
  p: PreparedCase,
  profiles: PerfProfile[],
  opts: EngineValidationOptions = {},
): Promise<EngineFigures> {
  if (p.mode.kind === 'prefill') throw new InputError('batch-1 latency case: no engine run');
  const c = p.source;
  const pr = predictPrepared(p, profileFor(p, profiles).profile);
  if (pr.steady === null) throw new InputError('no steady-state batch');
  const r = pr.replica;
  const replicas = Math.max(1, pr.replicas ?? 1);
  const chips = r.layout.tp * r.layout.pp;
  // per chip of the measured system (idle chips, if its size is not a multiple, count)
  const systemChips = p.systemChips ?? replicas * chips;
  const isl = Math.max(1, r.workload.inputTokens);
  const osl = Math.max(1, r.workload.outputTokens);
  const seed = fnv1a(p.id);
  const policy = opts.batchPolicy?.(p) ?? 'chunked-prefill';
  const total = p.metric === 'total tokens/s per chip';
  const common = {
    reportedTtftP50Ms: latencyMs(c, 'ttft_p50_ms'),
    reportedTtftMeanMs: latencyMs(c, 'ttft_mean_ms'),
    reportedTpotP50Ms: latencyMs(c, 'tpot_p50_ms'),
    reportedTpotMeanMs: latencyMs(c, 'tpot_mean_ms'),
  };
  const meanErrors = (ttftMeanS: number, tpotMeanS: number) => ({
    ttftMeanErrorPct: p.reportedTtftS === null ? null : errPct(ttftMeanS, p.reportedTtftS),
    tpotMeanErrorPct: p.reportedTpotS === null ? null : errPct(tpotMeanS, p.reportedTpotS),
  });

  if (p.mode.kind !== 'latency') {
    // one replica stands for all (nothing couples replicas without an arrival process)
    const limits =
      p.mode.kind === 'static' || r.limits.kvReservation === 'full' ? pr.steady.batch : r.limits.maxBatch;
    const maxNumSeqs = Math.max(1, Math.min(limits, r.limits.maxBatch));
    const maxNumBatchedTokens = Math.max(maxNumSeqs, r.limits.tokenBudget(maxNumSeqs));
    const perf = engineReplicaPerf(p, r, maxNumSeqs, maxNumBatchedTokens, profiles);
    const setup = {
      replicas: [perf],
      maxNumSeqs,
      maxNumBatchedTokens,
      ttftLimitS: Infinity,
      tpotLimitS: Infinity,
      seed,
      batchPolicy: policy,
    };
    let run: SaturatedRunResult;
    let lengthsNote: string;
    let clients: number | null = null;
    if (p.mode.kind === 'concurrency') {
      clients = Math.max(1, Math.round(p.mode.concurrency));
      const turns = Math.max(4, Math.ceil((opts.maxRequests ?? 2000) / clients));
      const L = caseLengths(p, isl, osl, clients * turns, seed);
      lengthsNote = L.note;
      run = await runClosedLoopCase({ ...setup, clients, turns, lengths: L });
    } else {
      const refill = p.mode.kind !== 'static';
      const n = refill
        ? Math.min(opts.maxSaturatedRequests ?? 8000, Math.max(opts.maxRequests ?? 2000, 4 * maxNumSeqs))
        : maxNumSeqs;
      const L = caseLengths(p, isl, osl, n, seed);
      lengthsNote = L.note;
      run = await runSaturatedCase({ ...setup, lengths: L, refill });
    }
    const used = (replicas * chips) / systemChips;
    const perChip = (run.outputTokPerS * (total ? run.totalPerOutput : 1) * used) / chips;
    return {
      mode: p.mode.kind,
      throughput: perChip,
      errorPct: errPct(perChip, p.reported),
      ttftP99Ms: run.ttftS.p99 * 1000,
      ttftErrorPct: null,
      tpotP99Ms: run.tpotS.p99 * 1000,
      tpotErrorPct: null,
      ttftP50Ms: run.ttftS.p50 * 1000,
      ttftMeanMs: run.ttftS.mean * 1000,
      tpotP50Ms: run.tpotS.p50 * 1000,
      tpotMeanMs: run.tpotS.mean * 1000,
      ...common,
      ...(p.mode.kind === 'concurrency'
        ? meanErrors(run.ttftS.mean, run.tpotS.mean)
        : { ttftMeanErrorPct: null, tpotMeanErrorPct: null }),
      keepsUp: true,
      meetsConstraints: true,
      targetQps: NaN,
      simulatedReplicas: 1,
      replicas,
      requests: run.requests,
      maxNumSeqs,
      maxNumBatchedTokens,
      windowS: run.windowS,
      clients,
      batchPolicy: policy,
      lengths: lengthsNote,
    };
  }

  const qps = latencyMs(c, 'target_qps');
  if (qps === null) throw new InputError('no target_qps published');
  const maxNumSeqs = Math.max(1, pr.steady.batch);
  const stackBudget = r.limits.tokenBudget(maxNumSeqs);
  const maxNumBatchedTokens = Math.max(
    maxNumSeqs,
    Math.round(opts.tokenBudget?.(p, maxNumSeqs, stackBudget) ?? stackBudget),
  );
  const perf = engineReplicaPerf(p, r, maxNumSeqs, maxNumBatchedTokens, profiles);
  const maxRequests = opts.maxRequests ?? 3000;
  // a request's expected time in the system, for the window and the warm-up
  const inSystemS = pr.steady.ttftS + osl * pr.steady.tpotS;
  const targetWindowS = Math.max(opts.minWindowS ?? 60, 3 * inSystemS);
  const perReplicaRate = qps / replicas;
  let k = Math.min(replicas, opts.maxReplicas ?? 8);
  while (k > 1 && maxRequests / (perReplicaRate * k) < targetWindowS) k--;
  const rate = perReplicaRate * k;
  const requests = Math.max(1, Math.min(maxRequests, Math.ceil(targetWindowS * rate)));
  const L = opts.fixedLengths === true ? null : caseLengths(p, isl, osl, requests, seed);
  const run = await runEngineCase({
    replicas: Array.from({ length: k }, () => perf),
    rate,
    promptTokens: Math.round(isl),
    outputTokens: Math.round(osl),
    requests,
    maxNumSeqs,
    maxNumBatchedTokens,
    ttftLimitS: p.mode.limits.ttftP99S,
    tpotLimitS: p.mode.limits.tpotP99S,
    warmupS: Math.max(0.25 * (requests / rate), inSystemS),
    seed,
    ...(L === null ? {} : { lengths: L }),
    batchPolicy: policy,
  });
  const throughput = (run.outputTokPerS * (replicas / k)) / systemChips;
  const repTtft = latencyMs(c, 'ttft_p99_ms');
  const repTpot = latencyMs(c, 'tpot_p99_ms');
  const ttftP99Ms = run.ttftS.p99 * 1000;
  const tpotP99Ms = run.tpotS.p99 * 1000;
  return {
    mode: 'latency',
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
    ...common,
    ...meanErrors(run.ttftS.mean, run.tpotS.mean),
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
    clients: null,
    batchPolicy: policy,
    lengths:
      L === null
        ? `lengths fixed at ${Math.round(isl)} / ${Math.round(osl)} tokens (fixedLengths option)`
        : L.note,
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

/** Throughput errors of one predictor over the cases the engine ran. */
export interface ThroughputErrors extends GroupSummary {
  /** Share of cases within ±15 %. */
  within15Pct: number;
  byFamily: Record<string, GroupSummary>;
  byMode: Record<string, GroupSummary>;
}

/** The engine over every mode it runs, next to the steady-state model on the same cases. */
export interface EngineAllModes {
  /** Engine throughput errors (Server / Interactive, Offline, vendor tables, static batches, fixed concurrency). */
  engine: ThroughputErrors;
  /** The steady-state model's errors on the same cases. */
  steady: ThroughputErrors;
  /** Engine mean TTFT / TPOT against the published mean (or p50), where published. */
  meanLatency: { ttft: GroupSummary; tpot: GroupSummary };
  /** Cases (throughput, not batch-1 latency) the engine could not run, with the reason. */
  skipped: { id: string; reason: string }[];
}

function throughputErrors(rows: { family: string; mode: string; err: number }[]): ThroughputErrors {
  const errors = rows.map((r) => r.err);
  return {
    ...group(errors),
    within15Pct: errors.length === 0 ? NaN : errors.filter((e) => Math.abs(e) <= 15).length / errors.length,
    byFamily: groupBy(
      rows,
      (r) => r.family,
      (r) => r.err,
    ),
    byMode: groupBy(
      rows,
      (r) => r.mode,
      (r) => r.err,
    ),
  };
}

/** Which throughput figure `validate` leads with, in words. */
export const HEADLINE =
  'headline: the steady-state throughput error over every predicted case (the bar of the performance-model issue); the engine-in-the-loop figure covers the cases the engine runs (every throughput case but batch-1 latency) and is the check that the bar holds with the engine in the loop';

export function summarizeEngine(
  rows: EngineValidationRow[],
  skipped: { id: string; reason: string; mode?: string }[],
): EngineSummary {
  const withEngine = rows.filter((r) => r.engine !== null && r.engine.mode === 'latency');
  const figs = withEngine.map((r) => r.engine!);
  const by = new Map<string, EngineFigures[]>();
  const byFam = new Map<string, EngineFigures[]>();
  for (const r of withEngine) {
    by.set(r.hardwareKey, [...(by.get(r.hardwareKey) ?? []), r.engine!]);
    const f = hardwareFamily(r.hardwareKey);
    byFam.set(f, [...(byFam.get(f) ?? []), r.engine!]);
  }
  const byHardware: Record<string, EngineGroup> = {};
  for (const k of [...by.keys()].sort()) byHardware[k] = engineGroup(by.get(k)!);
  const byFamily: Record<string, EngineGroup> = {};
  for (const k of [...byFam.keys()].sort()) byFamily[k] = engineGroup(byFam.get(k)!);
  const all = rows.filter((r) => r.engine !== null);
  const pick = (err: (r: EngineValidationRow) => number) =>
    throughputErrors(
      all.map((r) => ({ family: hardwareFamily(r.hardwareKey), mode: r.engine!.mode, err: err(r) })),
    );
  const nums = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null);
  return {
    ...engineGroup(figs),
    keepsUp: figs.filter((e) => e.keepsUp).length,
    meetsConstraints: figs.filter((e) => e.meetsConstraints).length,
    skipped: skipped
      .filter((x) => x.mode === undefined || x.mode === 'latency')
      .map(({ id, reason }) => ({ id, reason })),
    byHardware,
    byFamily,
    allModes: {
      engine: pick((r) => r.engine!.errorPct),
      steady: pick((r) => r.errorPct!),
      meanLatency: {
        ttft: group(nums(all.map((r) => r.engine!.ttftMeanErrorPct))),
        tpot: group(nums(all.map((r) => r.engine!.tpotMeanErrorPct))),
      },
      skipped: skipped.map(({ id, reason }) => ({ id, reason })),
    },
    headline: HEADLINE,
  };
}

const ALL_MODES: EngineFigures['mode'][] = ['latency', 'offline', 'static', 'concurrency'];

/**
 * `validateCases` plus an engine run for every predicted throughput case (all modes by default):
 * rows gain `engine` (null where the engine did not run), the summary gains `engine`.
 */
export async function validateCasesWithEngine(
  cases: PublishedCase[],
  catalog: Catalog,
  profiles: PerfProfile[],
  opts: EngineValidationOptions = {},
): Promise<EngineValidationReport> {
  const base = validateCases(cases, catalog, profiles);
  const byId = new Map(cases.map((c) => [c.id, c]));
  const modes = opts.modes ?? ALL_MODES;
  const skipped: { id: string; reason: string; mode: string }[] = [];
  const rows: EngineValidationRow[] = [];
  for (const row of base.cases) {
    let engine: EngineFigures | null = null;
    const c = byId.get(row.id);
    const mode = row.config?.mode;
    if (
      row.status === 'predicted' &&
      mode !== undefined &&
      mode !== 'prefill' &&
      modes.includes(mode) &&
      c !== undefined &&
      (opts.only === undefined || opts.only(row.id))
    ) {
      const prep = prepareCase(c, catalog);
      if (prep.ok) {
        try {
          engine = await engineFigures(prep.prepared, profiles, opts);
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          skipped.push({ id: row.id, reason: err.message, mode });
        }
      }
    }
    rows.push({ ...row, engine });
  }
  return { cases: rows, summary: { ...base.summary, engine: summarizeEngine(rows, skipped) } };
}
