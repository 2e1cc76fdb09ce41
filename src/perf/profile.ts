/**
 * A performance profile: the kernel parameters and overheads a replica's step time is computed
 * with, and where they came from. Sources, in order of preference (issue: performance model):
 *   (a) `measured`  — fitted to a microbenchmark table of that hardware, with log-space corrections
 *                      near the measured shapes;
 *   (b) `published` — a stack's parameters fitted to published benchmark results;
 *   (c) `default`   — a generic default, evidence `estimated`.
 */
import { z } from 'zod';
import type { Evidence } from '../catalog/schema.js';
import type { Corrections } from './calibrate.js';
import type { KernelParams } from './kernels.js';

export interface PerfProfile {
  /** e.g. `H200` (measured table), `vllm` (published fit), `default`. */
  key: string;
  source: 'measured' | 'published' | 'default';
  evidence: Evidence;
  /** Accelerator key a measured profile belongs to (null: any). */
  hardware: string | null;
  /** Stack a published fit belongs to (null: any). */
  stack: string | null;
  /** Where the numbers come from, in words. */
  note: string;
  kernel: KernelParams;
  corrections: Corrections | null;
  /** Host/scheduler time per engine step, seconds. */
  stepOverheadS: number;
  /**
   * Host time per running sequence per step, seconds (scheduling, input preparation, sampling and
   * output processing grow with the batch — the CPU-overhead terms of Vidur's model); 0 when not
   * fitted.
   */
  seqOverheadS: number;
  /** Fixed latency of one tensor-parallel all-reduce, seconds. */
  allReduceLatencyS: number;
  /** Multipliers a published fit applies on top of the kernel efficiencies (1 = none). */
  computeEffScale: number;
  memEffScale: number;
  /** Fit quality, when fitted. */
  fit: {
    n: number;
    heldOutN: number;
    heldOutMedianAbsErrorPct: number;
    trainMedianAbsErrorPct: number;
  } | null;
}

/**
 * The generic default (source c). Kernel parameters are the H200 microbenchmark fit
 * (calibration/h200-microbench.json, PyTorch 2.11/CUDA 13) taken as a stand-in for any chip — an
 * assumption, hence `estimated`. The step overhead (1 ms per step) and the all-reduce latency
 * (10 µs) are estimates too; a published-results fit replaces them per stack.
 */
export const DEFAULT_KERNEL: KernelParams = {
  gemmFloorS: 2.46e-5,
  gemmComputeEff: 0.75,
  gemmMHalf: 1,
  memEff: 0.82,
  smoothP: 1.44,
  attnDecodeFloorS: 3.1e-5,
  attnDecodeMemEff: 0.88,
  attnPrefillFloorS: 2.7e-5,
  attnPrefillComputeEff: 0.61,
  elementwiseFloorS: 3e-6,
};

export const DEFAULT_PROFILE: PerfProfile = {
  key: 'default',
  source: 'default',
  evidence: 'estimated',
  hardware: null,
  stack: null,
  note: 'generic default: H200 microbenchmark kernel fit applied to this chip as an assumption; overheads estimated',
  kernel: DEFAULT_KERNEL,
  corrections: null,
  stepOverheadS: 1e-3,
  seqOverheadS: 0,
  allReduceLatencyS: 1e-5,
  computeEffScale: 1,
  memEffScale: 1,
  fit: null,
};

const kernelSchema = z.strictObject({
  gemmFloorS: z.number().positive(),
  gemmComputeEff: z.number().positive().max(1),
  gemmMHalf: z.number().min(0),
  memEff: z.number().positive().max(1),
  smoothP: z.number().min(1),
  attnDecodeFloorS: z.number().positive(),
  attnDecodeMemEff: z.number().positive().max(1),
  attnPrefillFloorS: z.number().positive(),
  attnPrefillComputeEff: z.number().positive().max(1),
  elementwiseFloorS: z.number().positive(),
});

export const perfProfileSchema = z.strictObject({
  key: z.string().min(1),
  source: z.enum(['measured', 'published', 'default']),
  evidence: z.enum(['measured', 'vendor-reported', 'estimated']),
  hardware: z.string().nullable(),
  stack: z.string().nullable(),
  note: z.string(),
  kernel: kernelSchema,
  corrections: z.record(z.string(), z.array(z.tuple([z.number(), z.number()]))).nullable(),
  stepOverheadS: z.number().min(0),
  seqOverheadS: z.number().min(0).default(0),
  allReduceLatencyS: z.number().min(0),
  computeEffScale: z.number().positive(),
  memEffScale: z.number().positive(),
  fit: z
    .strictObject({
      n: z.number().int(),
      heldOutN: z.number().int(),
      heldOutMedianAbsErrorPct: z.number(),
      trainMedianAbsErrorPct: z.number(),
    })
    .nullable(),
});

/** Apply a profile's efficiency multipliers to its kernel parameters. */
export function effectiveKernel(p: PerfProfile): KernelParams {
  const k = p.kernel;
  if (p.computeEffScale === 1 && p.memEffScale === 1) return k;
  return {
    ...k,
    gemmComputeEff: Math.min(1, k.gemmComputeEff * p.computeEffScale),
    attnPrefillComputeEff: Math.min(1, k.attnPrefillComputeEff * p.computeEffScale),
    memEff: Math.min(1, k.memEff * p.memEffScale),
    attnDecodeMemEff: Math.min(1, k.attnDecodeMemEff * p.memEffScale),
  };
}
