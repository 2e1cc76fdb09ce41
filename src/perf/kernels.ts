/**
 * Time of one kernel on one chip: a smooth roofline.
 *
 *   t = (floor^p + (flops / (peak · computeEff(m)))^p + (bytes / (bandwidth · memEff))^p)^(1/p)
 *
 * `floor` is the launch gap plus the smallest time any kernel of that class takes; the p-norm
 * (p ≈ 2–4) is a smooth max, so the transition between memory- and compute-bound is not a corner.
 * computeEff(m) = computeEffMax · m / (m + mHalf) lets small-m GEMMs reach less of the peak.
 * Every parameter is fitted by `pertoken calibrate` (src/perf/calibrate.ts) or comes from a
 * default marked `estimated`.
 */

export interface KernelParams {
  /** Smallest time of a GEMM launch, seconds (launch gap included). */
  gemmFloorS: number;
  /** Fraction of the datasheet dense peak a large GEMM reaches. */
  gemmComputeEff: number;
  /** Tokens (GEMM m) at which the GEMM reaches half of gemmComputeEff. */
  gemmMHalf: number;
  /** Fraction of the datasheet HBM bandwidth a streaming kernel reaches. */
  memEff: number;
  /** Smooth-max exponent. */
  smoothP: number;
  /** Decode attention: floor (s) and fraction of HBM bandwidth reached reading KV. */
  attnDecodeFloorS: number;
  attnDecodeMemEff: number;
  /** Prefill attention: floor (s) and fraction of the peak reached on causal FLOPs. */
  attnPrefillFloorS: number;
  attnPrefillComputeEff: number;
  /** Norms, activations, rotary, residual adds: floor per kernel (s). */
  elementwiseFloorS: number;
}

/** Which part bounds a kernel's time. */
export type Bound = 'compute' | 'memory' | 'latency';

export interface KernelTime {
  seconds: number;
  flops: number;
  bytes: number;
  bound: Bound;
}

export function smoothMax3(a: number, b: number, c: number, p: number): number {
  return Math.pow(Math.pow(a, p) + Math.pow(b, p) + Math.pow(c, p), 1 / p);
}

/** A kernel's time as the smooth max of its floor, compute time and memory time, with what bound it. */
function kernel(
  floorS: number,
  computeS: number,
  memoryS: number,
  flops: number,
  bytes: number,
  p: number,
): KernelTime {
  return {
    seconds: smoothMax3(floorS, computeS, memoryS, p),
    flops,
    bytes,
    bound: boundOf(floorS, computeS, memoryS),
  };
}

function boundOf(floorS: number, computeS: number, memoryS: number): Bound {
  if (computeS >= memoryS && computeS >= floorS) return 'compute';
  if (memoryS >= floorS) return 'memory';
  return 'latency';
}

/** Hardware rates a kernel runs at, for one precision. */
export interface ChipRates {
  /** Dense peak FLOP/s for the GEMM precision. */
  peakFlops: number;
  /** Dense peak FLOP/s in bf16 (attention runs in bf16/fp16 math). */
  attnPeakFlops: number;
  /** HBM bytes/s. */
  hbmBytesPerS: number;
}

/** A GEMM x[m,k] · W[n,k]ᵀ with weights of `weightBytes` per element and activations of `actBytes`. */
export function gemmTime(
  m: number,
  n: number,
  k: number,
  weightBytes: number,
  actBytes: number,
  rates: ChipRates,
  p: KernelParams,
): KernelTime {
  return groupedGemmTime(m, 1, n, k, weightBytes, actBytes, rates, p);
}

/** Decode attention over `kvBytes` of cache with `flops` of math (one query token per sequence). */
export function decodeAttentionTime(
  kvBytes: number,
  flops: number,
  rates: ChipRates,
  p: KernelParams,
): KernelTime {
  const memoryS = kvBytes / (rates.hbmBytesPerS * p.attnDecodeMemEff);
  const computeS = flops / (rates.attnPeakFlops * p.attnPrefillComputeEff);
  return kernel(p.attnDecodeFloorS, computeS, memoryS, flops, kvBytes, p.smoothP);
}

