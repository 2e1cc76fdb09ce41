/**
 * Catalog file formats (zod, snake_case as written in the JSON/YAML files) and the camelCase
 * domain types the rest of pertoken uses. Every number in a catalog entry carries a source and an
 * evidence level: the entry's `sources` list and `evidence.default`, overridden per field by
 * `evidence.fields` (with a reason in `evidence.notes`).
 */
import * as z from 'zod';

// ---------------------------------------------------------------------------------------------
// Shared vocabulary
// ---------------------------------------------------------------------------------------------

export const EVIDENCE_LEVELS = ['measured', 'vendor-reported', 'estimated'] as const;
export type Evidence = (typeof EVIDENCE_LEVELS)[number];

export const PRECISIONS = ['fp32', 'bf16', 'fp16', 'fp8', 'int8', 'fp4'] as const;
export type Precision = (typeof PRECISIONS)[number];

export const CATALOG_KINDS = ['accelerators', 'instances', 'models', 'stacks'] as const;
export type CatalogKind = (typeof CATALOG_KINDS)[number];

export const ACCELERATOR_CATEGORIES = ['gpu', 'tpu', 'trainium', 'inferentia', 'asic'] as const;
export type AcceleratorCategory = (typeof ACCELERATOR_CATEGORIES)[number];

/** Pricing models a catalog instance can publish, in the order reports list them. */
export const PRICING_MODELS = ['onDemand', 'commit1yr', 'commit3yr', 'spot', 'capacityBlock'] as const;
export type PricingModel = (typeof PRICING_MODELS)[number];

/** Evidence for one entry (or one sub-object such as an instance's host or price). */
export interface EvidenceInfo {
  default: Evidence;
  /** Per-field overrides, keyed by the camelCase field name (e.g. `hbmTBps`). */
  fields: Record<string, Evidence>;
  /** Why a field's evidence differs from the default, keyed like `fields`. */
  notes: Record<string, string>;
}

/** Where an entry's numbers come from. */
export interface Provenance {
  sources: string[];
  evidence: EvidenceInfo;
  notes: string | null;
}

// ---------------------------------------------------------------------------------------------
// Building blocks with error messages that read "expected …" (the loader appends ", found …")
// ---------------------------------------------------------------------------------------------

const str = () => z.string({ error: 'expected string' }).min(1, { error: 'expected non-empty string' });
const strOrNull = () => z.string({ error: 'expected string or null' }).nullable();
const bool = () => z.boolean({ error: 'expected true or false' });
const boolOrNull = () => z.boolean({ error: 'expected true, false or null' }).nullable();
const nonNegOrNull = () =>
  z
    .number({ error: 'expected number ≥ 0 or null' })
    .min(0, { error: 'expected number ≥ 0 or null' })
    .nullable();
const pos = () => z.number({ error: 'expected number > 0' }).positive({ error: 'expected number > 0' });
const posOrNull = () =>
  z
    .number({ error: 'expected number > 0 or null' })
    .positive({ error: 'expected number > 0 or null' })
    .nullable();
const posInt = () =>
  z
    .number({ error: 'expected integer > 0' })
    .int({ error: 'expected integer > 0' })
    .positive({ error: 'expected integer > 0' });
const posIntOrNull = () =>
  z
    .number({ error: 'expected integer > 0 or null' })
    .int({ error: 'expected integer > 0 or null' })
    .positive({ error: 'expected integer > 0 or null' })
    .nullable();
const nonNegInt = () =>
  z
    .number({ error: 'expected integer ≥ 0' })
    .int({ error: 'expected integer ≥ 0' })
    .min(0, { error: 'expected integer ≥ 0' });
const fraction = () =>
  z
    .number({ error: 'expected number in [0, 1] or null' })
    .min(0, { error: 'expected number in [0, 1] or null' })
    .max(1, { error: 'expected number in [0, 1] or null' })
    .nullable();
const evidenceLevel = () => z.enum(EVIDENCE_LEVELS);
const precision = () => z.enum(PRECISIONS);
const sourcesList = () =>
  z
    .array(str(), { error: 'expected array of source strings' })
    .min(1, { error: 'expected at least one source' });

/** Evidence block: a default level plus per-field overrides (snake_case field names). */
const EvidenceSchema = z.strictObject(
  {
    default: evidenceLevel(),
    fields: z.record(z.string(), evidenceLevel()).optional(),
    notes: z.record(z.string(), z.string({ error: 'expected string' })).optional(),
  },
  { error: 'expected evidence object { default, fields?, notes? }' },
);
type EvidenceFile = z.infer<typeof EvidenceSchema>;

