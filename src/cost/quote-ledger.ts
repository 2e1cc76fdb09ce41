/**
 * The ledger of a vendor quote (DESIGN.md §1, §9): pure functions, the same nine lines as every
 * candidate, adding up to the total.
 *
 * Commitments (committed capacity, managed endpoints with a term) are take-or-pay. How the part of
 * a term that lies outside the accounting window is charged is a stated choice, `term_beyond_window`:
 * - `amortize` (default): the window pays its pro-rata share of the commitment, windowH × units ×
 *   (rate + upfront / (units × termH)); when the term is longer than the window (or the window is
 *   not a whole number of terms) the rest of the commitment is reported, and flagged, as committed
 *   beyond the window. With term ≤ window and whole terms, this is exactly what the terms cost.
 * - `charge_to_window`: the window pays every whole term it touches, ⌈windowH / termH⌉ terms, the
 *   excess over the pro-rata share charged to "idle capacity" (paid for, not used in the window).
 * A month is 730 hours (365 × 24 / 12), as in the ledger.
 */
import {
  finishLedger,
  type CostLine,
  type LineName,
  type Ledger,
  type SharedCosts,
  type Usage,
  type Window,
} from './ledger.js';
import type { TermBeyondWindow } from './quote-schema.js';

export const HOURS_PER_MONTH = (365 * 24) / 12;

function fmt(x: number, d = 2): string {
  return x.toLocaleString('en-US', { maximumFractionDigits: d });
}

export interface Commitment {
  /** Price of one unit (instance, throughput unit) per hour. */
  usdPerUnitHour: number;
  units: number;
  /** Minimum term; null = no commitment (billed by the hour for the window). */
  termMonths: number | null;
  /** Paid once for the whole term, all units together. */
  upfrontUsd: number;
  mode: TermBeyondWindow;
}

export interface CommitmentCharge {
  /** Hourly rate with the upfront spread over the term's hours. */
  effectiveUsdPerUnitHour: number;
  /** The window's pro-rata share: units × effective rate × window hours. */
  proRataUsd: number;
  /** Charged to the window on top of the pro-rata share (charge_to_window only). */
  extraUsd: number;
  /** Committed but not charged to the window (amortize only). */
  beyondWindowUsd: number;
  /** Whole terms the window touches (null without a term). */
  terms: number | null;
  /** How the commitment was charged, always shown. */
  basis: string;
  /** A warning when part of the commitment lies outside the window. */
  flag: string | null;
}

/** How a take-or-pay commitment is charged to a window of `windowH` hours (see the file comment). */
export function commitmentCharge(c: Commitment, windowH: number): CommitmentCharge {
  if (c.termMonths === null) {
    const proRataUsd = c.units * c.usdPerUnitHour * windowH;
    return {
      effectiveUsdPerUnitHour: c.usdPerUnitHour,
      proRataUsd,
      extraUsd: 0,
      beyondWindowUsd: 0,
      terms: null,
      basis: `${c.units} unit(s) × $${fmt(c.usdPerUnitHour, 4)}/unit-hour × ${fmt(windowH, 1)} h (no term)`,
      flag: null,
    };
  }
  const termH = c.termMonths * HOURS_PER_MONTH;
  const eff = c.usdPerUnitHour + c.upfrontUsd / (c.units * termH);
  const proRataUsd = c.units * eff * windowH;
  // whole terms the window touches (a hair of tolerance so 720 h / 720 h is one term, not two)
  const terms = Math.max(1, Math.ceil(windowH / termH - 1e-9));
  const wholeUsd = c.units * eff * terms * termH;
  const remainder = Math.max(0, wholeUsd - proRataUsd);
  const upfront = c.upfrontUsd > 0 ? ` + $${fmt(c.upfrontUsd)} upfront over ${fmt(termH, 0)} h` : '';
  const basis =
    `take-or-pay: ${c.units} unit(s) × ($${fmt(c.usdPerUnitHour, 4)}/unit-hour${upfront}) = $${fmt(eff, 4)}/unit-hour; ` +
    `term ${fmt(c.termMonths)} months (${fmt(termH, 0)} h), window ${fmt(windowH, 1)} h: ` +
    (c.mode === 'amortize'
      ? `the window pays its pro-rata share (${fmt(windowH / termH, 4)} of a term)`
      : `the window pays ${terms} whole term(s)`);
  let flag: string | null = null;
  if (remainder > 1e-9 * wholeUsd)
    flag =
      c.mode === 'amortize'
        ? `commitment beyond the window: ${terms} term(s) of ${fmt(c.termMonths)} months cost $${fmt(wholeUsd)}; the ${fmt(windowH, 1)} h window carries $${fmt(proRataUsd)} (pro rata), the other $${fmt(remainder)} is committed beyond it (offer.term_beyond_window: charge_to_window charges it here)`
        : `commitment beyond the window: ${terms} whole term(s) of ${fmt(c.termMonths)} months ($${fmt(wholeUsd)}) charged to a ${fmt(windowH, 1)} h window; $${fmt(remainder)} of it is idle capacity`;
  return {
    effectiveUsdPerUnitHour: eff,
    proRataUsd,
    extraUsd: c.mode === 'charge_to_window' ? remainder : 0,
    beyondWindowUsd: c.mode === 'amortize' ? remainder : 0,
    terms,
    basis,
    flag,
  };
}

