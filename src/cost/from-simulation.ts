/**
 * From a simulation to a ledger (DESIGN.md §1, §9): what a candidate's `SimulationSummary` measured
 * (busy time by phase, tokens by outcome) plus what the scenario and catalog say (prices, shared
 * costs, window) become the pure ledger's inputs. Pure functions; no I/O.
 *
 * Decisions, stated where they are made:
 * - accepted output = output tokens of requests that completed within the SLO, × quality_acceptance;
 *   the quality-rejected share (and its prompts and requests) counts as waste.
 * - waste = output of SLO-miss requests + output of attempts that did not complete (timeouts,
 *   failures, retried attempts) + the quality-rejected share.
 * - storage per replica = the model's weight bytes (the replica's memory plan), priced at
 *   STORAGE_USD_PER_GB_MONTH (block storage).
 * - an `api` candidate has no hardware: the reference workload's usage, every request accepted
 *   (its latency is assumed to meet the SLO; nothing is simulated).
 */
import type { SimulationSummary } from '../engine/simulate.js';
import { ReplicaModel } from '../perf/step.js';
import type { ReplicaPerf } from '../perf/types.js';
import type { ResolvedCandidate } from '../scenario/resolve.js';
import type { Scenario } from '../scenario/schema.js';
import {
  apiLedger,
  hardwareLedger,
  type HardwarePricing,
  type Ledger,
  type PricingModelName,
  type SharedCosts,
  type Usage,
  type Window,
} from './ledger.js';

/** Block storage for the weights: AWS EBS gp3, $0.08/GB-month (us-east-1 list price). */
export const STORAGE_USD_PER_GB_MONTH = 0.08;
export const STORAGE_PRICE_SOURCE = 'aws.amazon.com/ebs/pricing (gp3, us-east-1, $0.08/GB-month)';
/** Capacity lost to one spot interruption (instance replacement + weight reload), seconds. */
export const SPOT_RESTART_S = 300;
/** Idle power as a share of TDP when the catalog gives no idle figure. */
export const IDLE_POWER_SHARE_OF_TDP = 0.3;

/** Where the candidate's price comes from. */
export interface PriceEvidence {
  pricingModel: PricingModelName;
  /** catalog: the instance's list price; scenario: pricing.usd_per_hour / api prices / owned capex; quote: a vendor quote file. */
  source: 'catalog' | 'scenario' | 'quote' | 'none';
  instance: string | null;
  usdPerInstanceHour: number | null;
  chipsPerInstance: number | null;
  usdPer1mInput: number | null;
  usdPer1mOutput: number | null;
  /** The catalog's sources and evidence level, or the scenario's `pricing.source`. */
  sources: string[];
  evidence: string | null;
  notes: string | null;
}

/** A candidate's ledger with what it is and why its numbers are what they are. */
export interface CandidateLedger {
  name: string;
  model: string;
  precision: { weights: string; kv: string };
  productChange: string[];
  price: PriceEvidence;
  usage: Usage;
  ledger: Ledger;
  /** Assumptions the numbers rest on (always shown). */
  assumptions: string[];
  /** Things the user should fix or know (missing inputs replaced by a visible default). */
  warnings: string[];
}

/** Prompt tokens of accepted requests, and of requests computed but not accepted. */
export interface InputTokenTally {
  accepted: number;
  wasted: number;
}

/** The reference workload's volume (for API candidates, which are not simulated). */
export interface ReferenceWorkload {
  spanS: number;
  requests: number;
  promptTokens: number;
  outputTokens: number;
  sessions: number;
}

/** Precisions below bf16/fp16 change the model's behaviour: a product change (DESIGN §1). */
export function productChangeOf(c: ResolvedCandidate): string[] {
  const out = [...c.productChange];
  const w = c.spec.precision.weights;
  if (w !== 'bf16' && w !== 'fp16') out.push(`quantized weights (${w}) instead of bf16`);
  const kv = c.spec.precision.kv;
  if (kv !== 'bf16' && kv !== 'fp16') out.push(`quantized KV cache (${kv}) instead of bf16`);
  return out;
}

