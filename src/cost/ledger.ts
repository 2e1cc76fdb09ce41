/**
 * The cost ledger (DESIGN.md §1, §9): every cost line of serving a workload over an accounting
 * window, divided by the accepted output tokens. Pure functions; inputs are what the engine
 * measured (busy time, tokens by outcome) and what the catalog and the scenario say (prices).
 *
 *   cost per 1M accepted output tokens =
 *     ( accelerator + host + network + storage & cache + power + orchestration
 *     + software engineering + failed requests & retries + idle capacity ) / accepted output × 1e6
 *
 * The accelerator's provisioned cost is split three ways so nothing is counted twice: the busy
 * share spent on accepted work ("accelerator"), the busy share spent on tokens that were not
 * accepted ("failed requests & retries"), and the provisioned-but-idle share ("idle capacity").
 */

/** What the simulation measured over its span (all replicas together). */
export interface Usage {
  /** Seconds of traffic the usage covers (the simulated span). */
  spanS: number;
  replicas: number;
  chipsPerReplica: number;
  /** Busy seconds summed over replicas, attributed to prefill and decode. */
  prefillBusyS: number;
  decodeBusyS: number;
  acceptedRequests: number;
  acceptedInputTokens: number;
  acceptedOutputTokens: number;
  /** Tokens computed for requests (or attempts) that were not accepted: failed, timed out, SLO miss, retried. */
  wastedInputTokens: number;
  wastedOutputTokens: number;
  /** Sessions the accepted requests belong to (null for open-loop traffic). */
  sessions: number | null;
}

export type PricingModelName = 'on_demand' | 'reserved' | 'spot' | 'capacity_block' | 'owned' | 'api';

export interface HardwarePricing {
  model: Exclude<PricingModelName, 'api'>;
  /** Price of one instance-hour under the model (cloud); for owned hardware see `owned`. */
  instanceUsdPerHour: number;
  chipsPerInstance: number;
  /** Spot: interruptions per instance-hour and the capacity lost to each (restart, reload). */
  spotInterruptionsPerHour?: number;
  spotRestartS?: number;
  owned?: OwnedHardware;
}

export interface OwnedHardware {
  /** Purchase price of one instance (all its chips and host). */
  capexUsdPerInstance: number;
  depreciationYears: number;
  /** Annual financing rate (0 = paid cash). */
  financingRate: number;
  /** Power per chip at idle and at full load (TDP), watts. */
  idleW: number;
  tdpW: number;
  pue: number;
  usdPerKwh: number;
  /** Colocation per kW of provisioned (TDP) power per month. */
  coloUsdPerKwMonth: number;
}

export interface ApiPricing {
  model: 'api';
  usdPer1mInput: number;
  usdPer1mOutput: number;
}

export interface SharedCosts {
  orchestrationUsdPerMonth: number;
  /** Share of the orchestration bill this workload carries (0..1). */
  orchestrationShare: number;
  egressUsdPerGb: number;
  bytesPerOutputToken: number;
  /** Host CPU/memory per instance-hour when the instance price does not include it (owned hardware). */
  hostUsdPerInstanceHour: number;
  /** Weights (and any KV offload tier) kept on storage, $/GB-month, and the bytes kept per replica. */
  storageUsdPerGbMonth: number;
  storageBytesPerReplica: number;
  migration: {
    engineerMonths: number;
    usdPerEngineerMonth: number;
    amortizeMonths: number;
    maintenanceUsdPerMonth: number;
  };
}

export interface Window {
  days: number;
  /** repeat: the trace's pattern repeats to fill the window; as-is: the window is the trace span. */
  mapping: 'repeat' | 'as-is';
}

export const LINE_NAMES = [
  'accelerator',
  'host',
  'network',
  'storage & cache',
  'power',
  'orchestration',
  'software engineering',
  'failed requests & retries',
  'idle capacity',
] as const;
export type LineName = (typeof LINE_NAMES)[number];

export interface CostLine {
  name: LineName;
  usd: number;
  share: number;
  /** How the line was computed, in words with the numbers. */
  basis: string;
}

