/**
 * Vendor quotes as candidates (DESIGN.md §2, §10): a quote file is resolved against the scenario's
 * catalog and reference workload, then costed on the same trace, SLO and window as every other
 * candidate.
 *
 * - `per_token`: the reference workload billed per token (cached input at its own price when the
 *   trace says which prompt tokens a prefix cache would serve); latency assumed, as for `api`.
 * - `committed_capacity`: a hardware candidate simulated by the engine like any other (same perf
 *   model, replicas), priced at the quote's rate under its take-or-pay term (quote-ledger.ts).
 * - `managed_endpoint`: throughput units sized for the trace's peak weighted token rate over the
 *   quote's interval; latency is not simulated (a vendor-stated TTFT/TPOT is compared with the SLO).
 */
import { isAbsolute, relative, resolve } from 'node:path';
import type { Catalog } from '../catalog/load.js';
import type { Accelerator, Evidence, Instance } from '../catalog/schema.js';
import { openScenarioWorkload } from '../engine/from-scenario.js';
import {
  candidateSchema,
  type ResolvedCandidate,
  type ResolvedScenario,
  type Scenario,
} from '../scenario/index.js';
import { InputError } from '../util/errors.js';
import {
  productChangeOf,
  referenceUsage,
  sharedCostsFor,
  windowOf,
  type CandidateLedger,
  type PriceEvidence,
  type ReferenceWorkload,
} from './from-simulation.js';
import type { Usage } from './ledger.js';
import {
  addToLine,
  commitmentCharge,
  managedEndpointLedger,
  perTokenQuoteLedger,
  unitsForPeak,
  type CommitmentCharge,
} from './quote-ledger.js';
import type { CommittedOffer, LoadedQuote, ManagedOffer, PerTokenOffer, QuoteKind } from './quote-schema.js';

/** What marks a candidate as a vendor quote in every output. */
export interface QuoteMarker {
  vendor: string;
  name: string;
  date: string;
  kind: QuoteKind;
  /** The quote file, relative to the working directory. */
  file: string;
  source: string;
  evidence: Evidence;
  notes: string | null;
}

/** A quote checked against the scenario and catalog, as a candidate. */
export interface ResolvedQuote {
  loaded: LoadedQuote;
  marker: QuoteMarker;
  candidate: ResolvedCandidate;
  price: PriceEvidence;
}

/** The reference workload streamed once: volume, prompt-cache hits and tokens per second of arrival. */
export interface WorkloadStats {
  reference: ReferenceWorkload;
  /** Prompt tokens a prefix cache would serve (blocks whose hash appeared before; or as reported). */
  cachedPromptTokens: number;
  /** Where the cached tokens come from: prefix hashes, the trace's own cached counts, or nothing. */
  cacheInfo: 'hashes' | 'reported' | 'none';
  /** Prompt and output tokens by whole second of arrival (second → [prompt, output]). */
  perSecond: Map<number, [number, number]>;
}

/** Stream the scenario's workload once and collect what the non-simulated candidates need. */
export async function workloadStats(scenario: ResolvedScenario, dir: string): Promise<WorkloadStats> {
  const w = await openScenarioWorkload(scenario, dir);
  const sessions = new Set<string>();
  const ref: ReferenceWorkload = { spanS: 0, requests: 0, promptTokens: 0, outputTokens: 0, sessions: 0 };
  const seen = new Set<number>();
  const perSecond = new Map<number, [number, number]>();
  let cached = 0;
  let hashes = false;
  let reported = false;
  for await (const batch of w.requests)
    for (const r of batch) {
      ref.requests++;
      ref.promptTokens += r.promptTokens;
      ref.outputTokens += r.outputTokens;
      ref.spanS = Math.max(ref.spanS, r.arrivalS);
      if (r.sessionId !== undefined) sessions.add(r.sessionId);
      const sec = Math.floor(r.arrivalS);
      const b = perSecond.get(sec);
      if (b === undefined) perSecond.set(sec, [r.promptTokens, r.outputTokens]);
      else {
        b[0] += r.promptTokens;
        b[1] += r.outputTokens;
      }
      if (r.hashIds !== undefined && r.blockSize !== undefined) {
        hashes = true;
        r.hashIds.forEach((h, j) => {
          const tokens = Math.max(0, Math.min(r.blockSize!, r.promptTokens - j * r.blockSize!));
          if (seen.has(h)) cached += tokens;
          else seen.add(h);
        });
      } else if (r.cachedPromptTokens !== undefined) {
        reported = true;
        cached += r.cachedPromptTokens;
      }
    }
  ref.sessions = sessions.size;
  if (ref.spanS <= 0) ref.spanS = 1;
  return {
    reference: ref,
    cachedPromptTokens: cached,
    cacheInfo: hashes ? 'hashes' : reported ? 'reported' : 'none',
    perSecond,
  };
}

