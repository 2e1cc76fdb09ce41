/**
 * Fit a stack's performance profile to published results (`pertoken calibrate --published`): a few
 * bounded parameters in log space — the compute and memory efficiency multipliers, the per-step
 * host overhead and the all-reduce latency — by Nelder–Mead on the absolute log error of the
 * predicted throughput (robust: the median, not the outliers, sets the fit).
 *
 * Honesty: the cases are split deterministically (by a hash of the case group, so near-duplicate
 * results fall on the same side); the parameters are fitted on the training part only and scored
 * on the held-out part. The shipped profile is exactly that fit, so the held-out error its `fit`
 * records is the error of the shipped parameters on results they never saw.
 */
import { medianAbs, nelderMead } from './optimize.js';
import { DEFAULT_KERNEL, type PerfProfile } from './profile.js';
import { chooseProfile } from './profiles.js';
import { isHeldOut, predictPrepared, type PreparedCase } from './validate.js';
import { InputError } from '../util/errors.js';

/**
 * The fitted parameters: bounds (natural units), the value the prior pulls towards, and the prior's
 * width (a factor: one σ in log space). A stack-level fit frees all four; a hardware-level fit
 * refines only the two efficiency multipliers around the stack's values and keeps its overheads.
 */
export const FIT_PARAMETERS = {
  computeEffScale: { lo: 0.2, hi: 1.3, start: 1, sigma: 2 },
  memEffScale: { lo: 0.3, hi: 1.2, start: 1, sigma: 2 },
  stepOverheadS: { lo: 1e-5, hi: 0.02, start: 1e-3, sigma: 4 },
  seqOverheadS: { lo: 1e-8, hi: 1e-4, start: 1e-6, sigma: 10 },
  allReduceLatencyS: { lo: 1e-6, hi: 2e-4, start: 1e-5, sigma: 4 },
} as const;
type FitKey = keyof typeof FIT_PARAMETERS;
const STACK_KEYS: FitKey[] = [
  'computeEffScale',
  'memEffScale',
  'stepOverheadS',
  'seqOverheadS',
  'allReduceLatencyS',
];
const HARDWARE_KEYS: FitKey[] = ['computeEffScale', 'memEffScale'];
/** Prior width of a hardware refinement around the stack's multipliers. */
const HARDWARE_SIGMA = 1.5;
/** Weight of the prior against the mean absolute log error. */
const PRIOR_WEIGHT = 0.01;
/** Soft-L1 scale of the log error: quadratic below ~10 %, linear (robust) beyond. */
const SOFT_L1 = 0.1;

/** Fewest cases a fit needs (with ≥ 3 of them held out). */
export const MIN_FIT_CASES = 8;

export type FitParams = Record<FitKey, number>;

function clampParam(k: FitKey, logValue: number): number {
  const b = FIT_PARAMETERS[k];
  return Math.exp(Math.min(Math.log(b.hi), Math.max(Math.log(b.lo), logValue)));
}

/** A published profile with the given parameters (generic kernel base; no corrections). */
export function publishedProfile(
  stack: string,
  hardware: string | null,
  params: FitParams,
  note: string,
  fit: PerfProfile['fit'],
): PerfProfile {
  return {
    key: hardware === null ? `${stack}.published` : `${stack}.${hardware}.published`,
    source: 'published',
    evidence: 'vendor-reported',
    hardware,
    stack,
    note,
    kernel: DEFAULT_KERNEL,
    corrections: null,
    stepOverheadS: params.stepOverheadS,
    seqOverheadS: params.seqOverheadS,
    allReduceLatencyS: params.allReduceLatencyS,
    computeEffScale: params.computeEffScale,
    memEffScale: params.memEffScale,
    fit,
  };
}

/** Profiles other than the stack's own published fits (which the candidate replaces). */
function baseProfiles(profiles: PerfProfile[], stack: string, hardware: string | null): PerfProfile[] {
  return profiles.filter(
    (p) => !(p.source === 'published' && p.stack === stack && (hardware === null || p.hardware === hardware)),
  );
}

