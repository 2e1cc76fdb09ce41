/**
 * Step time of one engine step on one replica (DESIGN.md §7): the sum over layers of linear layers,
 * attention, norms and elementwise traffic, tensor-parallel all-reduces, pipeline hand-offs, plus a
 * per-step host overhead. Two ways in, from the same component functions:
 *  - `breakdown(batch)`: every component with FLOPs, bytes, time and what bound it (for `perf`);
 *  - `stepTimeS(batch)`: the engine's hot path — token-indexed tables precomputed at build time,
 *    so a call is a few lookups and two attention kernels, with no allocation.
 */
import type { Model } from '../catalog/schema.js';
import { BYTES_PER_ELEMENT } from '../catalog/params.js';
import { correctionAt, chipRates } from './calibrate.js';
import {
  decodeAttentionTime,
  elementwiseTime,
  expectedPaddedRowsPerExpert,
  gemmTime,
  groupedGemmTime,
  prefillAttentionTime,
  type Bound,
  type ChipRates,
  type KernelParams,
  type KernelTime,
} from './kernels.js';
import {
  kvBytesPerTokenPerLayerPerChip,
  kvHeadsPerChip,
  memoryPlan,
  type MemoryPlan,
  type ReplicaSpec,
} from './memory.js';
import { effectiveKernel, type PerfProfile } from './profile.js';
import type { ReplicaPerf, StepBatch } from './types.js';
import { InputError } from '../util/errors.js';

/** One line of a step breakdown. */
export interface StepComponent {
  name: string;
  /** How many times it runs in the step (e.g. per layer × layers). */
  count: number;
  seconds: number;
  flops: number;
  bytes: number;
  bound: Bound | 'network' | 'host';
}

export interface StepBreakdown {
  seconds: number;
  components: StepComponent[];
  tokens: number;
}

interface Gemm {
  name: string;
  n: number;
  k: number;
  /** Layers it runs in. */
  layers: number;
}

/** Decode-attention table: 64 points per factor e of context (≤ 1.6 % apart), up to e^36 tokens. */
const ATTN_TABLE_PER_E = 64;
const ATTN_TABLE_MAX_LN = 36;

/** A kernel that runs `count` times in the step (once per layer, usually), as a breakdown line. */
function scaled(name: string, count: number, t: KernelTime): StepComponent {
  return {
    name,
    count,
    seconds: t.seconds * count,
    flops: t.flops * count,
    bytes: t.bytes * count,
    bound: t.bound,
  };
}

/** Everything about a replica that does not depend on the batch. */
export class ReplicaModel implements ReplicaPerf {
  readonly plan: MemoryPlan;
  readonly kv: { tokens: number; blockSize: number; blocks: number };
  readonly label: string;
  private readonly kp: KernelParams;
  private readonly rates: ChipRates;
  private readonly wb: number;
  private readonly gemms: Gemm[];
  private readonly lmHead: Gemm;
  private readonly denseLayers: number;
  private readonly moeLayers: number;
  private readonly fullLayers: number;
  private readonly slidingLayers: number;
  private readonly window: number;
  private readonly kvBytesPerTokenLayer: number;
  /** Attention FLOPs per (query, key) pair per layer on one chip: 2·heads·(qk dim) + 2·heads·(v dim). */
  private readonly attnFlopsPerPair: number;
  private readonly linearByTokens: Float64Array;
  private readonly lmHeadBySeqs: Float64Array;
  /** Decode attention per layer at context e^(i / ATTN_TABLE_PER_E) tokens. */
  private readonly decodeAttnTable: Float64Array;
  private readonly decodeCorr: [number, number][] | undefined;
  private readonly prefillCorr: [number, number][] | undefined;

