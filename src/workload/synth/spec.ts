import { z } from 'zod';
import { InputError } from '../../util/errors.js';
import { TRACE_FORMATS } from '../types.js';
import type { ArrivalSpec } from './arrivals.js';
import type { SecondsDist, TokenDist } from './lengths.js';
import { lognormalFromMeanMedian } from './lengths.js';
import { PRESET_INPUTS } from './presets.js';

/**
 * The synthetic-workload spec: the user-facing schema (snake_case, every field optional, the
 * scenario file's `workload.synth` block), and its resolution against a preset into the
 * camelCase `SynthSpec` the generators take.
 *
 * Distribution objects are flat (one object, `dist` / `kind` picks which fields apply) so that a
 * user may override a preset's parameters without restating the rest: `prompt: { median: 2000 }`
 * keeps the preset's lognormal and its mean; giving a different `dist` or `kind` replaces the
 * preset's object. Which fields go with which kind is checked on resolution.
 */

export const SYNTH_PRESETS = ['chat', 'coding-agent', 'rag', 'batch', 'embeddings'] as const;
export type SynthPreset = (typeof SYNTH_PRESETS)[number];

export const ARRIVAL_KINDS = ['poisson', 'gamma', 'diurnal', 'replay', 'batch'] as const;
export const LENGTH_DISTS = ['fixed', 'uniform', 'lognormal', 'empirical'] as const;
export const SECONDS_DISTS = ['fixed', 'uniform', 'lognormal'] as const;

const oneOf = (values: readonly string[]): string => `one of ${values.join(' | ')}`;
const positive = (): z.ZodNumber => z.number({ error: 'a number > 0' }).gt(0, { error: 'a number > 0' });
const nonNegative = (): z.ZodNumber =>
  z.number({ error: 'a number >= 0' }).min(0, { error: 'a number >= 0' });
const tokens = (): z.ZodNumber => z.int({ error: 'an integer >= 0' }).min(0, { error: 'an integer >= 0' });
const count = (): z.ZodNumber => z.int({ error: 'an integer >= 1' }).min(1, { error: 'an integer >= 1' });
const hourOfDay = (): z.ZodNumber =>
  z
    .number({ error: 'an hour in [0, 24)' })
    .min(0, { error: 'an hour in [0, 24)' })
    .lt(24, { error: 'an hour in [0, 24)' });
const path = (): z.ZodString => z.string({ error: 'a file path' }).min(1, { error: 'a file path' });
const traceFormat = () => z.enum(TRACE_FORMATS, { error: oneOf(TRACE_FORMATS) });

/** A token-count distribution. `dist` picks the shape; the fields that apply to it:
 * fixed: value · uniform: min, max · lognormal: mean+median | median+sigma | mean+sigma | mu+sigma
 * (of the unclipped lognormal; mu/sigma of ln tokens), optional min (default 1), max (default none) —
 * draws are rounded and clipped to [min, max] · empirical: trace, format, max_samples. */
export const lengthDistSchema = z.strictObject({
  dist: z.enum(LENGTH_DISTS, { error: oneOf(LENGTH_DISTS) }).optional(),
  value: tokens().optional(),
  min: tokens().optional(),
  max: tokens().optional(),
  mean: positive().optional(),
  median: positive().optional(),
  mu: z.number({ error: 'a number' }).optional(),
  sigma: nonNegative().optional(),
  trace: path().optional(),
  format: traceFormat().optional(),
  max_samples: count().optional(),
});

/** A distribution of seconds (not rounded): fixed | uniform | lognormal, fields as for lengths. */
export const secondsDistSchema = z.strictObject({
  dist: z.enum(SECONDS_DISTS, { error: oneOf(SECONDS_DISTS) }).optional(),
  value: nonNegative().optional(),
  min: nonNegative().optional(),
  max: nonNegative().optional(),
  mean: positive().optional(),
  median: positive().optional(),
  mu: z.number({ error: 'a number' }).optional(),
  sigma: nonNegative().optional(),
});

/** Arrival process. gamma: cv · diurnal: peak_to_trough + peak_hour, or hourly (24 relative
 * rates), and start_hour · replay: trace, format, scale · poisson, batch: nothing. */
