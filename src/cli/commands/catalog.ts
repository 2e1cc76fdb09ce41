/**
 * `pertoken catalog list [kind]` and `pertoken catalog show KEY`: browse the catalog with every
 * number's source and evidence level. The text/JSON producers are exported for tests and reuse.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { InputError } from '../../util/errors.js';
import {
  CATALOG_KINDS,
  PRICING_MODELS,
  evidenceOf,
  instanceUsdPerHour,
  kvBytesPerToken,
  loadCatalog,
  paramCounts,
  type Accelerator,
  type Catalog,
  type CatalogKind,
  type EntryKind,
  type EvidenceInfo,
  type Instance,
  type Model,
  type PricingModel,
  type Stack,
  type TcoReference,
} from '../../catalog/index.js';

/** One printed line of `catalog show`: a value with its evidence and (numbered) sources. */
export interface ShowRow {
  field: string;
  value: string | number | boolean | null;
  /** Evidence level for numbers; 'derived' for values computed from other rows; '' for text. */
  evidence: string;
  /** 1-based indexes into the entry's source list. */
  sources: number[];
}

export interface ShowResult {
  kind: EntryKind;
  key: string;
  origin: string | null;
  rows: ShowRow[];
  sources: string[];
  notes: string[];
}

const PRICE_LABEL: Record<PricingModel, string> = {
  onDemand: 'on-demand',
  commit1yr: '1-yr commit',
  commit3yr: '3-yr commit',
  spot: 'spot',
  capacityBlock: 'capacity block',
};

// ---------------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------------

function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

function fmtParams(n: number): string {
  return `${(n / 1e9).toFixed(2)}B`;
}

function star(v: number | null, info: EvidenceInfo | null, field: string, digits = 4): string {
  if (v === null) return '–';
  return fmt(v, digits) + (info && evidenceOf(info, field) === 'estimated' ? '*' : '');
}

function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const r of rows) t.push(r);
  return t.toString();
}

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

function listAccelerators(cat: Catalog): string {
  const rows = [...cat.accelerators.values()].map((a) => [
    a.key,
    a.vendor,
    star(a.bf16DenseTflops, a.evidence, 'bf16DenseTflops'),
    star(a.fp8DenseTflops, a.evidence, 'fp8DenseTflops'),
    star(a.fp4DenseTflops, a.evidence, 'fp4DenseTflops'),
    star(a.hbmGB, a.evidence, 'hbmGB'),
    star(a.hbmTBps, a.evidence, 'hbmTBps'),
    star(a.scaleupGBpsPerChip, a.evidence, 'scaleupGBpsPerChip'),
    star(a.scaleupDomainChips, a.evidence, 'scaleupDomainChips'),
    star(a.tdpW, a.evidence, 'tdpW'),
  ]);
  return table(
    [
      'key',
      'vendor',
      'bf16 TFLOP/s',
      'fp8 TFLOP/s',
      'fp4 TFLOP/s',
      'HBM GB',
      'HBM TB/s',
      'scale-up GB/s',
      'domain',
      'TDP W',
    ],
    rows,
  );
}

function listInstances(cat: Catalog): string {
  const rows = [...cat.instances.values()].map((i) => [
    i.key,
    i.acceleratorKey,
    String(i.chips),
    star(i.host.vcpus, i.host.evidence, 'vcpus'),
    star(i.host.ramGiB, i.host.evidence, 'ramGiB'),
    star(i.host.networkGbps, i.host.evidence, 'networkGbps'),
    ...PRICING_MODELS.map((m) => star(instanceUsdPerHour(i, m), i.price.evidence, m)),
    i.region ?? '–',
  ]);
  const prices = table(
    [
      'key',
      'accelerator',
      'chips',
      'vCPU',
      'RAM GiB',
      'net Gbps',
      ...PRICING_MODELS.map((m) => `${PRICE_LABEL[m]} $/h`),
      'region',
    ],
    rows,
  );
  const tcoRows = [...cat.tco.values()].map((t) => [
    t.key,
    t.acceleratorKey ?? t.acceleratorName,
    star(t.owningHyperscalerUsdPerChipHour, t.evidence, 'owningHyperscalerUsdPerChipHour'),
    star(t.owningNeocloudUsdPerChipHour, t.evidence, 'owningNeocloudUsdPerChipHour'),
    star(t.rental3yrUsdPerChipHour, t.evidence, 'rental3yrUsdPerChipHour'),
    star(t.allInPowerKwPerChip, t.evidence, 'allInPowerKwPerChip'),
  ]);
  const tco = table(
    [
      'TCO reference (modeled, not a list price)',
      'accelerator',
      'own hyperscaler $/chip-h',
      'own neocloud $/chip-h',
      '3-yr rental $/chip-h',
      'all-in kW/chip',
    ],
    tcoRows,
  );
  return `Instances (prices per whole instance per hour):\n${prices}\n\n${tco}`;
}

