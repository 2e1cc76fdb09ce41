/**
 * What the engine asks of the performance model. The engine describes each step as sums (no arrays,
 * no allocation): the model turns them into seconds. DESIGN.md §7.
 */

/** One engine step on one replica: decode tokens and prefill chunks, as sums over the sequences. */
export interface StepBatch {
  /** Sequences generating one token in this step. */
  decodeSeqs: number;
  /** Sum over decode sequences of their context (tokens already in the KV cache, prompt included). */
  decodeContextTokens: number;
  /** Prefill chunks in this step. */
  prefillSeqs: number;
  /** Sum of the chunk lengths (new prompt tokens computed this step). */
  prefillTokens: number;
  /** Sum over chunks of the prior context P each chunk attends to (tokens already in KV). */
  prefillContextTokens: number;
  /** Sum over chunks of causal query–key pairs: L×P + L(L+1)/2 for a chunk of L tokens after P. */
  prefillAttnPairs: number;
}

export function emptyStep(): StepBatch {
  return {
    decodeSeqs: 0,
    decodeContextTokens: 0,
    prefillSeqs: 0,
    prefillTokens: 0,
    prefillContextTokens: 0,
    prefillAttnPairs: 0,
  };
}

/** Causal query–key pairs of a chunk of `chunkTokens` after `priorTokens` already in the cache. */
export function causalPairs(chunkTokens: number, priorTokens: number): number {
  return chunkTokens * priorTokens + (chunkTokens * (chunkTokens + 1)) / 2;
}

/** KV-cache capacity of one replica (the engine's paged block pool). */
export interface KvCapacity {
  /** Tokens of KV that fit on the replica after weights and reserves. */
  tokens: number;
  /** Tokens per paged block. */
  blockSize: number;
  /** floor(tokens / blockSize). */
  blocks: number;
}

/** A replica's step-time function. Pure and allocation-free: the engine calls it millions of times. */
export interface StepTimer {
  /** Seconds for one engine step of this batch (0 for an empty batch). */
  stepTimeS(batch: StepBatch): number;
}

/** What the engine needs of a replica: its step timer and its KV capacity. */
export interface ReplicaPerf extends StepTimer {
  kv: KvCapacity;
  /** Human-readable label (model, hardware, TP, precision) for reports. */
  label: string;
}
