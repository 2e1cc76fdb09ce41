/**
 * Steady-state throughput of a serving system from the step-time model alone (no engine): the
 * batch a replica settles at, the time of one steady step, and tokens/s per replica and per chip.
 * Used to check the performance model against published benchmark results (DESIGN.md §7, §12).
 *
 * One replica is `tp × pp` chips (optionally with attention data-parallel over the TP group).
 * Continuous batching in steady state: every step carries the B running sequences' decode tokens
 * plus the prefill work that keeps the batch full — each output token "owes" isl/osl prompt tokens,
 * so a step carries P = B·isl/osl prefill tokens on average. When P does not fit in the step's
 * token budget (max_num_batched_tokens / max_num_tokens), the remainder runs as extra prefill-only
 * steps, amortised per cycle:
 *
 *   cycle(B)   = t(B decodes + c prefill tokens) + ((P − c) / T) · t(T prefill tokens),  c = min(P, T − B)
 *   output/s   = B / cycle(B)                                       (per replica)
 *   TPOT       = cycle(B)            (each running sequence gains one token per cycle)
 *   TTFT       ≈ t_mixed · (1 + isl / (T − B))   (one step of waiting + the prompt's chunks)
 *
 * Modes:
 *   - offline:       B = min(KV capacity at the reserved context, stack batch limit, token budget);
 *   - latency-bound: the largest B whose mean TPOT ≤ margin × p99 TPOT limit and mean TTFT ≤
 *                    margin × p99 TTFT limit (MLPerf Server / Interactive) — the capacity under the
 *                    limits, never the reported target rate;
 *   - concurrency:   B = min(concurrency per replica, KV, stack limit); clients beyond B queue;
 *   - static-batch:  a fixed batch prefilled together then decoded osl steps (no refill);
 *   - prefill:       time of one prefill of `isl` tokens at batch 1 (TTFT of a batch-1 request).
 */
import type { Accelerator, Model, Precision } from '../catalog/schema.js';
import { BYTES_PER_ELEMENT, totalParams } from '../catalog/params.js';
import { InputError } from '../util/errors.js';
import { chipRates } from './calibrate.js';
import { decodeAttentionTime } from './kernels.js';
import { kvBytesPerTokenPerLayerPerChip, memoryPlan, type MemoryPlan, type ReplicaSpec } from './memory.js';
import { effectiveKernel, type PerfProfile } from './profile.js';
import { ReplicaModel } from './step.js';
import { emptyStep, type StepBatch, type StepTimer } from './types.js';

/** Mean prompt and output lengths of the requests a system serves. */
export interface SteadyWorkload {
  inputTokens: number;
  outputTokens: number;
  /**
   * Length spread, when the requests' lengths vary (MLPerf datasets); absent for fixed ISL/OSL.
   * Under continuous batching a request holds a batch slot for as long as it decodes, so the
   * sequences running at any moment are weighted by their output length: their mean prompt is
   * E[i·o]/E[o] and their mean final output E[o²]/E[o] — both above the plain means when lengths
   * vary (a long answer is in the batch for longer).
   */
  spread?: LengthSpread;
}

/** Output-length-weighted moments of a request length distribution (see `SteadyWorkload.spread`). */
export interface LengthSpread {
  /** E[i·o] / E[o]: the mean prompt of a running sequence, tokens. */
  inputWeightedTokens: number;
  /** E[o²] / E[o]: the mean final output of a running sequence, tokens. */
  outputWeightedTokens: number;
}

/**
 * Mean context (prompt + tokens generated so far) of a running decode sequence: a sequence is seen
 * uniformly over its decode, so it has generated half its output on average; weighted by output
 * length when the lengths vary: E[i·o + o²/2] / E[o].
 */
export function runningContextTokens(w: SteadyWorkload): number {
  return w.spread === undefined
    ? w.inputTokens + w.outputTokens / 2
    : w.spread.inputWeightedTokens + w.spread.outputWeightedTokens / 2;
}