export interface Ledger {
  windowS: number;
  /** Window seconds per simulated second (1 for as-is). */
  scale: number;
  instances: number;
  provisionedInstanceHours: number;
  busyInstanceHours: number;
  idleInstanceHours: number;
  /** Share of busy time on prefill (the rest is decode). */
  prefillShare: number;
  lines: CostLine[];
  totalUsd: number;
  acceptedOutputTokens: number;
  acceptedInputTokens: number;
  usdPer1mAcceptedOutput: number;
  usdPer1mInput: number;
  usdPerRequest: number;
  usdPerSession: number | null;
  /** The accelerator line (accepted work) split by phase. */
  prefillUsd: number;
  decodeUsd: number;
}

/** Hours in an average month (8,760 h / 12). */
export const HOURS_PER_MONTH = (365 * 24) / 12;

/** Capital recovery factor: the share of capex paid each year to repay it over n years at rate r. */
export function capitalRecoveryFactor(rate: number, years: number): number {
  if (rate === 0) return 1 / years;
  const g = Math.pow(1 + rate, years);
  return (rate * g) / (g - 1);
}

/** Owned hardware's cost per instance-hour excluding power: depreciation with financing, plus colocation. */
export function ownedUsdPerInstanceHour(o: OwnedHardware, chipsPerInstance: number): number {
  const capital =
    (o.capexUsdPerInstance * capitalRecoveryFactor(o.financingRate, o.depreciationYears)) / (365 * 24);
  const colo = (o.coloUsdPerKwMonth * (chipsPerInstance * o.tdpW)) / 1000 / HOURS_PER_MONTH;
  return capital + colo;
}

/** A number for a basis text: thousands separators, at most `d` decimals. */
export function fmt(x: number, d = 2): string {
  return x.toLocaleString('en-US', { maximumFractionDigits: d });
}

/** The accounting window in seconds, and how many times the trace's span fills it. */
export function windowSpan(usage: Usage, w: Window): { windowS: number; scale: number } {
  if (w.mapping === 'as-is') return { windowS: usage.spanS, scale: 1 };
  const windowS = w.days * 86400;
  return { windowS, scale: windowS / usage.spanS };
}

/** The orchestration and software-engineering lines over `months` (every kind of candidate has them). */
export function sharedCostLines(
  shared: SharedCosts,
  months: number,
): { orchestration: Omit<CostLine, 'share'>; engineering: Omit<CostLine, 'share'> } {
  const m = shared.migration;
  const migrationUsd =
    (m.engineerMonths * m.usdPerEngineerMonth * Math.min(months, m.amortizeMonths)) / m.amortizeMonths +
    m.maintenanceUsdPerMonth * months;
  return {
    orchestration: {
      name: 'orchestration',
      usd: shared.orchestrationUsdPerMonth * shared.orchestrationShare * months,
      basis: `$${shared.orchestrationUsdPerMonth}/month × ${shared.orchestrationShare} share × ${fmt(months, 2)} months`,
    },
    engineering: {
      name: 'software engineering',
      usd: migrationUsd,
      basis: `${m.engineerMonths} engineer-months × $${m.usdPerEngineerMonth} amortised over ${m.amortizeMonths} months, + $${m.maintenanceUsdPerMonth}/month maintenance`,
    },
  };
}

