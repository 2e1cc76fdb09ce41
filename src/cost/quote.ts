/**
 * Vendor quotes as candidates (DESIGN.md §2, §10): a quote file is resolved against the scenario's
 * catalog and reference workload, then costed on the same trace, SLO and window as every other
 * candidate.
 *
 * - `per_token`: the reference workload billed per token (cached input at its own price when the
 *   trace says which prompt tokens a prefix cache would serve); latency assumed, as for `api`.
 * - `committed_capacity`: a hardware candidate simulated by the engine like any other (same perf
 *   model, replicas), priced at the quote's rate under its take-or-pay term (quote-ledger.ts).
 * - `managed_endpoint`: throughput units sized for the trace's peak weighted token rate (a sliding
 *   window of the quote's interval) and for its mean; latency is not simulated (a vendor-stated
 *   TTFT/TPOT is compared with the SLO's limit at its percentile, `checkVendorLatency`).
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
  HOURS_PER_MONTH,
  managedEndpointLedger,
  meanWeightedRate,
  perTokenQuoteLedger,
  unitsNeeded,
  type CommitmentCharge,
} from './quote-ledger.js';
import {
  LATENCY_PERCENTILES,
  type CommittedOffer,
  type LatencyPercentile,
  type LoadedQuote,
  type ManagedOffer,
  type PerTokenOffer,
  type QuoteKind,
} from './quote-schema.js';

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
  /** Every request's arrival and tokens, sorted by arrival (for the managed endpoint's peak). */
  arrivals: Arrivals;
}

/** Requests as parallel arrays, sorted by arrival time (seconds from the first request). */
export interface Arrivals {
  arrivalS: readonly number[];
  promptTokens: readonly number[];
  outputTokens: readonly number[];
}

function sortedArrivals(arrivalS: number[], promptTokens: number[], outputTokens: number[]): Arrivals {
  if (arrivalS.every((a, i) => i === 0 || arrivalS[i - 1]! <= a))
    return { arrivalS, promptTokens, outputTokens };
  const order = arrivalS.map((_, i) => i).sort((a, b) => arrivalS[a]! - arrivalS[b]! || a - b);
  return {
    arrivalS: order.map((i) => arrivalS[i]!),
    promptTokens: order.map((i) => promptTokens[i]!),
    outputTokens: order.map((i) => outputTokens[i]!),
  };
}

/** Stream the scenario's workload once and collect what the non-simulated candidates need. */
export async function workloadStats(scenario: ResolvedScenario, dir: string): Promise<WorkloadStats> {
  const w = await openScenarioWorkload(scenario, dir);
  const sessions = new Set<string>();
  const ref: ReferenceWorkload = { spanS: 0, requests: 0, promptTokens: 0, outputTokens: 0, sessions: 0 };
  const seen = new Set<number>();
  const arrivalS: number[] = [];
  const promptTokens: number[] = [];
  const outputTokens: number[] = [];
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
      arrivalS.push(r.arrivalS);
      promptTokens.push(r.promptTokens);
      outputTokens.push(r.outputTokens);
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
    arrivals: sortedArrivals(arrivalS, promptTokens, outputTokens),
  };
}

/** The busiest window of the trace: its weighted tokens per second, where it starts, how long it is. */
export interface PeakRate {
  tokensPerS: number;
  startS: number;
  /** min(interval, span): a trace shorter than the interval is one window of its own span. */
  windowS: number;
}

/**
 * The peak weighted token rate: the most weighted tokens (input × inputWeight + output ×
 * outputWeight, each request's tokens counted at its arrival) in any closed window [t, t + W] inside
 * the trace's span [0, spanS], divided by W, where W = min(intervalS, spanS).
 *
 * - A sliding window, not buckets fixed from t = 0: a burst split by a bucket boundary would count
 *   in neither bucket whole, and the peak could come out at half its value.
 * - Every window lies inside the span and has the full length W, so no window is divided by time the
 *   trace does not cover: a trace shorter than the interval is one window of its span (its peak is
 *   its mean), and there is no partial last window to inflate or dilute.
 * - Closed windows, like the mean (tokens over span = last arrival): the window [0, spanS] holds
 *   every request, so with W = spanS the peak equals the mean.
 *
 * Two pointers over the sorted arrivals: a window can be slid right, keeping what it holds, until
 * its start meets an arrival or its end meets spanS, so the candidates are the windows starting at
 * each arrival a ≤ spanS − W, and the last window [spanS − W, spanS]. Ties keep the earliest.
 */