/** Signed log errors ln(predicted / reported) of the cases under a candidate profile. */
export function logErrors(cases: PreparedCase[], candidate: PerfProfile, base: PerfProfile[]): number[] {
  return logErrorsWith(cases, [...base, candidate]);
}

/** Signed log errors with the profile each case chooses from `profiles`. */
export function logErrorsWith(cases: PreparedCase[], profiles: PerfProfile[]): number[] {
  return cases.map((c) => {
    const profile = chooseProfile(profiles, c.accelerator.key, c.stack).profile;
    try {
      return Math.log(predictPrepared(c, profile).predicted / c.reported);
    } catch {
      return Math.log(1e-3);
    }
  });
}

const pct = (logErr: number): number => 100 * (Math.exp(logErr) - 1);

/**
 * Nelder–Mead on the mean |ln(pred/rep)| plus a Gaussian prior in log space: `free` are the
 * parameters fitted, each pulled towards `centre` with its width; the others stay at `centre`.
 */
function fitParams(
  cases: PreparedCase[],
  stack: string,
  hardware: string | null,
  base: PerfProfile[],
  centre: FitParams,
  free: FitKey[],
  sigma: (k: FitKey) => number,
): FitParams {
  const x0 = free.map((k) => Math.log(centre[k]));
  const toParams = (x: number[]): FitParams => {
    const out = { ...centre };
    free.forEach((k, i) => (out[k] = clampParam(k, x[i]!)));
    return out;
  };
  const objective = (x: number[]): number => {
    const cand = publishedProfile(stack, hardware, toParams(x), '', null);
    const errs = logErrors(cases, cand, base);
    const data =
      errs.reduce((s, e) => s + SOFT_L1 * (Math.sqrt(1 + (e / SOFT_L1) ** 2) - 1), 0) / errs.length;
    const prior = free.reduce((s, k, i) => s + ((x[i]! - x0[i]!) / Math.log(sigma(k))) ** 2, 0);
    return data + PRIOR_WEIGHT * prior;
  };
  let x = x0;
  for (let round = 0; round < 2; round++)
    x = nelderMead(objective, x, { step: 0.4, maxIterations: 250, tolerance: 1e-6 }).x;
  return toParams(x);
}

export interface PublishedFitCaseError {
  id: string;
  hardware: string;
  errorPct: number;
}

export interface PublishedFitResult {
  /** The fitted profile (parameters from the training part only). */
  profile: PerfProfile;
  n: number;
  trainN: number;
  heldOutN: number;
  trainMedianAbsErrorPct: number;
  /** Error of the fitted profile on the held-out cases: the honest figure. */
  heldOutMedianAbsErrorPct: number;
  heldOut: PublishedFitCaseError[];
  /** Error of the profiles the fit replaces (default or an earlier fit), on every case and held out. */
  beforeMedianAbsErrorPct: number;
  beforeHeldOutMedianAbsErrorPct: number;
}

/** The throughput cases a stack (and optionally one accelerator) profile is fitted to. */
export function casesForStack(
  prepared: PreparedCase[],
  stack: string,
  hardware: string | null,
): PreparedCase[] {
  return prepared.filter(
    (c) =>
      c.stack === stack && c.metric !== 'TTFT s' && (hardware === null || c.accelerator.key === hardware),
  );
}

/**
 * Each case with its layout fixed to the one it predicts best with under `profiles` (a fit
 * evaluates the cases hundreds of times; the layout choice barely moves with the parameters, and
 * validation re-chooses it with the fitted profile anyway). Cases no layout can predict are dropped.
 */
function withFixedLayouts(cases: PreparedCase[], profiles: PerfProfile[]): PreparedCase[] {
  const out: PreparedCase[] = [];
  for (const c of cases) {
    if (c.candidates.length === 1) {
      out.push(c);
      continue;
    }
    try {
      const r = predictPrepared(c, chooseProfile(profiles, c.accelerator.key, c.stack).profile).replica;
      out.push({ ...c, candidates: [r] });
    } catch {
      // no feasible layout: nothing to fit
    }
  }
  return out;
}

