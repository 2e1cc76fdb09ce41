/**
 * Parameter counts and KV-cache sizes computed from a model's architecture (catalog `Model`).
 *
 * Conventions (match the Hugging Face checkpoints):
 * - RMSNorm weights only (no bias): two per layer, one final; MLA adds norms on the q and kv
 *   latents; qk_norm adds a per-head-dim norm on Q and on K.
 * - Gated FFN = gate, up and down matrices (3·h·f); ungated = 2·h·f.
 * - Every MoE layer has a router (h·E, plus E if it has a bias) and E experts of moe_intermediate
 *   size, plus `sharedExperts` always-on experts of the same size.
 * - lm_head is a separate h·V matrix unless embeddings are tied.
 */
import type { Model, Precision } from './schema.js';

export interface ParamBreakdown {
  /** Input embedding table (V·h). */
  embedding: number;
  attention: number;
  /** Dense FFN of the non-MoE layers. */
  denseFfn: number;
  /** Routed experts: all of them in `total`, only the top-k in `active`. */
  routedExperts: number;
  sharedExperts: number;
  router: number;
  norms: number;
  /** Output projection (0 when tied to the embedding). */
  lmHead: number;
}

export interface ParamCounts {
  total: number;
  breakdown: ParamBreakdown;
  /** Parameters a token touches, counting the input embedding table (most publishers' convention). */
  activeWithEmbedding: number;
  /** Parameters a token touches leaving out the input embedding table (only one row is read). */
  activeWithoutEmbedding: number;
  activeBreakdown: ParamBreakdown;
}

function sum(b: ParamBreakdown): number {
  return (
    b.embedding + b.attention + b.denseFfn + b.routedExperts + b.sharedExperts + b.router + b.norms + b.lmHead
  );
}

/** Attention parameters of one layer (projections, biases, sinks, per-head norms). */
export function attentionParamsPerLayer(m: Model): number {
  const h = m.hiddenSize;
  const a = m.attention;
  if (a.type === 'mla') {
    const mla = a.mla;
    if (!mla) throw new Error(`model ${m.key}: MLA attention without mla dimensions`);
    const qkHead = mla.qkNopeHeadDim + mla.qkRopeHeadDim;
    // Q: low-rank (h → q_lora → heads·qk) with a norm on the latent, or a full projection.
    const q =
      mla.qLoraRank === null
        ? h * a.heads * qkHead
        : h * mla.qLoraRank + mla.qLoraRank + mla.qLoraRank * a.heads * qkHead;
    // KV: h → (kv_lora + rope key), norm on the kv latent, latent → heads·(k_nope + v).
    const kv =
      h * (mla.kvLoraRank + mla.qkRopeHeadDim) +
      mla.kvLoraRank +
      mla.kvLoraRank * a.heads * (mla.qkNopeHeadDim + mla.vHeadDim);
    const o = a.heads * mla.vHeadDim * h + (a.oBias ? h : 0);
    return q + kv + o;
  }
  const headDim = a.headDim ?? 0;
  const kvHeads = a.kvHeads ?? 0;
  const qOut = a.heads * headDim;
  const kvOut = kvHeads * headDim;
  const qkv = h * (qOut + 2 * kvOut) + (a.qkvBias ? qOut + 2 * kvOut : 0);
  const o = qOut * h + (a.oBias ? h : 0);
  const qkNorm = a.qkNorm ? 2 * headDim : 0;
  const sinks = a.sinks ? a.heads : 0;
  return qkv + o + qkNorm + sinks;
}

function ffnParams(h: number, f: number, gated: boolean, bias: boolean): number {
  const mats = (gated ? 3 : 2) * h * f;
  const biases = bias ? (gated ? 2 * f : f) + h : 0;
  return mats + biases;
}