export const arrivalsSchema = z.strictObject({
  kind: z.enum(ARRIVAL_KINDS, { error: oneOf(ARRIVAL_KINDS) }).optional(),
  cv: positive().optional(),
  peak_to_trough: z.number({ error: 'a number >= 1' }).min(1, { error: 'a number >= 1' }).optional(),
  peak_hour: hourOfDay().optional(),
  hourly: z
    .array(nonNegative(), { error: 'a list of 24 numbers >= 0' })
    .length(24, { error: 'a list of 24 numbers >= 0' })
    .optional(),
  start_hour: hourOfDay().optional(),
  trace: path().optional(),
  format: traceFormat().optional(),
  scale: positive().optional(),
});

/** Multi-turn sessions (the coding-agent preset): context grows turn by turn. */
export const sessionsSchema = z.strictObject({
  /** LLM calls per session. */
  turns: lengthDistSchema.optional(),
  /** Turn-0 prompt: system prompt + tool definitions + task. */
  initial_prompt: lengthDistSchema.optional(),
  /** Tokens appended per turn besides the previous answer (tool results, user messages). */
  tool_output: lengthDistSchema.optional(),
  /** Tool / think time between an answer and the next request, seconds. */
  gap_s: secondsDistSchema.optional(),
  /** Tokens per prefix-hash block. */
  block_size: count().optional(),
  /** A session ends before a turn whose prompt would exceed this. */
  max_context_tokens: count().optional(),
  /** Leading prompt tokens identical across all sessions (shared system prompt), for hash ids. */
  shared_prefix_tokens: tokens().optional(),
  /** Nominal time to first token, used only to lay out recorded arrivals. */
  nominal_ttft_s: nonNegative().optional(),
  /** Nominal seconds per output token, used only to lay out recorded arrivals. */
  nominal_tpot_s: nonNegative().optional(),
});

/** The user-facing synth spec (scenario `workload.synth`, `pertoken synth --spec`). */
export const synthSpecSchema = z.strictObject({
  preset: z.enum(SYNTH_PRESETS, { error: oneOf(SYNTH_PRESETS) }).optional(),
  seed: z
    .int({ error: 'an integer in [0, 4294967295]' })
    .min(0, { error: 'an integer in [0, 4294967295]' })
    .max(4294967295, { error: 'an integer in [0, 4294967295]' })
    .optional(),
  /** Mean request rate, requests per second (sessions: requests, not sessions). */
  rate: positive().optional(),
  /** Arrivals (session starts, for sessions) fall in [0, duration_s). */
  duration_s: positive().optional(),
  /** Stop after this many requests. */
  requests: count().optional(),
  arrivals: arrivalsSchema.optional(),
  prompt: lengthDistSchema.optional(),
  output: lengthDistSchema.optional(),
  sessions: sessionsSchema.optional(),
});

export type SynthSpecInput = z.input<typeof synthSpecSchema>;
export type LengthDistInput = z.input<typeof lengthDistSchema>;
export type SecondsDistInput = z.input<typeof secondsDistSchema>;
export type ArrivalsInput = z.input<typeof arrivalsSchema>;
export type SessionsInput = z.input<typeof sessionsSchema>;

/** Resolved multi-turn session parameters. */
export interface SessionSpec {
  turns: Exclude<TokenDist, { dist: 'empirical' }>;
  initialPrompt: Exclude<TokenDist, { dist: 'empirical' }>;
  toolOutput: Exclude<TokenDist, { dist: 'empirical' }>;
  gapS: SecondsDist;
  blockSize: number;
  maxContextTokens: number;
  sharedPrefixTokens: number;
  nominalTtftS: number;
  nominalTpotS: number;
}

/** A resolved, validated spec (camelCase), what `synthesize` takes. */
export interface SynthSpec {
  preset: SynthPreset;
  seed: number;
  /** Mean requests per second (for sessions, session starts are at this / mean turns). */
  rateReqPerS: number;
  /** Open-loop arrivals / session starts fall in [0, durationS). Unset for a replay without one and
   * when only `requests` was given (then exactly that many requests are generated). */
  durationS?: number;
  maxRequests?: number;
  arrivals: ArrivalSpec;
  /** Prompt lengths of independent requests (unused with sessions and replay). */
  prompt: TokenDist;
  /** Output lengths (every turn, with sessions; unused with replay). */
  output: TokenDist;
  sessions?: SessionSpec;
}

