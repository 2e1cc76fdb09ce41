import { z } from 'zod';
import { TRACE_FORMATS } from '../workload/types.js';
import { synthSpecSchema } from '../workload/synth/spec.js';

/**
 * The scenario file (YAML or JSON): one comparison — workload, accounting window, SLO, model,
 * candidates, shared costs. DESIGN.md §4. Keys are snake_case as users write them; every object is
 * strict (an unknown key is an error); defaults are filled in and shown by `pertoken check`.
 */

const positive = (what: string) =>
  z.number({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const nonNegative = (what: string) =>
  z.number({ error: `expected ${what}` }).min(0, { error: `expected ${what}` });
const fraction = z
  .number({ error: 'expected a number in [0, 1]' })
  .min(0, { error: 'expected a number in [0, 1]' })
  .max(1, { error: 'expected a number in [0, 1]' });
const posInt = (what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` });

export const traceRefSchema = z
  .strictObject({
    path: z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' }),
    format: z
      .enum(TRACE_FORMATS)
      .optional()
      .describe('trace format; detected from the first line when absent'),
    skip_bad_rows: z.boolean().default(false).describe('count malformed rows and go on'),
    sort: z.boolean().default(false).describe('sort rows by arrival in memory instead of rejecting disorder'),
    model: z.string().optional().describe('keep only rows of this model (BurstGPT, agent traces)'),
    kind: z.string().optional().describe('keep only rows of this kind (BurstGPT log type)'),
    session_interarrival_s: positive('a number of seconds > 0')
      .optional()
      .describe('agent traces with no global clock: mean seconds between session starts'),
  })
  .describe('a recorded trace; path relative to the scenario file');

export const workloadSchema = z
  .strictObject({
    trace: traceRefSchema.optional(),
    synth: synthSpecSchema
      .optional()
      .describe('a synthetic workload (the same fields as `pertoken synth --spec`)'),
    seed: z.number().int().min(0).default(0).describe('seed for every random choice in the workload'),
    scale: z
      .strictObject({
        rate: positive('a rate multiplier > 0').default(1).describe('replay faster (>1) or slower (<1)'),
        growth: z
          .strictObject({ monthly: z.number().min(-0.99).describe('traffic growth per month, 0.15 = +15 %') })
          .optional(),
      })
      .default({ rate: 1 }),
  })
  .superRefine((w, ctx) => {
    if ((w.trace === undefined) === (w.synth === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'expected exactly one of `trace` or `synth`',
        path: [],
      });
  });

const sloSchema = z
  .strictObject({
    ttft_p50_s: positive('seconds > 0').optional(),
    ttft_p90_s: positive('seconds > 0').optional(),
    ttft_p95_s: positive('seconds > 0').optional(),
    ttft_p99_s: positive('seconds > 0').optional(),
    tpot_p50_s: positive('seconds > 0').optional(),
    tpot_p90_s: positive('seconds > 0').optional(),
    tpot_p95_s: positive('seconds > 0').optional(),
    tpot_p99_s: positive('seconds > 0').optional(),
    e2e_p50_s: positive('seconds > 0').optional(),
    e2e_p90_s: positive('seconds > 0').optional(),
    e2e_p95_s: positive('seconds > 0').optional(),
    e2e_p99_s: positive('seconds > 0').optional(),
    attainment: fraction.default(0.99).describe('share of requests that must meet every per-request limit'),
  })
  .describe('latency targets; a request is accepted only if it meets each limit');

/** Serving precisions (the catalog's list less fp32). */
export const PRECISIONS = ['bf16', 'fp16', 'fp8', 'int8', 'fp4'] as const;
export const KV_PRECISIONS = ['bf16', 'fp16', 'fp8'] as const;
export const PRICING_MODELS = ['on_demand', 'reserved', 'spot', 'capacity_block', 'owned', 'api'] as const;

const distributionSchema = z.discriminatedUnion('dist', [
  z.strictObject({ dist: z.literal('fixed'), value: z.number() }),
  z.strictObject({ dist: z.literal('uniform'), low: z.number(), high: z.number() }),
  z.strictObject({ dist: z.literal('triangular'), low: z.number(), mode: z.number(), high: z.number() }),
  z.strictObject({
    dist: z.literal('normal'),
    mean: z.number(),
    sd: nonNegative('a standard deviation ≥ 0'),
  }),
  z.strictObject({
    dist: z.literal('lognormal'),
    median: positive('a median > 0'),
    sigma: nonNegative('sigma ≥ 0'),
  }),
]);

const pricingSchema = z
  .strictObject({
    model: z.enum(PRICING_MODELS).default('on_demand'),
    term_years: z
      .union([z.literal(1), z.literal(3)])
      .optional()
      .describe('reserved/committed term'),
    usd_per_hour: nonNegative('$/hour ≥ 0')
      .optional()
      .describe('override the catalog price per instance-hour'),
    spot_interruptions_per_hour: nonNegative('a rate ≥ 0').optional(),
    capex_usd: nonNegative('$ ≥ 0').optional().describe('owned: purchase price per instance'),
    depreciation_years: positive('years > 0').optional(),
    financing_rate: nonNegative('an annual rate ≥ 0').optional(),
    colo_usd_kw_month: nonNegative('$/kW-month ≥ 0').optional(),
    usd_per_1m_input: nonNegative('$ ≥ 0').optional().describe('api: price per 1M input tokens'),
    usd_per_1m_output: nonNegative('$ ≥ 0').optional().describe('api: price per 1M output tokens'),
    source: z.string().optional().describe('where a price given here comes from'),
  })
  .superRefine((p, ctx) => {
    const need = (field: keyof typeof p, why: string): void => {
      if (p[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `expected a value (${why})` });
    };
    if (p.model === 'reserved' && p.term_years === undefined)
      need('term_years', 'reserved pricing needs a term');
    if (p.model === 'owned') {
      need('capex_usd', 'owned hardware needs a purchase price');
      need('depreciation_years', 'owned hardware needs a depreciation period');
    }
    if (p.model === 'api') {
      need('usd_per_1m_input', 'an API candidate needs its input price');
      need('usd_per_1m_output', 'an API candidate needs its output price');
    }
  });

/** Weight and KV precision of a candidate (or a quote); bf16 unless said. */
export const precisionSchema = z
  .strictObject({
    weights: z.enum(PRECISIONS).default('bf16'),
    kv: z.enum(KV_PRECISIONS).default('bf16'),
  })
  .default({ weights: 'bf16', kv: 'bf16' });

export const candidateSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      error: 'expected a name of letters, digits, ".", "_" or "-"',
    }),
    instance: z.string().optional().describe('catalog instance key, e.g. aws/p5.48xlarge'),
    stack: z.string().optional().describe('serving stack profile; default from the accelerator vendor'),
    model: z
      .string()
      .optional()
      .describe('a different model than the scenario’s is flagged as a product change'),
    precision: precisionSchema,
    parallelism: z
      .strictObject({
        tp: posInt('an integer ≥ 1').default(1),
        pp: posInt('an integer ≥ 1').default(1),
        ep: posInt('an integer ≥ 1').default(1),
      })
      .default({ tp: 1, pp: 1, ep: 1 }),
    replicas: z
      .union([posInt('an integer ≥ 1'), z.literal('auto')], { error: 'expected an integer ≥ 1 or "auto"' })
      .default('auto'),
    batching: z
      .strictObject({
        max_num_seqs: posInt('an integer ≥ 1').default(256),
        max_num_batched_tokens: posInt('an integer ≥ 1').default(8192),
        block_size: posInt('an integer ≥ 1').default(16),
      })
      .default({ max_num_seqs: 256, max_num_batched_tokens: 8192, block_size: 16 })
      .describe('engine batch limits (vLLM-style defaults)'),
    pricing: pricingSchema.default({ model: 'on_demand' }),
    migration: z
      .strictObject({
        engineer_months: nonNegative('engineer-months ≥ 0').default(0),
        usd_per_engineer_month: nonNegative('$ ≥ 0').default(0),
        amortize_months: positive('months > 0').default(24),
        maintenance_usd_month: nonNegative('$ ≥ 0').default(0),
      })
      .optional(),
    quality_acceptance: fraction.default(1).describe('share of outputs that pass the quality bar'),
    prior: z
      .strictObject({
        efficiency: distributionSchema.optional(),
        price: distributionSchema.optional(),
        source: z.string().optional(),
      })
      .optional()
      .describe('uncertain inputs as distributions (vendor claims are priors, not facts)'),
  })
  .superRefine((c, ctx) => {
    if (c.pricing.model !== 'api' && c.instance === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['instance'],
        message: 'expected a catalog instance key (only pricing.model "api" runs without hardware)',
      });
  });

export const scenarioSchema = z
  .strictObject({
    name: z.string().default('scenario'),
    workload: workloadSchema,
    window: z
      .strictObject({
        days: positive('days > 0').default(30),
        mapping: z
          .enum(['repeat', 'as-is'])
          .default('repeat')
          .describe('repeat: the trace’s pattern repeats to fill the window; as-is: the window is the trace'),
      })
      .default({ days: 30, mapping: 'repeat' }),
    slo: sloSchema.default({ attainment: 0.99 }),
    model: z.string({ error: 'expected a catalog model key, e.g. llama-3.1-70b' }),
    candidates: z.array(candidateSchema).min(1, { error: 'expected at least one candidate' }),
    quotes: z
      .array(z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' }))
      .default([])
      .describe(
        'vendor quote files (YAML/JSON, see quotes/), relative to the scenario file; each is costed as one more candidate',
      ),
    costs: z
      .strictObject({
        orchestration_usd_month: nonNegative('$ ≥ 0').default(0),
        egress_usd_gb: nonNegative('$/GB ≥ 0').default(0),
        bytes_per_output_token: positive('bytes > 0')
          .default(4)
          .describe(
            'response bytes per output token on the wire (default 4: an estimate, about one English token of UTF-8 text without protocol overhead; set your own)',
          ),
        pue: z
          .number()
          .min(1, { error: 'expected a PUE ≥ 1' })
          .default(1.3)
          .describe(
            'power usage effectiveness for owned hardware (default 1.3: DESIGN.md example value, an estimate)',
          ),
        usd_kwh: nonNegative('$/kWh ≥ 0')
          .default(0.08)
          .describe(
            'electricity price for owned hardware (default $0.08: DESIGN.md example value, an estimate)',
          ),
      })
      .default({
        orchestration_usd_month: 0,
        egress_usd_gb: 0,
        bytes_per_output_token: 4,
        pue: 1.3,
        usd_kwh: 0.08,
      }),
  })
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>();
    s.candidates.forEach((c, i) => {
      const j = seen.get(c.name);
      if (j !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['candidates', i, 'name'],
          message: `expected a unique name; "${c.name}" is also candidates[${j}]`,
        });
      seen.set(c.name, i);
    });
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type Candidate = Scenario['candidates'][number];