/** Causal prefill attention: `flops` over the query–key pairs, reading `kvBytes` of prior context. */
export function prefillAttentionTime(
  flops: number,
  kvBytes: number,
  rates: ChipRates,
  p: KernelParams,
): KernelTime {
  const computeS = flops / (rates.attnPeakFlops * p.attnPrefillComputeEff);
  const memoryS = kvBytes / (rates.hbmBytesPerS * p.attnDecodeMemEff);
  return kernel(p.attnPrefillFloorS, computeS, memoryS, flops, kvBytes, p.smoothP);
}

/** A memory-bound elementwise kernel moving `bytes`. */
export function elementwiseTime(bytes: number, rates: ChipRates, p: KernelParams): KernelTime {
  const memoryS = bytes / (rates.hbmBytesPerS * p.memEff);
  return {
    seconds: smoothMax3(p.elementwiseFloorS, 0, memoryS, p.smoothP),
    flops: 0,
    bytes,
    bound: memoryS >= p.elementwiseFloorS ? 'memory' : 'latency',
  };
}

/**
 * A grouped GEMM (MoE experts): `groups` GEMMs of m×n×k launched as one kernel, so the floor counts
 * once while FLOPs and weight bytes add up; efficiency follows the tokens per group.
 */
export function groupedGemmTime(
  mPerGroup: number,
  groups: number,
  n: number,
  k: number,
  weightBytes: number,
  actBytes: number,
  rates: ChipRates,
  p: KernelParams,
  paddedRowsPerGroup = mPerGroup,
): KernelTime {
  if (groups <= 0 || mPerGroup <= 0) return { seconds: 0, flops: 0, bytes: 0, bound: 'latency' };
  const flops = 2 * mPerGroup * n * k * groups;
  const bytes = groups * (n * k * weightBytes + (mPerGroup * k + mPerGroup * n) * actBytes);
  const eff = (p.gemmComputeEff * mPerGroup) / (mPerGroup + p.gemmMHalf);
  // the tensor cores run whole tiles: a group's rows are padded up to the tile height, so the
  // compute time follows the padded rows while the reported FLOPs stay the useful ones
  const computeS = (flops * (Math.max(paddedRowsPerGroup, mPerGroup) / mPerGroup)) / (rates.peakFlops * eff);
  const memoryS = bytes / (rates.hbmBytesPerS * p.memEff);
  return kernel(p.gemmFloorS, computeS, memoryS, flops, bytes, p.smoothP);
}

/**
 * Rows an expert's GEMM tile loop actually runs (expected over the routing). A grouped-GEMM kernel
 * tiles each expert's tokens in blocks of `tileM` rows, so an expert that receives X tokens costs
 * ceil(X / tileM) · tileM rows of tensor-core work. With `tokens` tokens each picking k of E experts
 * uniformly, the tokens one expert receives are Binomial(tokens, k/E) ≈ Poisson(λ = tokens·k/E).
 * Returns E[ceil(X/tileM)·tileM | X > 0] — the padded rows per touched expert — summed exactly over
 * the Poisson pmf for λ ≤ 400 and as λ/(1−e^−λ) + tileM/2 beyond (the residue mod tileM is then
 * close to uniform, so half a tile is wasted on average).
 */
export function expectedPaddedRowsPerExpert(lambda: number, tileM: number): number {
  if (lambda <= 0) return 0;
  const touched = 1 - Math.exp(-lambda);
  if (lambda > 400) return lambda / touched + tileM / 2;
  let pmf = Math.exp(-lambda); // P(X = 0)
  let padded = 0;
  const top = Math.ceil(lambda + 12 * Math.sqrt(lambda) + 12);
  for (let x = 1; x <= top; x++) {
    pmf *= lambda / x;
    padded += pmf * Math.ceil(x / tileM) * tileM;
  }
  // the tail beyond λ + 12√λ + 12 is negligible (< 1e-20 of the mass)
  return padded / touched;
}
