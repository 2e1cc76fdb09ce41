import type { Rng } from '../../util/rng.js';
import { InputError } from '../../util/errors.js';
import type { TraceFormat } from '../types.js';
import { openTrace } from '../read.js';

/**
 * Length (token count) and duration distributions for the synthetic generators.
 *
 * Token counts are drawn as real numbers, rounded to the nearest integer and then clipped to
 * [min, max]. Lognormal parameters are resolved to mu/sigma of ln(X) before they get here: the
 * spec may give mean + median (mu = ln median, sigma = sqrt(2 ln(mean/median))), median + sigma,
 * mean + sigma or mu + sigma. The mean and median are those of the *unclipped* lognormal; clipping
 * moves the realized mean (see `tokenSampler(...).meanTokens`, which accounts for it).
 */
export type TokenDist =
  | { dist: 'fixed'; value: number }
  /** Integers uniform on [min, max], both ends included. */
  | { dist: 'uniform'; min: number; max: number }
  | { dist: 'lognormal'; mu: number; sigma: number; min: number; max: number }
  /** Resampled from a trace's lengths (prompt or output by where it is used). */
  | { dist: 'empirical'; trace: string; format?: TraceFormat; maxSamples: number };

/** A distribution of seconds (tool / think time): like TokenDist but not rounded, no empirical. */
export type SecondsDist =
  | { dist: 'fixed'; value: number }
  | { dist: 'uniform'; min: number; max: number }
  | { dist: 'lognormal'; mu: number; sigma: number; min: number; max: number };

/** Draws one value per call; `mean` is the exact mean of what `draw` returns (rounding, clipping included). */
export interface Sampler {
  draw(rng: Rng): number;
  readonly mean: number;
}

/** A sampler whose mean (a 100,000-point quadrature) is computed on first use. */
function withLazyMean(draw: (rng: Rng) => number, mean: () => number): Sampler {
  let cached: number | undefined;
  return {
    draw,
    get mean(): number {
      cached ??= mean();
      return cached;
    },
  };
}

/** Sampler for a parametric token-count distribution (rounded to integers, clipped). */
export function tokenSampler(d: Exclude<TokenDist, { dist: 'empirical' }>): Sampler {
  switch (d.dist) {
    case 'fixed':
      return { draw: () => d.value, mean: d.value };
    case 'uniform': {
      const span = d.max - d.min + 1;
      return {
        draw: (rng) => d.min + Math.min(span - 1, Math.floor(rng.uniform() * span)),
        mean: (d.min + d.max) / 2,
      };
    }
    case 'lognormal': {
      const { mu, sigma, min, max } = d;
      const draw = (rng: Rng): number => {
        const x = Math.round(Math.exp(mu + sigma * rng.normal()));
        return x < min ? min : x > max ? max : x;
      };
      return withLazyMean(draw, () => lognormalMean(mu, sigma, min, max, true));
    }
  }
}

/** Sampler for seconds (not rounded). */
export function secondsSampler(d: SecondsDist): Sampler {
  switch (d.dist) {
    case 'fixed':
      return { draw: () => d.value, mean: d.value };
    case 'uniform':
      return { draw: (rng) => rng.between(d.min, d.max), mean: (d.min + d.max) / 2 };
    case 'lognormal': {
      const { mu, sigma, min, max } = d;
      const draw = (rng: Rng): number => {
        const x = Math.exp(mu + sigma * rng.normal());
        return x < min ? min : x > max ? max : x;
      };
      return withLazyMean(draw, () => lognormalMean(mu, sigma, min, max, false));
    }
  }
}

/** Lognormal parameters from the mean and median of the unclipped distribution. */
export function lognormalFromMeanMedian(mean: number, median: number): { mu: number; sigma: number } {
  return { mu: Math.log(median), sigma: Math.sqrt(2 * Math.log(mean / median)) };
}

/**
 * Mean of clamp(round?(exp(mu + sigma Z)), min, max), by a midpoint rule over 100,000 quantiles
 * (deterministic; error far below a token for the parameters used here).
 */
export function lognormalMean(mu: number, sigma: number, min: number, max: number, round: boolean): number {
  const n = 100_000;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let x = Math.exp(mu + sigma * normalQuantile((i + 0.5) / n));
    if (round) x = Math.round(x);
    sum += x < min ? min : x > max ? max : x;
  }
  return sum / n;
}

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  const at = (arr: number[], i: number): number => arr[i] ?? 0;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((at(c, 0) * q + at(c, 1)) * q + at(c, 2)) * q + at(c, 3)) * q + at(c, 4)) * q + at(c, 5)) /
      ((((at(d, 0) * q + at(d, 1)) * q + at(d, 2)) * q + at(d, 3)) * q + 1)
    );
  }
  if (p > 1 - pLow) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((at(a, 0) * r + at(a, 1)) * r + at(a, 2)) * r + at(a, 3)) * r + at(a, 4)) * r + at(a, 5)) * q) /
    (((((at(b, 0) * r + at(b, 1)) * r + at(b, 2)) * r + at(b, 3)) * r + at(b, 4)) * r + 1)
  );
}