/** Reject evidence overrides that name a field the entry does not have (typos would hide). */
function checkEvidenceFields(
  ev: EvidenceFile | null | undefined,
  allowed: readonly string[],
  ctx: z.RefinementCtx,
  at: (string | number)[],
): void {
  if (!ev) return;
  for (const group of ['fields', 'notes'] as const) {
    for (const name of Object.keys(ev[group] ?? {})) {
      if (!allowed.includes(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'evidence', group, name],
          message: `evidence names unknown numeric field '${name}' (numeric fields: ${allowed.join(', ')})`,
        });
      }
    }
  }
}

const fileHeader = <K extends CatalogKind>(kind: K) => ({
  version: str(),
  kind: z.literal(kind, { error: `expected "${kind}"` }),
  units: z.record(z.string(), z.string({ error: 'expected string' })).optional(),
});

// ---------------------------------------------------------------------------------------------
// Accelerators
// ---------------------------------------------------------------------------------------------

export const ACCELERATOR_NUMERIC_FIELDS = [
  'bf16_dense_tflops',
  'fp8_dense_tflops',
  'fp4_dense_tflops',
  'int8_dense_tops',
  'hbm_gb',
  'hbm_tbps',
  'scaleup_gbps_per_chip',
  'scaleup_domain_chips',
  'chips_per_node',
  'pod_or_rack_size',
  'tdp_w',
  'idle_w',
] as const;

const PEAK_FIELD: Partial<Record<Precision, (typeof ACCELERATOR_NUMERIC_FIELDS)[number]>> = {
  bf16: 'bf16_dense_tflops',
  fp8: 'fp8_dense_tflops',
  fp4: 'fp4_dense_tflops',
  int8: 'int8_dense_tops',
};

export const AcceleratorEntrySchema = z
  .strictObject(
    {
      key: str(),
      name: str(),
      vendor: str(),
      category: z.enum(ACCELERATOR_CATEGORIES),
      bf16_dense_tflops: posOrNull(),
      fp8_dense_tflops: posOrNull(),
      fp4_dense_tflops: posOrNull(),
      int8_dense_tops: posOrNull(),
      precisions: z.array(precision(), { error: 'expected array of precisions' }),
      hbm_gb: pos(),
      hbm_type: strOrNull(),
      hbm_tbps: pos(),
      scaleup_link: strOrNull(),
      scaleup_gbps_per_chip: posOrNull(),
      scaleup_domain_chips: posIntOrNull(),
      chips_per_node: posIntOrNull(),
      pod_or_rack_size: posIntOrNull(),
      tdp_w: posOrNull(),
      idle_w: pos().optional(),
      sources: sourcesList(),
      evidence: EvidenceSchema,
      notes: strOrNull(),
    },
    { error: 'expected accelerator object' },
  )
  .superRefine((a, ctx) => {
    checkEvidenceFields(a.evidence, ACCELERATOR_NUMERIC_FIELDS, ctx, []);
    a.precisions.forEach((p, i) => {
      const field = PEAK_FIELD[p];
      if (field && a[field] === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['precisions', i],
          message: `precision '${p}' is listed but ${field} is null`,
        });
      }
    });
  });

export const AcceleratorsFileSchema = z.strictObject(
  {
    ...fileHeader('accelerators'),
    entries: z.array(AcceleratorEntrySchema, { error: 'expected array of accelerator entries' }),
  },
  { error: 'expected an object { version, kind, entries }' },
);

export interface Accelerator extends Provenance {
  key: string;
  name: string;
  vendor: string;
  category: AcceleratorCategory;
  bf16DenseTflops: number | null;
  fp8DenseTflops: number | null;
  fp4DenseTflops: number | null;
  int8DenseTops: number | null;
  precisions: Precision[];
  hbmGB: number;
  hbmType: string | null;
  hbmTBps: number;
  scaleupLink: string | null;
  /** Total (bidirectional) GB/s per chip unless the notes say otherwise. */
  scaleupGBpsPerChip: number | null;
  scaleupDomainChips: number | null;
  chipsPerNode: number | null;
  podOrRackSize: number | null;
  tdpW: number | null;
  /** Idle power when a source gives it; null means none did (the power model then estimates). */
  idleW: number | null;
}

// ---------------------------------------------------------------------------------------------
// Instances (list prices) and modeled TCO references
// ---------------------------------------------------------------------------------------------