/** The shared cost inputs of a candidate (scenario costs, its migration, the weights on storage). */
export function sharedCostsFor(
  scenario: Scenario,
  c: ResolvedCandidate,
  storageBytesPerReplica: number,
): SharedCosts {
  const m = c.spec.migration;
  return {
    orchestrationUsdPerMonth: scenario.costs.orchestration_usd_month,
    orchestrationShare: 1,
    egressUsdPerGb: scenario.costs.egress_usd_gb,
    bytesPerOutputToken: scenario.costs.bytes_per_output_token,
    hostUsdPerInstanceHour: 0,
    storageUsdPerGbMonth: STORAGE_USD_PER_GB_MONTH,
    storageBytesPerReplica,
    migration: {
      engineerMonths: m?.engineer_months ?? 0,
      usdPerEngineerMonth: m?.usd_per_engineer_month ?? 0,
      amortizeMonths: m?.amortize_months ?? 24,
      maintenanceUsdPerMonth: m?.maintenance_usd_month ?? 0,
    },
  };
}

export function windowOf(scenario: Scenario): Window {
  return { days: scenario.window.days, mapping: scenario.window.mapping };
}

/**
 * The ledger's usage from a simulation summary. `input` is the prompt-token split by outcome
 * (collected per request); without it the accepted share of prompts is the accepted share of
 * requests. Quality acceptance q keeps q of the accepted tokens and requests; 1 − q moves to waste.
 */
export function usageFromSummary(
  s: SimulationSummary,
  chipsPerReplica: number,
  qualityAcceptance: number,
  input?: InputTokenTally,
): Usage {
  const q = qualityAcceptance;
  const acceptedReq = s.requests.byOutcome.accepted;
  const inAcc =
    input?.accepted ?? (s.requests.total > 0 ? (s.tokens.prompt * acceptedReq) / s.requests.total : 0);
  const inWaste =
    input?.wasted ??
    (s.requests.total > 0
      ? (s.tokens.prompt * (s.requests.total - acceptedReq - s.requests.byOutcome.rejected)) /
        s.requests.total
      : 0);
  const outAcc = s.tokens.outputAccepted;
  return {
    spanS: s.durationS,
    replicas: s.replicaCount,
    chipsPerReplica,
    prefillBusyS: s.utilization.prefillBusyS,
    decodeBusyS: s.utilization.decodeBusyS,
    acceptedRequests: acceptedReq * q,
    acceptedInputTokens: inAcc * q,
    acceptedOutputTokens: outAcc * q,
    wastedInputTokens: inWaste + inAcc * (1 - q),
    wastedOutputTokens: s.tokens.outputSloMiss + s.tokens.outputWasted + outAcc * (1 - q),
    sessions: s.requests.sessions > 0 ? s.requests.sessions : null,
  };
}

function catalogEvidence(c: ResolvedCandidate): Pick<PriceEvidence, 'sources' | 'evidence' | 'notes'> {
  const p = c.spec.pricing;
  if (c.priceSource === 'scenario' || p.model === 'api' || p.model === 'owned')
    return {
      sources: p.source !== undefined ? [p.source] : [],
      evidence: p.source !== undefined ? 'scenario (sourced)' : 'scenario (unsourced)',
      notes: null,
    };
  const price = c.instance?.price;
  if (price === undefined) return { sources: [], evidence: null, notes: null };
  // the evidence level of the very price used (the field's override, else the entry's default)
  const field =
    p.model === 'reserved'
      ? p.term_years === 3
        ? 'commit3yr'
        : 'commit1yr'
      : p.model === 'on_demand'
        ? 'onDemand'
        : p.model === 'capacity_block'
          ? 'capacityBlock'
          : p.model;
  const fieldNote = price.evidence.notes[field];
  return {
    sources: price.sources,
    evidence: price.evidence.fields[field] ?? price.evidence.default,
    notes:
      [fieldNote, price.notes].filter((x): x is string => x !== undefined && x !== null).join('; ') || null,
  };
}