function attnLabel(m: Model): string {
  const a = m.attention;
  const base =
    a.type === 'mla' ? `MLA ${a.heads}h` : `GQA ${a.heads}/${a.kvHeads ?? '?'}×${a.headDim ?? '?'}`;
  return a.layerPattern.includes('sliding') ? `${base} +SWA${a.slidingWindow ?? ''}` : base;
}

function listModels(cat: Catalog): string {
  const rows = [...cat.models.values()].map((m) => {
    const p = paramCounts(m);
    const active = m.publishedParams.active;
    const computedActive =
      active?.countsInputEmbedding === false ? p.activeWithoutEmbedding : p.activeWithEmbedding;
    return [
      m.key,
      String(m.layers),
      String(m.hiddenSize),
      attnLabel(m),
      m.moe
        ? `${m.moe.routedExperts}e top${m.moe.expertsPerToken}${m.moe.sharedExperts ? ` +${m.moe.sharedExperts}sh` : ''}`
        : 'dense',
      fmtParams(p.total),
      m.publishedParams.total.stated,
      m.moe ? fmtParams(computedActive) : '–',
      active?.stated ?? '–',
      fmt(kvBytesPerToken(m, 'bf16')),
      fmt(m.maxContextTokens),
    ];
  });
  return table(
    [
      'key',
      'layers',
      'hidden',
      'attention',
      'FFN',
      'params (computed)',
      'published',
      'active (computed)',
      'published active',
      'KV B/token bf16',
      'max ctx',
    ],
    rows,
  );
}

function tri(v: boolean | null): string {
  return v === null ? '?' : v ? 'yes' : 'no';
}

function listStacks(cat: Catalog): string {
  const rows = [...cat.stacks.values()].map((s) => [
    s.key,
    s.vendors.join(', '),
    s.precisions.join(' '),
    tri(s.features.chunkedPrefill),
    tri(s.features.prefixCaching),
    s.features.pagedAttentionBlockTokens === null ? '?' : String(s.features.pagedAttentionBlockTokens),
    tri(s.features.speculativeDecoding),
    s.maturity.level,
    s.efficiency.computeEfficiency === null ? s.efficiency.status : fmt(s.efficiency.computeEfficiency),
  ]);
  return table(
    [
      'key',
      'vendors',
      'precisions',
      'chunked prefill',
      'prefix cache',
      'KV block tokens',
      'spec. decoding',
      'maturity',
      'efficiency',
    ],
    rows,
  );
}

function isKind(s: string): s is CatalogKind {
  return (CATALOG_KINDS as readonly string[]).includes(s);
}

function checkKind(kind: string | undefined): CatalogKind | undefined {
  if (kind === undefined) return undefined;
  if (isKind(kind)) return kind;
  throw new InputError(`catalog list: unknown kind '${kind}'; expected one of ${CATALOG_KINDS.join(', ')}`);
}

/** Text of `pertoken catalog list [kind]` (all kinds when omitted). */
export function renderCatalogList(cat: Catalog, kind?: string): string {
  const k = checkKind(kind);
  const parts: string[] = [];
  const want = (x: CatalogKind) => k === undefined || k === x;
  if (want('accelerators')) parts.push(`Accelerators (dense peaks):\n${listAccelerators(cat)}`);
  if (want('instances')) parts.push(listInstances(cat));
  if (want('models')) parts.push(`Models:\n${listModels(cat)}`);
  if (want('stacks')) parts.push(`Serving stacks:\n${listStacks(cat)}`);
  parts.push('* estimated (see `pertoken catalog show KEY` for the source and reason). – not published.');
  return parts.join('\n\n') + '\n';
}