export const HOST_NUMERIC_FIELDS = ['vcpus', 'ram_gib', 'network_gbps'] as const;
export const PRICE_NUMERIC_FIELDS = [
  'on_demand_usd_per_hour',
  'commit_1yr_usd_per_hour',
  'commit_3yr_usd_per_hour',
  'spot_usd_per_hour',
  'capacity_block_usd_per_hour',
] as const;

const HostSchema = z
  .strictObject(
    {
      vcpus: posIntOrNull(),
      ram_gib: posOrNull(),
      network_gbps: posOrNull(),
      sources: z.array(str(), { error: 'expected array of source strings' }),
      evidence: EvidenceSchema.nullable(),
      notes: strOrNull(),
    },
    { error: 'expected host object { vcpus, ram_gib, network_gbps, sources, evidence, notes }' },
  )
  .superRefine((h, ctx) => {
    const hasNumber = h.vcpus !== null || h.ram_gib !== null || h.network_gbps !== null;
    if (hasNumber && h.sources.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['sources'], message: 'host figures are given but no source is' });
    }
    if (hasNumber && h.evidence === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['evidence'],
        message: 'host figures are given but no evidence level is',
      });
    }
    checkEvidenceFields(h.evidence, HOST_NUMERIC_FIELDS, ctx, []);
  });

const PriceSchema = z
  .strictObject(
    {
      per: z.enum(['chip', 'instance']),
      on_demand_usd_per_hour: nonNegOrNull(),
      commit_1yr_usd_per_hour: nonNegOrNull(),
      commit_3yr_usd_per_hour: nonNegOrNull(),
      spot_usd_per_hour: nonNegOrNull(),
      capacity_block_usd_per_hour: nonNegOrNull(),
      sources: sourcesList(),
      evidence: EvidenceSchema,
      notes: strOrNull(),
    },
    { error: 'expected price object' },
  )
  .superRefine((p, ctx) => checkEvidenceFields(p.evidence, PRICE_NUMERIC_FIELDS, ctx, []));

export const InstanceEntrySchema = z
  .strictObject(
    {
      key: str(),
      provider: str(),
      name: strOrNull(),
      accelerator: str(),
      chips: posInt(),
      region: strOrNull(),
      as_of: strOrNull(),
      sources: sourcesList(),
      evidence: EvidenceSchema,
      host: HostSchema,
      price: PriceSchema,
      notes: strOrNull(),
    },
    { error: 'expected instance object' },
  )
  .superRefine((i, ctx) => checkEvidenceFields(i.evidence, ['chips'], ctx, []));

export const TCO_NUMERIC_FIELDS = [
  'owning_hyperscaler_usd_per_chip_hour',
  'owning_neocloud_usd_per_chip_hour',
  'rental_3yr_usd_per_chip_hour',
  'all_in_power_kw_per_chip',
  'tdp_w',
] as const;

export const TcoEntrySchema = z
  .strictObject(
    {
      key: str(),
      provider: str(),
      accelerator: strOrNull(),
      accelerator_name: str(),
      snapshot: str(),
      as_of: strOrNull(),
      owning_hyperscaler_usd_per_chip_hour: nonNegOrNull(),
      owning_neocloud_usd_per_chip_hour: nonNegOrNull(),
      rental_3yr_usd_per_chip_hour: nonNegOrNull(),
      all_in_power_kw_per_chip: nonNegOrNull(),
      tdp_w: posOrNull(),
      sources: sourcesList(),
      evidence: EvidenceSchema,
      notes: strOrNull(),
    },
    { error: 'expected TCO reference object' },
  )
  .superRefine((t, ctx) => checkEvidenceFields(t.evidence, TCO_NUMERIC_FIELDS, ctx, []));

export const InstancesFileSchema = z.strictObject(
  {
    ...fileHeader('instances'),
    entries: z.array(InstanceEntrySchema, { error: 'expected array of instance entries' }),
    tco: z.array(TcoEntrySchema, { error: 'expected array of TCO reference entries' }).optional(),
  },
  { error: 'expected an object { version, kind, entries, tco? }' },
);

export interface HostSpec {
  vcpus: number | null;
  ramGiB: number | null;
  networkGbps: number | null;
  sources: string[];
  evidence: EvidenceInfo | null;
  notes: string | null;
}

export interface InstancePrice extends Provenance {
  /** Whether `usdPerHour` is per accelerator chip or per whole instance, as published. */
  per: 'chip' | 'instance';
  usdPerHour: Record<PricingModel, number | null>;
}

