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
  fmt,
  HOURS_PER_MONTH,
  perTokenLedger,
  sharedCostLines,
  windowSpan,
  type PerTokenPrice,
  type CostLine,
  type LineName,
  type Ledger,
  type SharedCosts,
  type Usage,
  type Window,
} from './ledger.js';
import type { TermBeyondWindow } from './quote-schema.js';

export { HOURS_PER_MONTH, type PerTokenPrice } from './ledger.js';

/** A per-token offer (see `perTokenLedger`): hardware lines "in the per-token price". */
export function perTokenQuoteLedger(
  usage: Usage,
  price: PerTokenPrice,
  shared: SharedCosts,
  w: Window,
): Ledger {
  return perTokenLedger(usage, price, shared, w);
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

/**
 * The part of a term left outside the window below which "committed beyond the window" is not
 * flagged (a share of the term): a 30-day window against a 1-month term (730 h) leaves 10 h, 1.4 %.
 * The commitment's basis says so instead; the money is charged as the mode says either way.
 */
export const BEYOND_WINDOW_FLAG_SHARE = 0.02;

function monthsText(n: number): string {
  return `${fmt(n)} month${n === 1 ? '' : 's'}`;
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
  // whole terms the window touches (a hair of tolerance so 730 h / 730 h is one term, not two)
  const terms = Math.max(1, Math.ceil(windowH / termH - 1e-9));
  const wholeUsd = c.units * eff * terms * termH;
  const remainder = Math.max(0, wholeUsd - proRataUsd);
  // hours of the touched terms that lie outside the window, as a share of one term
  const beyondH = Math.max(0, terms * termH - windowH);
  const beyondShare = beyondH / termH;
  const upfront = c.upfrontUsd > 0 ? ` + $${fmt(c.upfrontUsd)} upfront over ${fmt(termH, 0)} h` : '';
  const term = `${monthsText(c.termMonths)} × 730 h (a month: 8,760 h / 12) = ${fmt(termH, 0)} h`;
  let basis =
    `take-or-pay: ${c.units} unit(s) × ($${fmt(c.usdPerUnitHour, 4)}/unit-hour${upfront}) = $${fmt(eff, 4)}/unit-hour; ` +
    `term ${term}, window ${fmt(windowH, 1)} h: ` +
    (c.mode === 'amortize'
      ? `the window pays its pro-rata share (${fmt(windowH / termH, 4)} of a term)`
      : `the window pays ${terms} whole term(s)`);
  let flag: string | null = null;
  if (remainder > 1e-9 * wholeUsd) {
    const where =
      c.mode === 'amortize'
        ? 'committed beyond the window, not charged here'
        : 'charged here as idle capacity';
    if (beyondShare < BEYOND_WINDOW_FLAG_SHARE)
      basis += `; the last ${fmt(beyondH, 1)} h of the term(s) lie beyond the window (${fmt(100 * beyondShare, 1)} % of a term; flagged from ${100 * BEYOND_WINDOW_FLAG_SHARE} %): $${fmt(remainder)}, ${where}`;
    else
      flag =
        c.mode === 'amortize'
          ? `commitment beyond the window: ${terms} term(s), each ${term}, cost $${fmt(wholeUsd)}; the ${fmt(windowH, 1)} h window carries $${fmt(proRataUsd)} (pro rata), the other $${fmt(remainder)} (${fmt(beyondH, 1)} h) is committed beyond it (offer.term_beyond_window: charge_to_window charges it here)`
          : `commitment beyond the window: ${terms} whole term(s), each ${term}, cost $${fmt(wholeUsd)}, all charged to a ${fmt(windowH, 1)} h window; $${fmt(remainder)} of it (${fmt(beyondH, 1)} h) is idle capacity`;
  }
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
 * The trace's mean weighted token rate: every token billed (accepted and not) × its weight, over
 * the span (last arrival), the same convention as the peak (quote.ts `peakWeightedRate`).
 */
export function meanWeightedRate(
  usage: Usage,
  s: Pick<ManagedSizing, 'inputWeight' | 'outputWeight'>,
): number {
  const all = weightedTokens(
    usage.acceptedInputTokens + usage.wastedInputTokens,
    usage.acceptedOutputTokens + usage.wastedOutputTokens,
    s,
  );
  return all / usage.spanS;
}

/** Throughput units and the bound that set them. */
export interface UnitsNeeded {
  units: number;
  /** ⌈peak / unit rate⌉ */
  forPeak: number;
  /** ⌈mean / unit rate⌉: the units must carry the trace's mean rate, whatever the peak estimate. */
  forMean: number;
}

/**
 * Throughput units: ⌈peak weighted rate / per-unit rate⌉ and ⌈mean weighted rate / per-unit
 * rate⌉, at least the minimum (and at least 1). The mean bound matters when the peak estimate falls
 * below the mean (a window that misses part of the trace); with it the units' capacity always
 * covers the mean, so utilization ≤ 100 %. (A hair of tolerance: 6 / 2 is 3 units, not 4.)
 */
export function unitsNeeded(
  peakTokensPerS: number,
  meanTokensPerS: number,
  unitTokensPerS: number,
  minUnits: number,
): UnitsNeeded {
  const ceil = (x: number): number => Math.max(0, Math.ceil(x / unitTokensPerS - 1e-9));
  const forPeak = ceil(peakTokensPerS);
  const forMean = ceil(meanTokensPerS);
  return { units: Math.max(minUnits, 1, forPeak, forMean), forPeak, forMean };
}

/**
 * A managed endpoint with throughput units: the units are provisioned for the whole window (their
 * commitment charged as stated above); utilization = the trace's mean weighted token rate over the
 * units' capacity, which must be at most 100 % (units from `unitsNeeded`; more throws). The busy share of the bill is split between accepted tokens ("accelerator") and
 * tokens not accepted ("failed requests & retries") by weighted tokens; the rest is "idle capacity".
 */
export function managedEndpointLedger(
  usage: Usage,
  s: ManagedSizing,
  shared: SharedCosts,
  w: Window,
): { ledger: Ledger; utilization: number; charge: CommitmentCharge } {
  const { windowS, scale } = windowSpan(usage, w);
  const windowH = windowS / 3600;
  const months = windowH / HOURS_PER_MONTH;
  const accIn = weightedTokens(usage.acceptedInputTokens, 0, s);
  const accOut = weightedTokens(0, usage.acceptedOutputTokens, s);
  const all = weightedTokens(
    usage.acceptedInputTokens + usage.wastedInputTokens,
    usage.acceptedOutputTokens + usage.wastedOutputTokens,
    s,
  );
  const meanRate = meanWeightedRate(usage, s);
  const capacity = s.units * s.unitTokensPerS;
  const utilization = meanRate / capacity;
  // units are sized to carry at least the mean (unitsNeeded); more than 100 % busy is a sizing bug,
  // not something to clamp away (the tolerance is unitsNeeded's rounding hair)
  if (!(utilization <= 1 + 1e-9))
    throw new Error(
      `managed endpoint: ${s.units} unit(s) × ${fmt(s.unitTokensPerS, 1)} weighted tokens/s cannot carry the mean ${fmt(meanRate, 1)} weighted tokens/s (utilization ${fmt(100 * utilization, 1)} %); size the units with unitsNeeded`,
    );
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
  const { orchestration, engineering } = sharedCostLines(shared, months);
  const lines: Omit<CostLine, 'share'>[] = [
    {
      name: 'accelerator',
      usd: acceleratorUsd,
      basis: `${fmt(100 * utilization, 1)} % of ${s.units} units busy (mean ${fmt(meanRate, 1)} of ${fmt(capacity, 1)} weighted tokens/s) × $${fmt(charge.proRataUsd)} (the units for the window; ${s.termMonths === null ? 'billed by the hour' : 'take-or-pay, see the commitment'}) × ${fmt(100 * acceptedShare, 1)} % of weighted tokens accepted`,
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