/** JSON of `pertoken catalog list [kind] --json`: the entries of each kind. */
export function catalogListJson(cat: Catalog, kind?: string): Record<string, unknown[]> {
  const k = checkKind(kind);
  const out: Record<string, unknown[]> = {};
  if (k === undefined || k === 'accelerators') out['accelerators'] = [...cat.accelerators.values()];
  if (k === undefined || k === 'instances') {
    out['instances'] = [...cat.instances.values()];
    out['tco'] = [...cat.tco.values()];
  }
  if (k === undefined || k === 'models') {
    out['models'] = [...cat.models.values()].map((m) => {
      const p = paramCounts(m);
      return {
        ...m,
        computed: {
          totalParams: p.total,
          activeParams: p.activeWithEmbedding,
          activeParamsWithoutEmbedding: p.activeWithoutEmbedding,
          kvBytesPerTokenBf16: kvBytesPerToken(m, 'bf16'),
        },
      };
    });
  }
  if (k === undefined || k === 'stacks') out['stacks'] = [...cat.stacks.values()];
  return out;
}

// ---------------------------------------------------------------------------------------------
// show
// ---------------------------------------------------------------------------------------------

class RowBuilder {
  readonly rows: ShowRow[] = [];
  readonly sources: string[] = [];
  readonly notes: string[] = [];

  cite(list: readonly string[]): number[] {
    return list.map((s) => {
      const i = this.sources.indexOf(s);
      if (i >= 0) return i + 1;
      this.sources.push(s);
      return this.sources.length;
    });
  }
  text(field: string, value: string | boolean | null): void {
    this.rows.push({ field, value, evidence: '', sources: [] });
  }
  num(
    field: string,
    value: number | null,
    info: EvidenceInfo | null,
    name: string,
    sources: readonly string[],
  ): void {
    const ev =
      value === null ? (info ? 'not published' : 'not found') : info ? evidenceOf(info, name) : 'not found';
    this.rows.push({ field, value, evidence: ev, sources: value === null ? [] : this.cite(sources) });
    const why = info?.notes[name];
    if (why && value !== null) this.notes.push(`${field}: ${why}`);
  }
  derived(field: string, value: number, how: string): void {
    this.rows.push({ field, value, evidence: 'derived', sources: [] });
    this.notes.push(`${field}: ${how}`);
  }
  note(s: string | null): void {
    if (s) this.notes.push(s);
  }
}

function showAccelerator(a: Accelerator, b: RowBuilder): void {
  const n = (f: string, v: number | null, name: string) => b.num(f, v, a.evidence, name, a.sources);
  b.text('name', a.name);
  b.text('vendor', a.vendor);
  b.text('category', a.category);
  b.text('precisions', a.precisions.join(', '));
  n('bf16 dense TFLOP/s', a.bf16DenseTflops, 'bf16DenseTflops');
  n('fp8 dense TFLOP/s', a.fp8DenseTflops, 'fp8DenseTflops');
  n('fp4 dense TFLOP/s', a.fp4DenseTflops, 'fp4DenseTflops');
  n('int8 dense TOP/s', a.int8DenseTops, 'int8DenseTops');
  n('HBM GB', a.hbmGB, 'hbmGB');
  b.text('HBM type', a.hbmType);
  n('HBM TB/s', a.hbmTBps, 'hbmTBps');
  b.text('scale-up link', a.scaleupLink);
  n('scale-up GB/s per chip', a.scaleupGBpsPerChip, 'scaleupGBpsPerChip');
  n('scale-up domain chips', a.scaleupDomainChips, 'scaleupDomainChips');
  n('chips per node', a.chipsPerNode, 'chipsPerNode');
  n('pod/rack size', a.podOrRackSize, 'podOrRackSize');
  n('TDP W', a.tdpW, 'tdpW');
  n('idle W', a.idleW, 'idleW');
  if (a.idleW === null) b.note('idle W: no source gives it; the power model estimates it.');
  b.note(a.notes);
}