export interface Instance extends Provenance {
  key: string;
  provider: string;
  name: string | null;
  acceleratorKey: string;
  /** Accelerator chips in one unit of this instance (a TPU slice for TPUs; see notes). */
  chips: number;
  region: string | null;
  asOf: string | null;
  host: HostSpec;
  price: InstancePrice;
}

export interface TcoReference extends Provenance {
  key: string;
  provider: string;
  /** Catalog accelerator key, or null when the catalog has no entry for the part. */
  acceleratorKey: string | null;
  acceleratorName: string;
  snapshot: string;
  asOf: string | null;
  owningHyperscalerUsdPerChipHour: number | null;
  owningNeocloudUsdPerChipHour: number | null;
  rental3yrUsdPerChipHour: number | null;
  allInPowerKwPerChip: number | null;
  tdpW: number | null;
}

/** Price of one whole instance (all its chips) per hour under a pricing model; null if unpublished. */
export function instanceUsdPerHour(inst: Instance, model: PricingModel): number | null {
  const v = inst.price.usdPerHour[model];
  if (v === null) return null;
  return inst.price.per === 'chip' ? v * inst.chips : v;
}

/** Price of one accelerator chip per hour under a pricing model; null if unpublished. */
export function chipUsdPerHour(inst: Instance, model: PricingModel): number | null {
  const v = inst.price.usdPerHour[model];
  if (v === null) return null;
  return inst.price.per === 'chip' ? v : v / inst.chips;
}

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

export const MODEL_NUMERIC_FIELDS = [
  'layers',
  'hidden_size',
  'vocab_size',
  'attention.heads',
  'attention.kv_heads',
  'attention.head_dim',
  'attention.sliding_window',
  'attention.mla.q_lora_rank',
  'attention.mla.kv_lora_rank',
  'attention.mla.qk_nope_head_dim',
  'attention.mla.qk_rope_head_dim',
  'attention.mla.v_head_dim',
  'ffn.intermediate_size',
  'moe.routed_experts',
  'moe.experts_per_token',
  'moe.shared_experts',
  'moe.moe_intermediate_size',
  'moe.first_dense_layers',
  'max_context_tokens',
] as const;

const MlaSchema = z.strictObject(
  {
    q_lora_rank: posIntOrNull(),
    kv_lora_rank: posInt(),
    qk_nope_head_dim: posInt(),
    qk_rope_head_dim: posInt(),
    v_head_dim: posInt(),
  },
  {
    error:
      'expected MLA object { q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim }',
  },
);

const AttentionSchema = z.strictObject(
  {
    type: z.enum(['gqa', 'mla']),
    heads: posInt(),
    kv_heads: posIntOrNull(),
    head_dim: posIntOrNull(),
    qkv_bias: bool(),
    o_bias: bool(),
    qk_norm: bool(),
    sinks: bool(),
    sliding_window: posIntOrNull(),
    layer_pattern: z
      .array(z.enum(['full', 'sliding']), { error: 'expected array of "full" | "sliding"' })
      .min(1, { error: 'expected at least one layer type' }),
    mla: MlaSchema.nullable(),
  },
  { error: 'expected attention object' },
);

const DenseFfnSchema = z.strictObject(
  { intermediate_size: posInt(), gated: bool(), bias: bool() },
  { error: 'expected FFN object { intermediate_size, gated, bias } or null' },
);

const MoeSchema = z.strictObject(
  {
    routed_experts: posInt(),
    experts_per_token: posInt(),
    shared_experts: nonNegInt(),
    moe_intermediate_size: posInt(),
    first_dense_layers: nonNegInt(),
    router_bias: bool(),
    expert_bias: bool(),
  },
  { error: 'expected MoE object or null' },
);

const PublishedCountSchema = z.strictObject(
  {
    value: pos(),
    stated: str(),
    sources: sourcesList(),
    counts_input_embedding: boolOrNull().optional(),
    notes: z.string({ error: 'expected string' }).optional(),
  },
  { error: 'expected published count { value, stated, sources }' },
);