/**
 * The peak weighted token rate over windows of `intervalS` seconds counted from t = 0 (the
 * profile's convention): each request's prompt and output tokens count in the interval it arrives in.
 */
export function peakWeightedRate(
  perSecond: ReadonlyMap<number, readonly [number, number]>,
  intervalS: number,
  inputWeight: number,
  outputWeight: number,
): { tokensPerS: number; startS: number } {
  const buckets = new Map<number, number>();
  for (const [sec, [p, o]] of perSecond) {
    const k = Math.floor(sec / intervalS);
    buckets.set(k, (buckets.get(k) ?? 0) + p * inputWeight + o * outputWeight);
  }
  let best = 0;
  let bestK = 0;
  for (const k of [...buckets.keys()].sort((a, b) => a - b)) {
    const v = buckets.get(k)!;
    if (v > best) {
      best = v;
      bestK = k;
    }
  }
  return { tokensPerS: best / intervalS, startS: bestK * intervalS };
}

function defaultStackKey(acc: Accelerator): string {
  // the same choice as src/scenario/resolve.ts: each hardware family's usual stack
  if (acc.category === 'tpu') return 'jax-xla';
  if (acc.category === 'trainium' || acc.category === 'inferentia') return 'neuron';
  if (acc.vendor.toUpperCase() === 'AMD') return 'rocm-vllm';
  return 'vllm';
}

function unknownKey(
  q: LoadedQuote,
  path: PropertyKey[],
  kind: 'models' | 'instances' | 'stacks' | 'accelerators',
  key: string,
  catalog: Catalog,
): string {
  const near = catalog.suggest(key, kind);
  return `${q.locate(path)}: ${path.join('.')}: unknown ${kind.slice(0, -1)} "${key}"${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(', ')}?` : ''} (see \`pertoken catalog list ${kind}\`)`;
}

/** A stand-in instance for an offer of `count` accelerators (no catalog instance). */
function quotedInstance(q: LoadedQuote, acc: Accelerator, count: number): Instance {
  const quote = q.quote;
  const evidence = { default: quote.evidence, fields: {}, notes: {} };
  return {
    key: `quote/${quote.name}`,
    provider: quote.vendor,
    name: `${count}× ${acc.name} (quoted)`,
    acceleratorKey: acc.key,
    chips: count,
    region: null,
    asOf: quote.date,
    host: { vcpus: null, ramGiB: null, networkGbps: null, sources: [], evidence: null, notes: null },
    price: {
      per: 'instance',
      usdPerHour: { onDemand: null, commit1yr: null, commit3yr: null, spot: null, capacityBlock: null },
      sources: [quote.source],
      evidence,
      notes: quote.notes ?? null,
    },
    sources: [quote.source],
    evidence,
    notes: quote.notes ?? null,
  };
}

