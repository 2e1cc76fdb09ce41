/**
 * The vendor quote file (YAML or JSON): one offer from one vendor, costed on the scenario's trace,
 * SLO and window (DESIGN.md §2 "import the quotes back"). Keys are snake_case as users write them;
 * every object is strict; errors name `file:line:col` and the field path (the scenario loader's
 * machinery, src/scenario/load.ts).
 *
 * Three kinds of offer:
 * - `per_token`: $/1M input and output tokens (optionally cached input, a minimum monthly spend);
 * - `committed_capacity`: instances (a catalog instance, or accelerator × count) at $/hour for a
 *   minimum term, take-or-pay, simulated like any hardware candidate;
 * - `managed_endpoint`: throughput units at $/unit-hour, each good for a stated token rate; enough
 *   units for the trace's peak demand over a stated interval.
 */
import { z } from 'zod';
import { EVIDENCE_LEVELS } from '../catalog/schema.js';
import { precisionSchema } from '../scenario/schema.js';
import { loadValidated } from '../scenario/load.js';

const positive = (what: string) =>
  z.number({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const nonNegative = (what: string) =>
  z.number({ error: `expected ${what}` }).min(0, { error: `expected ${what}` });
const posInt = (what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` });
const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

/** What to do with the part of a commitment that lies outside the accounting window. */
export const TERM_BEYOND_WINDOW = ['amortize', 'charge_to_window'] as const;
export type TermBeyondWindow = (typeof TERM_BEYOND_WINDOW)[number];

const termBeyondWindow = z
  .enum(TERM_BEYOND_WINDOW)
  .default('amortize')
  .describe(
    'amortize: the window pays its pro-rata share of the term (the rest is flagged as committed beyond the window); charge_to_window: the window pays every whole term it touches (take-or-pay, worst case)',
  );

const perTokenOffer = z.strictObject({
  kind: z.literal('per_token'),
  usd_per_1m_input: nonNegative('$ ≥ 0').describe('price per 1M input (prompt) tokens'),
  usd_per_1m_output: nonNegative('$ ≥ 0').describe('price per 1M output tokens'),
  usd_per_1m_cached_input: nonNegative('$ ≥ 0')
    .optional()
    .describe('price per 1M input tokens served from the prompt cache'),
  min_monthly_usd: nonNegative('$ ≥ 0')
    .default(0)
    .describe('minimum spend per month; any shortfall is charged as idle capacity'),
});

const commitment = {
  term_months: positive('months > 0').describe('minimum term of the commitment'),
  upfront_usd: nonNegative('$ ≥ 0').default(0).describe('paid once for the whole term (all units)'),
  term_beyond_window: termBeyondWindow,
};

const committedOffer = z
  .strictObject({
    kind: z.literal('committed_capacity'),
    instance: text('a catalog instance key, e.g. aws/trn2.48xlarge').optional(),
    accelerator: text('a catalog accelerator key, e.g. Trainium2').optional(),
    count: posInt('an integer ≥ 1').optional().describe('accelerators per unit (with `accelerator`)'),
    usd_per_hour: nonNegative('$/hour ≥ 0').describe('price of one unit (instance) per hour'),
    units: posInt('an integer ≥ 1').default(1).describe('instances committed'),
    ...commitment,
    stack: z.string().optional().describe('serving stack; default from the accelerator vendor'),
    parallelism: z
      .strictObject({
        tp: posInt('an integer ≥ 1').default(1),
        pp: posInt('an integer ≥ 1').default(1),
        ep: posInt('an integer ≥ 1').default(1),
      })
      .default({ tp: 1, pp: 1, ep: 1 }),
    replicas: posInt('an integer ≥ 1')
      .optional()
      .describe('replicas served; default: as many as fit on the committed units'),
    batching: z
      .strictObject({
        max_num_seqs: posInt('an integer ≥ 1').default(256),
        max_num_batched_tokens: posInt('an integer ≥ 1').default(8192),
        block_size: posInt('an integer ≥ 1').default(16),
      })
      .default({ max_num_seqs: 256, max_num_batched_tokens: 8192, block_size: 16 }),
  })
  .superRefine((o, ctx) => {
    if ((o.instance === undefined) === (o.accelerator === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['instance'],
        message: 'expected exactly one of `instance` (a catalog instance) or `accelerator` with `count`',
      });
    if (o.accelerator !== undefined && o.count === undefined)
      ctx.addIssue({ code: 'custom', path: ['count'], message: 'expected accelerators per unit' });
    if (o.instance !== undefined && o.count !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: 'expected no `count` with `instance` (the catalog gives the chips)',
      });
  });

/** Percentiles a vendor may state its latency at (the SLO's percentiles). */
export const LATENCY_PERCENTILES = ['p50', 'p90', 'p95', 'p99'] as const;
export type LatencyPercentile = (typeof LATENCY_PERCENTILES)[number];

const managedOffer = z
  .strictObject({
    kind: z.literal('managed_endpoint'),
    usd_per_unit_hour: nonNegative('$/unit-hour ≥ 0'),
    unit_tokens_per_s: positive('tokens/s > 0').optional().describe('weighted tokens/s one unit serves'),
    unit_tokens_per_min: positive('tokens/min > 0')
      .optional()
      .describe('weighted tokens/min one unit serves'),
    input_weight: nonNegative('a weight ≥ 0').default(1).describe('weight of one input token'),
    output_weight: nonNegative('a weight ≥ 0').default(1).describe('weight of one output token'),
    min_units: posInt('an integer ≥ 1').default(1),
    term_months: positive('months > 0').optional().describe('minimum term; none = billed by the hour'),
    upfront_usd: nonNegative('$ ≥ 0').default(0),
    term_beyond_window: termBeyondWindow,
    peak_interval_s: posInt('whole seconds ≥ 1')
      .default(60)
      .describe('units are sized for the busiest interval of this length in the trace'),
    ttft_s: positive('seconds > 0').optional().describe('vendor-stated time to first token'),
    tpot_s: positive('seconds > 0').optional().describe('vendor-stated time per output token'),
    latency_percentile: z
      .enum(LATENCY_PERCENTILES)
      .optional()
      .describe(
        'the percentile ttft_s and tpot_s are stated at; when not stated they are taken as typical (p50) figures',
      ),
  })
  .superRefine((o, ctx) => {
    if ((o.unit_tokens_per_s === undefined) === (o.unit_tokens_per_min === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['unit_tokens_per_s'],
        message: 'expected exactly one of `unit_tokens_per_s` or `unit_tokens_per_min`',
      });
    if (o.latency_percentile !== undefined && o.ttft_s === undefined && o.tpot_s === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['latency_percentile'],
        message: 'expected `ttft_s` or `tpot_s` with latency_percentile',
      });
    if (o.upfront_usd > 0 && o.term_months === undefined)
      ctx.addIssue({ code: 'custom', path: ['term_months'], message: 'expected a term with upfront_usd' });
  });

export const quoteSchema = z.strictObject({
  vendor: text('the vendor’s name'),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    error: 'expected a name of letters, digits, ".", "_" or "-"',
  }),
  date: text('the date of the offer, e.g. "2026-05-01"'),
  source: text('where the offer comes from (URL, document, email)'),
  evidence: z.enum(EVIDENCE_LEVELS).describe('measured, vendor-reported or estimated'),
  notes: z.string().optional(),
  model: z
    .string()
    .optional()
    .describe('model served; a different one than the scenario’s is a product change'),
  precision: precisionSchema,
  quality_acceptance: z
    .number({ error: 'expected a number in [0, 1]' })
    .min(0, { error: 'expected a number in [0, 1]' })
    .max(1, { error: 'expected a number in [0, 1]' })
    .default(1),
  offer: z.discriminatedUnion('kind', [perTokenOffer, committedOffer, managedOffer], {
    error: 'expected offer.kind to be one of "per_token", "committed_capacity", "managed_endpoint"',
  }),
});

export type Quote = z.output<typeof quoteSchema>;
export type QuoteOffer = Quote['offer'];
export type QuoteKind = QuoteOffer['kind'];
export type PerTokenOffer = Extract<QuoteOffer, { kind: 'per_token' }>;
export type CommittedOffer = Extract<QuoteOffer, { kind: 'committed_capacity' }>;
export type ManagedOffer = Extract<QuoteOffer, { kind: 'managed_endpoint' }>;

/** A validated quote with the file it came from (and a locator for its fields, for errors). */
export interface LoadedQuote {
  file: string;
  quote: Quote;
  /** `file:line:col` of a field path, for errors found after validation (unknown instance …). */
  locate: (path: readonly PropertyKey[]) => string;
}

/** Read and validate a quote file; throws an InputError naming file:line:col and field path. */
export async function loadQuote(file: string): Promise<LoadedQuote> {
  const { value, source } = await loadValidated(file, quoteSchema);
  return { file, quote: value, locate: (p) => source.locate(p) };
}