/**
 * How a serving stack batches: the most sequences it runs at once, its per-step token budget, how
 * it reserves KV (TensorRT-LLM's default GUARANTEED_NO_EVICT scheduler reserves a request's whole
 * isl+osl up front; vLLM and SGLang allocate blocks as tokens arrive, so the mean context counts).
 */
export interface StackLimits {
  /** Most sequences running at once per replica. */
  maxBatch: number;
  /** Token budget of one step (decode tokens + prefill chunk) for a batch of `batch` sequences. */
  tokenBudget(batch: number): number;
  kvReservation: 'full' | 'incremental';
  blockSizeTokens: number;
  /**
   * Share of HBM the engine may use, given the weights a chip holds: vLLM's gpu_memory_utilization
   * is a share of the whole HBM; TensorRT-LLM's kv_cache_free_gpu_mem_fraction is a share of what
   * the weights leave free (W + f·(H − W) of H).
   */
  memoryUtilization(weightBytesPerChip: number, hbmBytesPerChip: number): number;
  /** Where the limits come from, in words. */
  description: string;
}

/** trtllm-bench's tuning heuristic (tensorrt_llm/bench/build/tuning.py, `finetune_setting`). */
export const TRTLLM_MAX_BATCH = 4096;
export const TRTLLM_MAX_TOKENS_CAP = 32768;
export const TRTLLM_MIN_TOKENS = 2048;

/**
 * Batching limits per stack (documented defaults; MLPerf submitters tune their own, within these
 * ranges — NVIDIA's llama2-70b configs run 806–2048 sequences per engine):
 *  - trtllm: max batch 4096 and max_num_tokens = clamp(B·(1 + isl/osl), 2048, 32768), as
 *    trtllm-bench sets them; KV reserved for the full isl+osl (GUARANTEED_NO_EVICT); 32-token blocks;
 *  - vllm / rocm-vllm / sglang / unknown: vLLM ≥ 0.8 defaults (vllm/engine/arg_utils.py) — 1024
 *    sequences and 16384 batched tokens offline (8192 for an API server) on GPUs with ≥ 70 GiB that
 *    are not A100, else 256 sequences and 8192 (2048) tokens; vLLM < 0.8 (the V0 engine): 256
 *    sequences and 8192 tokens; blocks of 16 tokens, KV allocated incrementally.
 */
export function stackLimits(
  stackKey: string | null,
  acc: Accelerator,
  workload: SteadyWorkload,
  serving: 'offline' | 'online',
  opts: { legacyVllm?: boolean } = {},
): StackLimits {
  if (stackKey === 'trtllm') {
    const ratio = 1 + workload.inputTokens / workload.outputTokens;
    return {
      maxBatch: TRTLLM_MAX_BATCH,
      tokenBudget: (batch) =>
        Math.max(TRTLLM_MIN_TOKENS, Math.min(TRTLLM_MAX_TOKENS_CAP, Math.ceil(batch * ratio))),
      kvReservation: 'full',
      blockSizeTokens: 32,
      memoryUtilization: (w, h) => Math.min(0.99, 0.9 + (0.1 * w) / h),
      description: `TensorRT-LLM (trtllm-bench heuristic): ≤ ${TRTLLM_MAX_BATCH} sequences, max_num_tokens = clamp(B·(1+isl/osl), ${TRTLLM_MIN_TOKENS}, ${TRTLLM_MAX_TOKENS_CAP}), KV reserved for isl+osl, 0.9 of the memory the weights leave free`,
    };
  }
  const big = acc.hbmGB * 1e9 >= 70 * 2 ** 30 && !/A100/i.test(acc.key);
  const legacy = opts.legacyVllm === true;
  const maxBatch = big && !legacy ? 1024 : 256;
  const tokens = legacy
    ? 8192
    : big
      ? serving === 'offline'
        ? 16384
        : 8192
      : serving === 'offline'
        ? 8192
        : 2048;
  return {
    maxBatch,
    tokenBudget: () => tokens,
    kvReservation: 'incremental',
    blockSizeTokens: 16,
    memoryUtilization: () => 0.9,
    description: `${stackKey ?? 'unknown stack'} (vLLM ${legacy ? '< 0.8' : '≥ 0.8'} defaults): ≤ ${maxBatch} sequences, ${tokens} batched tokens per step, KV allocated as tokens arrive, 0.9 of HBM`,
  };
}