/** Maps a spec path (`arrivals.cv`) to what the user typed, for error messages. */
export type PathLabeler = (path: string) => { name: string; found?: string } | undefined;

export interface ParseOptions {
  /** Prefix of every message (default `synth`). */
  context?: string;
  /** Rename paths (e.g. to CLI flags) and show the raw text the user gave. */
  label?: PathLabeler;
}

const DEFAULT_SEED = 1;
const DEFAULT_MAX_SAMPLES = 1_000_000;

class SpecErrors {
  constructor(private readonly opts: ParseOptions) {}
  where(path: string): { name: string; found?: string } {
    return this.opts.label?.(path) ?? { name: path === '' ? 'spec' : path };
  }
  fail(path: string, message: string): never {
    throw new InputError(`${this.opts.context ?? 'synth'}: ${this.where(path).name}: ${message}`);
  }
  expected(path: string, expected: string, found: unknown): never {
    const w = this.where(path);
    this.fail(path, `expected ${expected}, found ${w.found ?? show(found)}`);
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? typeof v;
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/**
 * Validate a user spec (unknown JSON) and resolve it against its preset. Errors are InputErrors
 * naming the field, what was expected and what was found:
 * `synth: arrivals.cv: expected a number > 0, found -1`.
 */
export function parseSynthSpec(raw: unknown, opts: ParseOptions = {}): SynthSpec {
  const errs: SpecErrors = new SpecErrors(opts);
  const r = synthSpecSchema.safeParse(raw ?? {}, { reportInput: true });
  if (r.success) return resolveSynthSpec(r.data, opts);
  const issue = r.error.issues[0];
  if (!issue) return errs.fail('', 'invalid spec');
  const p = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    errs.fail(
      p,
      `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  return errs.expected(p, issue.message, issue.input);
}

type Obj = Record<string, unknown>;

/** A shallow copy without the keys whose value is undefined. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const SHAPE_KEYS = ['mean', 'median', 'mu', 'sigma'] as const;
type ShapeKey = (typeof SHAPE_KEYS)[number];
const SHAPE_COMBOS = ['mean+median', 'median+sigma', 'mean+sigma', 'mu+sigma'];
const isCombo = (keys: ShapeKey[]): boolean =>
  SHAPE_COMBOS.includes(SHAPE_KEYS.filter((k) => keys.includes(k)).join('+'));

/** Which lognormal shape parameters to keep when `over` overrides some of `base`'s: all of the
 * override's, plus the base parameter that completes a valid pair with a single override. */
function lognormalShape(over: ShapeKey[], base: ShapeKey[]): ShapeKey[] {
  if (over.length !== 1) return over.length === 0 ? base : over;
  for (const partner of ['median', 'sigma', 'mean', 'mu'] as const) {
    if (base.includes(partner) && isCombo([...over, partner])) return [...over, partner];
  }
  return over;
}

/** Overlay `over` on `base`: a different discriminator (`dist`/`kind`) replaces base entirely; for
 * lognormal shape parameters see lognormalShape (`{ median: 2000 }` keeps the base's mean; `{ sigma: 1 }`
 * over mean+median keeps the median). */
function mergeDist<T extends Obj>(
  base: T | undefined,
  over: T | undefined,
  key: 'dist' | 'kind',
): T | undefined {
  if (!over) return base;
  if (!base) return over;
  if (over[key] !== undefined && over[key] !== base[key]) return over;
  const merged: Obj = defined(base);
  if (key === 'dist') {
    const shape = lognormalShape(
      SHAPE_KEYS.filter((k) => over[k] !== undefined),
      SHAPE_KEYS.filter((k) => base[k] !== undefined),
    );
    for (const k of SHAPE_KEYS) if (!shape.includes(k)) delete merged[k];
  }
  if (
    key === 'kind' &&
    (over.hourly !== undefined || over.peak_to_trough !== undefined || over.peak_hour !== undefined)
  ) {
    for (const k of ['hourly', 'peak_to_trough', 'peak_hour']) delete merged[k];
  }
  for (const [k, v] of Object.entries(over)) if (v !== undefined) merged[k] = v;
  return merged as T;
}

/** The preset merged with the user's overrides (still the input shape). */
export function mergeWithPreset(input: SynthSpecInput): SynthSpecInput {
  const preset = PRESET_INPUTS[input.preset ?? 'chat'];
  const s = input.sessions;
  const ps = preset.sessions;
  const sessions: SessionsInput | undefined =
    ps || s
      ? {
          ...defined(ps ?? {}),
          ...defined(s ?? {}),
          turns: mergeDist(ps?.turns, s?.turns, 'dist'),
          initial_prompt: mergeDist(ps?.initial_prompt, s?.initial_prompt, 'dist'),
          tool_output: mergeDist(ps?.tool_output, s?.tool_output, 'dist'),
          gap_s: mergeDist(ps?.gap_s, s?.gap_s, 'dist'),
        }
      : undefined;
  return {
    ...defined(preset),
    ...defined(input),
    preset: input.preset ?? 'chat',
    arrivals: mergeDist(preset.arrivals, input.arrivals, 'kind'),
    prompt: mergeDist(preset.prompt, input.prompt, 'dist'),
    output: mergeDist(preset.output, input.output, 'dist'),
    sessions,
  };
}

function only(errs: SpecErrors, obj: Obj, at: string, allowed: string[], what: string): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined && !allowed.includes(k)) errs.fail(`${at}.${k}`, `does not apply to ${what}`);
  }
}

function need<T>(errs: SpecErrors, v: T | undefined, at: string, expected: string): T {
  if (v === undefined) errs.expected(at, expected, undefined);
  return v;
}

type Lognormal = { mu: number; sigma: number };

function resolveLognormal(errs: SpecErrors, d: LengthDistInput | SecondsDistInput, at: string): Lognormal {
  const { mean, median, mu, sigma } = d;
  const given = (['mean', 'median', 'mu', 'sigma'] as const).filter((k) => d[k] !== undefined);
  const combo = given.join('+');
  if (combo === 'mean+median' && mean !== undefined && median !== undefined) {
    if (mean < median) errs.expected(`${at}.mean`, `a mean >= the median (${median})`, mean);
    return lognormalFromMeanMedian(mean, median);
  }
  if (combo === 'median+sigma' && median !== undefined && sigma !== undefined)
    return { mu: Math.log(median), sigma };
  if (combo === 'mean+sigma' && mean !== undefined && sigma !== undefined) {
    return { mu: Math.log(mean) - (sigma * sigma) / 2, sigma };
  }
  if (combo === 'mu+sigma' && mu !== undefined && sigma !== undefined) return { mu, sigma };
  return errs.fail(
    at,
    `expected lognormal parameters mean+median, median+sigma, mean+sigma or mu+sigma, found ${given.length ? given.join(', ') : 'none'}`,
  );
}

function resolveTokenDist(
  errs: SpecErrors,
  d: LengthDistInput | undefined,
  at: string,
  defaultMin: number,
  allowEmpirical: boolean,
): TokenDist {
  if (!d) return errs.expected(at, 'a length distribution', undefined);
  const kind = need(errs, d.dist, `${at}.dist`, oneOf(allowEmpirical ? LENGTH_DISTS : SECONDS_DISTS));
  switch (kind) {
    case 'fixed':
      only(errs, d, at, ['dist', 'value'], 'dist fixed');
      return { dist: 'fixed', value: need(errs, d.value, `${at}.value`, 'an integer >= 0') };
    case 'uniform': {
      only(errs, d, at, ['dist', 'min', 'max'], 'dist uniform');
      const min = need(errs, d.min, `${at}.min`, 'an integer >= 0');
      const max = need(errs, d.max, `${at}.max`, `an integer >= min (${min})`);
      if (max < min) errs.expected(`${at}.max`, `an integer >= min (${min})`, max);
      return { dist: 'uniform', min, max };
    }
    case 'lognormal': {
      only(errs, d, at, ['dist', 'mean', 'median', 'mu', 'sigma', 'min', 'max'], 'dist lognormal');
      const ln = resolveLognormal(errs, d, at);
      const min = d.min ?? defaultMin;
      const max = d.max ?? Number.MAX_SAFE_INTEGER;
      if (max < min) errs.expected(`${at}.max`, `an integer >= min (${min})`, max);
      return { dist: 'lognormal', ...ln, min, max };
    }
    case 'empirical': {
      if (!allowEmpirical) errs.expected(`${at}.dist`, oneOf(SECONDS_DISTS), 'empirical');
      only(errs, d, at, ['dist', 'trace', 'format', 'max_samples'], 'dist empirical');
      const trace = need(errs, d.trace, `${at}.trace`, 'a trace file to resample from');
      return {
        dist: 'empirical',
        trace,
        ...(d.format ? { format: d.format } : {}),
        maxSamples: d.max_samples ?? DEFAULT_MAX_SAMPLES,
      };
    }
  }
}

function parametric(errs: SpecErrors, d: LengthDistInput | undefined, at: string, defaultMin: number) {
  const r = resolveTokenDist(errs, d, at, defaultMin, false);
  if (r.dist === 'empirical') return errs.fail(at, 'empirical is not available here');
  return r;
}

function resolveSecondsDist(errs: SpecErrors, d: SecondsDistInput | undefined, at: string): SecondsDist {
  if (!d) return errs.expected(at, 'a distribution of seconds', undefined);
  const kind = need(errs, d.dist, `${at}.dist`, oneOf(SECONDS_DISTS));
  switch (kind) {
    case 'fixed':
      only(errs, d, at, ['dist', 'value'], 'dist fixed');
      return { dist: 'fixed', value: need(errs, d.value, `${at}.value`, 'a number >= 0') };
    case 'uniform': {
      only(errs, d, at, ['dist', 'min', 'max'], 'dist uniform');
      const min = need(errs, d.min, `${at}.min`, 'a number >= 0');
      const max = need(errs, d.max, `${at}.max`, `a number >= min (${min})`);
      if (max < min) errs.expected(`${at}.max`, `a number >= min (${min})`, max);
      return { dist: 'uniform', min, max };
    }
    case 'lognormal': {
      only(errs, d, at, ['dist', 'mean', 'median', 'mu', 'sigma', 'min', 'max'], 'dist lognormal');
      const ln = resolveLognormal(errs, d, at);
      const min = d.min ?? 0;
      const max = d.max ?? Number.MAX_VALUE;
      if (max < min) errs.expected(`${at}.max`, `a number >= min (${min})`, max);
      return { dist: 'lognormal', ...ln, min, max };
    }
  }
}

function resolveArrivals(errs: SpecErrors, a: ArrivalsInput, rateExplicit: number | undefined): ArrivalSpec {
  const kind = need(errs, a.kind, 'arrivals.kind', oneOf(ARRIVAL_KINDS));
  const at = 'arrivals';
  switch (kind) {
    case 'poisson':
    case 'batch':
      only(errs, a, at, ['kind'], `arrivals kind ${kind}`);
      return { kind };
    case 'gamma':
      only(errs, a, at, ['kind', 'cv'], 'arrivals kind gamma');
      return { kind, cv: need(errs, a.cv, `${at}.cv`, 'a number > 0') };
    case 'diurnal': {
      only(
        errs,
        a,
        at,
        ['kind', 'peak_to_trough', 'peak_hour', 'hourly', 'start_hour'],
        'arrivals kind diurnal',
      );
      const startHour = a.start_hour ?? 0;
      if (a.hourly) {
        if (a.peak_to_trough !== undefined)
          errs.fail(`${at}.peak_to_trough`, 'give either hourly or a sinusoid');
        if (a.peak_hour !== undefined) errs.fail(`${at}.peak_hour`, 'give either hourly or a sinusoid');
        if (!a.hourly.some((v) => v > 0)) errs.expected(`${at}.hourly`, 'at least one rate > 0', a.hourly);
        return { kind, shape: 'hourly', hourly: [...a.hourly], startHour };
      }
      // Defaults: a 3:1 day/night swing peaking at 14:00 (an assumption; override per workload).
      return {
        kind,
        shape: 'sinusoid',
        peakToTrough: a.peak_to_trough ?? 3,
        peakHour: a.peak_hour ?? 14,
        startHour,
      };
    }
    case 'replay': {
      only(errs, a, at, ['kind', 'trace', 'format', 'scale'], 'arrivals kind replay');
      const trace = need(errs, a.trace, `${at}.trace`, 'a trace file to replay');
      if (a.scale !== undefined && rateExplicit !== undefined) {
        errs.fail('rate', 'give either rate (a target mean rate) or arrivals.scale for a replay, not both');
      }
      return {
        kind,
        trace,
        ...(a.format ? { format: a.format } : {}),
        ...(rateExplicit !== undefined && a.scale === undefined
          ? { targetRateReqPerS: rateExplicit }
          : { scale: a.scale ?? 1 }),
      };
    }
  }
}

/** Resolve a schema-valid input against its preset into a SynthSpec (cross-field checks here). */
export function resolveSynthSpec(input: SynthSpecInput, opts: ParseOptions = {}): SynthSpec {
  const errs: SpecErrors = new SpecErrors(opts);
  const m = mergeWithPreset(input);
  const preset = m.preset ?? 'chat';
  const arrivals = resolveArrivals(errs, m.arrivals ?? {}, input.rate);
  const seed = m.seed ?? DEFAULT_SEED;
  if (arrivals.kind === 'replay') {
    for (const k of ['prompt', 'output', 'sessions'] as const) {
      if (input[k] !== undefined) errs.fail(k, "does not apply to a replay (it keeps the trace's requests)");
    }
    return {
      preset,
      seed,
      rateReqPerS: input.rate ?? 1,
      ...(input.duration_s !== undefined ? { durationS: input.duration_s } : {}),
      ...(input.requests !== undefined ? { maxRequests: input.requests } : {}),
      arrivals,
      prompt: { dist: 'fixed', value: 0 },
      output: { dist: 'fixed', value: 0 },
    };
  }
  const rateReqPerS = need(errs, m.rate, 'rate', 'a number > 0');
  // `requests` without `duration_s` means exactly that many requests, however long they take.
  const durationS = input.duration_s ?? (input.requests !== undefined ? undefined : m.duration_s);
  if (durationS === undefined && m.requests === undefined)
    need(errs, undefined, 'duration_s', 'a number > 0');
  let sessions: SessionSpec | undefined;
  if (m.sessions) {
    if (input.prompt !== undefined) {
      errs.fail(
        'prompt',
        'does not apply with sessions (set sessions.initial_prompt; prompts then grow turn by turn)',
      );
    }
    const s = m.sessions;
    const turns = parametric(errs, s.turns, 'sessions.turns', 1);
    if ((turns.dist === 'fixed' ? turns.value : turns.min) < 1) {
      errs.expected(`sessions.turns.${turns.dist === 'fixed' ? 'value' : 'min'}`, 'an integer >= 1', 0);
    }
    sessions = {
      turns,
      initialPrompt: parametric(errs, s.initial_prompt, 'sessions.initial_prompt', 1),
      toolOutput: parametric(errs, s.tool_output, 'sessions.tool_output', 0),
      gapS: resolveSecondsDist(errs, s.gap_s, 'sessions.gap_s'),
      blockSize: s.block_size ?? 64,
      maxContextTokens: s.max_context_tokens ?? 200_000,
      sharedPrefixTokens: s.shared_prefix_tokens ?? 0,
      nominalTtftS: s.nominal_ttft_s ?? 0,
      nominalTpotS: s.nominal_tpot_s ?? 0,
    };
  }
  return {
    preset,
    seed,
    rateReqPerS,
    ...(durationS !== undefined ? { durationS } : {}),
    ...(m.requests !== undefined ? { maxRequests: m.requests } : {}),
    arrivals,
    prompt: sessions ? { dist: 'fixed', value: 0 } : resolveTokenDist(errs, m.prompt, 'prompt', 1, true),
    output: resolveTokenDist(errs, m.output, 'output', 1, true),
    ...(sessions ? { sessions } : {}),
  };
}