function showInstance(i: Instance, b: RowBuilder): void {
  b.text('provider', i.provider);
  b.text('name', i.name);
  b.text('accelerator', i.acceleratorKey);
  b.num('chips', i.chips, i.evidence, 'chips', i.sources);
  b.text('region', i.region);
  b.text('as of', i.asOf);
  b.num('host vCPU', i.host.vcpus, i.host.evidence, 'vcpus', i.host.sources);
  b.num('host RAM GiB', i.host.ramGiB, i.host.evidence, 'ramGiB', i.host.sources);
  b.num('network Gbps', i.host.networkGbps, i.host.evidence, 'networkGbps', i.host.sources);
  b.note(i.host.notes ? `host: ${i.host.notes}` : null);
  for (const m of PRICING_MODELS) {
    b.num(
      `${PRICE_LABEL[m]} $/h per ${i.price.per}`,
      i.price.usdPerHour[m],
      i.price.evidence,
      m,
      i.price.sources,
    );
  }
  for (const m of PRICING_MODELS) {
    const whole = instanceUsdPerHour(i, m);
    if (whole !== null && i.price.per === 'chip') {
      b.derived(`${PRICE_LABEL[m]} $/h per instance`, whole, `${PRICE_LABEL[m]} per chip × ${i.chips} chips`);
    }
  }
  b.note(i.price.notes ? `price: ${i.price.notes}` : null);
  b.note(i.notes);
}

function showTco(t: TcoReference, b: RowBuilder): void {
  const n = (f: string, v: number | null, name: string) => b.num(f, v, t.evidence, name, t.sources);
  b.text('provider', t.provider);
  b.text('accelerator', t.acceleratorKey ?? `${t.acceleratorName} (not in the accelerator catalog)`);
  b.text('snapshot', t.snapshot);
  n('owning, hyperscaler $/chip-h', t.owningHyperscalerUsdPerChipHour, 'owningHyperscalerUsdPerChipHour');
  n('owning, neocloud $/chip-h', t.owningNeocloudUsdPerChipHour, 'owningNeocloudUsdPerChipHour');
  n('3-yr rental $/chip-h', t.rental3yrUsdPerChipHour, 'rental3yrUsdPerChipHour');
  n('all-in power kW/chip', t.allInPowerKwPerChip, 'allInPowerKwPerChip');
  n('TDP W', t.tdpW, 'tdpW');
  b.note(t.notes);
}