/** How a replica is laid out over chips. */
export interface ReplicaLayout {
  tp: number;
  pp: number;
  /**
   * Attention data-parallel degree inside the TP group (DEP: attention DP + expert parallel). With
   * DP attention each chip holds the KV of its own share of the sequences: KV capacity × dp, and a
   * decode step reads 1/dp of the batch's KV per chip (attention FLOPs per chip are the same as
   * with TP heads). Linear layers are modelled as TP (sharded weights: the same bytes and FLOPs per
   * chip as expert parallelism; replicated attention weights under DP are not counted).
   */
  attentionDp: number;
}

export interface SteadyReplica {
  model: Model;
  accelerator: Accelerator;
  weights: Precision;
  kv: Precision;
  layout: ReplicaLayout;
  limits: StackLimits;
  workload: SteadyWorkload;
}

export function chipsPerReplica(l: ReplicaLayout): number {
  return l.tp * l.pp;
}

/**
 * By how much attention DP cuts the KV a chip reads per decode step: dp for MLA (whose latent is
 * otherwise read in full on every TP rank), 1 for GQA (TP already splits the KV heads).
 */
export function kvReadDivisor(r: SteadyReplica): number {
  return r.model.attention.type === 'mla' ? r.layout.attentionDp : 1;
}

/** Context a running sequence holds KV for, as the stack reserves it. */
export function reservedContextTokens(w: SteadyWorkload, limits: StackLimits): number {
  if (limits.kvReservation !== 'full') return runningContextTokens(w);
  return w.spread === undefined
    ? w.inputTokens + w.outputTokens
    : w.spread.inputWeightedTokens + w.spread.outputWeightedTokens;
}

/** The replica model's spec for a steady replica at the given engine limits. */
export function steadyReplicaSpec(
  r: SteadyReplica,
  maxNumSeqs: number,
  maxNumBatchedTokens: number,
): ReplicaSpec {
  const weightBytesPerChip =
    (totalParams(r.model) * BYTES_PER_ELEMENT[r.weights]) / chipsPerReplica(r.layout);
  return {
    model: r.model,
    accelerator: r.accelerator,
    tp: r.layout.tp,
    pp: r.layout.pp,
    ep: r.layout.attentionDp,
    weights: r.weights,
    kv: r.kv,
    blockSize: r.limits.blockSizeTokens,
    maxNumSeqs,
    maxNumBatchedTokens,
    memoryUtilization: r.limits.memoryUtilization(weightBytesPerChip, r.accelerator.hbmGB * 1e9),
  };
}

/**
 * Sequences of `contextTokens` that fit in a plan's paged KV (whole blocks per sequence). MLA's
 * latent cache is replicated on every TP rank, so with attention DP each rank holding its own
 * sequences multiplies the capacity by dp; GQA heads shard over TP already (same total either way).
 */
function sequencesFitting(plan: MemoryPlan, contextTokens: number, r: SteadyReplica): number {
  const dp = r.model.attention.type === 'mla' ? r.layout.attentionDp : 1;
  return dp * Math.floor(plan.kvCapacityBlocks / Math.ceil(contextTokens / plan.blockSize));
}

export interface ReplicaCapacity {
  plan: MemoryPlan;
  /** Sequences the KV cache holds at the reserved context. */
  kvSequences: number;
  /** min(KV sequences, stack batch limit, token budget). */
  maxBatch: number;
  /** Token budget per step at that batch. */
  tokenBudget: number;
  limitedBy: 'kv' | 'stack' | 'tokens';
}

/**
 * Memory plan and the largest batch a replica can run. The activation reserve depends on the
 * token budget, which (for TensorRT-LLM) depends on the batch: two passes settle it. Throws
 * InputError when the model does not fit.
 */