export const ModelEntrySchema = z
  .strictObject(
    {
      key: str(),
      name: str(),
      hf_repo: strOrNull(),
      family: str(),
      layers: posInt(),
      hidden_size: posInt(),
      vocab_size: posInt(),
      tie_word_embeddings: bool(),
      attention: AttentionSchema,
      ffn: DenseFfnSchema.nullable(),
      moe: MoeSchema.nullable(),
      max_context_tokens: posInt(),
      published_params: z.strictObject(
        { total: PublishedCountSchema, active: PublishedCountSchema.nullable() },
        { error: 'expected { total, active }' },
      ),
      sources: sourcesList(),
      evidence: EvidenceSchema,
      notes: strOrNull(),
    },
    { error: 'expected model object' },
  )
  .superRefine((m, ctx) => {
    checkEvidenceFields(m.evidence, MODEL_NUMERIC_FIELDS, ctx, []);
    const a = m.attention;
    if (a.type === 'gqa') {
      if (a.kv_heads === null)
        ctx.addIssue({
          code: 'custom',
          path: ['attention', 'kv_heads'],
          message: 'GQA attention needs kv_heads',
        });
      if (a.head_dim === null)
        ctx.addIssue({
          code: 'custom',
          path: ['attention', 'head_dim'],
          message: 'GQA attention needs head_dim',
        });
      if (a.kv_heads !== null && a.heads % a.kv_heads !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['attention', 'kv_heads'],
          message: `heads (${a.heads}) must be a multiple of kv_heads (${a.kv_heads})`,
        });
      }
      if (a.mla !== null)
        ctx.addIssue({
          code: 'custom',
          path: ['attention', 'mla'],
          message: 'mla must be null for GQA attention',
        });
    } else if (a.mla === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['attention', 'mla'],
        message: 'MLA attention needs the mla dimensions',
      });
    }
    if (a.layer_pattern.includes('sliding') && a.sliding_window === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['attention', 'sliding_window'],
        message: 'layer_pattern has sliding layers but sliding_window is null',
      });
    }
    if (m.moe === null && m.ffn === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['ffn'],
        message: 'a model needs a dense ffn, a moe block, or both',
      });
    }
    if (m.moe !== null) {
      if (m.moe.experts_per_token > m.moe.routed_experts) {
        ctx.addIssue({
          code: 'custom',
          path: ['moe', 'experts_per_token'],
          message: `experts_per_token (${m.moe.experts_per_token}) exceeds routed_experts (${m.moe.routed_experts})`,
        });
      }
      if (m.moe.first_dense_layers > m.layers) {
        ctx.addIssue({
          code: 'custom',
          path: ['moe', 'first_dense_layers'],
          message: `first_dense_layers (${m.moe.first_dense_layers}) exceeds layers (${m.layers})`,
        });
      }
      if (m.moe.first_dense_layers > 0 && m.ffn === null) {
        ctx.addIssue({ code: 'custom', path: ['ffn'], message: 'first_dense_layers > 0 needs a dense ffn' });
      }
    }
  });

export const ModelsFileSchema = z.strictObject(
  {
    ...fileHeader('models'),
    entries: z.array(ModelEntrySchema, { error: 'expected array of model entries' }),
  },
  { error: 'expected an object { version, kind, entries }' },
);

export interface MlaDims {
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
}

export interface AttentionSpec {
  type: 'gqa' | 'mla';
  heads: number;
  kvHeads: number | null;
  headDim: number | null;
  qkvBias: boolean;
  oBias: boolean;
  qkNorm: boolean;
  /** A learned attention-sink logit per head (gpt-oss). */
  sinks: boolean;
  slidingWindow: number | null;
  /** Layer types, repeated cyclically over the layers (['full'] = all full attention). */
  layerPattern: ('full' | 'sliding')[];
  mla: MlaDims | null;
}

export interface DenseFfnSpec {
  intermediateSize: number;
  /** Gated (SwiGLU-style: gate, up, down) rather than two matrices. */
  gated: boolean;
  bias: boolean;
}

export interface MoeSpec {
  routedExperts: number;
  expertsPerToken: number;
  sharedExperts: number;
  moeIntermediateSize: number;
  /** Leading layers that use the dense FFN instead of experts. */
  firstDenseLayers: number;
  routerBias: boolean;
  expertBias: boolean;
}

export interface PublishedCount {
  value: number;
  /** The figure as the publisher wrote it (its precision bounds how close a computation can be). */
  stated: string;
  sources: string[];
  /** For active counts: whether the publisher counts the input embedding table as active. */
  countsInputEmbedding: boolean | null;
  notes: string | null;
}

export interface Model extends Provenance {
  key: string;
  name: string;
  hfRepo: string | null;
  family: string;
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  attention: AttentionSpec;
  ffn: DenseFfnSpec | null;
  moe: MoeSpec | null;
  maxContextTokens: number;
  publishedParams: { total: PublishedCount; active: PublishedCount | null };
}

// ---------------------------------------------------------------------------------------------
// Serving stacks
// ---------------------------------------------------------------------------------------------