/** Check a quote against the scenario and the catalog; every problem names the quote's file:line:col. */
export function resolveQuote(q: LoadedQuote, scenario: ResolvedScenario, catalog: Catalog): ResolvedQuote {
  const quote = q.quote;
  const problems: string[] = [];
  const modelKey = quote.model ?? scenario.scenario.model;
  const model = catalog.models.get(modelKey);
  if (model === undefined) problems.push(unknownKey(q, ['model'], 'models', modelKey, catalog));
  const o = quote.offer;
  const marker: QuoteMarker = {
    vendor: quote.vendor,
    name: quote.name,
    date: quote.date,
    kind: o.kind,
    file: relative(process.cwd(), q.file) || q.file,
    source: quote.source,
    evidence: quote.evidence,
    notes: quote.notes ?? null,
  };
  const common = {
    name: quote.name,
    ...(quote.model !== undefined ? { model: quote.model } : {}),
    precision: quote.precision,
    quality_acceptance: quote.quality_acceptance,
  };
  let instance: Instance | null = null;
  let accelerator: Accelerator | null = null;
  let stack = null;
  let stackChosenBy: ResolvedCandidate['stackChosenBy'] = 'none';
  let spec;
  let usdPerHour: number | null = null;
  if (o.kind === 'committed_capacity') {
    if (o.instance !== undefined) {
      instance = catalog.instances.get(o.instance) ?? null;
      if (instance === null)
        problems.push(unknownKey(q, ['offer', 'instance'], 'instances', o.instance, catalog));
      else accelerator = catalog.accelerators.get(instance.acceleratorKey) ?? null;
    } else if (o.accelerator !== undefined) {
      accelerator = catalog.accelerators.get(o.accelerator) ?? null;
      if (accelerator === null)
        problems.push(unknownKey(q, ['offer', 'accelerator'], 'accelerators', o.accelerator, catalog));
      else instance = quotedInstance(q, accelerator, o.count ?? 1);
    }
    const chipsPerReplica = o.parallelism.tp * o.parallelism.pp;
    let replicas = o.replicas ?? 1;
    if (accelerator !== null && instance !== null) {
      const stackKey = o.stack ?? defaultStackKey(accelerator);
      stackChosenBy = o.stack === undefined ? 'default' : 'scenario';
      stack = catalog.stacks.get(stackKey) ?? null;
      if (stack === null) problems.push(unknownKey(q, ['offer', 'stack'], 'stacks', stackKey, catalog));
      else if (!stack.acceleratorCategories.includes(accelerator.category))
        problems.push(
          `${q.locate(['offer', 'stack'])}: offer.stack: stack "${stack.key}" does not run on ${accelerator.name} (${accelerator.category}); it runs on ${stack.acceleratorCategories.join(', ')}`,
        );
      for (const [field, p] of [
        ['weights', quote.precision.weights],
        ['kv', quote.precision.kv],
      ] as const) {
        const listed = p === 'fp16' ? 'bf16' : p;
        if (!accelerator.precisions.includes(listed))
          problems.push(
            `${q.locate(['precision', field])}: precision.${field}: ${accelerator.name} has no ${p} support in the catalog (it lists ${accelerator.precisions.join(', ')})`,
          );
      }
      const perUnit = Math.floor(instance.chips / chipsPerReplica);
      if (perUnit < 1)
        problems.push(
          `${q.locate(['offer', 'parallelism'])}: offer.parallelism: tp × pp = ${chipsPerReplica} chips per replica, but one unit has ${instance.chips}; multi-instance replicas are not modelled`,
        );
      const fit = perUnit * o.units;
      if (o.replicas !== undefined && o.replicas > fit)
        problems.push(
          `${q.locate(['offer', 'replicas'])}: offer.replicas: ${o.replicas} replicas of ${chipsPerReplica} chips do not fit on ${o.units} unit(s) of ${instance.chips} chips (at most ${fit})`,
        );
      replicas = o.replicas ?? Math.max(1, fit);
    }
    const termH = (o.term_months * (365 * 24)) / 12;
    usdPerHour = o.usd_per_hour + o.upfront_usd / (o.units * termH);
    spec = candidateSchema.parse({
      ...common,
      instance: instance?.key ?? 'quote',
      ...(o.stack !== undefined ? { stack: o.stack } : {}),
      parallelism: o.parallelism,
      replicas,
      batching: o.batching,
      pricing: { model: 'reserved', term_years: 1, usd_per_hour: usdPerHour, source: quote.source },
    });
  } else {
    const api =
      o.kind === 'per_token'
        ? { usd_per_1m_input: o.usd_per_1m_input, usd_per_1m_output: o.usd_per_1m_output }
        : { usd_per_1m_input: 0, usd_per_1m_output: 0 };
    spec = candidateSchema.parse({ ...common, pricing: { model: 'api', ...api, source: quote.source } });
  }
  if (problems.length > 0)
    throw new InputError(
      problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join('\n  ')}`,
    );
  if (scenario.candidates.some((c) => c.name === quote.name))
    throw new InputError(
      `${q.locate(['name'])}: name: expected a name no scenario candidate has; "${quote.name}" is also a candidate of ${scenario.scenario.name}`,
    );
  const productChange: string[] = [];
  if (modelKey !== scenario.scenario.model)
    productChange.push(`serves ${modelKey} instead of the reference ${scenario.scenario.model}`);
  const candidate: ResolvedCandidate = {
    spec,
    name: quote.name,
    modelKey,
    model: model!,
    productChange,
    instance,
    accelerator,
    stack,
    stackChosenBy,
    instanceUsdPerHour: usdPerHour,
    priceSource: 'scenario',
    chipsPerReplica: spec.parallelism.tp * spec.parallelism.pp,
  };
  const price: PriceEvidence = {
    pricingModel: o.kind === 'committed_capacity' ? 'reserved' : 'api',
    source: 'quote',
    instance: instance?.key ?? null,
    usdPerInstanceHour:
      o.kind === 'committed_capacity'
        ? o.usd_per_hour
        : o.kind === 'managed_endpoint'
          ? o.usd_per_unit_hour
          : null,
    chipsPerInstance: instance?.chips ?? null,
    usdPer1mInput: o.kind === 'per_token' ? o.usd_per_1m_input : null,
    usdPer1mOutput: o.kind === 'per_token' ? o.usd_per_1m_output : null,
    sources: [quote.source],
    evidence: quote.evidence,
    notes: quote.notes ?? null,
  };
  return { loaded: q, marker, candidate, price };
}

/** Quote files of a scenario (`quotes:`, relative to the scenario file) and of the command line. */
export function quoteFiles(scenario: Scenario, scenarioDir: string, extra: readonly string[]): string[] {
  return [
    ...scenario.quotes.map((p) => (isAbsolute(p) ? p : resolve(scenarioDir, p))),
    ...extra.map((p) => resolve(p)),
  ];
}

function baseAssumptions(r: ReferenceWorkload, q: number): string[] {
  const out = [
    `span = last arrival of the reference workload (${r.spanS.toFixed(1)} s)`,
    'orchestration: the whole costs.orchestration_usd_month is charged to this workload',
  ];
  if (q < 1)
    out.push(`quality_acceptance ${q}: ${((1 - q) * 100).toFixed(1)} % of billed tokens counted as waste`);
  return out;
}

function ledgerRecord(
  rq: ResolvedQuote,
  usage: Usage,
  ledger: CandidateLedger['ledger'],
  assumptions: string[],
  warnings: string[],
): CandidateLedger {
  const c = rq.candidate;
  return {
    name: c.name,
    model: c.modelKey,
    precision: { weights: c.spec.precision.weights, kv: c.spec.precision.kv },
    productChange: productChangeOf(c),
    price: rq.price,
    usage,
    ledger,
    assumptions,
    warnings,
  };
}

/** A per-token quote's ledger: the reference workload billed at the quoted prices. */
export function perTokenQuoteCandidate(
  rq: ResolvedQuote,
  scenario: Scenario,
  stats: WorkloadStats,
): CandidateLedger {
  const o = rq.loaded.quote.offer as PerTokenOffer;
  const q = rq.loaded.quote.quality_acceptance;
  const r = stats.reference;
  const usage = referenceUsage(r, q);
  const cachedShare = r.promptTokens > 0 ? Math.min(1, stats.cachedPromptTokens / r.promptTokens) : 0;
  const assumptions = [
    'latency is assumed to meet the SLO (not simulated); every request of the reference workload is accepted',
    ...baseAssumptions(r, q),
  ];
  if (o.usd_per_1m_cached_input !== undefined)
    assumptions.push(
      stats.cacheInfo === 'hashes'
        ? `cached input: ${(100 * cachedShare).toFixed(1)} % of prompt tokens lie in prefix blocks seen earlier in the trace (an unbounded cache: an upper bound on the discount)`
        : stats.cacheInfo === 'reported'
          ? `cached input: ${(100 * cachedShare).toFixed(1)} % of prompt tokens, as the trace reports them`
          : 'cached input: the trace has no prefix hashes or cached counts, so no input is billed at the cached price',
    );
  const ledger = perTokenQuoteLedger(
    usage,
    {
      usdPer1mInput: o.usd_per_1m_input,
      usdPer1mOutput: o.usd_per_1m_output,
      usdPer1mCachedInput: o.usd_per_1m_cached_input ?? null,
      cachedInputShare: cachedShare,
      minMonthlyUsd: o.min_monthly_usd,
    },
    sharedCostsFor(scenario, rq.candidate, 0),
    windowOf(scenario),
  );
  return ledgerRecord(rq, usage, ledger, assumptions, []);
}

export interface ManagedQuoteResult {
  ledger: CandidateLedger;
  units: number;
  unitTokensPerS: number;
  utilization: number;
  peakTokensPerS: number;
  /** Whether the vendor-stated TTFT/TPOT meet the SLO's limits (true when none are stated). */
  sloMet: boolean;
}

/** The loosest limit the SLO sets on a metric (any percentile), or null. */
function sloLimit(scenario: Scenario, metric: 'ttft' | 'tpot'): number | null {
  const s = scenario.slo as Record<string, number | undefined>;
  const v = ['p50', 'p90', 'p95', 'p99']
    .map((p) => s[`${metric}_${p}_s`])
    .filter((x): x is number => x !== undefined);
  return v.length > 0 ? Math.min(...v) : null;
}

/** A managed endpoint quote: units for the peak, the window's capacity charged take-or-pay. */
export function managedQuoteCandidate(
  rq: ResolvedQuote,
  scenario: Scenario,
  stats: WorkloadStats,
): ManagedQuoteResult {
  const o = rq.loaded.quote.offer as ManagedOffer;
  const q = rq.loaded.quote.quality_acceptance;
  const r = stats.reference;
  const unitTokensPerS = o.unit_tokens_per_s ?? o.unit_tokens_per_min! / 60;
  const peak = peakWeightedRate(stats.perSecond, o.peak_interval_s, o.input_weight, o.output_weight);
  const units = unitsForPeak(peak.tokensPerS, unitTokensPerS, o.min_units);
  const usage = referenceUsage(r, q);
  const { ledger, utilization, charge } = managedEndpointLedger(
    usage,
    {
      units,
      unitTokensPerS,
      inputWeight: o.input_weight,
      outputWeight: o.output_weight,
      usdPerUnitHour: o.usd_per_unit_hour,
      termMonths: o.term_months ?? null,
      upfrontUsd: o.upfront_usd,
      mode: o.term_beyond_window,
    },
    sharedCostsFor(scenario, rq.candidate, 0),
    windowOf(scenario),
  );
  const assumptions = [
    `units: ${units} = max(min_units ${o.min_units}, ⌈peak ${peak.tokensPerS.toFixed(1)} weighted tokens/s (busiest ${o.peak_interval_s} s from t = ${peak.startS} s; input × ${o.input_weight} + output × ${o.output_weight}, each request counted in the interval it arrives in) / ${unitTokensPerS.toFixed(2)} per unit⌉)`,
    `utilization ${(100 * utilization).toFixed(1)} % = mean weighted token rate / units' capacity; idle capacity is the rest of the units' hours`,
    `commitment: ${charge.basis}`,
    ...baseAssumptions(r, q),
  ];
  const warnings: string[] = [];
  if (charge.flag !== null) warnings.push(charge.flag);
  let sloMet = true;
  if (o.ttft_s === undefined && o.tpot_s === undefined)
    assumptions.unshift('latency is not simulated and the quote states none: the SLO is assumed met');
  else {
    const parts: string[] = [];
    for (const [m, v] of [
      ['ttft', o.ttft_s],
      ['tpot', o.tpot_s],
    ] as const) {
      if (v === undefined) continue;
      const lim = sloLimit(scenario, m);
      if (lim !== null && v > lim) sloMet = false;
      parts.push(`${m.toUpperCase()} ${v} s${lim !== null ? ` (SLO limit ${lim} s)` : ''}`);
    }
    assumptions.unshift(
      `latency is not simulated: the vendor states ${parts.join(', ')}; the SLO is taken as ${sloMet ? 'met' : 'NOT met'} from those figures`,
    );
  }
  return {
    ledger: ledgerRecord(rq, usage, ledger, assumptions, warnings),
    units,
    unitTokensPerS,
    utilization,
    peakTokensPerS: peak.tokensPerS,
    sloMet,
  };
}

/**
 * A committed-capacity quote's ledger after its simulation: the ledger already charges the
 * instances the replicas occupy at the effective rate (rate + upfront over the term); add the
 * committed units the replicas leave unused and, with charge_to_window, the whole terms beyond the
 * window, both as idle capacity.
 */
export function finishCommittedQuote(rq: ResolvedQuote, l: CandidateLedger): CandidateLedger {
  const o = rq.loaded.quote.offer as CommittedOffer;
  const windowH = l.ledger.windowS / 3600;
  const charge: CommitmentCharge = commitmentCharge(
    {
      usdPerUnitHour: o.usd_per_hour,
      units: o.units,
      termMonths: o.term_months,
      upfrontUsd: o.upfront_usd,
      mode: o.term_beyond_window,
    },
    windowH,
  );
  let ledger = l.ledger;
  const unused = o.units - ledger.instances;
  if (unused > 0)
    ledger = addToLine(
      ledger,
      l.usage,
      'idle capacity',
      unused * charge.effectiveUsdPerUnitHour * windowH,
      `+ ${unused} committed unit(s) the replicas leave unused × ${windowH.toFixed(1)} h × $${charge.effectiveUsdPerUnitHour.toFixed(4)}`,
      { provisioned: unused * windowH, idle: unused * windowH },
    );
  if (charge.extraUsd > 0)
    ledger = addToLine(
      ledger,
      l.usage,
      'idle capacity',
      charge.extraUsd,
      `+ $${charge.extraUsd.toFixed(2)} of whole terms beyond the window (take-or-pay)`,
    );
  const assumptions = [`commitment: ${charge.basis}`, ...l.assumptions];
  const warnings = charge.flag !== null ? [...l.warnings, charge.flag] : l.warnings;
  return { ...l, price: rq.price, ledger, assumptions, warnings };
}