export function replicaCapacity(r: SteadyReplica): ReplicaCapacity {
  const hit = CAPACITY.get(r);
  if (hit !== undefined) return hit;
  const ctx = reservedContextTokens(r.workload, r.limits);
  // the activation reserve grows with the batch limit: halve the limit until the plan fits
  let limit = r.limits.maxBatch;
  let plan: MemoryPlan;
  for (;;) {
    try {
      plan = memoryPlan(steadyReplicaSpec(r, limit, r.limits.tokenBudget(limit)));
      break;
    } catch (err) {
      if (!(err instanceof InputError) || limit <= 1) throw err;
      limit = Math.max(1, Math.floor(limit / 2));
    }
  }
  // then size the reserve for the batch the KV actually holds
  const first = Math.max(1, Math.min(sequencesFitting(plan, ctx, r), limit));
  plan = memoryPlan(steadyReplicaSpec(r, first, r.limits.tokenBudget(first)));
  const kvSequences = sequencesFitting(plan, ctx, r);
  let maxBatch = Math.min(kvSequences, r.limits.maxBatch);
  let limitedBy: ReplicaCapacity['limitedBy'] = kvSequences <= r.limits.maxBatch ? 'kv' : 'stack';
  const budget = r.limits.tokenBudget(Math.max(1, maxBatch));
  if (maxBatch > budget) {
    maxBatch = budget;
    limitedBy = 'tokens';
  }
  const cap = { plan, kvSequences, maxBatch, tokenBudget: budget, limitedBy };
  CAPACITY.set(r, cap);
  return cap;
}

/** Capacities by replica object (profile-independent; validation and fits ask many times). */
const CAPACITY = new WeakMap<SteadyReplica, ReplicaCapacity>();

/**
 * The step-time model of a replica for steady-state evaluation. Built without the engine's
 * token-indexed tables (a steady evaluation calls `stepTimeS` a handful of times, and the tables
 * cost milliseconds per replica); the memory plan comes from `replicaCapacity` with the real limits.
 *
 * MLA with attention data-parallel: the replica model shards attention heads over TP, so for a
 * chip's share of the contexts (1/dp, which the steady functions pass) it counts 1/tp of the
 * heads' FLOPs; a DP rank runs all heads. The difference in decode-attention time is added here
 * (same kernel function, same parameters).
 */
export function steadyTimer(r: SteadyReplica, profile: PerfProfile): StepTimer {
  const key = timerKey(r, profile);
  const hit = TIMERS.get(key);
  if (hit !== undefined) return hit;
  if (TIMERS.size >= TIMER_CACHE_MAX) TIMERS.clear();
  const t = buildTimer(r, profile);
  TIMERS.set(key, t);
  return t;
}

/**
 * Timers are cached by replica shape and profile values: building a replica model costs ~2 ms
 * (its attention table), and validation and fitting evaluate the same shapes many times.
 */
const TIMERS = new Map<string, StepTimer>();
const TIMER_CACHE_MAX = 20000;

function timerKey(r: SteadyReplica, p: PerfProfile): string {
  const k = p.kernel;
  return [
    r.model.key,
    r.accelerator.key,
    r.layout.tp,
    r.layout.pp,
    r.layout.attentionDp,
    kvReadDivisor(r),
    r.weights,
    r.kv,
    p.key,
    p.source,
    p.hardware,
    p.corrections === null ? 0 : Object.keys(p.corrections).length,
    p.stepOverheadS,
    p.seqOverheadS,
    p.allReduceLatencyS,
    p.computeEffScale,
    p.memEffScale,
    k.gemmFloorS,
    k.gemmComputeEff,
    k.gemmMHalf,
    k.memEff,
    k.smoothP,
    k.attnDecodeFloorS,
    k.attnDecodeMemEff,
    k.attnPrefillFloorS,
    k.attnPrefillComputeEff,
    k.elementwiseFloorS,
  ].join('|');
}

function buildTimer(r: SteadyReplica, profile: PerfProfile): StepTimer {
  return attentionDpTimer(new ReplicaModel(steadyReplicaSpec(r, 1, 1), profile), r, profile);
}