/** The ledger with `usd` added to one line (its basis extended), totals and shares recomputed. */
export function addToLine(
  l: Ledger,
  usage: Usage,
  name: LineName,
  usd: number,
  basisNote: string,
  hours: { provisioned: number; idle: number } = { provisioned: 0, idle: 0 },
): Ledger {
  const lines = l.lines.map(({ share: _share, ...x }) =>
    x.name === name ? { ...x, usd: x.usd + usd, basis: `${x.basis}; ${basisNote}` } : x,
  );
  return finishLedger(lines, usage, {
    windowS: l.windowS,
    scale: l.scale,
    instances: l.instances,
    provisionedInstanceHours: l.provisionedInstanceHours + hours.provisioned,
    busyInstanceHours: l.busyInstanceHours,
    idleInstanceHours: l.idleInstanceHours + hours.idle,
    prefillShare: l.prefillShare,
    prefillUsd: l.prefillUsd,
    decodeUsd: l.decodeUsd,
  });
}

function windowOf(usage: Usage, w: Window): { windowS: number; scale: number } {
  if (w.mapping === 'as-is') return { windowS: usage.spanS, scale: 1 };
  const windowS = w.days * 86400;
  return { windowS, scale: windowS / usage.spanS };
}

function sharedLines(
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
      basis: `$${shared.orchestrationUsdPerMonth}/month × ${shared.orchestrationShare} × ${fmt(months, 2)} months`,
    },
    engineering: {
      name: 'software engineering',
      usd: migrationUsd,
      basis: `${m.engineerMonths} engineer-months amortised over ${m.amortizeMonths} months + maintenance`,
    },
  };
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
export function perTokenQuoteLedger(
  usage: Usage,
  price: PerTokenPrice,
  shared: SharedCosts,
  w: Window,
): Ledger {
  const { windowS, scale } = windowOf(usage, w);
  const months = windowS / 3600 / HOURS_PER_MONTH;
  const cachedShare = price.usdPer1mCachedInput === null ? 0 : price.cachedInputShare;
  const inRate = (1 - cachedShare) * price.usdPer1mInput + cachedShare * (price.usdPer1mCachedInput ?? 0);
  const acceptedUsd =
    ((usage.acceptedInputTokens * inRate + usage.acceptedOutputTokens * price.usdPer1mOutput) / 1e6) * scale;
  const wastedUsd =
    ((usage.wastedInputTokens * inRate + usage.wastedOutputTokens * price.usdPer1mOutput) / 1e6) * scale;
  const minimumUsd = price.minMonthlyUsd * months;
  const shortfallUsd = Math.max(0, minimumUsd - (acceptedUsd + wastedUsd));
  const inputTokens = (usage.acceptedInputTokens + usage.wastedInputTokens) * scale;
  const outputTokens = (usage.acceptedOutputTokens + usage.wastedOutputTokens) * scale;
  const cached =
    price.usdPer1mCachedInput === null
      ? ''
      : ` (${fmt(100 * cachedShare, 1)} % of input cached at $${price.usdPer1mCachedInput}/1M)`;
  const { orchestration, engineering } = sharedLines(shared, months);
  const lines: Omit<CostLine, 'share'>[] = [
    {
      name: 'accelerator',
      usd: acceptedUsd,
      basis: `${fmt(inputTokens, 0)} input × $${price.usdPer1mInput}/1M${cached} + ${fmt(outputTokens, 0)} output × $${price.usdPer1mOutput}/1M (accepted part)`,
    },
    { name: 'host', usd: 0, basis: 'in the per-token price' },
    { name: 'network', usd: 0, basis: 'in the per-token price' },
    { name: 'storage & cache', usd: 0, basis: 'in the per-token price' },
    { name: 'power', usd: 0, basis: 'in the per-token price' },
    orchestration,
    engineering,
    {
      name: 'failed requests & retries',
      usd: wastedUsd,
      basis: 'tokens billed for requests that were not accepted',
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

export interface ManagedSizing {
  units: number;
  /** Weighted tokens per second one unit serves. */
  unitTokensPerS: number;
  inputWeight: number;
  outputWeight: number;
  usdPerUnitHour: number;
  termMonths: number | null;
  upfrontUsd: number;
  mode: TermBeyondWindow;
}

/** Weighted tokens: input × input weight + output × output weight. */
export function weightedTokens(
  input: number,
  output: number,
  s: Pick<ManagedSizing, 'inputWeight' | 'outputWeight'>,
): number {
  return input * s.inputWeight + output * s.outputWeight;
}

/**
 * Throughput units needed for a peak weighted token rate: ⌈peak / per-unit rate⌉, at least the
 * minimum (and at least 1).
 */
export function unitsForPeak(peakTokensPerS: number, unitTokensPerS: number, minUnits: number): number {
  return Math.max(minUnits, 1, Math.ceil(peakTokensPerS / unitTokensPerS - 1e-9));
}

/**
 * A managed endpoint with throughput units: the units are provisioned for the whole window (their
 * commitment charged as stated above); utilization = the trace's mean weighted token rate over the
 * units' capacity. The busy share of the bill is split between accepted tokens ("accelerator") and
 * tokens not accepted ("failed requests & retries") by weighted tokens; the rest is "idle capacity".
 */
export function managedEndpointLedger(
  usage: Usage,
  s: ManagedSizing,
  shared: SharedCosts,
  w: Window,
): { ledger: Ledger; utilization: number; charge: CommitmentCharge } {
  const { windowS, scale } = windowOf(usage, w);
  const windowH = windowS / 3600;
  const months = windowH / HOURS_PER_MONTH;
  const accIn = weightedTokens(usage.acceptedInputTokens, 0, s);
  const accOut = weightedTokens(0, usage.acceptedOutputTokens, s);
  const all = weightedTokens(
    usage.acceptedInputTokens + usage.wastedInputTokens,
    usage.acceptedOutputTokens + usage.wastedOutputTokens,
    s,
  );
  const meanRate = all / usage.spanS;
  const capacity = s.units * s.unitTokensPerS;
  const utilization = capacity > 0 ? Math.min(1, meanRate / capacity) : 0;
  const charge = commitmentCharge(
    {
      usdPerUnitHour: s.usdPerUnitHour,
      units: s.units,
      termMonths: s.termMonths,
      upfrontUsd: s.upfrontUsd,
      mode: s.mode,
    },
    windowH,
  );
  const busyUsd = utilization * charge.proRataUsd;
  const acceptedShare = all > 0 ? (accIn + accOut) / all : 0;
  const acceleratorUsd = busyUsd * acceptedShare;
  const prefillUsd = accIn + accOut > 0 ? (acceleratorUsd * accIn) / (accIn + accOut) : 0;
  const idleUsd = charge.proRataUsd - busyUsd + charge.extraUsd;
  const provisioned = s.units * windowH;
  const { orchestration, engineering } = sharedLines(shared, months);
  const lines: Omit<CostLine, 'share'>[] = [
    {
      name: 'accelerator',
      usd: acceleratorUsd,
      basis: `${fmt(100 * utilization, 1)} % of ${s.units} units busy (mean ${fmt(meanRate, 1)} of ${fmt(capacity, 1)} weighted tokens/s) × $${fmt(charge.proRataUsd)} (${charge.basis}), accepted part`,
    },
    { name: 'host', usd: 0, basis: 'in the endpoint price' },
    { name: 'network', usd: 0, basis: 'in the endpoint price' },
    { name: 'storage & cache', usd: 0, basis: 'in the endpoint price' },
    { name: 'power', usd: 0, basis: 'in the endpoint price' },
    orchestration,
    engineering,
    {
      name: 'failed requests & retries',
      usd: busyUsd - acceleratorUsd,
      basis: 'busy share spent on tokens not accepted (by weighted tokens)',
    },
    {
      name: 'idle capacity',
      usd: idleUsd,
      basis: `${fmt(provisioned * (1 - utilization), 1)} idle unit-hours of ${fmt(provisioned, 1)} provisioned${charge.extraUsd > 0 ? ` + $${fmt(charge.extraUsd)} of whole terms beyond the window` : ''}`,
    },
  ];
  const ledger = finishLedger(lines, usage, {
    windowS,
    scale,
    instances: s.units,
    provisionedInstanceHours: provisioned,
    busyInstanceHours: provisioned * utilization,
    idleInstanceHours: provisioned * (1 - utilization),
    prefillShare:
      all > 0 ? weightedTokens(usage.acceptedInputTokens + usage.wastedInputTokens, 0, s) / all : 0,
    prefillUsd,
    decodeUsd: acceleratorUsd - prefillUsd,
  });
  return { ledger, utilization, charge };
}