  constructor(
    readonly spec: ReplicaSpec,
    readonly profile: PerfProfile,
  ) {
    const { model: m, accelerator: acc, tp, pp } = spec;
    if (tp > 1 && acc.scaleupGBpsPerChip === null)
      throw new InputError(
        `${acc.name} has no scale-up link in the catalog; tensor parallelism (tp=${tp}) cannot be modelled`,
      );
    if (acc.bf16DenseTflops === null)
      throw new InputError(`${acc.name} has no bf16 peak in the catalog; its step time cannot be modelled`);
    this.plan = memoryPlan(spec);
    this.kv = {
      tokens: this.plan.kvCapacityTokens,
      blockSize: spec.blockSize,
      blocks: this.plan.kvCapacityBlocks,
    };
    this.label = `${m.name} on ${tp * pp}× ${acc.name} (tp=${tp}${pp > 1 ? `, pp=${pp}` : ''}, ${spec.weights} weights, ${spec.kv} KV)`;
    this.kp = effectiveKernel(profile);
    const gemmPrecision = acc.precisions.includes(spec.weights) ? spec.weights : 'bf16';
    this.rates = chipRates(acc, gemmPrecision);
    if (gemmPrecision !== spec.weights)
      this.plan.notes.push(
        `${acc.name} has no ${spec.weights} math in the catalog: ${spec.weights} weights are modelled as weight-only quantization (${spec.weights} bytes, bf16 compute)`,
      );
    this.wb = BYTES_PER_ELEMENT[spec.weights];
    const moe = m.moe;
    this.moeLayers = moe === null ? 0 : m.layers - moe.firstDenseLayers;
    this.denseLayers = m.layers - this.moeLayers;
    const pattern = m.attention.layerPattern;
    let sliding = 0;
    for (let i = 0; i < m.layers; i++) if (pattern[i % pattern.length] === 'sliding') sliding++;
    this.slidingLayers = sliding;
    this.fullLayers = m.layers - sliding;
    this.window = m.attention.slidingWindow ?? Number.MAX_SAFE_INTEGER;
    this.kvBytesPerTokenLayer = kvBytesPerTokenPerLayerPerChip(m, tp, spec.kv);
    this.gemms = attentionGemms(m, tp);
    if (m.ffn !== null && this.denseLayers > 0) {
      const f = m.ffn.intermediateSize;
      this.gemms.push(
        {
          name: m.ffn.gated ? 'ffn gate_up' : 'ffn up',
          n: ((m.ffn.gated ? 2 : 1) * f) / tp,
          k: m.hiddenSize,
          layers: this.denseLayers,
        },
        { name: 'ffn down', n: m.hiddenSize, k: f / tp, layers: this.denseLayers },
      );
    }
    if (moe !== null && moe.sharedExperts > 0) {
      const f = moe.sharedExperts * moe.moeIntermediateSize;
      this.gemms.push(
        { name: 'shared experts gate_up', n: (2 * f) / tp, k: m.hiddenSize, layers: this.moeLayers },
        { name: 'shared experts down', n: m.hiddenSize, k: f / tp, layers: this.moeLayers },
      );
    }
    this.lmHead = { name: 'lm_head', n: m.vocabSize / tp, k: m.hiddenSize, layers: 1 };
    const a = m.attention;
    const hc = a.heads / tp;
    if (a.type === 'mla' && a.mla) {
      // absorbed MLA: scores over (kv_lora + rope), values over kv_lora
      this.attnFlopsPerPair = 2 * hc * (a.mla.kvLoraRank + a.mla.qkRopeHeadDim) + 2 * hc * a.mla.kvLoraRank;
    } else {
      this.attnFlopsPerPair = 4 * hc * (a.headDim ?? 0);
    }
    const corr = profile.corrections;
    this.decodeCorr = corr?.['attn-decode'];
    this.prefillCorr = corr?.['attn-prefill'];
    // Token-indexed tables for the hot path.
    const maxT = spec.maxNumBatchedTokens + spec.maxNumSeqs;
    this.linearByTokens = new Float64Array(maxT + 1);
    for (let t = 1; t <= maxT; t++)
      this.linearByTokens[t] = this.linearComponents(t).reduce((s, c) => s + c.seconds, 0);
    this.lmHeadBySeqs = new Float64Array(spec.maxNumSeqs + spec.maxNumBatchedTokens + 1);
    for (let s = 1; s < this.lmHeadBySeqs.length; s++)
      this.lmHeadBySeqs[s] = this.gemm(this.lmHead, s).seconds;
    this.decodeAttnTable = new Float64Array(Math.ceil(ATTN_TABLE_MAX_LN * ATTN_TABLE_PER_E) + 2);
    for (let i = 0; i < this.decodeAttnTable.length; i++)
      this.decodeAttnTable[i] = this.decodeAttnExactS(Math.exp(i / ATTN_TABLE_PER_E));
  }

  private gemm(g: Gemm, m: number): KernelTime {
    const t = gemmTime(m, g.n, g.k, this.wb, 2, this.rates, this.kp);
    const c = this.profile.corrections;
    if (c === null) return t;
    const dtype = this.wb === 1 ? 'fp8' : 'bf16';
    const pts = c[`gemm:${dtype}:${g.n}x${g.k}`];
    return pts === undefined ? t : { ...t, seconds: t.seconds * Math.exp(correctionAt(pts, Math.log(m))) };
  }