/**
 * (prompt, output) pairs read from a trace, kept whole so that resampling by index keeps their
 * correlation. Traces longer than `maxSamples` pairs are reduced by reservoir sampling (seeded),
 * so memory stays bounded (8 bytes per pair).
 */
export class EmpiricalPairs {
  private constructor(
    readonly path: string,
    readonly prompt: Int32Array,
    readonly output: Int32Array,
    /** Pairs seen in the trace (before reservoir sampling). */
    readonly seen: number,
  ) {}

  get size(): number {
    return this.prompt.length;
  }

  static async load(
    path: string,
    format: TraceFormat | undefined,
    maxSamples: number,
    rng: Rng,
    seed: number,
  ): Promise<EmpiricalPairs> {
    const stream = await openTrace(path, format === undefined ? { seed } : { format, seed });
    let prompt = new Int32Array(Math.min(maxSamples, 1024));
    let output = new Int32Array(prompt.length);
    let n = 0;
    let seen = 0;
    for await (const batch of stream.batches()) {
      for (const r of batch) {
        let slot: number;
        if (n < maxSamples) {
          if (n === prompt.length) {
            const cap = Math.min(maxSamples, prompt.length * 2);
            const p2 = new Int32Array(cap);
            p2.set(prompt);
            const o2 = new Int32Array(cap);
            o2.set(output);
            prompt = p2;
            output = o2;
          }
          slot = n++;
        } else {
          // Algorithm R: the (seen+1)-th pair replaces a random slot with probability maxSamples/(seen+1).
          slot = Math.floor(rng.uniform() * (seen + 1));
          if (slot >= maxSamples) slot = -1;
        }
        if (slot >= 0) {
          prompt[slot] = r.promptTokens;
          output[slot] = r.outputTokens;
        }
        seen++;
      }
    }
    if (n === 0) throw new InputError(`${path}: the trace has no requests to resample lengths from`);
    return new EmpiricalPairs(path, prompt.subarray(0, n), output.subarray(0, n), seen);
  }

  mean(field: 'prompt' | 'output'): number {
    const arr = field === 'prompt' ? this.prompt : this.output;
    let s = 0;
    for (let i = 0; i < arr.length; i++) s += arr[i] ?? 0;
    return s / arr.length;
  }

  /** A sampler over one column alone (marginal). */
  sampler(field: 'prompt' | 'output'): Sampler {
    const arr = field === 'prompt' ? this.prompt : this.output;
    const n = arr.length;
    return {
      draw: (rng) => arr[Math.min(n - 1, Math.floor(rng.uniform() * n))] ?? 0,
      mean: this.mean(field),
    };
  }
}

/** Draws a request's (prompt, output) token counts. */
export interface LengthModel {
  draw(rng: Rng): { promptTokens: number; outputTokens: number };
  readonly meanPromptTokens: number;
  readonly meanOutputTokens: number;
}

function sameTrace(
  a: Extract<TokenDist, { dist: 'empirical' }>,
  b: Extract<TokenDist, { dist: 'empirical' }>,
): boolean {
  return a.trace === b.trace && a.format === b.format;
}

/**
 * Build the length model. When prompt and output are both empirical from the same trace (and
 * format), one index is drawn per request so the pair is kept as recorded; otherwise the two are
 * drawn independently (prompt first, then output).
 */
export async function buildLengthModel(
  prompt: TokenDist,
  output: TokenDist,
  rng: Rng,
  seed: number,
): Promise<LengthModel> {
  const cache = new Map<string, EmpiricalPairs>();
  const load = async (d: Extract<TokenDist, { dist: 'empirical' }>): Promise<EmpiricalPairs> => {
    const key = `${d.format ?? ''}\u0000${d.trace}`;
    let pairs = cache.get(key);
    if (!pairs) {
      pairs = await EmpiricalPairs.load(d.trace, d.format, d.maxSamples, rng, seed);
      cache.set(key, pairs);
    }
    return pairs;
  };
  if (prompt.dist === 'empirical' && output.dist === 'empirical' && sameTrace(prompt, output)) {
    const pairs = await load(prompt);
    const n = pairs.size;
    const p = pairs.prompt;
    const o = pairs.output;
    return {
      draw: (r) => {
        const i = Math.min(n - 1, Math.floor(r.uniform() * n));
        return { promptTokens: p[i] ?? 0, outputTokens: o[i] ?? 0 };
      },
      meanPromptTokens: pairs.mean('prompt'),
      meanOutputTokens: pairs.mean('output'),
    };
  }
  const ps = prompt.dist === 'empirical' ? (await load(prompt)).sampler('prompt') : tokenSampler(prompt);
  const os = output.dist === 'empirical' ? (await load(output)).sampler('output') : tokenSampler(output);
  return {
    draw: (r) => {
      const promptTokens = ps.draw(r);
      return { promptTokens, outputTokens: os.draw(r) };
    },
    meanPromptTokens: ps.mean,
    meanOutputTokens: os.mean,
  };
}

/** A sampler for the output column alone (used per turn by session generators). */
export async function outputSampler(output: TokenDist, rng: Rng, seed: number): Promise<Sampler> {
  if (output.dist !== 'empirical') return tokenSampler(output);
  const pairs = await EmpiricalPairs.load(output.trace, output.format, output.maxSamples, rng, seed);
  return pairs.sampler('output');
}