/** The ledger of a candidate with hardware. */
export function hardwareLedger(
  usage: Usage,
  pricing: HardwarePricing,
  shared: SharedCosts,
  w: Window,
): Ledger {
  if (usage.spanS <= 0) throw new Error('ledger: usage span must be > 0');
  const { windowS, scale } = windowSpan(usage, w);
  const windowH = windowS / 3600;
  const months = windowH / HOURS_PER_MONTH;
  const chips = usage.replicas * usage.chipsPerReplica;
  const instances = Math.ceil(chips / pricing.chipsPerInstance);
  const provisionedH = instances * windowH;
  // busy instance-hours: replica busy time × the instances' share a replica occupies
  const instPerReplica = usage.chipsPerReplica / pricing.chipsPerInstance;
  const busyS = (usage.prefillBusyS + usage.decodeBusyS) * scale;
  const busyH = Math.min(provisionedH, (busyS / 3600) * instPerReplica);
  const idleH = provisionedH - busyH;
  const prefillShare = busyS > 0 ? (usage.prefillBusyS * scale) / busyS : 0;

  // the accelerator's provisioned cost per instance-hour
  let rate = pricing.instanceUsdPerHour;
  let rateBasis = `$${fmt(rate, 4)}/instance-hour (${pricing.model.replace('_', '-')})`;
  if (pricing.model === 'owned') {
    if (pricing.owned === undefined) throw new Error('ledger: owned pricing needs `owned`');
    rate = ownedUsdPerInstanceHour(pricing.owned, pricing.chipsPerInstance);
    rateBasis = `$${fmt(rate, 4)}/instance-hour (capex over ${pricing.owned.depreciationYears} y at ${fmt(100 * pricing.owned.financingRate)} % + colocation)`;
  }
  const provisionedUsd = provisionedH * rate;

  // waste: the busy share spent on tokens that were not accepted (by token count, prefill and decode weighted by their busy time)
  const acceptedPrefill = usage.acceptedInputTokens;
  const acceptedDecode = usage.acceptedOutputTokens;
  const wastePrefillFrac =
    acceptedPrefill + usage.wastedInputTokens > 0
      ? usage.wastedInputTokens / (acceptedPrefill + usage.wastedInputTokens)
      : 0;
  const wasteDecodeFrac =
    acceptedDecode + usage.wastedOutputTokens > 0
      ? usage.wastedOutputTokens / (acceptedDecode + usage.wastedOutputTokens)
      : 0;
  const busyUsd = busyH * rate;
  const prefillBusyUsd = busyUsd * prefillShare;
  const decodeBusyUsd = busyUsd - prefillBusyUsd;
  const wasteUsdHw = prefillBusyUsd * wastePrefillFrac + decodeBusyUsd * wasteDecodeFrac;
  const prefillUsd = prefillBusyUsd * (1 - wastePrefillFrac);
  const decodeUsd = decodeBusyUsd * (1 - wasteDecodeFrac);
  const idleUsd = idleH * rate;

  // spot interruptions: capacity lost to restarts, charged to failures & retries
  let spotUsd = 0;
  if (pricing.model === 'spot' && (pricing.spotInterruptionsPerHour ?? 0) > 0)
    spotUsd = provisionedUsd * (pricing.spotInterruptionsPerHour ?? 0) * ((pricing.spotRestartS ?? 0) / 3600);

  // power: owned hardware pays for energy; cloud prices include it
  let powerUsd = 0;
  let powerBasis = 'included in the instance price';
  if (pricing.model === 'owned' && pricing.owned !== undefined) {
    const o = pricing.owned;
    const util = provisionedH > 0 ? busyH / provisionedH : 0;
    const kw = (instances * pricing.chipsPerInstance * (o.idleW + util * (o.tdpW - o.idleW))) / 1000;
    powerUsd = kw * o.pue * o.usdPerKwh * windowH;
    powerBasis = `${fmt(kw, 1)} kW average (${instances * pricing.chipsPerInstance} chips × (${o.idleW} W idle + ${fmt(100 * util, 1)} % × (${o.tdpW} − ${o.idleW}) W)) × PUE ${o.pue} × $${o.usdPerKwh}/kWh × ${fmt(windowH, 0)} h`;
  }

  const hostUsd = shared.hostUsdPerInstanceHour * provisionedH;
  const outputTokens = (usage.acceptedOutputTokens + usage.wastedOutputTokens) * scale;
  const egressGb = (outputTokens * shared.bytesPerOutputToken) / 1e9;
  const networkUsd = egressGb * shared.egressUsdPerGb;
  const storageGb = (usage.replicas * shared.storageBytesPerReplica) / 1e9;
  const storageUsd = storageGb * shared.storageUsdPerGbMonth * months;
  const { orchestration, engineering } = sharedCostLines(shared, months);

  const lines: Omit<CostLine, 'share'>[] = [
    {
      name: 'accelerator',
      usd: prefillUsd + decodeUsd,
      basis: `${fmt(busyH, 1)} busy instance-hours on accepted work × ${rateBasis}`,
    },
    {
      name: 'host',
      usd: hostUsd,
      basis:
        shared.hostUsdPerInstanceHour > 0
          ? `$${shared.hostUsdPerInstanceHour}/instance-hour × ${fmt(provisionedH, 1)} h`
          : 'included in the instance price',
    },
    {
      name: 'network',
      usd: networkUsd,
      basis: `${fmt(egressGb, 3)} GB egress (${fmt(outputTokens, 0)} output tokens × ${shared.bytesPerOutputToken} B) × $${shared.egressUsdPerGb}/GB`,
    },
    {
      name: 'storage & cache',
      usd: storageUsd,
      basis: `${fmt(storageGb, 1)} GB × $${shared.storageUsdPerGbMonth}/GB-month × ${fmt(months, 2)} months`,
    },
    { name: 'power', usd: powerUsd, basis: powerBasis },
    orchestration,
    engineering,
    {
      name: 'failed requests & retries',
      usd: wasteUsdHw + spotUsd,
      basis: `busy time on tokens not accepted (${fmt(100 * wastePrefillFrac, 1)} % of prefill, ${fmt(100 * wasteDecodeFrac, 1)} % of decode tokens)${spotUsd > 0 ? ` + spot interruptions ${fmt(spotUsd)}` : ''}`,
    },
    {
      name: 'idle capacity',
      usd: idleUsd,
      basis: `${fmt(idleH, 1)} provisioned-but-idle instance-hours × $${fmt(rate, 4)}`,
    },
  ];
  return finishLedger(lines, usage, {
    windowS,
    scale,
    instances,
    provisionedInstanceHours: provisionedH,
    busyInstanceHours: busyH,
    idleInstanceHours: idleH,
    prefillShare,
    prefillUsd,
    decodeUsd,
  });
}