export function priceEvidenceOf(c: ResolvedCandidate): PriceEvidence {
  const p = c.spec.pricing;
  return {
    pricingModel: p.model,
    source: p.model === 'api' || p.model === 'owned' ? 'scenario' : c.priceSource,
    instance: c.instance?.key ?? null,
    usdPerInstanceHour: c.instanceUsdPerHour,
    chipsPerInstance: c.instance?.chips ?? null,
    usdPer1mInput: p.usd_per_1m_input ?? null,
    usdPer1mOutput: p.usd_per_1m_output ?? null,
    ...catalogEvidence(c),
  };
}

/** Hardware pricing for the ledger; throws (with the reason) when the candidate has no usable price. */
export function hardwarePricingFor(
  scenario: Scenario,
  c: ResolvedCandidate,
  warnings: string[],
  assumptions: string[],
): HardwarePricing {
  const p = c.spec.pricing;
  if (c.instance === null || c.accelerator === null || p.model === 'api')
    throw new Error(`${c.name}: no hardware to price`);
  const chipsPerInstance = c.instance.chips;
  if (p.model === 'owned') {
    const acc = c.accelerator;
    const tdpW = acc.tdpW ?? 0;
    if (acc.tdpW === null)
      warnings.push(`${c.name}: the catalog has no TDP for ${acc.name}; power and colocation counted as 0`);
    let idleW = acc.idleW ?? IDLE_POWER_SHARE_OF_TDP * tdpW;
    if (acc.idleW === null) {
      idleW = IDLE_POWER_SHARE_OF_TDP * tdpW;
      assumptions.push(
        `idle power ${idleW.toFixed(0)} W per chip = ${IDLE_POWER_SHARE_OF_TDP} × TDP (no catalog idle figure)`,
      );
    }
    return {
      model: 'owned',
      instanceUsdPerHour: 0,
      chipsPerInstance,
      owned: {
        capexUsdPerInstance: p.capex_usd ?? 0,
        depreciationYears: p.depreciation_years ?? 1,
        financingRate: p.financing_rate ?? 0,
        idleW,
        tdpW,
        pue: scenario.costs.pue,
        usdPerKwh: scenario.costs.usd_kwh,
        coloUsdPerKwMonth: p.colo_usd_kw_month ?? 0,
      },
    };
  }
  if (c.instanceUsdPerHour === null)
    throw new Error(`no published ${p.model} price for ${c.instance.key}; give pricing.usd_per_hour`);
  const out: HardwarePricing = { model: p.model, instanceUsdPerHour: c.instanceUsdPerHour, chipsPerInstance };
  if (p.model === 'spot') {
    if (p.spot_interruptions_per_hour === undefined)
      warnings.push(
        `${c.name}: spot without pricing.spot_interruptions_per_hour; interruptions counted as 0 per hour (give the rate)`,
      );
    out.spotInterruptionsPerHour = p.spot_interruptions_per_hour ?? 0;
    out.spotRestartS = SPOT_RESTART_S;
    assumptions.push(`each spot interruption loses ${SPOT_RESTART_S} s of the instance (replace + reload)`);
  }
  return out;
}

/** Bytes of the model's weights kept on storage for one replica (its memory plan); null without one. */
export function weightBytesOf(perf: ReplicaPerf): number | null {
  return perf instanceof ReplicaModel ? perf.plan.weightBytesTotal : null;
}