export function fitPublishedProfile(
  prepared: PreparedCase[],
  profiles: PerfProfile[],
  stack: string,
  hardware: string | null,
  source: string,
): PublishedFitResult {
  const all = casesForStack(prepared, stack, hardware);
  const what = `${stack}${hardware === null ? '' : ` on ${hardware}`}`;
  const base = baseProfiles(profiles, stack, hardware);
  const stackFit =
    hardware === null
      ? undefined
      : profiles.filter((p) => p.source === 'published' && p.stack === stack && p.hardware === null).at(-1);
  const centre: FitParams =
    stackFit === undefined
      ? (Object.fromEntries(STACK_KEYS.map((k) => [k, FIT_PARAMETERS[k].start])) as FitParams)
      : {
          computeEffScale: stackFit.computeEffScale,
          memEffScale: stackFit.memEffScale,
          stepOverheadS: stackFit.stepOverheadS,
          seqOverheadS: stackFit.seqOverheadS,
          allReduceLatencyS: stackFit.allReduceLatencyS,
        };
  const free = stackFit === undefined ? STACK_KEYS : HARDWARE_KEYS;
  const sigma = (k: FitKey): number => (stackFit === undefined ? FIT_PARAMETERS[k].sigma : HARDWARE_SIGMA);
  // two passes: layouts chosen with the prior's values, fit; layouts re-chosen with the fit, refit
  // (the result depends only on the other stacks' profiles, never on an earlier fit of this one)
  let params = centre;
  let train: PreparedCase[] = [];
  let held: PreparedCase[] = [];
  for (let pass = 0; pass < 2; pass++) {
    const cases = withFixedLayouts(all, [...base, publishedProfile(stack, hardware, params, '', null)]);
    train = cases.filter((c) => !isHeldOut(c));
    held = cases.filter((c) => isHeldOut(c));
    if (cases.length < MIN_FIT_CASES || held.length < 3 || train.length < 5)
      throw new InputError(
        `calibrate: ${cases.length} predictable published cases for ${what} (${train.length} to fit, ${held.length} held out); a fit needs ≥ ${MIN_FIT_CASES} with ≥ 5 to fit and ≥ 3 held out`,
      );
    params = fitParams(train, stack, hardware, base, centre, free, sigma);
  }
  const before = logErrorsWith(all, profiles);
  const fitted = publishedProfile(stack, hardware, params, '', null);
  const trainErr = logErrors(train, fitted, base).map(pct);
  const heldErr = logErrors(held, fitted, base).map(pct);
  const fit = {
    n: train.length + held.length,
    heldOutN: held.length,
    heldOutMedianAbsErrorPct: medianAbs(heldErr),
    trainMedianAbsErrorPct: medianAbs(trainErr),
  };
  const scope =
    stackFit === undefined
      ? 'efficiency multipliers, step and per-sequence overheads and all-reduce latency'
      : `efficiency multipliers refined around ${stackFit.key} (its overheads kept)`;
  const note =
    `${scope} fitted to ${train.length} published ${what} results (${source}); median |error| on the ` +
    `${held.length} held-out results ${fit.heldOutMedianAbsErrorPct.toFixed(1)} % (on the fitted ones ${fit.trainMedianAbsErrorPct.toFixed(1)} %)`;
  const profile = publishedProfile(stack, hardware, params, note, fit);
  return {
    profile,
    n: fit.n,
    trainN: train.length,
    heldOutN: held.length,
    trainMedianAbsErrorPct: fit.trainMedianAbsErrorPct,
    heldOutMedianAbsErrorPct: fit.heldOutMedianAbsErrorPct,
    heldOut: held.map((c, i) => ({ id: c.id, hardware: c.accelerator.key, errorPct: heldErr[i]! })),
    beforeMedianAbsErrorPct: medianAbs(before.map(pct)),
    beforeHeldOutMedianAbsErrorPct: medianAbs(
      logErrorsWith(
        all.filter((c) => isHeldOut(c)),
        profiles,
      ).map(pct),
    ),
  };
}