/**
 * A replica model's timer adjusted for attention data-parallel ranks (DEP), shared by the steady
 * model and the engine runs of `validate`. MLA: a rank runs every head over its share of the
 * contexts, where the replica model counts 1/tp of the heads — the difference in decode-attention
 * time is added. (The per-sequence host time is kept whole: dividing it by dp, as if the ranks'
 * schedulers shared it perfectly, made the published-results fit worse — DeepSeek-R1 MLPerf cases
 * from +3 % to +30 % — so the ranks are taken to wait for each other.)
 * `contextDivisor`: what to divide the batch's decode context by to get one rank's share (1 when
 * the caller already passes a rank's share, as the steady functions do; the engine passes dp).
 */
export function attentionDpTimer(
  base: StepTimer,
  r: SteadyReplica,
  profile: PerfProfile,
  contextDivisor = 1,
): StepTimer {
  const m = r.model;
  const dp = kvReadDivisor(r);
  const mla = m.attention.type === 'mla' && dp > 1 ? m.attention.mla : null;
  if (mla === null) return base;
  const hc = m.attention.heads / r.layout.tp;
  const flopsPerPairTp =
    mla === null ? 0 : 2 * hc * (mla.kvLoraRank + mla.qkRopeHeadDim) + 2 * hc * mla.kvLoraRank;
  const kvBytes = kvBytesPerTokenPerLayerPerChip(m, r.layout.tp, r.kv);
  const kp = effectiveKernel(profile);
  const rates = chipRates(r.accelerator, 'bf16');
  const layers = m.layers / r.layout.pp;
  const scratch = emptyStep();
  return {
    stepTimeS(b: StepBatch): number {
      let batch = b;
      if (contextDivisor !== 1) {
        Object.assign(scratch, b);
        scratch.decodeContextTokens = Math.round(b.decodeContextTokens / contextDivisor);
        batch = scratch;
      }
      const s = base.stepTimeS(batch);
      const ctx = batch.decodeContextTokens;
      if (ctx <= 0) return s;
      const bytes = ctx * kvBytes;
      const tpFlops = ctx * flopsPerPairTp;
      const extra =
        decodeAttentionTime(bytes, tpFlops * r.layout.tp, rates, kp).seconds -
        decodeAttentionTime(bytes, tpFlops, rates, kp).seconds;
      return s + Math.max(0, extra) * layers;
    },
  };
}

/** Pieces of one steady cycle (see the module comment). */
export interface SteadyCycle {
  batch: number;
  mixed: StepBatch;
  mixedS: number;
  /** Prefill-only steps of `tokenBudget` tokens per cycle (fractional, amortised). */
  extraPrefillSteps: number;
  extraPrefillS: number;
  /** Seconds per cycle (= TPOT). */
  cycleS: number;
  /** Mean TTFT estimate, seconds. */
  ttftS: number;
}

/** A prefill-only step of `tokens` prompt tokens (whole prompts of `isl` when it holds them). */
export function prefillStep(tokens: number, isl: number): StepBatch {
  const b = emptyStep();
  const t = Math.max(1, Math.round(tokens));
  b.prefillTokens = t;
  b.prefillSeqs = Math.max(1, Math.ceil(t / isl));
  // causal pairs of `t` prompt tokens taken as whole prompts of isl: t·(isl+1)/2 (a chunk of a
  // longer prompt sees its prior context: the same count on average)
  b.prefillAttnPairs = (t * (Math.min(isl, t) + 1)) / 2 + (t < isl ? (t * (isl - t)) / 2 : 0);
  b.prefillContextTokens = t < isl ? (isl - t) / 2 : 0;
  return b;
}

