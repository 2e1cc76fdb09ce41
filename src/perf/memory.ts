/**
 * Memory plan of one replica: weights per chip, activation and workspace reserve, KV bytes per
 * token, and the KV capacity in tokens and paged blocks. A model that does not fit is an error that
 * says what needed how much and what was available — never an empty result or a default capacity.
 */
import type { Accelerator, Model, Precision } from '../catalog/schema.js';
import { BYTES_PER_ELEMENT, kvElementsPerTokenPerLayer, totalParams } from '../catalog/params.js';
import { InputError } from '../util/errors.js';

export interface ReplicaSpec {
  model: Model;
  accelerator: Accelerator;
  tp: number;
  pp: number;
  /** Expert-parallel degree inside the TP group (experts split across ep chips). */
  ep: number;
  weights: Precision;
  kv: Precision;
  /** Paged KV block size in tokens. */
  blockSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  /** Share of HBM the engine may use (vLLM's gpu_memory_utilization, default 0.9). */
  memoryUtilization: number;
}

export interface MemoryPlan {
  chips: number;
  hbmBytesPerChip: number;
  usableBytesPerChip: number;
  weightBytesTotal: number;
  weightBytesPerChip: number;
  /** Peak activations of a max_num_batched_tokens forward pass plus logits, per chip. */
  activationBytesPerChip: number;
  /** CUDA graphs, collective buffers, allocator slack: a fixed estimate per chip. */
  workspaceBytesPerChip: number;
  kvBytesPerTokenPerChip: number;
  /** KV bytes per token across the whole replica (all chips). */
  kvBytesPerToken: number;
  kvBytesPerChip: number;
  kvCapacityTokens: number;
  blockSize: number;
  kvCapacityBlocks: number;
  /** Notes on approximations that apply to this plan. */
  notes: string[];
}

/** Fixed workspace per chip (estimate): CUDA graphs, NCCL buffers, allocator fragmentation. */
export const WORKSPACE_BYTES_PER_CHIP = 1.5e9;

const GB = 1e9;
const fmtGB = (b: number): string => `${(b / GB).toFixed(1)} GB`;

/** KV heads held per chip: KV heads split over TP, replicated when there are fewer than TP. */
export function kvHeadsPerChip(model: Model, tp: number): number {
  return Math.max(1, Math.ceil((model.attention.kvHeads ?? 1) / tp));
}

/** KV bytes one token adds to one layer on one chip. MLA's latent cache is replicated across TP. */
export function kvBytesPerTokenPerLayerPerChip(model: Model, tp: number, kv: Precision): number {
  const b = BYTES_PER_ELEMENT[kv];
  if (model.attention.type === 'mla') return kvElementsPerTokenPerLayer(model) * b;
  return 2 * kvHeadsPerChip(model, tp) * (model.attention.headDim ?? 0) * b;
}

export function memoryPlan(spec: ReplicaSpec): MemoryPlan {
  const { model, accelerator: acc, tp, pp } = spec;
  const chips = tp * pp;
  const notes: string[] = [];
  const hbm = acc.hbmGB * GB;
  const usable = hbm * spec.memoryUtilization;
  const wb = BYTES_PER_ELEMENT[spec.weights];
  const weightBytesTotal = totalParams(model) * wb;
  const weightBytesPerChip = weightBytesTotal / chips;
  const h = model.hiddenSize;
  const ffn = Math.max(
    model.ffn?.intermediateSize ?? 0,
    (model.moe?.moeIntermediateSize ?? 0) * (model.moe?.expertsPerToken ?? 0),
  );
  const T = spec.maxNumBatchedTokens;
  // residual + normed input + attention output (bf16) and the gate/up output of the FFN, plus fp32
  // logits for the sequences sampled in one step.
  const activationBytesPerChip =
    T * (4 * h * 2 + ((2 * ffn) / tp) * 2) + spec.maxNumSeqs * (model.vocabSize / tp) * 4;
  const layersPerChip = model.layers / pp;
  const kvPerLayer = kvBytesPerTokenPerLayerPerChip(model, tp, spec.kv);
  const kvBytesPerTokenPerChip = layersPerChip * kvPerLayer;
  const kvBytesPerChip = usable - weightBytesPerChip - activationBytesPerChip - WORKSPACE_BYTES_PER_CHIP;
  if (model.attention.layerPattern.includes('sliding'))
    notes.push(
      'sliding-window layers are counted as full layers (capacity is a lower bound at long contexts)',
    );
  if (model.attention.type === 'gqa' && (model.attention.kvHeads ?? 1) < tp)
    notes.push(`KV heads (${model.attention.kvHeads}) < TP (${tp}): KV heads are replicated across chips`);
  if (model.attention.type === 'mla' && tp > 1) notes.push('MLA latent KV is replicated on every TP rank');
  if (kvBytesPerChip <= kvPerLayer * layersPerChip * spec.blockSize) {
    const needed = weightBytesPerChip + activationBytesPerChip + WORKSPACE_BYTES_PER_CHIP;
    const minChips = Math.ceil(
      weightBytesTotal / (usable - activationBytesPerChip - WORKSPACE_BYTES_PER_CHIP),
    );
    throw new InputError(
      `${model.name} (${spec.weights} weights) does not fit on ${acc.name} at tp=${tp} × pp=${pp}: ` +
        `weights need ${fmtGB(weightBytesTotal)} in all, ${fmtGB(weightBytesPerChip)} per chip, plus ${fmtGB(activationBytesPerChip + WORKSPACE_BYTES_PER_CHIP)} ` +
        `of activations and workspace = ${fmtGB(needed)} per chip, leaving no room for KV cache; each chip has ` +
        `${fmtGB(usable)} usable (${acc.hbmGB} GB × ${spec.memoryUtilization} memory utilization). ` +
        `It needs at least ${Number.isFinite(minChips) && minChips > 0 ? minChips : 'more'} chips per replica, or lighter weights (fp8/fp4).`,
    );
  }
  const kvCapacityTokens = Math.floor(kvBytesPerChip / kvBytesPerTokenPerChip);
  return {
    chips,
    hbmBytesPerChip: hbm,
    usableBytesPerChip: usable,
    weightBytesTotal,
    weightBytesPerChip,
    activationBytesPerChip,
    workspaceBytesPerChip: WORKSPACE_BYTES_PER_CHIP,
    kvBytesPerTokenPerChip,
    kvBytesPerToken: kvBytesPerTokenPerChip * chips,
    kvBytesPerChip,
    kvCapacityTokens,
    blockSize: spec.blockSize,
    kvCapacityBlocks: Math.floor(kvCapacityTokens / spec.blockSize),
    notes,
  };
}

/** The most sequences of `contextTokens` each that fit in the KV cache at once. */
export function maxSequencesAt(plan: MemoryPlan, contextTokens: number): number {
  return Math.floor(plan.kvCapacityBlocks / Math.ceil(contextTokens / plan.blockSize));
}