export const STACK_NUMERIC_FIELDS = [
  'features.paged_attention_block_tokens',
  'efficiency.compute_efficiency',
  'efficiency.memory_bandwidth_efficiency',
  'efficiency.per_step_overhead_s',
] as const;

export const StackEntrySchema = z
  .strictObject(
    {
      key: str(),
      name: str(),
      vendors: z
        .array(str(), { error: 'expected array of vendor names' })
        .min(1, { error: 'expected at least one vendor' }),
      accelerator_categories: z
        .array(z.enum(ACCELERATOR_CATEGORIES), { error: 'expected array of accelerator categories' })
        .min(1, { error: 'expected at least one accelerator category' }),
      precisions: z.array(precision(), { error: 'expected array of precisions' }),
      features: z.strictObject(
        {
          continuous_batching: boolOrNull(),
          chunked_prefill: boolOrNull(),
          prefix_caching: boolOrNull(),
          paged_attention: boolOrNull(),
          paged_attention_block_tokens: posIntOrNull(),
          speculative_decoding: boolOrNull(),
          disaggregated_prefill: boolOrNull(),
        },
        { error: 'expected features object' },
      ),
      maturity: z.strictObject(
        { level: z.enum(['production', 'maturing', 'early']), notes: str() },
        { error: 'expected maturity object { level, notes }' },
      ),
      efficiency: z.strictObject(
        {
          compute_efficiency: fraction(),
          memory_bandwidth_efficiency: fraction(),
          per_step_overhead_s: nonNegOrNull(),
          status: str(),
        },
        { error: 'expected efficiency object' },
      ),
      sources: sourcesList(),
      evidence: EvidenceSchema,
      notes: strOrNull(),
    },
    { error: 'expected stack object' },
  )
  .superRefine((s, ctx) => checkEvidenceFields(s.evidence, STACK_NUMERIC_FIELDS, ctx, []));

export const StacksFileSchema = z.strictObject(
  {
    ...fileHeader('stacks'),
    entries: z.array(StackEntrySchema, { error: 'expected array of stack entries' }),
  },
  { error: 'expected an object { version, kind, entries }' },
);

export interface StackFeatures {
  continuousBatching: boolean | null;
  chunkedPrefill: boolean | null;
  prefixCaching: boolean | null;
  pagedAttention: boolean | null;
  /** Default KV block size in tokens; null when no stored source states it. */
  pagedAttentionBlockTokens: number | null;
  speculativeDecoding: boolean | null;
  disaggregatedPrefill: boolean | null;
}

export interface StackEfficiency {
  /** Fraction of peak FLOP/s reached; null until the performance-model calibration fits it. */
  computeEfficiency: number | null;
  memoryBandwidthEfficiency: number | null;
  perStepOverheadS: number | null;
  status: string;
}

export interface Stack extends Provenance {
  key: string;
  name: string;
  vendors: string[];
  acceleratorCategories: AcceleratorCategory[];
  precisions: Precision[];
  features: StackFeatures;
  maturity: { level: 'production' | 'maturing' | 'early'; notes: string };
  efficiency: StackEfficiency;
}

// ---------------------------------------------------------------------------------------------
// File → domain conversion
// ---------------------------------------------------------------------------------------------

export type AcceleratorsFile = z.infer<typeof AcceleratorsFileSchema>;
export type InstancesFile = z.infer<typeof InstancesFileSchema>;
export type ModelsFile = z.infer<typeof ModelsFileSchema>;
export type StacksFile = z.infer<typeof StacksFileSchema>;

/** `hbm_tbps` → `hbmTBps` style: snake_case segments to camelCase, keeping unit casing. */
export function camelField(snake: string): string {
  return snake
    .split('.')
    .map((seg) =>
      seg
        .split('_')
        .map((part, i) =>
          i === 0 ? part : (UNIT_CASE[part] ?? part.charAt(0).toUpperCase() + part.slice(1)),
        )
        .join(''),
    )
    .join('.');
}
const UNIT_CASE: Record<string, string> = {
  gb: 'GB',
  tbps: 'TBps',
  gbps: 'Gbps',
  gib: 'GiB',
  w: 'W',
  s: 'S',
  kw: 'Kw',
};
// GBps for the scale-up link (gigabytes/s) is spelled out explicitly in toAccelerator.

function toEvidence(ev: EvidenceFile, rename: (f: string) => string = camelField): EvidenceInfo {
  const fields: Record<string, Evidence> = {};
  const notes: Record<string, string> = {};
  for (const [k, v] of Object.entries(ev.fields ?? {})) fields[rename(k)] = v;
  for (const [k, v] of Object.entries(ev.notes ?? {})) notes[rename(k)] = v;
  return { default: ev.default, fields, notes };
}