  /** Components that depend only on the number of tokens in the step. */
  linearComponents(tokens: number): StepComponent[] {
    const { model: m, tp, pp } = this.spec;
    const out: StepComponent[] = [];
    for (const g of this.gemms) {
      const t = this.gemm(g, tokens);
      out.push(scaled(g.name, g.layers, t));
    }
    const moe = m.moe;
    if (moe !== null && this.moeLayers > 0) {
      const router = gemmTime(tokens, moe.routedExperts, m.hiddenSize, 2, 2, this.rates, this.kp);
      out.push(scaled('moe router', this.moeLayers, router));
      const e = moe.routedExperts;
      const k = moe.expertsPerToken;
      // expected distinct experts touched by `tokens` tokens choosing k of e uniformly
      const touched = e * (1 - Math.pow(1 - k / e, tokens));
      const mPer = (tokens * k) / touched;
      const f = moe.moeIntermediateSize / tp;
      const padded = expectedPaddedRowsPerExpert((tokens * k) / e, MOE_TILE_M);
      const gu = groupedGemmTime(mPer, touched, 2 * f, m.hiddenSize, this.wb, 2, this.rates, this.kp, padded);
      const dn = groupedGemmTime(mPer, touched, m.hiddenSize, f, this.wb, 2, this.rates, this.kp, padded);
      out.push(
        scaled(`experts gate_up (${touched.toFixed(1)} of ${e} touched)`, this.moeLayers, gu),
        scaled('experts down', this.moeLayers, dn),
      );
    }
    // norms (2), rotary, activation: four elementwise kernels per layer
    const ffnWidth = (m.ffn?.intermediateSize ?? moe?.moeIntermediateSize ?? m.hiddenSize) / tp;
    const ewBytes = tokens * (8 * m.hiddenSize * 2 + 3 * ffnWidth * 2);
    const ew = elementwiseTime(ewBytes / 4, this.rates, this.kp);
    out.push({
      name: 'norms & elementwise',
      count: 4 * m.layers,
      seconds: 4 * ew.seconds * m.layers,
      flops: 0,
      bytes: ewBytes * m.layers,
      bound: ew.bound,
    });
    const ep = moe !== null && this.moeLayers > 0 ? Math.min(this.spec.ep, tp) : 1;
    if (tp > 1) {
      const bytes = tokens * m.hiddenSize * 2;
      const linkBytesPerS = ((this.spec.accelerator.scaleupGBpsPerChip ?? 0) * 1e9) / 2; // one direction
      const s = this.profile.allReduceLatencyS + ((2 * (tp - 1)) / tp) * (bytes / linkBytesPerS);
      // with experts spread over chips (DEP) the MoE layers exchange tokens all-to-all instead
      const arLayers = ep > 1 ? this.denseLayers : m.layers;
      if (arLayers > 0)
        out.push({
          name: `tp all-reduce (ring over ${this.spec.accelerator.scaleupLink ?? 'scale-up link'})`,
          count: 2 * arLayers,
          seconds: 2 * arLayers * s,
          flops: 0,
          bytes: 2 * arLayers * bytes,
          bound: 'network',
        });
    }
    if (ep > 1 && moe !== null) {
      const a2a = allToAll(tokens, ep, moe.expertsPerToken, m.hiddenSize, 2);
      const linkBytesPerS = ((this.spec.accelerator.scaleupGBpsPerChip ?? 0) * 1e9) / 2; // one direction
      const s = 2 * this.profile.allReduceLatencyS + a2a.bytesPerChip / linkBytesPerS;
      out.push({
        name: `ep all-to-all dispatch + combine (over ${this.spec.accelerator.scaleupLink ?? 'scale-up link'})`,
        count: 2 * this.moeLayers,
        seconds: this.moeLayers * s,
        flops: 0,
        bytes: this.moeLayers * a2a.bytesPerChip,
        bound: 'network',
      });
    }
    if (pp > 1) {
      const bytes = tokens * m.hiddenSize * 2;
      const linkBytesPerS = ((this.spec.accelerator.scaleupGBpsPerChip ?? 0) * 1e9) / 2;
      const s = this.profile.allReduceLatencyS + bytes / linkBytesPerS;
      out.push({
        name: 'pp stage hand-off',
        count: pp - 1,
        seconds: (pp - 1) * s,
        flops: 0,
        bytes: (pp - 1) * bytes,
        bound: 'network',
      });
    }
    return out;
  }