export interface PerTokenPrice {
  usdPer1mInput: number;
  usdPer1mOutput: number;
  /** Price of cached input; null = cached input billed as input. */
  usdPer1mCachedInput: number | null;
  /** Share of the input tokens served from the prompt cache (0..1). */
  cachedInputShare: number;
  minMonthlyUsd: number;
}

/**
 * A per-token offer: tokens billed at the quoted prices (cached input at its own price), accepted
 * tokens on "accelerator", the rest on "failed requests & retries"; a minimum monthly spend not
 * reached by the bill is charged as "idle capacity" (paid for, not used).
 */
export function perTokenLedger(
  usage: Usage,
  price: PerTokenPrice,
  shared: SharedCosts,
  w: Window,
  /** What the hardware lines are included in, e.g. "the API price". */
  includedIn = 'the per-token price',
): Ledger {
  const { windowS, scale } = windowSpan(usage, w);
  const months = windowS / 3600 / HOURS_PER_MONTH;
  const cachedShare = price.usdPer1mCachedInput === null ? 0 : price.cachedInputShare;
  const inRate = (1 - cachedShare) * price.usdPer1mInput + cachedShare * (price.usdPer1mCachedInput ?? 0);
  const acceptedUsd =
    ((usage.acceptedInputTokens * inRate + usage.acceptedOutputTokens * price.usdPer1mOutput) / 1e6) * scale;
  const wastedUsd =
    ((usage.wastedInputTokens * inRate + usage.wastedOutputTokens * price.usdPer1mOutput) / 1e6) * scale;
  const minimumUsd = price.minMonthlyUsd * months;
  const shortfallUsd = Math.max(0, minimumUsd - (acceptedUsd + wastedUsd));
  const cached =
    price.usdPer1mCachedInput === null
      ? ''
      : ` (${fmt(100 * cachedShare, 1)} % of input cached at $${price.usdPer1mCachedInput}/1M)`;
  const tokensBasis = (input: number, output: number, what: string): string =>
    `${fmt(input * scale, 0)} input × $${price.usdPer1mInput}/1M${cached} + ${fmt(output * scale, 0)} output × $${price.usdPer1mOutput}/1M, ${what}`;
  const { orchestration, engineering } = sharedCostLines(shared, months);
  const lines: Omit<CostLine, 'share'>[] = [
    {
      name: 'accelerator',
      usd: acceptedUsd,
      basis: tokensBasis(
        usage.acceptedInputTokens,
        usage.acceptedOutputTokens,
        'tokens of accepted requests',
      ),
    },
    { name: 'host', usd: 0, basis: `in ${includedIn}` },
    { name: 'network', usd: 0, basis: `in ${includedIn}` },
    { name: 'storage & cache', usd: 0, basis: `in ${includedIn}` },
    { name: 'power', usd: 0, basis: `in ${includedIn}` },
    orchestration,
    engineering,
    {
      name: 'failed requests & retries',
      usd: wastedUsd,
      basis: tokensBasis(
        usage.wastedInputTokens,
        usage.wastedOutputTokens,
        'billed for requests not accepted',
      ),
    },
    {
      name: 'idle capacity',
      usd: shortfallUsd,
      basis:
        price.minMonthlyUsd > 0
          ? `minimum spend $${fmt(price.minMonthlyUsd)}/month × ${fmt(months, 2)} months = $${fmt(minimumUsd)}; the bill is $${fmt(acceptedUsd + wastedUsd)}, shortfall $${fmt(shortfallUsd)}`
          : 'none: billed per token, no minimum spend',
    },
  ];
  return finishLedger(lines, usage, {
    windowS,
    scale,
    instances: 0,
    provisionedInstanceHours: 0,
    busyInstanceHours: 0,
    idleInstanceHours: 0,
    prefillShare: 0,
    prefillUsd: 0,
    decodeUsd: 0,
  });
}