function showModel(m: Model, b: RowBuilder): void {
  const n = (f: string, v: number | null, name: string) => b.num(f, v, m.evidence, name, m.sources);
  const a = m.attention;
  b.text('name', m.name);
  b.text('Hugging Face repo', m.hfRepo);
  n('layers', m.layers, 'layers');
  n('hidden size', m.hiddenSize, 'hiddenSize');
  n('vocab size', m.vocabSize, 'vocabSize');
  b.text('tied embeddings', m.tieWordEmbeddings);
  b.text('attention', a.type);
  n('attention heads', a.heads, 'attention.heads');
  if (a.type === 'gqa') {
    n('KV heads', a.kvHeads, 'attention.kvHeads');
    n('head dim', a.headDim, 'attention.headDim');
  }
  if (a.mla) {
    n('MLA q_lora_rank', a.mla.qLoraRank, 'attention.mla.qLoraRank');
    n('MLA kv_lora_rank', a.mla.kvLoraRank, 'attention.mla.kvLoraRank');
    n('MLA qk_nope_head_dim', a.mla.qkNopeHeadDim, 'attention.mla.qkNopeHeadDim');
    n('MLA qk_rope_head_dim', a.mla.qkRopeHeadDim, 'attention.mla.qkRopeHeadDim');
    n('MLA v_head_dim', a.mla.vHeadDim, 'attention.mla.vHeadDim');
  }
  b.text('layer pattern', a.layerPattern.join(', '));
  if (a.slidingWindow !== null) n('sliding window tokens', a.slidingWindow, 'attention.slidingWindow');
  b.text(
    'attention extras',
    [a.qkvBias && 'qkv bias', a.oBias && 'o bias', a.qkNorm && 'qk norm', a.sinks && 'sinks']
      .filter(Boolean)
      .join(', ') || 'none',
  );
  if (m.ffn) n('dense FFN intermediate', m.ffn.intermediateSize, 'ffn.intermediateSize');
  if (m.moe) {
    n('routed experts', m.moe.routedExperts, 'moe.routedExperts');
    n('experts per token', m.moe.expertsPerToken, 'moe.expertsPerToken');
    n('shared experts', m.moe.sharedExperts, 'moe.sharedExperts');
    n('expert FFN intermediate', m.moe.moeIntermediateSize, 'moe.moeIntermediateSize');
    n('first dense layers', m.moe.firstDenseLayers, 'moe.firstDenseLayers');
  }
  n('max context tokens', m.maxContextTokens, 'maxContextTokens');
  const pub = m.publishedParams;
  b.rows.push({
    field: 'published params (total)',
    value: pub.total.value,
    evidence: 'vendor-reported',
    sources: b.cite(pub.total.sources),
  });
  if (pub.active) {
    b.rows.push({
      field: 'published params (active)',
      value: pub.active.value,
      evidence: 'vendor-reported',
      sources: b.cite(pub.active.sources),
    });
    b.note(pub.active.notes ? `published active: ${pub.active.notes}` : null);
  }
  const p = paramCounts(m);
  b.derived('computed params (total)', p.total, 'from the architecture rows above (src/catalog/params.ts)');
  if (m.moe) {
    b.derived(
      'computed active params (with input embedding)',
      p.activeWithEmbedding,
      'top-k routed + shared experts + everything else',
    );
    b.derived(
      'computed active params (without input embedding)',
      p.activeWithoutEmbedding,
      'as above, less the V×h input embedding table',
    );
  }
  b.derived(
    'KV bytes/token (bf16)',
    kvBytesPerToken(m, 'bf16'),
    a.type === 'mla'
      ? 'layers × (kv_lora_rank + qk_rope_head_dim) × 2 B'
      : 'layers × KV heads × head dim × 2 (K,V) × 2 B',
  );
  b.derived('KV bytes/token (fp8)', kvBytesPerToken(m, 'fp8'), 'as bf16 with 1 B per element');
  b.note(m.notes);
}

function showStack(s: Stack, b: RowBuilder): void {
  b.text('name', s.name);
  b.text('vendors', s.vendors.join(', '));
  b.text('accelerator categories', s.acceleratorCategories.join(', '));
  b.text('precisions', s.precisions.join(', '));
  const f = s.features;
  b.text('continuous batching', f.continuousBatching);
  b.text('chunked prefill', f.chunkedPrefill);
  b.text('prefix caching', f.prefixCaching);
  b.text('paged attention', f.pagedAttention);
  b.num(
    'KV block size (tokens)',
    f.pagedAttentionBlockTokens,
    s.evidence,
    'features.pagedAttentionBlockTokens',
    s.sources,
  );
  b.text('speculative decoding', f.speculativeDecoding);
  b.text('disaggregated prefill/decode', f.disaggregatedPrefill);
  b.text('maturity', s.maturity.level);
  b.num(
    'compute efficiency',
    s.efficiency.computeEfficiency,
    s.evidence,
    'efficiency.computeEfficiency',
    s.sources,
  );
  b.num(
    'memory-bandwidth efficiency',
    s.efficiency.memoryBandwidthEfficiency,
    s.evidence,
    'efficiency.memoryBandwidthEfficiency',
    s.sources,
  );
  b.num(
    'per-step overhead s',
    s.efficiency.perStepOverheadS,
    s.evidence,
    'efficiency.perStepOverheadS',
    s.sources,
  );
  b.note(`efficiency: ${s.efficiency.status}`);
  b.note(`maturity: ${s.maturity.notes}`);
  b.note(s.notes);
  // features are booleans; their support is documented by the entry's sources
  b.cite(s.sources);
}

