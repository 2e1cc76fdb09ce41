/**
 * Fit kernel parameters to a measured microbenchmark table, and keep the measured points as
 * log-space corrections so that shapes near a measured one are predicted from the measurement.
 */
import type { Accelerator } from '../catalog/schema.js';
import {
  decodeAttentionTime,
  elementwiseTime,
  gemmTime,
  prefillAttentionTime,
  type ChipRates,
  type KernelParams,
} from './kernels.js';
import { splitHalf, type Measurement } from './microbench.js';
import { medianAbs, nelderMead } from './optimize.js';

/** Rates of a chip for GEMMs in a precision. */
export function chipRates(
  acc: Accelerator,
  gemmPrecision: 'bf16' | 'fp16' | 'fp8' | 'int8' | 'fp4' | 'fp32',
): ChipRates {
  const bf16 = (acc.bf16DenseTflops ?? 0) * 1e12;
  let peak = bf16;
  if (gemmPrecision === 'fp8' && acc.fp8DenseTflops !== null) peak = acc.fp8DenseTflops * 1e12;
  else if (gemmPrecision === 'fp4' && acc.fp4DenseTflops !== null) peak = acc.fp4DenseTflops * 1e12;
  else if (gemmPrecision === 'int8' && acc.int8DenseTops !== null) peak = acc.int8DenseTops * 1e12;
  return { peakFlops: peak, attnPeakFlops: bf16, hbmBytesPerS: acc.hbmTBps * 1e12 };
}

/** The model's time for one measurement (without corrections). */
export function modelSeconds(m: Measurement, acc: Accelerator, p: KernelParams): number {
  switch (m.kind) {
    case 'gemm': {
      const rates = chipRates(acc, m.dtype);
      const b = m.dtype === 'fp8' ? 1 : 2;
      return gemmTime(m.m, m.n, m.k, b, b, rates, p).seconds;
    }
    case 'attn-decode': {
      const flops = 4 * m.batch * m.qHeads * m.headDim * m.context;
      return decodeAttentionTime(m.bytes, flops, chipRates(acc, 'bf16'), p).seconds;
    }
    case 'attn-prefill': {
      const pairs = (m.context * (m.context + 1)) / 2;
      const flops = 4 * m.batch * m.qHeads * m.headDim * pairs;
      return prefillAttentionTime(flops, m.bytes, chipRates(acc, 'bf16'), p).seconds;
    }
    case 'copy':
      return elementwiseTime(m.bytes, chipRates(acc, 'bf16'), p).seconds;
  }
}

/** Parameters as a vector of logs (the fitter's space keeps them positive). */
const FIELDS: (keyof KernelParams)[] = [
  'gemmFloorS',
  'gemmComputeEff',
  'gemmMHalf',
  'memEff',
  'smoothP',
  'attnDecodeFloorS',
  'attnDecodeMemEff',
  'attnPrefillFloorS',
  'attnPrefillComputeEff',
];

/** Keep fitted parameters physical: floors above 10 ns, efficiencies in [0.001, 1], mHalf > 0, p in [1, 12]. */
function clampParams(p: KernelParams): KernelParams {
  const eff = (x: number): number => Math.min(1, Math.max(1e-3, x));
  const floor = (x: number): number => Math.max(1e-8, x);
  return {
    ...p,
    gemmFloorS: floor(p.gemmFloorS),
    attnDecodeFloorS: floor(p.attnDecodeFloorS),
    attnPrefillFloorS: floor(p.attnPrefillFloorS),
    elementwiseFloorS: floor(p.elementwiseFloorS),
    gemmMHalf: Math.max(1e-6, p.gemmMHalf),
    gemmComputeEff: eff(p.gemmComputeEff),
    memEff: eff(p.memEff),
    attnDecodeMemEff: eff(p.attnDecodeMemEff),
    attnPrefillComputeEff: eff(p.attnPrefillComputeEff),
    smoothP: Math.min(12, Math.max(1, p.smoothP)),
  };
}

function fromVector(x: number[], base: KernelParams): KernelParams {
  const p = { ...base };
  FIELDS.forEach((f, i) => (p[f] = Math.exp(x[i]!)));
  return clampParams(p);
}

/** Least squares in log time over the measurements. */
export function fitKernelParams(ms: Measurement[], acc: Accelerator, start: KernelParams): KernelParams {
  const objective = (x: number[]): number => {
    const p = fromVector(x, start);
    let s = 0;
    for (const m of ms) {
      const r = Math.log(modelSeconds(m, acc, p) / m.seconds);
      s += r * r;
    }
    return s;
  };
  let x = FIELDS.map((f) => Math.log(start[f]));
  // restarts help the simplex leave flat regions
  for (let round = 0; round < 4; round++) x = nelderMead(objective, x, { step: 0.5, maxIterations: 3000 }).x;
  return fromVector(x, start);
}

/** Key of the shape family a measurement belongs to (corrections interpolate within a family). */
export function correctionKey(kind: Measurement['kind'], dtype: string, n: number, k: number): string {
  return kind === 'gemm' ? `gemm:${dtype}:${n}x${k}` : kind;
}

