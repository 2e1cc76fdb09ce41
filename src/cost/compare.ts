/**
 * `compare`: every candidate of a scenario on the same trace, SLO and window, charged to the ledger
 * and ranked by cost per 1M accepted output tokens (DESIGN.md §10). A candidate that cannot run
 * (does not fit, no price, replicas "auto") stays in the result as infeasible, with the reason.
 */
import { dirname, resolve } from 'node:path';
import { simulate } from '../engine/index.js';
import {
  engineConfigFor,
  openScenarioWorkload,
  replicaCountFor,
  replicaPerfFor,
  sloFor,
} from '../engine/from-scenario.js';
import type { LatencyStats, RequestRecord } from '../metrics/types.js';
import { loadProfiles } from '../perf/profiles.js';
import { loadScenario, type ResolvedCandidate, type ResolvedScenario } from '../scenario/index.js';
import { InputError } from '../util/errors.js';
import {
  ledgerForApi,
  ledgerFromSimulation,
  priceEvidenceOf,
  productChangeOf,
  weightBytesOf,
  type CandidateLedger,
  type InputTokenTally,
  type PriceEvidence,
  type ReferenceWorkload,
} from './from-simulation.js';
import type { Ledger, Usage } from './ledger.js';

export interface CompareOptions {
  catalogDirs?: string[];
  /** Replicas for every hardware candidate (overrides the scenario). */
  replicas?: number;
  /** Called before each candidate runs. */
  onCandidate?: (name: string, index: number, total: number) => void;
}

export interface CandidateLatency {
  ttftP50S: number;
  ttftP95S: number;
  ttftP99S: number;
  tpotP50S: number;
  tpotP95S: number;
  tpotP99S: number;
  e2eP95S: number;
}

export interface CandidateSlo {
  attainment: number;
  target: number;
  met: boolean;
  /** True when the SLO is assumed, not simulated (API candidates). */
  assumed: boolean;
}

/** One catalog entry's numbers used by a candidate, with where they come from. */
export interface CatalogFact {
  /** What the number is, e.g. "HBM capacity". */
  name: string;
  value: string;
  /** Evidence level (measured, vendor-reported, estimated, scenario …). */
  evidence: string;
  source: string;
}

/** What the HTML report needs beyond the table: distributions, series, the catalog numbers used. */
export interface CandidateDetail {
  /** TTFT / TPOT percentiles from the simulation (null for API and infeasible candidates). */
  ttft: LatencyStats | null;
  tpot: LatencyStats | null;
  /** Mean busy fraction over the replicas, per simulated minute (null when not simulated). */
  busyPerMinute: number[] | null;
  /** Catalog and model numbers the candidate rests on. */
  facts: CatalogFact[];
  /** The performance model's profile: kernel and overhead source, and its description. */
  profile: { kernelSource: string; overheadSource: string; description: string } | null;
}

export interface CompareCandidate {
  name: string;
  status: 'ok' | 'infeasible';
  /** Why an infeasible candidate could not run (null when it ran). */
  reason: string | null;
  kind: 'hardware' | 'api';
  model: string;
  precision: { weights: string; kv: string };
  /** Replica description from the performance model (null for API and infeasible candidates). */
  label: string | null;
  replicas: number | null;
  price: PriceEvidence;
  ledger: Ledger | null;
  usage: Usage | null;
  latency: CandidateLatency | null;
  slo: CandidateSlo | null;
  /** Busy instance-hours over provisioned instance-hours (whole instances; null for APIs). */
  utilization: number | null;
  productChange: string[];
  assumptions: string[];
  warnings: string[];
  /** Report detail (for `--out report.html`); absent in hand-built results. */
  detail?: CandidateDetail;
}

export interface RankEntry {
  rank: number;
  name: string;
  usdPer1mAcceptedOutput: number;
  sloMet: boolean;
}

export interface CompareResult {
  scenario: string;
  window: { days: number; mapping: 'repeat' | 'as-is' };
  workload: string;
  seed: number;
  candidates: CompareCandidate[];
  /** Feasible candidates: those meeting the SLO first, each group by cost per 1M accepted output. */
  ranking: RankEntry[];
  warnings: string[];
}