/** One steady cycle at batch B (B ≥ 1). */
export function steadyCycle(
  timer: StepTimer,
  batch: number,
  w: SteadyWorkload,
  tokenBudget: number,
  kvDivisor = 1,
): SteadyCycle {
  const B = Math.max(1, Math.floor(batch));
  const isl = w.inputTokens;
  const prefillPerStep = (B * isl) / w.outputTokens;
  const room = Math.max(0, tokenBudget - B);
  const c = Math.min(prefillPerStep, room);
  const mixed = emptyStep();
  mixed.decodeSeqs = B;
  mixed.decodeContextTokens = Math.round((B * runningContextTokens(w)) / kvDivisor);
  if (c >= 1) {
    const p = prefillStep(c, isl);
    mixed.prefillTokens = p.prefillTokens;
    mixed.prefillSeqs = p.prefillSeqs;
    mixed.prefillAttnPairs = p.prefillAttnPairs;
    mixed.prefillContextTokens = p.prefillContextTokens;
  }
  const mixedS = timer.stepTimeS(mixed);
  const remainder = prefillPerStep - (c >= 1 ? mixed.prefillTokens : 0);
  const extraPrefillSteps = remainder > 0 ? remainder / Math.max(1, tokenBudget) : 0;
  let extraPrefillS = 0;
  if (extraPrefillSteps > 0) {
    extraPrefillS = timer.stepTimeS(prefillStep(Math.max(1, tokenBudget), isl));
  }
  const cycleS = mixedS + extraPrefillSteps * extraPrefillS;
  const ttftS = mixedS * (1 + isl / Math.max(1, room));
  return { batch: B, mixed, mixedS, extraPrefillSteps, extraPrefillS, cycleS, ttftS };
}

export type LimitedBy = 'kv' | 'stack' | 'tokens' | 'tpot' | 'ttft' | 'concurrency' | 'fixed';

export interface SteadyResult {
  batch: number;
  limitedBy: LimitedBy;
  cycle: SteadyCycle;
  outputTokensPerSPerReplica: number;
  outputTokensPerSPerChip: number;
  /** Input + output tokens per second per chip (InferenceX's metric). */
  totalTokensPerSPerChip: number;
  tpotS: number;
  ttftS: number;
  capacity: ReplicaCapacity;
}

function result(
  r: SteadyReplica,
  cap: ReplicaCapacity,
  cycle: SteadyCycle,
  limitedBy: LimitedBy,
  outputPerReplica: number,
  ttftS: number,
): SteadyResult {
  const chips = chipsPerReplica(r.layout);
  const perChip = outputPerReplica / chips;
  const w = r.workload;
  return {
    batch: cycle.batch,
    limitedBy,
    cycle,
    outputTokensPerSPerReplica: outputPerReplica,
    outputTokensPerSPerChip: perChip,
    totalTokensPerSPerChip: (perChip * (w.inputTokens + w.outputTokens)) / w.outputTokens,
    tpotS: cycle.cycleS,
    ttftS,
    capacity: cap,
  };
}

/** Offline / max-throughput: the largest batch that fits, kept full by continuous batching. */
export function offlineThroughput(
  r: SteadyReplica,
  timer: StepTimer,
  cap = replicaCapacity(r),
): SteadyResult {
  if (cap.maxBatch < 1) throw new InputError(`${r.model.name}: no sequence of this length fits in KV`);
  const cycle = steadyCycle(timer, cap.maxBatch, r.workload, cap.tokenBudget, kvReadDivisor(r));
  return result(r, cap, cycle, cap.limitedBy, cycle.batch / cycle.cycleS, cycle.ttftS);
}

export interface LatencyLimits {
  /** p99 TPOT limit, seconds. */
  tpotP99S: number;
  /** p99 TTFT limit, seconds. */
  ttftP99S: number;
}

/**
 * Margins between a mean and its p99 limit under Poisson arrivals: a run passes when the mean
 * TPOT stays under 0.8 × the p99 TPOT limit (per-request TPOT averages many steps, so its tail is
 * short) and the mean TTFT under 0.5 × the p99 TTFT limit (TTFT carries queueing, a long tail).
 */
export const TPOT_MARGIN = 0.8;
export const TTFT_MARGIN = 0.5;