/** x-coordinate within a family: ln of GEMM m, of KV bytes read (decode), of causal FLOPs (prefill). */
export function correctionX(m: Measurement): number {
  if (m.kind === 'gemm') return Math.log(m.m);
  if (m.kind === 'attn-decode') return Math.log(m.bytes);
  if (m.kind === 'attn-prefill')
    return Math.log(4 * m.batch * m.qHeads * m.headDim * ((m.context * (m.context + 1)) / 2));
  return Math.log(m.bytes);
}

/** Measured/model ratios per family, sorted by x: the "measured table" part of a profile. */
export type Corrections = Record<string, [x: number, logRatio: number][]>;

export function buildCorrections(ms: Measurement[], acc: Accelerator, p: KernelParams): Corrections {
  const out: Corrections = {};
  for (const m of ms) {
    if (m.kind === 'copy') continue;
    const key = correctionKey(m.kind, m.dtype, m.n, m.k);
    (out[key] ??= []).push([correctionX(m), Math.log(m.seconds / modelSeconds(m, acc, p))]);
  }
  for (const pts of Object.values(out)) pts.sort((a, b) => a[0] - b[0]);
  return out;
}

/** How far (in ln units) outside the measured range a correction still applies: a factor of 2. */
const REACH = Math.log(2);

/**
 * Log-ratio correction at x: linear interpolation between measured points of the family; held
 * flat up to a factor 2 beyond the ends, fading to 0 (pure model) over the next factor of 2.
 */
export function correctionAt(pts: [number, number][] | undefined, x: number): number {
  if (pts === undefined || pts.length === 0) return 0;
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  if (x <= first[0]) {
    const d = first[0] - x;
    return d <= REACH ? first[1] : d >= 2 * REACH ? 0 : first[1] * (1 - (d - REACH) / REACH);
  }
  if (x >= last[0]) {
    const d = x - last[0];
    return d <= REACH ? last[1] : d >= 2 * REACH ? 0 : last[1] * (1 - (d - REACH) / REACH);
  }
  let lo = 0;
  let hi = pts.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (pts[mid]![0] <= x) lo = mid;
    else hi = mid;
  }
  const a = pts[lo]!;
  const b = pts[hi]!;
  return a[1] + ((x - a[0]) / (b[0] - a[0])) * (b[1] - a[1]);
}

export function predictSeconds(
  m: Measurement,
  acc: Accelerator,
  p: KernelParams,
  c: Corrections | null,
): number {
  const base = modelSeconds(m, acc, p);
  if (c === null || m.kind === 'copy') return base;
  return base * Math.exp(correctionAt(c[correctionKey(m.kind, m.dtype, m.n, m.k)], correctionX(m)));
}

export interface FitReport {
  n: number;
  medianAbsErrorPct: number;
  byKind: Record<string, { n: number; medianAbsErrorPct: number }>;
  rows: { label: string; measuredS: number; predictedS: number; errorPct: number }[];
}

export function errorReport(
  ms: Measurement[],
  acc: Accelerator,
  p: KernelParams,
  c: Corrections | null,
): FitReport {
  const rows = ms.map((m) => {
    const predictedS = predictSeconds(m, acc, p, c);
    return {
      label: m.label,
      kind: m.kind,
      measuredS: m.seconds,
      predictedS,
      errorPct: (100 * (predictedS - m.seconds)) / m.seconds,
    };
  });
  const byKind: FitReport['byKind'] = {};
  for (const kind of new Set(rows.map((r) => r.kind))) {
    const e = rows.filter((r) => r.kind === kind).map((r) => r.errorPct);
    byKind[kind] = { n: e.length, medianAbsErrorPct: medianAbs(e) };
  }
  return {
    n: rows.length,
    medianAbsErrorPct: medianAbs(rows.map((r) => r.errorPct)),
    byKind,
    rows: rows.map(({ label, measuredS, predictedS, errorPct }) => ({
      label,
      measuredS,
      predictedS,
      errorPct,
    })),
  };
}

/** Starting point of a table fit: the generic default. */
const START: KernelParams = {
  gemmFloorS: 2e-5,
  gemmComputeEff: 0.7,
  gemmMHalf: 16,
  memEff: 0.85,
  smoothP: 3,
  attnDecodeFloorS: 2e-5,
  attnDecodeMemEff: 0.85,
  attnPrefillFloorS: 2e-5,
  attnPrefillComputeEff: 0.6,
  elementwiseFloorS: 3e-6,
};

export interface TableCalibration {
  /** Fitted on every row (what is shipped and used). */
  params: KernelParams;
  corrections: Corrections;
  /** Fitted on half the rows, scored on the other half (what the error claim rests on). */
  heldOut: FitReport;
  /** The half-fit's error on its own rows, model only (no corrections), for comparison. */
  train: FitReport;
  /** The held-out half scored by the fitted curves alone, without the measured-point corrections. */
  heldOutModelOnly: FitReport;
}

/** Fit kernel parameters to a measured table: half to fit, half to score, then all rows for use. */
export function calibrateFromMeasurements(ms: Measurement[], acc: Accelerator): TableCalibration {
  const { fit, heldOut } = splitHalf(ms);
  const half = fitKernelParams(fit, acc, START);
  const halfCorr = buildCorrections(fit, acc, half);
  const params = fitKernelParams(ms, acc, half);
  return {
    params,
    corrections: buildCorrections(ms, acc, params),
    heldOut: errorReport(heldOut, acc, half, halfCorr),
    train: errorReport(fit, acc, half, null),
    heldOutModelOnly: errorReport(heldOut, acc, half, null),
  };
}