/** Prompt tokens by outcome, collected per request while the simulation runs. */
export function inputTally(): { onRequest: (r: RequestRecord) => void; tally: InputTokenTally } {
  const tally: InputTokenTally = { accepted: 0, wasted: 0 };
  return {
    tally,
    onRequest: (r) => {
      if (r.outcome === 'accepted') tally.accepted += r.promptTokens;
      // rejected requests were never prefilled; every other outcome was computed and not accepted
      else if (r.outcome !== 'rejected') tally.wasted += r.promptTokens;
    },
  };
}

/** The reference workload's volume, streamed once (for API candidates). */
async function referenceWorkload(scenario: ResolvedScenario, dir: string): Promise<ReferenceWorkload> {
  const w = await openScenarioWorkload(scenario, dir);
  const sessions = new Set<string>();
  const ref: ReferenceWorkload = { spanS: 0, requests: 0, promptTokens: 0, outputTokens: 0, sessions: 0 };
  for await (const batch of w.requests)
    for (const r of batch) {
      ref.requests++;
      ref.promptTokens += r.promptTokens;
      ref.outputTokens += r.outputTokens;
      ref.spanS = Math.max(ref.spanS, r.arrivalS);
      if (r.sessionId !== undefined) sessions.add(r.sessionId);
    }
  ref.sessions = sessions.size;
  if (ref.spanS <= 0) ref.spanS = 1;
  return ref;
}

function base(c: ResolvedCandidate): Omit<CompareCandidate, 'status' | 'reason'> {
  return {
    name: c.name,
    kind: c.spec.pricing.model === 'api' ? 'api' : 'hardware',
    model: c.modelKey,
    precision: { weights: c.spec.precision.weights, kv: c.spec.precision.kv },
    label: null,
    replicas: null,
    price: priceEvidenceOf(c),
    ledger: null,
    usage: null,
    latency: null,
    slo: null,
    utilization: null,
    productChange: productChangeOf(c),
    assumptions: [],
    warnings: [],
    detail: { ttft: null, tpot: null, busyPerMinute: null, facts: catalogFacts(c), profile: null },
  };
}

const ev = (info: { default: string; fields: Record<string, string> }, field: string): string =>
  info.fields[field] ?? info.default;

/** The catalog numbers a candidate uses: accelerator, model, stack, instance host. */
export function catalogFacts(c: ResolvedCandidate): CatalogFact[] {
  const out: CatalogFact[] = [];
  const src = (s: string[]): string => (s.length > 0 ? s.join('; ') : 'unsourced');
  const a = c.accelerator;
  if (a !== null) {
    const add = (name: string, field: string, v: number | null, unit: string): void => {
      if (v !== null)
        out.push({
          name: `${a.name}: ${name}`,
          value: `${v} ${unit}`,
          evidence: ev(a.evidence, field),
          source: src(a.sources),
        });
    };
    add('peak BF16 dense', 'bf16DenseTflops', a.bf16DenseTflops, 'TFLOPS');
    add('peak FP8 dense', 'fp8DenseTflops', a.fp8DenseTflops, 'TFLOPS');
    add('peak FP4 dense', 'fp4DenseTflops', a.fp4DenseTflops, 'TFLOPS');
    add('HBM capacity', 'hbmGB', a.hbmGB, 'GB');
    add('HBM bandwidth', 'hbmTBps', a.hbmTBps, 'TB/s');
    add('TDP', 'tdpW', a.tdpW, 'W');
    add('idle power', 'idleW', a.idleW, 'W');
  }
  const m = c.model;
  out.push({
    name: `model ${m.key}`,
    value: `${m.name}: ${m.layers} layers, hidden ${m.hiddenSize}, ${m.publishedParams.total.stated} params`,
    evidence: m.evidence.default,
    source: src(m.sources),
  });
  const st = c.stack;
  if (st !== null)
    out.push({
      name: `stack ${st.key} (${c.stackChosenBy === 'default' ? 'default for the accelerator' : 'named in the scenario'})`,
      value: `${st.name}; compute eff. ${st.efficiency.computeEfficiency ?? '–'}, memory eff. ${st.efficiency.memoryBandwidthEfficiency ?? '–'}`,
      evidence: st.evidence.default,
      source: src(st.sources),
    });
  return out;
}

function infeasible(c: ResolvedCandidate, reason: string): CompareCandidate {
  return { ...base(c), status: 'infeasible', reason };
}