const ACCEL_RENAME: Record<string, string> = {
  bf16_dense_tflops: 'bf16DenseTflops',
  fp8_dense_tflops: 'fp8DenseTflops',
  fp4_dense_tflops: 'fp4DenseTflops',
  int8_dense_tops: 'int8DenseTops',
  hbm_gb: 'hbmGB',
  hbm_tbps: 'hbmTBps',
  scaleup_gbps_per_chip: 'scaleupGBpsPerChip',
  scaleup_domain_chips: 'scaleupDomainChips',
  chips_per_node: 'chipsPerNode',
  pod_or_rack_size: 'podOrRackSize',
  tdp_w: 'tdpW',
  idle_w: 'idleW',
};

export function toAccelerator(a: AcceleratorsFile['entries'][number]): Accelerator {
  return {
    key: a.key,
    name: a.name,
    vendor: a.vendor,
    category: a.category,
    bf16DenseTflops: a.bf16_dense_tflops,
    fp8DenseTflops: a.fp8_dense_tflops,
    fp4DenseTflops: a.fp4_dense_tflops,
    int8DenseTops: a.int8_dense_tops,
    precisions: a.precisions,
    hbmGB: a.hbm_gb,
    hbmType: a.hbm_type,
    hbmTBps: a.hbm_tbps,
    scaleupLink: a.scaleup_link,
    scaleupGBpsPerChip: a.scaleup_gbps_per_chip,
    scaleupDomainChips: a.scaleup_domain_chips,
    chipsPerNode: a.chips_per_node,
    podOrRackSize: a.pod_or_rack_size,
    tdpW: a.tdp_w,
    idleW: a.idle_w ?? null,
    sources: a.sources,
    evidence: toEvidence(a.evidence, (f) => ACCEL_RENAME[f] ?? camelField(f)),
    notes: a.notes,
  };
}

const PRICE_RENAME: Record<string, PricingModel> = {
  on_demand_usd_per_hour: 'onDemand',
  commit_1yr_usd_per_hour: 'commit1yr',
  commit_3yr_usd_per_hour: 'commit3yr',
  spot_usd_per_hour: 'spot',
  capacity_block_usd_per_hour: 'capacityBlock',
};
const HOST_RENAME: Record<string, string> = {
  vcpus: 'vcpus',
  ram_gib: 'ramGiB',
  network_gbps: 'networkGbps',
};

export function toInstance(i: InstancesFile['entries'][number]): Instance {
  const p = i.price;
  return {
    key: i.key,
    provider: i.provider,
    name: i.name,
    acceleratorKey: i.accelerator,
    chips: i.chips,
    region: i.region,
    asOf: i.as_of,
    host: {
      vcpus: i.host.vcpus,
      ramGiB: i.host.ram_gib,
      networkGbps: i.host.network_gbps,
      sources: i.host.sources,
      evidence: i.host.evidence ? toEvidence(i.host.evidence, (f) => HOST_RENAME[f] ?? f) : null,
      notes: i.host.notes,
    },
    price: {
      per: p.per,
      usdPerHour: {
        onDemand: p.on_demand_usd_per_hour,
        commit1yr: p.commit_1yr_usd_per_hour,
        commit3yr: p.commit_3yr_usd_per_hour,
        spot: p.spot_usd_per_hour,
        capacityBlock: p.capacity_block_usd_per_hour,
      },
      sources: p.sources,
      evidence: toEvidence(p.evidence, (f) => PRICE_RENAME[f] ?? f),
      notes: p.notes,
    },
    sources: i.sources,
    evidence: toEvidence(i.evidence),
    notes: i.notes,
  };
}

const TCO_RENAME: Record<string, string> = {
  owning_hyperscaler_usd_per_chip_hour: 'owningHyperscalerUsdPerChipHour',
  owning_neocloud_usd_per_chip_hour: 'owningNeocloudUsdPerChipHour',
  rental_3yr_usd_per_chip_hour: 'rental3yrUsdPerChipHour',
  all_in_power_kw_per_chip: 'allInPowerKwPerChip',
  tdp_w: 'tdpW',
};