/** A per-token API as a candidate: no hardware, prices per 1M input and output tokens. */
export function apiLedger(usage: Usage, pricing: ApiPricing, shared: SharedCosts, w: Window): Ledger {
  const price: PerTokenPrice = {
    usdPer1mInput: pricing.usdPer1mInput,
    usdPer1mOutput: pricing.usdPer1mOutput,
    usdPer1mCachedInput: null,
    cachedInputShare: 0,
    minMonthlyUsd: 0,
  };
  return perTokenLedger(usage, price, shared, w, 'the API price');
}

/** The ledger fields besides its lines and the figures computed from them. */
export type LedgerRest = Pick<
  Ledger,
  | 'windowS'
  | 'scale'
  | 'instances'
  | 'provisionedInstanceHours'
  | 'busyInstanceHours'
  | 'idleInstanceHours'
  | 'prefillShare'
  | 'prefillUsd'
  | 'decodeUsd'
>;

/** Total, shares and per-unit figures (per 1M accepted output / input tokens, per request, per session) from the lines. */
export function finishLedger(raw: Omit<CostLine, 'share'>[], usage: Usage, rest: LedgerRest): Ledger {
  const totalUsd = raw.reduce((s, l) => s + l.usd, 0);
  const lines = raw.map((l) => ({ ...l, share: totalUsd > 0 ? l.usd / totalUsd : 0 }));
  const acceptedOutputTokens = usage.acceptedOutputTokens * rest.scale;
  const acceptedInputTokens = usage.acceptedInputTokens * rest.scale;
  const requests = usage.acceptedRequests * rest.scale;
  return {
    ...rest,
    lines,
    totalUsd,
    acceptedOutputTokens,
    acceptedInputTokens,
    usdPer1mAcceptedOutput: acceptedOutputTokens > 0 ? (totalUsd / acceptedOutputTokens) * 1e6 : Infinity,
    usdPer1mInput: acceptedInputTokens > 0 ? (totalUsd / acceptedInputTokens) * 1e6 : Infinity,
    usdPerRequest: requests > 0 ? totalUsd / requests : Infinity,
    usdPerSession:
      usage.sessions === null || usage.sessions === 0 ? null : totalUsd / (usage.sessions * rest.scale),
  };
}