  /** Exact decode-attention seconds of one layer over `contextTokens` of KV (builds the table). */
  private decodeAttnExactS(contextTokens: number): number {
    const bytes = contextTokens * this.kvBytesPerTokenLayer;
    const t = decodeAttentionTime(bytes, contextTokens * this.attnFlopsPerPair, this.rates, this.kp).seconds;
    return this.decodeCorr === undefined ? t : t * Math.exp(correctionAt(this.decodeCorr, Math.log(bytes)));
  }

  /** Decode-attention seconds of one layer: log-spaced table, linear between points (hot path). */
  private decodeAttnS(contextTokens: number): number {
    if (contextTokens <= 0) return 0;
    const x = Math.log(contextTokens) * ATTN_TABLE_PER_E;
    const i = x | 0;
    if (i + 1 >= this.decodeAttnTable.length) return this.decodeAttnExactS(contextTokens);
    const a = this.decodeAttnTable[i]!;
    return a + (x - i) * (this.decodeAttnTable[i + 1]! - a);
  }

  /** Decode attention of one layer with its FLOPs, bytes and bound (for the breakdown). */
  private decodeAttnKernel(contextTokens: number): KernelTime {
    const t = decodeAttentionTime(
      contextTokens * this.kvBytesPerTokenLayer,
      contextTokens * this.attnFlopsPerPair,
      this.rates,
      this.kp,
    );
    return { ...t, seconds: this.decodeAttnS(contextTokens) };
  }

  /** Prefill attention of one layer (the hot path uses `.seconds`). */
  private prefillAttention(pairs: number, contextTokens: number): KernelTime {
    const flops = pairs * this.attnFlopsPerPair;
    const t = prefillAttentionTime(flops, contextTokens * this.kvBytesPerTokenLayer, this.rates, this.kp);
    if (this.prefillCorr !== undefined)
      t.seconds *= Math.exp(correctionAt(this.prefillCorr, Math.log(flops)));
    return t;
  }

  /** Seconds for one step; the engine's hot path (tables and one prefill kernel, no decode allocation). */
  stepTimeS(b: StepBatch): number {
    const tokens = b.decodeSeqs + b.prefillTokens;
    if (tokens <= 0) return 0;
    const seqs = b.decodeSeqs + b.prefillSeqs;
    let s = this.profile.stepOverheadS + this.profile.seqOverheadS * seqs;
    s += tokens < this.linearByTokens.length ? this.linearByTokens[tokens]! : this.linearSeconds(tokens);
    s += seqs < this.lmHeadBySeqs.length ? this.lmHeadBySeqs[seqs]! : this.gemm(this.lmHead, seqs).seconds;
    if (b.decodeSeqs > 0) {
      s += this.decodeAttnS(b.decodeContextTokens) * this.fullLayers;
      if (this.slidingLayers > 0)
        s +=
          this.decodeAttnS(Math.min(b.decodeContextTokens, b.decodeSeqs * this.window)) * this.slidingLayers;
    }
    if (b.prefillTokens > 0)
      s += this.prefillAttention(b.prefillAttnPairs, b.prefillContextTokens).seconds * this.spec.model.layers;
    return s;
  }

  private linearSeconds(tokens: number): number {
    let s = 0;
    for (const c of this.linearComponents(tokens)) s += c.seconds;
    return s;
  }

