import type { ReplicaPerf, StepBatch } from '../perf/types.js';

export interface AffinePerfSpec {
  /** Seconds of fixed cost per non-empty step (launch, scheduling, weight reads). */
  baseS?: number;
  /** Seconds per token computed: prefill tokens plus one per decoding sequence. */
  perTokenS?: number;
  /** Seconds per token of decode context (KV read). */
  perContextTokenS?: number;
  /** Seconds per causal query–key pair of prefill attention. */
  perAttnPairS?: number;
  /** KV capacity in tokens. */
  kvTokens: number;
  blockSize?: number;
  label?: string;
}

/**
 * A simple affine step timer: base + perToken·(prefillTokens + decodeSeqs) + perContext·
 * decodeContextTokens + perAttnPair·prefillAttnPairs (0 for an empty step). Not a performance model:
 * for tests, benchmarks and quick what-ifs (`pertoken simulate --affine-perf`).
 */
export function affinePerf(spec: AffinePerfSpec): ReplicaPerf {
  const base = spec.baseS ?? 0;
  const perToken = spec.perTokenS ?? 0;
  const perCtx = spec.perContextTokenS ?? 0;
  const perPair = spec.perAttnPairS ?? 0;
  const blockSize = spec.blockSize ?? 16;
  return {
    label:
      spec.label ??
      `affine(base ${base} s, ${perToken} s/token, ${perCtx} s/context token, ${perPair} s/pair, ${spec.kvTokens} KV tokens)`,
    kv: { tokens: spec.kvTokens, blockSize, blocks: Math.floor(spec.kvTokens / blockSize) },
    stepTimeS(b: StepBatch): number {
      if (b.decodeSeqs + b.prefillSeqs === 0) return 0;
      return (
        base +
        perToken * (b.prefillTokens + b.decodeSeqs) +
        perCtx * b.decodeContextTokens +
        perPair * b.prefillAttnPairs
      );
    },
  };
}