/** Total and active-per-token parameter counts with a per-component breakdown. */
export function paramCounts(m: Model): ParamCounts {
  const h = m.hiddenSize;
  const L = m.layers;
  const moe = m.moe;
  const moeLayers = moe ? L - moe.firstDenseLayers : 0;
  const denseLayers = L - moeLayers;

  const embedding = m.vocabSize * h;
  const lmHead = m.tieWordEmbeddings ? 0 : m.vocabSize * h;
  const attention = L * attentionParamsPerLayer(m);
  const norms = L * 2 * h + h;
  const denseFfn = m.ffn ? denseLayers * ffnParams(h, m.ffn.intermediateSize, m.ffn.gated, m.ffn.bias) : 0;

  let routedAll = 0;
  let routedActive = 0;
  let shared = 0;
  let router = 0;
  if (moe) {
    // Experts are gated (SwiGLU) in every catalog MoE; biases when the model has them.
    const expert = ffnParams(h, moe.moeIntermediateSize, true, moe.expertBias);
    routedAll = moeLayers * moe.routedExperts * expert;
    routedActive = moeLayers * moe.expertsPerToken * expert;
    shared = moeLayers * moe.sharedExperts * expert;
    router = moeLayers * (h * moe.routedExperts + (moe.routerBias ? moe.routedExperts : 0));
  }

  const breakdown: ParamBreakdown = {
    embedding,
    attention,
    denseFfn,
    routedExperts: routedAll,
    sharedExperts: shared,
    router,
    norms,
    lmHead,
  };
  const activeBreakdown: ParamBreakdown = { ...breakdown, routedExperts: routedActive };
  const activeWithEmbedding = sum(activeBreakdown);
  return {
    total: sum(breakdown),
    breakdown,
    activeWithEmbedding,
    activeWithoutEmbedding: activeWithEmbedding - embedding,
    activeBreakdown,
  };
}

/** Total parameters. */
export function totalParams(m: Model): number {
  return paramCounts(m).total;
}

/**
 * Parameters touched per token. By default the input embedding table is left out (a token reads
 * one row of it); pass `includeInputEmbedding: true` for the convention most model cards use.
 */
export function activeParams(m: Model, opts: { includeInputEmbedding?: boolean } = {}): number {
  const c = paramCounts(m);
  return opts.includeInputEmbedding ? c.activeWithEmbedding : c.activeWithoutEmbedding;
}

/** Bytes per stored element for a KV-cache or weight precision. */
export const BYTES_PER_ELEMENT: Record<Precision, number> = {
  fp32: 4,
  bf16: 2,
  fp16: 2,
  fp8: 1,
  int8: 1,
  fp4: 0.5,
};

/** KV elements one token adds to one attention layer (K and V for GQA; latent + rope key for MLA). */
export function kvElementsPerTokenPerLayer(m: Model): number {
  const a = m.attention;
  if (a.type === 'mla') {
    if (!a.mla) throw new Error(`model ${m.key}: MLA attention without mla dimensions`);
    return a.mla.kvLoraRank + a.mla.qkRopeHeadDim;
  }
  return 2 * (a.kvHeads ?? 0) * (a.headDim ?? 0);
}

/** Number of full-attention and sliding-window layers (layer_pattern repeats over the layers). */
export function layerCounts(m: Model): { full: number; sliding: number } {
  const pattern = m.attention.layerPattern;
  let sliding = 0;
  for (let i = 0; i < m.layers; i++) if (pattern[i % pattern.length] === 'sliding') sliding++;
  return { full: m.layers - sliding, sliding };
}

/**
 * KV-cache bytes one token adds across all layers, counting every layer (for sliding-window
 * layers this holds while the context is within the window; see `kvBytesForContext`).
 * Llama-3.1-70B in bf16: 80 layers × 8 KV heads × 128 × 2 (K,V) × 2 B = 327,680 B.
 */
export function kvBytesPerToken(m: Model, kvPrecision: Precision = 'bf16'): number {
  return m.layers * kvElementsPerTokenPerLayer(m) * BYTES_PER_ELEMENT[kvPrecision];
}

/** KV-cache bytes held for one sequence of `contextTokens`, capping sliding layers at the window. */
export function kvBytesForContext(m: Model, contextTokens: number, kvPrecision: Precision = 'bf16'): number {
  const { full, sliding } = layerCounts(m);
  const perLayerToken = kvElementsPerTokenPerLayer(m) * BYTES_PER_ELEMENT[kvPrecision];
  const window = m.attention.slidingWindow ?? contextTokens;
  return perLayerToken * (full * contextTokens + sliding * Math.min(contextTokens, window));
}