  /** The same step as `stepTimeS`, component by component. */
  breakdown(b: StepBatch): StepBreakdown {
    const tokens = b.decodeSeqs + b.prefillTokens;
    const comps: StepComponent[] = [];
    if (tokens > 0) {
      comps.push(...this.linearComponents(tokens));
      const lm = this.gemm(this.lmHead, b.decodeSeqs + b.prefillSeqs);
      comps.push({
        name: 'lm_head',
        count: 1,
        seconds: lm.seconds,
        flops: lm.flops,
        bytes: lm.bytes,
        bound: lm.bound,
      });
      if (b.decodeSeqs > 0) {
        const full = this.decodeAttnKernel(b.decodeContextTokens);
        const sliding =
          this.slidingLayers > 0
            ? this.decodeAttnKernel(Math.min(b.decodeContextTokens, b.decodeSeqs * this.window))
            : null;
        comps.push(scaled('decode attention (KV read)', this.fullLayers, full));
        if (sliding !== null)
          comps.push(scaled('decode attention (sliding window)', this.slidingLayers, sliding));
      }
      if (b.prefillTokens > 0) {
        const p = this.prefillAttention(b.prefillAttnPairs, b.prefillContextTokens);
        const L = this.spec.model.layers;
        comps.push(scaled('prefill attention (causal)', L, p));
      }
      const seqs = b.decodeSeqs + b.prefillSeqs;
      comps.push({
        name: 'host / scheduler overhead',
        count: 1,
        seconds: this.profile.stepOverheadS + this.profile.seqOverheadS * seqs,
        flops: 0,
        bytes: 0,
        bound: 'host',
      });
    }
    return { seconds: comps.reduce((s, c) => s + c.seconds, 0), components: comps, tokens };
  }
}

/**
 * Row height of the tiles MoE grouped-GEMM kernels run (estimate: CUTLASS grouped GEMMs in
 * TensorRT-LLM use 64- or 128-row tiles on Hopper/Blackwell, vLLM's Triton fused_moe picks
 * BLOCK_SIZE_M of 16–128 by batch; 64 is the middle of that range, not fitted).
 */
export const MOE_TILE_M = 64;

/**
 * Expert-parallel all-to-all of one MoE layer on one chip (DEP: attention data-parallel, experts
 * split over `ep` chips). Each chip holds tokens/ep of the step's tokens and sends each of them to
 * its k experts; a copy bound for an expert on another chip ((ep−1)/ep of them under uniform
 * routing) crosses the scale-up link. Dispatch sends hidden states at `dispatchBytes` per element
 * (the step model passes bf16: quantized dispatch is an opt-in of some stacks, and bf16 keeps the
 * estimate on the slow side); combine returns the expert outputs in bf16. Bytes leaving one chip
 * per layer:
 *   dispatch = (tokens/ep) · k · hidden · dispatchBytes · (ep−1)/ep,  combine = same with 2 bytes.
 */
export function allToAll(
  tokens: number,
  ep: number,
  k: number,
  hidden: number,
  dispatchBytes: number,
): { dispatchBytes: number; combineBytes: number; bytesPerChip: number } {
  const copies = (tokens / ep) * k * ((ep - 1) / ep) * hidden;
  const d = copies * dispatchBytes;
  const c = copies * 2;
  return { dispatchBytes: d, combineBytes: c, bytesPerChip: d + c };
}

/** The attention projections of one layer, sharded over TP. */
function attentionGemms(m: Model, tp: number): Gemm[] {
  const a = m.attention;
  const h = m.hiddenSize;
  if (a.type === 'mla' && a.mla) {
    const mla = a.mla;
    const qk = mla.qkNopeHeadDim + mla.qkRopeHeadDim;
    const out: Gemm[] = [];
    if (mla.qLoraRank !== null)
      out.push(
        { name: 'mla q_a', n: mla.qLoraRank, k: h, layers: m.layers },
        { name: 'mla q_b', n: (a.heads * qk) / tp, k: mla.qLoraRank, layers: m.layers },
      );
    else out.push({ name: 'mla q', n: (a.heads * qk) / tp, k: h, layers: m.layers });
    out.push(
      { name: 'mla kv_a', n: mla.kvLoraRank + mla.qkRopeHeadDim, k: h, layers: m.layers },
      // absorbed up-projections: q_nope → latent, latent → v (per head, as batched GEMMs)
      {
        name: 'mla absorb (q·W_uk, o·W_uv)',
        n: (a.heads * (mla.qkNopeHeadDim + mla.vHeadDim)) / tp,
        k: mla.kvLoraRank,
        layers: m.layers,
      },
      { name: 'attn o', n: h, k: (a.heads * mla.vHeadDim) / tp, layers: m.layers },
    );
    return out;
  }
  const hd = a.headDim ?? 0;
  const kvh = kvHeadsPerChip(m, tp);
  return [
    { name: 'attn qkv', n: (a.heads / tp) * hd + 2 * kvh * hd, k: h, layers: m.layers },
    { name: 'attn o', n: h, k: (a.heads * hd) / tp, layers: m.layers },
  ];
}

export function buildReplicaModel(spec: ReplicaSpec, profile: PerfProfile): ReplicaModel {
  return new ReplicaModel(spec, profile);
}

export { memoryPlan };