/** Server / Interactive: the capacity under the latency limits (binary search on the batch). */
export function latencyBoundThroughput(
  r: SteadyReplica,
  timer: StepTimer,
  limits: LatencyLimits,
  cap = replicaCapacity(r),
): SteadyResult {
  if (cap.maxBatch < 1) throw new InputError(`${r.model.name}: no sequence of this length fits in KV`);
  const tpotMax = TPOT_MARGIN * limits.tpotP99S;
  const ttftMax = TTFT_MARGIN * limits.ttftP99S;
  const at = (b: number): SteadyCycle =>
    steadyCycle(timer, b, r.workload, r.limits.tokenBudget(b), kvReadDivisor(r));
  const ok = (c: SteadyCycle): boolean => c.cycleS <= tpotMax && c.ttftS <= ttftMax;
  const top = at(cap.maxBatch);
  if (ok(top)) return result(r, cap, top, cap.limitedBy, top.batch / top.cycleS, top.ttftS);
  let lo = 1;
  let hi = cap.maxBatch;
  let best = at(1);
  if (ok(best)) {
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      const c = at(mid);
      if (ok(c)) {
        lo = mid;
        best = c;
      } else hi = mid;
    }
  }
  const limitedBy: LimitedBy = best.cycleS > tpotMax || at(best.batch + 1).cycleS > tpotMax ? 'tpot' : 'ttft';
  return result(r, cap, best, limitedBy, best.batch / best.cycleS, best.ttftS);
}

/**
 * Fixed client concurrency (InferenceX): B = min(concurrency, capacity); clients beyond B wait.
 * TTFT by Little's law: with C clients in the system and B decoding, a request spends C/B × its
 * decode time in the system, so it waits (C/B − 1) × osl × TPOT before its prefill.
 */
export function concurrencyThroughput(
  r: SteadyReplica,
  timer: StepTimer,
  concurrency: number,
  cap = replicaCapacity(r),
): SteadyResult {
  if (cap.maxBatch < 1) throw new InputError(`${r.model.name}: no sequence of this length fits in KV`);
  const B = Math.max(1, Math.min(Math.floor(concurrency), cap.maxBatch));
  const cycle = steadyCycle(timer, B, r.workload, r.limits.tokenBudget(B), kvReadDivisor(r));
  const wait = concurrency > B ? (concurrency / B - 1) * r.workload.outputTokens * cycle.cycleS : 0;
  return result(
    r,
    cap,
    cycle,
    concurrency > B ? cap.limitedBy : 'concurrency',
    B / cycle.cycleS,
    cycle.ttftS + wait,
  );
}

/**
 * Static batching of a fixed batch: all B prompts prefilled (in steps of the token budget), then
 * osl decode steps at the mean context; nothing refills the batch. Output/s = B·osl / total time.
 */
export function staticBatchThroughput(
  r: SteadyReplica,
  timer: StepTimer,
  batch: number | null,
  cap = replicaCapacity(r),
): SteadyResult {
  const fitting = Math.min(cap.kvSequences, r.limits.maxBatch);
  const B = Math.max(1, Math.min(batch ?? fitting, fitting));
  const w = r.workload;
  const budget = Math.max(r.limits.tokenBudget(B), w.inputTokens);
  const prefillTokens = B * w.inputTokens;
  const fullSteps = Math.floor(prefillTokens / budget);
  const rest = prefillTokens - fullSteps * budget;
  const pre = (n: number): number => timer.stepTimeS(prefillStep(n, w.inputTokens));
  const prefillS = fullSteps * (fullSteps > 0 ? pre(budget) : 0) + (rest >= 1 ? pre(rest) : 0);
  const d = emptyStep();
  d.decodeSeqs = B;
  d.decodeContextTokens = Math.round((B * runningContextTokens(w)) / kvReadDivisor(r));
  const decodeS = timer.stepTimeS(d);
  const totalS = prefillS + w.outputTokens * decodeS;
  const cycle: SteadyCycle = {
    batch: B,
    mixed: d,
    mixedS: decodeS,
    extraPrefillSteps: 0,
    extraPrefillS: 0,
    cycleS: decodeS,
    ttftS: prefillS,
  };
  return result(
    r,
    cap,
    cycle,
    batch === null ? cap.limitedBy : 'fixed',
    (B * w.outputTokens) / totalS,
    prefillS,
  );
}

/** Time of one prefill of `isl` tokens at batch 1 (the TTFT of a lone request). */
export function prefillLatencyS(timer: StepTimer, isl: number): number {
  return timer.stepTimeS(prefillStep(isl, isl));
}