/** A hardware candidate's ledger from its simulation. */
export function ledgerFromSimulation(args: {
  scenario: Scenario;
  candidate: ResolvedCandidate;
  summary: SimulationSummary;
  /** The model's weight bytes per replica (memory plan), kept on storage. */
  storageBytesPerReplica: number;
  input?: InputTokenTally;
}): CandidateLedger {
  const { scenario, candidate: c, summary } = args;
  const warnings: string[] = [];
  const assumptions: string[] = [
    `storage: ${(args.storageBytesPerReplica / 1e9).toFixed(1)} GB of weights per replica (memory plan) at $${STORAGE_USD_PER_GB_MONTH}/GB-month (${STORAGE_PRICE_SOURCE})`,
    'orchestration: the whole costs.orchestration_usd_month is charged to this workload',
  ];
  if (c.spec.quality_acceptance < 1)
    assumptions.push(
      `quality_acceptance ${c.spec.quality_acceptance}: ${((1 - c.spec.quality_acceptance) * 100).toFixed(1)} % of SLO-accepted output (and its prompts, requests) counted as waste`,
    );
  if (args.input === undefined)
    assumptions.push(
      'accepted prompt tokens estimated as the accepted share of requests × all prompt tokens',
    );
  const pricing = hardwarePricingFor(scenario, c, warnings, assumptions);
  const usage = usageFromSummary(summary, c.chipsPerReplica, c.spec.quality_acceptance, args.input);
  const ledger = hardwareLedger(
    usage,
    pricing,
    sharedCostsFor(scenario, c, args.storageBytesPerReplica),
    windowOf(scenario),
  );
  return candidateLedger(c, usage, ledger, assumptions, warnings);
}

/** A candidate's ledger with what identifies it (model, precision, product change, price evidence). */
function candidateLedger(
  c: ResolvedCandidate,
  usage: Usage,
  ledger: Ledger,
  assumptions: string[],
  warnings: string[],
): CandidateLedger {
  return {
    name: c.name,
    model: c.modelKey,
    precision: { weights: c.spec.precision.weights, kv: c.spec.precision.kv },
    productChange: productChangeOf(c),
    price: priceEvidenceOf(c),
    usage,
    ledger,
    assumptions,
    warnings,
  };
}

/** An `api` candidate's ledger: the reference workload billed per token, every request accepted. */
/**
 * Usage of a candidate with no hardware (a per-token API, a managed endpoint): the reference
 * workload's tokens, a share `qualityAcceptance` of them accepted and the rest wasted.
 */
export function referenceUsage(r: ReferenceWorkload, qualityAcceptance: number): Usage {
  const q = qualityAcceptance;
  return {
    spanS: r.spanS,
    replicas: 0,
    chipsPerReplica: 0,
    prefillBusyS: 0,
    decodeBusyS: 0,
    acceptedRequests: r.requests * q,
    acceptedInputTokens: r.promptTokens * q,
    acceptedOutputTokens: r.outputTokens * q,
    wastedInputTokens: r.promptTokens * (1 - q),
    wastedOutputTokens: r.outputTokens * (1 - q),
    sessions: r.sessions > 0 ? r.sessions : null,
  };
}

export function ledgerForApi(args: {
  scenario: Scenario;
  candidate: ResolvedCandidate;
  reference: ReferenceWorkload;
}): CandidateLedger {
  const { scenario, candidate: c, reference: r } = args;
  const p = c.spec.pricing;
  if (p.model !== 'api' || p.usd_per_1m_input === undefined || p.usd_per_1m_output === undefined)
    throw new Error(`${c.name}: not an API candidate with input and output prices`);
  const q = c.spec.quality_acceptance;
  const usage = referenceUsage(r, q);
  const assumptions = [
    'API latency is assumed to meet the SLO (not simulated); every request of the reference workload is accepted',
    `span = last arrival of the reference workload (${r.spanS.toFixed(1)} s)`,
    'orchestration: the whole costs.orchestration_usd_month is charged to this workload',
  ];
  if (q < 1)
    assumptions.push(
      `quality_acceptance ${q}: ${((1 - q) * 100).toFixed(1)} % of billed tokens counted as waste`,
    );
  const warnings: string[] = [];
  if (p.source === undefined) warnings.push(`${c.name}: API prices without pricing.source (unsourced)`);
  const ledger = apiLedger(
    usage,
    { model: 'api', usdPer1mInput: p.usd_per_1m_input, usdPer1mOutput: p.usd_per_1m_output },
    sharedCostsFor(scenario, c, 0),
    windowOf(scenario),
  );
  return candidateLedger(c, usage, ledger, assumptions, warnings);
}