export function toTcoReference(t: NonNullable<InstancesFile['tco']>[number]): TcoReference {
  return {
    key: t.key,
    provider: t.provider,
    acceleratorKey: t.accelerator,
    acceleratorName: t.accelerator_name,
    snapshot: t.snapshot,
    asOf: t.as_of,
    owningHyperscalerUsdPerChipHour: t.owning_hyperscaler_usd_per_chip_hour,
    owningNeocloudUsdPerChipHour: t.owning_neocloud_usd_per_chip_hour,
    rental3yrUsdPerChipHour: t.rental_3yr_usd_per_chip_hour,
    allInPowerKwPerChip: t.all_in_power_kw_per_chip,
    tdpW: t.tdp_w,
    sources: t.sources,
    evidence: toEvidence(t.evidence, (f) => TCO_RENAME[f] ?? f),
    notes: t.notes,
  };
}

function toPublished(p: z.infer<typeof PublishedCountSchema>): PublishedCount {
  return {
    value: p.value,
    stated: p.stated,
    sources: p.sources,
    countsInputEmbedding: p.counts_input_embedding ?? null,
    notes: p.notes ?? null,
  };
}

export function toModel(m: ModelsFile['entries'][number]): Model {
  const a = m.attention;
  return {
    key: m.key,
    name: m.name,
    hfRepo: m.hf_repo,
    family: m.family,
    layers: m.layers,
    hiddenSize: m.hidden_size,
    vocabSize: m.vocab_size,
    tieWordEmbeddings: m.tie_word_embeddings,
    attention: {
      type: a.type,
      heads: a.heads,
      kvHeads: a.kv_heads,
      headDim: a.head_dim,
      qkvBias: a.qkv_bias,
      oBias: a.o_bias,
      qkNorm: a.qk_norm,
      sinks: a.sinks,
      slidingWindow: a.sliding_window,
      layerPattern: a.layer_pattern,
      mla: a.mla
        ? {
            qLoraRank: a.mla.q_lora_rank,
            kvLoraRank: a.mla.kv_lora_rank,
            qkNopeHeadDim: a.mla.qk_nope_head_dim,
            qkRopeHeadDim: a.mla.qk_rope_head_dim,
            vHeadDim: a.mla.v_head_dim,
          }
        : null,
    },
    ffn: m.ffn ? { intermediateSize: m.ffn.intermediate_size, gated: m.ffn.gated, bias: m.ffn.bias } : null,
    moe: m.moe
      ? {
          routedExperts: m.moe.routed_experts,
          expertsPerToken: m.moe.experts_per_token,
          sharedExperts: m.moe.shared_experts,
          moeIntermediateSize: m.moe.moe_intermediate_size,
          firstDenseLayers: m.moe.first_dense_layers,
          routerBias: m.moe.router_bias,
          expertBias: m.moe.expert_bias,
        }
      : null,
    maxContextTokens: m.max_context_tokens,
    publishedParams: {
      total: toPublished(m.published_params.total),
      active: m.published_params.active ? toPublished(m.published_params.active) : null,
    },
    sources: m.sources,
    evidence: toEvidence(m.evidence),
    notes: m.notes,
  };
}

export function toStack(s: StacksFile['entries'][number]): Stack {
  return {
    key: s.key,
    name: s.name,
    vendors: s.vendors,
    acceleratorCategories: s.accelerator_categories,
    precisions: s.precisions,
    features: {
      continuousBatching: s.features.continuous_batching,
      chunkedPrefill: s.features.chunked_prefill,
      prefixCaching: s.features.prefix_caching,
      pagedAttention: s.features.paged_attention,
      pagedAttentionBlockTokens: s.features.paged_attention_block_tokens,
      speculativeDecoding: s.features.speculative_decoding,
      disaggregatedPrefill: s.features.disaggregated_prefill,
    },
    maturity: s.maturity,
    efficiency: {
      computeEfficiency: s.efficiency.compute_efficiency,
      memoryBandwidthEfficiency: s.efficiency.memory_bandwidth_efficiency,
      perStepOverheadS: s.efficiency.per_step_overhead_s,
      status: s.efficiency.status,
    },
    sources: s.sources,
    evidence: toEvidence(s.evidence),
    notes: s.notes,
  };
}

/** Evidence level of one field of an entry (camelCase name), falling back to the entry default. */
export function evidenceOf(info: EvidenceInfo, field: string): Evidence {
  return info.fields[field] ?? info.default;
}

const FILE_SCHEMAS = {
  accelerators: AcceleratorsFileSchema,
  instances: InstancesFileSchema,
  models: ModelsFileSchema,
  stacks: StacksFileSchema,
} as const;

/** JSON Schema of one catalog file kind (for editor completion in user catalog files). */
export function catalogFileJsonSchema(kind: CatalogKind): Record<string, unknown> {
  return z.toJSONSchema(FILE_SCHEMAS[kind], { io: 'input' });
}