export function peakWeightedRate(
  a: Arrivals,
  spanS: number,
  intervalS: number,
  inputWeight: number,
  outputWeight: number,
): PeakRate {
  const n = a.arrivalS.length;
  const windowS = Math.min(intervalS, spanS);
  const lastStartS = spanS - windowS;
  const t = a.arrivalS;
  const w = (k: number): number => a.promptTokens[k]! * inputWeight + a.outputTokens[k]! * outputWeight;
  let best = 0;
  let bestStartS = 0;
  let held = 0; // weighted tokens in [t[i], t[i] + W]
  let j = 0; // first arrival after the window
  for (let i = 0; i < n && t[i]! <= lastStartS; i++) {
    while (j < n && t[j]! <= t[i]! + windowS) held += w(j++);
    if (held > best) {
      best = held;
      bestStartS = t[i]!;
    }
    held -= w(i);
  }
  let last = 0; // weighted tokens in [spanS − W, spanS]
  for (let k = n - 1; k >= 0 && t[k]! >= lastStartS; k--) last += w(k);
  if (last > best) {
    best = last;
    bestStartS = lastStartS;
  }
  return { tokensPerS: best / windowS, startS: bestStartS, windowS };
}

const fmtUsd = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 4 });
const joinNotes = (...notes: (string | null | undefined)[]): string | null =>
  notes.filter((x) => x !== null && x !== undefined && x !== '').join(' — ') || null;

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
    const termH = o.term_months * HOURS_PER_MONTH;
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
  // the rate shown is the rate charged: the upfront payment spread over the term's hours
  let shownUsdPerHour: number | null = null;
  let rateNote: string | null = null;
  if (o.kind === 'committed_capacity') {
    shownUsdPerHour = usdPerHour;
    if (o.upfront_usd > 0)
      rateNote = `effective $${fmtUsd(usdPerHour!)}/hour = $${fmtUsd(o.usd_per_hour)}/hour + $${fmtUsd(o.upfront_usd)} upfront / (${o.units} unit(s) × ${fmtUsd(o.term_months * HOURS_PER_MONTH)} h)`;
  } else if (o.kind === 'managed_endpoint') {
    if (o.upfront_usd > 0)
      // the upfront is spread over the units, and they are sized from the trace (managedQuoteCandidate)
      rateNote = `$${fmtUsd(o.usd_per_unit_hour)}/unit-hour + $${fmtUsd(o.upfront_usd)} upfront over the term, spread over the units sized from the trace (the effective rate is in the commitment)`;
    else shownUsdPerHour = o.usd_per_unit_hour;
  }
  const price: PriceEvidence = {
    pricingModel: o.kind === 'committed_capacity' ? 'reserved' : 'api',
    source: 'quote',
    instance: instance?.key ?? null,
    usdPerInstanceHour: shownUsdPerHour,
    chipsPerInstance: instance?.chips ?? null,
    usdPer1mInput: o.kind === 'per_token' ? o.usd_per_1m_input : null,
    usdPer1mOutput: o.kind === 'per_token' ? o.usd_per_1m_output : null,
    sources: [quote.source],
    evidence: quote.evidence,
    notes: joinNotes(rateNote, quote.notes),
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

/** A vendor-stated latency figure checked against the scenario's SLO. */
export interface VendorLatencyCheck {
  met: boolean;
  /** The SLO limit the figure was compared with; null when the SLO sets none on the metric. */
  comparedWith: { percentile: LatencyPercentile; limitS: number } | null;
  /** What was compared with what, and why: for the ledger's assumptions. */
  text: string;
}

/**
 * A vendor's TTFT or TPOT against the scenario's limits on that metric. The figure is the vendor's
 * `latency_percentile`; when the quote does not say, it is taken as a typical (p50) figure, and
 * the text says so.
 *
 * It is compared with the strictest limit the SLO sets at the figure's percentile or above: the
 * matching percentile when the SLO has one; otherwise a higher one, since a percentile is at least
 * any lower one (a p50 over the p95 limit means the p95 is missed; a p50 under it says nothing of the
 * tail, so "met" stays an assumption). When the SLO sets limits only below the figure's percentile,
 * it is compared with the strictest of those: under it the limit is met; over it the limit may or may
 * not be met, and it is taken as NOT met (conservative), which the text says.
 */
export function checkVendorLatency(
  slo: Scenario['slo'],
  metric: 'ttft' | 'tpot',
  valueS: number,
  stated: LatencyPercentile | undefined,
): VendorLatencyCheck {
  const at = stated ?? 'p50';
  const rank = (p: LatencyPercentile): number => LATENCY_PERCENTILES.indexOf(p);
  const limits = LATENCY_PERCENTILES.flatMap((p) => {
    const limitS = (slo as Record<string, number | undefined>)[`${metric}_${p}_s`];
    return limitS === undefined ? [] : [{ percentile: p, limitS }];
  });
  const atOrAbove = limits.filter((l) => rank(l.percentile) >= rank(at));
  const pool = atOrAbove.length > 0 ? atOrAbove : limits;
  const figure = `${metric.toUpperCase()} ${valueS} s (${stated !== undefined ? `vendor ${at}` : 'percentile not stated: taken as typical, p50'})`;
  if (pool.length === 0)
    return {
      met: true,
      comparedWith: null,
      text: `${figure}: the SLO sets no ${metric.toUpperCase()} limit`,
    };
  // the strictest; ties keep the lowest percentile
  const lim = pool.reduce((a, b) => (b.limitS < a.limitS ? b : a));
  const met = valueS <= lim.limitS;
  const why =
    lim.percentile === at
      ? 'the same percentile'
      : rank(lim.percentile) > rank(at)
        ? `the strictest limit at ${at} or above; a ${lim.percentile} is at least the ${at}, so this can show a miss, not that the tail is met`
        : `the SLO sets no limit at ${at} or above, so the strictest lower one; ${met ? `a ${lim.percentile} is at most the ${at}, so it is met` : `the ${lim.percentile} itself is not known, taken as NOT met`}`;
  return {
    met,
    comparedWith: lim,
    text: `${figure} vs the SLO's ${metric.toUpperCase()} ${lim.percentile} limit ${lim.limitS} s (${why}): ${met ? 'within' : 'OVER'}`,
  };
}

/** A managed endpoint quote: units for the peak and the mean, the window's capacity charged take-or-pay. */
export function managedQuoteCandidate(
  rq: ResolvedQuote,
  scenario: Scenario,
  stats: WorkloadStats,
): ManagedQuoteResult {
  const o = rq.loaded.quote.offer as ManagedOffer;
  const q = rq.loaded.quote.quality_acceptance;
  const r = stats.reference;
  const unitTokensPerS = o.unit_tokens_per_s ?? o.unit_tokens_per_min! / 60;
  const weights = { inputWeight: o.input_weight, outputWeight: o.output_weight };
  const peak = peakWeightedRate(stats.arrivals, r.spanS, o.peak_interval_s, o.input_weight, o.output_weight);
  const usage = referenceUsage(r, q);
  const meanTokensPerS = meanWeightedRate(usage, weights);
  const need = unitsNeeded(peak.tokensPerS, meanTokensPerS, unitTokensPerS, o.min_units);
  const units = need.units;
  const { ledger, utilization, charge } = managedEndpointLedger(
    usage,
    {
      units,
      unitTokensPerS,
      ...weights,
      usdPerUnitHour: o.usd_per_unit_hour,
      termMonths: o.term_months ?? null,
      upfrontUsd: o.upfront_usd,
      mode: o.term_beyond_window,
    },
    sharedCostsFor(scenario, rq.candidate, 0),
    windowOf(scenario),
  );
  const f1 = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
  const peakOver =
    peak.windowS < o.peak_interval_s
      ? `the whole ${f1(peak.windowS)} s trace (shorter than the ${o.peak_interval_s} s interval)`
      : `the busiest ${o.peak_interval_s} s, a sliding window, from t = ${f1(peak.startS)} s`;
  const assumptions = [
    `units: ${units} = max(min_units ${o.min_units}, ⌈peak / unit rate⌉ = ⌈${f1(peak.tokensPerS)} / ${f1(unitTokensPerS)}⌉ = ${need.forPeak}, ⌈mean / unit rate⌉ = ⌈${f1(meanTokensPerS)} / ${f1(unitTokensPerS)}⌉ = ${need.forMean}); rates in weighted tokens/s (input × ${o.input_weight} + output × ${o.output_weight}, each request's tokens counted at its arrival), the peak over ${peakOver}`,
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
      const c = checkVendorLatency(scenario.slo, m, v, o.latency_percentile);
      if (!c.met) sloMet = false;
      parts.push(c.text);
    }
    assumptions.unshift(
      `latency is not simulated: the vendor states ${parts.join('; ')}; the SLO is taken as ${sloMet ? 'met' : 'NOT met'} from those figures`,
    );
  }
  const price = {
    ...rq.price,
    usdPerInstanceHour: charge.effectiveUsdPerUnitHour,
    notes: joinNotes(
      o.upfront_usd > 0
        ? `effective $${fmtUsd(charge.effectiveUsdPerUnitHour)}/unit-hour = $${fmtUsd(o.usd_per_unit_hour)}/unit-hour + $${fmtUsd(o.upfront_usd)} upfront / (${units} unit(s) × ${fmtUsd(o.term_months! * HOURS_PER_MONTH)} h)`
        : null,
      rq.loaded.quote.notes,
    ),
  };
  return {
    ledger: { ...ledgerRecord(rq, usage, ledger, assumptions, warnings), price },
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
      `+ $${charge.extraUsd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} of whole terms beyond the window (take-or-pay)`,
    );
  const assumptions = [`commitment: ${charge.basis}`, ...l.assumptions];
  const warnings = charge.flag !== null ? [...l.warnings, charge.flag] : l.warnings;
  return { ...l, price: rq.price, ledger, assumptions, warnings };
}