function withLedger(b: Omit<CompareCandidate, 'status' | 'reason'>, l: CandidateLedger): CompareCandidate {
  const led = l.ledger;
  return {
    ...b,
    status: 'ok',
    reason: null,
    ledger: led,
    usage: l.usage,
    utilization:
      led.provisionedInstanceHours > 0 ? led.busyInstanceHours / led.provisionedInstanceHours : null,
    productChange: l.productChange,
    assumptions: l.assumptions,
    warnings: l.warnings,
  };
}

/** Element-wise mean of per-replica series (shorter series count as 0 past their end). */
export function meanSeries(series: readonly number[][]): number[] {
  if (series.length === 0) return [];
  const n = Math.max(...series.map((x) => x.length));
  const out = new Array<number>(n).fill(0);
  for (const x of series) for (let i = 0; i < x.length; i++) out[i]! += x[i]! / series.length;
  return out;
}

/** Rank the feasible candidates: SLO met first, then by cost per 1M accepted output, then by name. */
export function rankCandidates(cands: readonly CompareCandidate[]): RankEntry[] {
  const ok = cands.filter((c) => c.status === 'ok' && c.ledger !== null);
  const cost = (c: CompareCandidate): number => c.ledger?.usdPer1mAcceptedOutput ?? Infinity;
  const met = (c: CompareCandidate): boolean => c.slo?.met ?? false;
  ok.sort(
    (a, b) =>
      Number(met(b)) - Number(met(a)) ||
      (cost(a) === cost(b) ? 0 : cost(a) < cost(b) ? -1 : 1) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return ok.map((c, i) => ({ rank: i + 1, name: c.name, usdPer1mAcceptedOutput: cost(c), sloMet: met(c) }));
}

/** Run every candidate of the scenario file (sequentially) and charge each to the ledger. */
export async function compareScenario(file: string, opts: CompareOptions = {}): Promise<CompareResult> {
  const scenario = await loadScenario(
    file,
    opts.catalogDirs !== undefined ? { catalogDirs: opts.catalogDirs } : {},
  );
  const spec = scenario.scenario;
  const dir = dirname(resolve(file));
  const profiles = await loadProfiles();
  const slo = sloFor(scenario);
  const seed = spec.workload.seed;
  let reference: ReferenceWorkload | null = null;
  let workloadDescribe = '';
  const candidates: CompareCandidate[] = [];
  for (const [i, c] of scenario.candidates.entries()) {
    opts.onCandidate?.(c.name, i, scenario.candidates.length);
    const b = base(c);
    if (c.spec.pricing.model === 'api') {
      reference ??= await referenceWorkload(scenario, dir);
      const l = ledgerForApi({ scenario: spec, candidate: c, reference });
      candidates.push({
        ...withLedger(b, l),
        slo: { attainment: 1, target: spec.slo.attainment, met: true, assumed: true },
      });
      continue;
    }
    let replicas: number;
    let perf;
    let choice;
    try {
      replicas = replicaCountFor(c, opts.replicas);
      ({ perf, choice } = replicaPerfFor(scenario, c, profiles));
    } catch (err) {
      if (err instanceof InputError) {
        candidates.push(infeasible(c, err.message));
        continue;
      }
      throw err;
    }
    if (c.spec.pricing.model !== 'owned' && c.instanceUsdPerHour === null) {
      candidates.push(
        infeasible(c, `no ${c.spec.pricing.model} price for ${c.instance?.key ?? 'the instance'}`),
      );
      continue;
    }
    const workload = await openScenarioWorkload(scenario, dir);
    workloadDescribe = workload.describe;
    const { onRequest, tally } = inputTally();
    const summary = await simulate({
      requests: workload.requests,
      replicas: () => perf,
      config: { ...engineConfigFor(c), replicas },
      slo,
      seed,
      onRequest,
    });
    const l = ledgerFromSimulation({
      scenario: spec,
      candidate: c,
      summary,
      storageBytesPerReplica: weightBytesOf(perf) ?? 0,
      input: tally,
    });
    if (weightBytesOf(perf) === null)
      l.warnings.push(`${c.name}: no memory plan for the replica; storage counted as 0 bytes`);
    const lat = summary.latency;
    candidates.push({
      ...withLedger({ ...b, label: perf.label, replicas }, l),
      detail: {
        ttft: lat.ttft,
        tpot: lat.tpot,
        busyPerMinute: meanSeries(summary.replicas.map((r) => r.busySeries)),
        facts: catalogFacts(c),
        profile: {
          kernelSource: choice.kernelSource,
          overheadSource: choice.overheadSource,
          description: choice.description,
        },
      },
      latency: {
        ttftP50S: lat.ttft.p50S,
        ttftP95S: lat.ttft.p95S,
        ttftP99S: lat.ttft.p99S,
        tpotP50S: lat.tpot.p50S,
        tpotP95S: lat.tpot.p95S,
        tpotP99S: lat.tpot.p99S,
        e2eP95S: lat.e2e.p95S,
      },
      slo: {
        attainment: summary.slo.attainment,
        target: summary.slo.attainmentTarget,
        met: summary.slo.met,
        assumed: false,
      },
    });
  }
  if (workloadDescribe === '') workloadDescribe = (await openScenarioWorkload(scenario, dir)).describe;
  return {
    scenario: spec.name,
    window: { days: spec.window.days, mapping: spec.window.mapping },
    workload: workloadDescribe,
    seed,
    candidates,
    ranking: rankCandidates(candidates),
    warnings: scenario.warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------------

const money = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x)
    ? '–'
    : x !== 0 && Math.abs(x) < 0.1
      ? `$${x.toPrecision(3)}`
      : `$${x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const pct = (x: number | null | undefined, d = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(d)} %`;
const secs = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x) ? '–' : x < 1 ? `${(x * 1000).toFixed(1)} ms` : `${x.toFixed(3)} s`;

/** The two largest cost lines, "name share". */
export function topLines(l: Ledger, n = 2): string {
  return [...l.lines]
    .sort((a, b) => b.usd - a.usd)
    .slice(0, n)
    .filter((x) => x.usd > 0)
    .map((x) => `${x.name} ${pct(x.share, 0)}`)
    .join(', ');
}

const HEADERS = [
  '#',
  'candidate',
  '$/1M accepted out',
  'P95 TTFT',
  'P95 TPOT',
  'SLO attainment',
  'utilization',
  'replicas',
  'largest lines',
];

/** Rows of the ranked table: ranked candidates, then infeasible ones. */
export function tableRows(r: CompareResult): string[][] {
  const byName = new Map(r.candidates.map((c) => [c.name, c]));
  const rows: string[][] = [];
  for (const e of r.ranking) {
    const c = byName.get(e.name)!;
    const slo =
      c.slo === null
        ? '–'
        : c.slo.assumed
          ? 'assumed met'
          : `${pct(c.slo.attainment, 2)} ${c.slo.met ? 'met' : 'NOT MET'}`;
    rows.push([
      String(e.rank),
      c.name,
      money(c.ledger?.usdPer1mAcceptedOutput),
      c.kind === 'api' ? 'n/a (API)' : secs(c.latency?.ttftP95S),
      c.kind === 'api' ? 'n/a (API)' : secs(c.latency?.tpotP95S),
      slo,
      c.kind === 'api' ? 'n/a (API)' : pct(c.utilization),
      c.replicas === null ? '–' : String(c.replicas),
      c.ledger === null ? '' : topLines(c.ledger),
    ]);
  }
  for (const c of r.candidates)
    if (c.status === 'infeasible') rows.push(['–', c.name, 'infeasible', '', '', '', '', '', c.reason ?? '']);
  return rows;
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((row) => [...(row[j] ?? '')].length)));
  return rows.map((row) =>
    row
      .map((cell, j) => (j === row.length - 1 ? cell : cell.padEnd(widths[j]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The terminal report: ranked table, then each candidate's lines with shares. */
export function compareText(r: CompareResult): string {
  const out: string[] = [];
  out.push(
    `${r.scenario}: ${r.workload}; window ${r.window.days} days (${r.window.mapping}); cost per 1M accepted output tokens`,
  );
  out.push('');
  out.push(...pad([HEADERS, ...tableRows(r)]));
  for (const c of r.candidates) {
    out.push('');
    const head = `${c.name} — ${c.model} ${c.precision.weights}/${c.precision.kv}${c.label !== null ? `, ${c.replicas} × ${c.label}` : ''} (${c.price.pricingModel.replace('_', '-')})`;
    out.push(head);
    if (c.status === 'infeasible') {
      out.push(`  infeasible: ${c.reason}`);
      continue;
    }
    const l = c.ledger!;
    for (const line of l.lines)
      out.push(
        `  ${line.name.padEnd(26)}${money(line.usd).padStart(14)}${pct(line.share).padStart(9)}  ${line.basis}`,
      );
    out.push(
      `  ${'total'.padEnd(26)}${money(l.totalUsd).padStart(14)}${'100.0 %'.padStart(9)}  ${money(l.usdPer1mAcceptedOutput)}/1M accepted output, ${money(l.usdPer1mInput)}/1M input, ${money(l.usdPerRequest)}/request`,
    );
    const src = c.price.sources.length > 0 ? c.price.sources[0] : 'unsourced';
    out.push(
      `  price        ${c.price.source}${c.price.evidence !== null ? ` (${c.price.evidence})` : ''}: ${src}${c.price.notes !== null ? ` — ${c.price.notes}` : ''}`,
    );
    for (const p of c.productChange) out.push(`  PRODUCT CHANGE  ${p}`);
    for (const a of c.assumptions) out.push(`  assumes      ${a}`);
    for (const w of c.warnings) out.push(`  warning      ${w}`);
  }
  return `${out.join('\n')}\n`;
}

/** The same as a Markdown document. */
export function compareMarkdown(r: CompareResult): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out: string[] = [];
  out.push(`# ${r.scenario}: cost per 1M accepted output tokens`);
  out.push('');
  out.push(`Workload: ${r.workload}. Window: ${r.window.days} days (${r.window.mapping}).`);
  out.push('');
  out.push(`| ${HEADERS.join(' | ')} |`);
  out.push(`|${HEADERS.map(() => ' --- ').join('|')}|`);
  for (const row of tableRows(r)) out.push(`| ${row.map(esc).join(' | ')} |`);
  for (const c of r.candidates) {
    out.push('');
    out.push(`## ${c.name}`);
    out.push('');
    if (c.status === 'infeasible') {
      out.push(`Infeasible: ${c.reason}`);
      continue;
    }
    const l = c.ledger!;
    out.push('| line | USD | share | basis |');
    out.push('| --- | ---: | ---: | --- |');
    for (const line of l.lines)
      out.push(`| ${line.name} | ${money(line.usd)} | ${pct(line.share)} | ${esc(line.basis)} |`);
    out.push(
      `| **total** | **${money(l.totalUsd)}** | 100.0 % | ${money(l.usdPer1mAcceptedOutput)}/1M accepted output |`,
    );
    out.push('');
    out.push(
      `- price: ${c.price.source} ${c.price.evidence ?? ''} — ${c.price.sources.join('; ') || 'unsourced'}`,
    );
    for (const p of c.productChange) out.push(`- **product change**: ${p}`);
    for (const a of c.assumptions) out.push(`- assumes: ${a}`);
    for (const w of c.warnings) out.push(`- warning: ${w}`);
  }
  return `${out.join('\n')}\n`;
}

function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One CSV row per candidate (ranked first, then infeasible), every ledger line as a column. */
export function compareCsv(r: CompareResult): string {
  const lineNames = r.candidates.find((c) => c.ledger !== null)?.ledger?.lines.map((l) => l.name) ?? [];
  const header = [
    'rank',
    'candidate',
    'status',
    'reason',
    'pricing_model',
    'usd_per_1m_accepted_output',
    'total_usd',
    'p95_ttft_s',
    'p95_tpot_s',
    'slo_attainment',
    'slo_met',
    'utilization',
    'replicas',
    ...lineNames.map((n) => `usd_${n.replace(/[^a-z]+/g, '_')}`),
  ];
  const rank = new Map(r.ranking.map((e) => [e.name, e.rank]));
  const ordered = [
    ...r.ranking.map((e) => r.candidates.find((c) => c.name === e.name)!),
    ...r.candidates.filter((c) => !rank.has(c.name)),
  ];
  const rows = ordered.map((c) =>
    [
      rank.get(c.name) ?? null,
      c.name,
      c.status,
      c.reason,
      c.price.pricingModel,
      c.ledger?.usdPer1mAcceptedOutput,
      c.ledger?.totalUsd,
      c.latency?.ttftP95S,
      c.latency?.tpotP95S,
      c.slo?.attainment,
      c.slo === null ? null : String(c.slo.met),
      c.utilization,
      c.replicas,
      ...lineNames.map((n) => c.ledger?.lines.find((l) => l.name === n)?.usd),
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}