/** Every entry matching `key` (usually one), with its rows, sources and notes. */
export function catalogShow(cat: Catalog, key: string): ShowResult[] {
  const found = cat.find(key);
  if (found.length === 0) {
    const near = cat.suggest(key);
    const hint = near.length ? `; did you mean ${near.map((k) => `'${k}'`).join(', ')}?` : '';
    throw new InputError(`catalog show: unknown key '${key}'${hint} (see: pertoken catalog list)`);
  }
  return found.map(({ kind, entry }) => {
    const b = new RowBuilder();
    switch (kind) {
      case 'accelerators':
        showAccelerator(entry as Accelerator, b);
        break;
      case 'instances':
        showInstance(entry as Instance, b);
        break;
      case 'tco':
        showTco(entry as TcoReference, b);
        break;
      case 'models':
        showModel(entry as Model, b);
        break;
      case 'stacks':
        showStack(entry as Stack, b);
        break;
    }
    const o = cat.origin(kind, key);
    return {
      kind,
      key,
      origin: o ? `${o.file} ${o.path.map((s) => (typeof s === 'number' ? `[${s}]` : s)).join('')}` : null,
      rows: b.rows,
      sources: b.sources,
      notes: b.notes,
    };
  });
}

const KIND_TITLE: Record<EntryKind, string> = {
  accelerators: 'accelerator',
  instances: 'instance',
  models: 'model',
  stacks: 'serving stack',
  tco: 'TCO reference (modeled, not a list price)',
};

/** Text of `pertoken catalog show KEY`. */
export function renderCatalogShow(cat: Catalog, key: string): string {
  return catalogShow(cat, key)
    .map((r) => {
      const rows = r.rows.map((row) => [
        row.field,
        row.value === null ? '–' : typeof row.value === 'number' ? fmt(row.value, 8) : String(row.value),
        row.evidence,
        row.sources.map((i) => `[${i}]`).join(''),
      ]);
      const t = table(['field', 'value', 'evidence', 'source'], rows);
      const srcs = r.sources.map((s, i) => `  [${i + 1}] ${s}`).join('\n');
      const notes = r.notes.length ? `\nNotes:\n${r.notes.map((n) => `  - ${n}`).join('\n')}` : '';
      return `${KIND_TITLE[r.kind]} ${r.key}${r.origin ? `  (from ${r.origin})` : ''}\n${t}\nSources:\n${srcs}${notes}\n`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Commander wiring
// ---------------------------------------------------------------------------------------------

interface CatalogOpts {
  catalog?: string[];
  json?: boolean;
}

async function load(opts: CatalogOpts): Promise<Catalog> {
  const cat = await loadCatalog({ extraDirs: opts.catalog ?? [] });
  for (const w of cat.warnings) process.stderr.write(`${w}\n`);
  return cat;
}

export function registerCatalog(program: Command): void {
  const catalog = program
    .command('catalog')
    .description(
      'Browse the catalog: accelerators, instances & prices, models, serving stacks (with sources)',
    );

  catalog
    .command('list')
    .description('List catalog entries of one kind (or all)')
    .argument('[kind]', `one of ${CATALOG_KINDS.join('|')}`)
    .option('--catalog <dir...>', 'user catalog directories merged over the bundled one')
    .option('--json', 'machine-readable output')
    .action(async (kind: string | undefined, opts: CatalogOpts) => {
      checkKind(kind);
      const cat = await load(opts);
      process.stdout.write(
        opts.json ? `${JSON.stringify(catalogListJson(cat, kind), null, 2)}\n` : renderCatalogList(cat, kind),
      );
    });

  catalog
    .command('show')
    .description("Show one entry with every number's source and evidence level")
    .argument('<key>', 'catalog key, e.g. aws/p5.48xlarge, H100_SXM, llama-3.1-70b, vllm')
    .option('--catalog <dir...>', 'user catalog directories merged over the bundled one')
    .option('--json', 'machine-readable output')
    .action(async (key: string, opts: CatalogOpts) => {
      const cat = await load(opts);
      process.stdout.write(
        opts.json ? `${JSON.stringify(catalogShow(cat, key), null, 2)}\n` : renderCatalogShow(cat, key),
      );
    });
}
