/**
 * Validation of the performance model against published results (DESIGN.md §12): read the
 * published-results file (calibration/published-results.json format, see its README), turn each
 * case into a steady-state prediction (src/perf/steady.ts) or a skip with its reason, and
 * summarise the errors per hardware, source type, stack and scenario.
 *
 * Every case is either predicted or listed as skipped with a reason — never dropped silently.
 * Nothing a case reports about its own speed (throughput, target QPS, latencies) enters its
 * prediction; latencies are only compared.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Catalog } from '../catalog/load.js';
import type { Accelerator, Model, Precision } from '../catalog/schema.js';
import { InputError } from '../util/errors.js';
import { medianAbs } from './optimize.js';
import type { PerfProfile } from './profile.js';
import { chooseProfile, type ProfileChoice } from './profiles.js';
import {
  concurrencyThroughput,
  latencyBoundThroughput,
  offlineThroughput,
  prefillLatencyS,
  replicaCapacity,
  staticBatchThroughput,
  stackLimits,
  steadyTimer,
  type LatencyLimits,
  type ReplicaLayout,
  type SteadyReplica,
  type SteadyResult,
  type SteadyWorkload,
} from './steady.js';

// ---------------------------------------------------------------------------------------------
// The published-results file
// ---------------------------------------------------------------------------------------------

const num = z.number().finite();
/** Latency fields are read where they are numbers; other values (notes, nested detail) are ignored. */
const latencySchema = z.record(z.string(), z.unknown());

/** One published case; fields the validator does not use pass through unchecked. */
export const publishedCaseSchema = z.looseObject({
  id: z.string().min(1),
  source_type: z.string(),
  model: z.string(),
  model_canonical: z.string().nullable().optional(),
  hardware: z.string().nullable().optional(),
  hardware_key: z.string(),
  accelerators_per_node: num.positive().nullable().optional(),
  nodes: num.positive().nullable().optional(),
  count: num.positive().nullable(),
  precision: z.string().nullable(),
  scenario: z.string(),
  dataset: z.string().nullable().optional(),
  isl: num.positive().nullable(),
  osl: num.positive().nullable(),
  throughput: num.nonnegative().nullable(),
  throughput_unit: z.string().nullable(),
  throughput_per_accelerator: num.nonnegative().nullable().optional(),
  latency: latencySchema.nullable().optional(),
  software: z.string().nullable().optional(),
  notes: z.string().nullable().optional(),
  tp: z.string().nullable().optional(),
  concurrency: num.positive().nullable().optional(),
});
export type PublishedCase = z.infer<typeof publishedCaseSchema>;

/** Validate a parsed published-results document: an array of cases or `{ cases: [...] }`. */
export function parsePublishedCases(raw: unknown, file: string): PublishedCase[] {
  const list: unknown = Array.isArray(raw)
    ? raw
    : typeof raw === 'object' && raw !== null && 'cases' in raw
      ? raw.cases
      : undefined;
  if (!Array.isArray(list))
    throw new InputError(`${file}: expected an array of cases or an object { cases: [...] }`);
  const out: PublishedCase[] = [];
  list.forEach((c, i) => {
    const parsed = publishedCaseSchema.safeParse(c);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      throw new InputError(`${file}: cases[${i}]${path}: ${issue.message}`);
    }
    out.push(parsed.data);
  });
  return out;
}

export async function readPublishedCases(file: string): Promise<PublishedCase[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: cannot read as JSON (${(err as Error).message})`);
  }
  return parsePublishedCases(raw, file);
}

// ---------------------------------------------------------------------------------------------
// Facts the published file leaves out
// ---------------------------------------------------------------------------------------------

/**
 * Lengths of the MLPerf datasets. Mean inputs and the length spread are computed from the complete
 * per-sample token-length files of the MLCommons datasets (data/mlperf-lengths/, copied from
 * github.com/openshift-psap/performance-dashboard; stats.json there). Mean outputs are the
 * reference means stated in the dataset text of the published file (parsed from it when present).
 *
 * The spread enters as two ratios (see `SteadyWorkload.spread`): E[o²]/E[o]² — how much longer than
 * the mean the output of a *running* sequence is (long answers hold their batch slot longer) — and
 * (E[i·o]/E[o])/E[i] — the same for its prompt (≠ 1 when prompt and output lengths correlate). The
 * output ratio comes from the file's output column (the reference responses; their shape stands for
 * the model's own outputs), except llama3.1-8b, whose outputs all run to the 128-token cap.
 */
export const MLPERF_DATASETS: {
  match: RegExp;
  name: string;
  meanInputTokens: number;
  meanOutputTokens: number;
  /** E[o²] / E[o]² of the output lengths (1: every output the same length). */
  outputWeightedRatio: number;
  /** (E[i·o] / E[o]) / E[i]. */
  inputWeightedRatio: number;
  source: string;
}[] = [
  {
    match: /OpenOrca\+GSM8K\+MBXP/i,
    name: 'MLPerf mixtral-8x7b (OpenOrca + GSM8K + MBXP, 15,000 samples)',
    meanInputTokens: 427.4,
    meanOutputTokens: 145,
    outputWeightedRatio: 232.55 / 144.84,
    inputWeightedRatio: 438.61 / 427.39,
    source:
      'mixtral-8x7b.csv (15,000 rows, @67033ba): mean input 427.4, output CV 0.78, E[o²]/E[o] 232.5 of mean 144.8; output: reference mean ~145',
  },
  {
    match: /OpenOrca subset/i,
    name: 'MLPerf llama2-70b (OpenOrca, 24,576 samples)',
    meanInputTokens: 222.3,
    meanOutputTokens: 294,
    outputWeightedRatio: 354.57 / 218.89,
    inputWeightedRatio: 199.5 / 222.33,
    source:
      'llama2-70b-99.csv (24,576 rows, @7cd1065): mean input 222.3, reference-response CV 0.79, E[o²]/E[o] 354.6 of mean 218.9; output: reference mean ~294',
  },
  {
    match: /405B mix/i,
    name: 'MLPerf llama3.1-405b (8,313 samples, LongBench/RULER/…)',
    meanInputTokens: 9428.6,
    meanOutputTokens: 685,
    outputWeightedRatio: 784.01 / 684.68,
    inputWeightedRatio: 9193.12 / 9428.64,
    source:
      'llama3-1-405b.csv (8,313 rows, @739352b): mean input 9,428.6, output CV 0.38, E[o²]/E[o] 784 of mean 684.7; output: reference mean ~685',
  },
  {
    match: /CNN\/DailyMail/i,
    name: 'MLPerf llama3.1-8b (CNN/DailyMail, 13,368 samples)',
    meanInputTokens: 870.7,
    meanOutputTokens: 128,
    outputWeightedRatio: 1,
    inputWeightedRatio: 1,
    source:
      'llama3-1-8b-datacenter.csv (13,368 rows, @b04ea53): mean input 870.7; output: the 128-token max_new_tokens cap (summaries run to it: 128–129 tokens/sample in the MLPerf logs), so no output spread',
  },
  {
    match: /DeepSeek-R1 reasoning/i,
    name: 'MLPerf deepseek-r1 (4,388 samples)',
    meanInputTokens: 803.8,
    meanOutputTokens: 3886,
    outputWeightedRatio: 10387.61 / 4043.45,
    inputWeightedRatio: 632.22 / 803.79,
    source:
      'deepseek-r1.csv (4,388 rows, @c402a31): mean input 803.8, output CV 1.25 (median 2,194, p90 9,477, max 32,768), E[o²]/E[o] 10,388 of mean 4,043; output: reference mean ~3,886',
  },
];

/**
 * MLPerf latency limits (p99 TTFT / p99 TPOT, ms) when a case does not carry them
 * (calibration/README.md).
 */
export const MLPERF_LATENCY_LIMITS_MS: Record<
  string,
  { server: [number, number]; interactive: [number, number] | null }
> = {
  'llama-2-70b': { server: [2000, 200], interactive: [450, 40] },
  'mixtral-8x7b': { server: [2000, 200], interactive: null },
  'llama-3.1-405b': { server: [6000, 175], interactive: [4500, 80] },
  'llama-3.1-8b': { server: [2000, 100], interactive: [500, 30] },
  'deepseek-r1': { server: [2000, 80], interactive: null },
};

/**
 * Published hardware keys → accelerator catalog keys. Approximate mappings say why; keys that are
 * not here and not in the catalog are skipped as unknown hardware.
 */
export function mapHardware(
  c: PublishedCase,
  catalog: Catalog,
): { key: string; approximation: string | null } | { skip: string } {
  const text = c.hardware ?? '';
  switch (c.hardware_key) {
    case 'H100':
      if (/NVL/i.test(text))
        return { skip: `unknown hardware: ${text} (H100 NVL, 94 GB) is not in the accelerator catalog` };
      if (/PCIe/i.test(text)) return { key: 'H100_PCIE', approximation: null };
      return { key: 'H100_SXM', approximation: null };
    case 'H200':
      return /NVL/i.test(text)
        ? {
            key: 'H200',
            approximation: 'H200 NVL (600 W, NVLink bridge) modelled as H200 SXM: same 141 GB at 4.8 TB/s',
          }
        : { key: 'H200', approximation: null };
    case 'GH200':
      return {
        key: 'H200',
        approximation: 'GH200 144 GB (Hopper, HBM3e at 4.9 TB/s) modelled as H200 (141 GB, 4.8 TB/s)',
      };
    case 'A100_PCIE':
      return {
        key: 'A100_80GB',
        approximation: 'A100 80GB PCIe (1.94 TB/s, 300 W) modelled as A100 80GB SXM (2.04 TB/s)',
      };
    default:
      if (catalog.accelerators.has(c.hardware_key)) return { key: c.hardware_key, approximation: null };
      return { skip: `unknown hardware: ${c.hardware_key} is not in the accelerator catalog` };
  }
}

/** Serving stack from the published software text (AMD GPUs run vLLM as `rocm-vllm`). */
export function stackFromSoftware(software: string | null | undefined, acc: Accelerator): string | null {
  const s = software ?? '';
  if (/sglang/i.test(s)) return 'sglang';
  if (/vllm/i.test(s)) return acc.vendor === 'AMD' ? 'rocm-vllm' : 'vllm';
  if (/tensorrt|\btrt\b|trt-llm|dynamo-trt/i.test(s)) return 'trtllm';
  return null;
}

/**
 * Whether the software text names a vLLM older than 0.8 (the V0 engine, whose defaults are 256
 * sequences), by version number or by a date before 2025-03 (vLLM 0.8's release).
 */
export function isLegacyVllm(software: string | null | undefined): boolean {
  const s = software ?? '';
  const v = /vllm[^0-9]*?v?(\d+)\.(\d+)/i.exec(s);
  if (v !== null) return Number(v[1]) === 0 && Number(v[2]) < 8;
  const d = /(20\d\d)-(\d\d)/.exec(s);
  if (d !== null && /vllm/i.test(s)) return Number(d[1]) * 12 + Number(d[2]) < 2025 * 12 + 3;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Cases → predictions
// ---------------------------------------------------------------------------------------------

export type Metric = 'output tokens/s per chip' | 'total tokens/s per chip' | 'TTFT s';

export type CaseMode =
  | { kind: 'offline' }
  | { kind: 'latency'; limits: LatencyLimits; scenario: 'server' | 'interactive' }
  | { kind: 'concurrency'; concurrency: number }
  | { kind: 'static'; batch: number | null }
  | { kind: 'prefill' };

/** Everything about a case that does not depend on the performance profile. */
export interface PreparedCase {
  id: string;
  source: PublishedCase;
  model: Model;
  accelerator: Accelerator;
  stack: string | null;
  /**
   * Replica layouts to predict with: the published one, or — TP not published — every layout that
   * fits (powers of 2 up to the node / scale-up domain, PP only when one node is not enough); the
   * prediction takes the one with the highest throughput per chip, as a submitter tuning for the
   * benchmark would (for offline runs: the smallest TP whose KV holds a compute-bound batch).
   */
  candidates: SteadyReplica[];
  layoutNote: string;
  /** Chips in the measured system (null: not published; one replica is assumed). */
  systemChips: number | null;
  mode: CaseMode;
  metric: Metric;
  reported: number;
  reportedTtftS: number | null;
  reportedTpotS: number | null;
  notes: string[];
}

export type Preparation = { ok: true; prepared: PreparedCase } | { ok: false; code: string; reason: string };

const skip = (code: string, reason: string): Preparation => ({ ok: false, code, reason });

function latencyValue(c: PublishedCase, key: string): number | null {
  const v = c.latency?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function weightPrecision(
  c: PublishedCase,
  acc: Accelerator,
  notes: string[],
): { weights: Precision } | { skip: string } {
  const p = (c.precision ?? '').toLowerCase();
  const fp8OrBest = (): Precision => (acc.precisions.includes('fp8') ? 'fp8' : 'bf16');
  if (/fp4/.test(p)) return { weights: 'fp4' };
  if (/int4/.test(p)) return { skip: `weights ${c.precision}: int4 weights are not modelled` };
  if (/weight dtype as reported|unset/.test(p) || p === '') {
    const w = fp8OrBest();
    notes.push(
      `precision "${c.precision ?? ''}" is the checkpoint's (or unset): assumed ${w}, what closed-division LLM submissions on this hardware run`,
    );
    return { weights: w };
  }
  if (/fp8/.test(p)) return { weights: 'fp8' };
  if (/fp16|bf16/.test(p)) return { weights: 'bf16' };
  return { skip: `precision "${c.precision}" not recognised` };
}

function parseLayout(tp: string | null | undefined): Partial<ReplicaLayout> | null | 'bad' {
  if (tp === null || tp === undefined || tp.trim() === '') return null;
  // TP8, DEP8, TP4 EP4, TP2×PP2, TP1,PP2 — expert parallelism is modelled like TP (sharded experts)
  const m = /^\s*(DEP|TP|EP)\s*(\d+)(?:[\s,x×-]*EP\s*\d+)?(?:[\s,x×-]*PP\s*(\d+))?\s*$/i.exec(tp);
  if (m === null) return 'bad';
  const n = Number(m[2]);
  const pp = m[3] === undefined ? 1 : Number(m[3]);
  return m[1]!.toUpperCase() === 'DEP' ? { tp: n, pp, attentionDp: n } : { tp: n, pp, attentionDp: 1 };
}

function workloadOf(c: PublishedCase, notes: string[]): SteadyWorkload | { skip: string } | 'prefill-only' {
  const text = c.dataset ?? '';
  if (c.isl !== null && c.osl !== null) {
    const varied = /ISL varied (\d+)\s*-\s*(\d+)\s*% of nominal/i.exec(text);
    let isl = c.isl;
    if (varied !== null) {
      const f = (Number(varied[1]) + Number(varied[2])) / 200;
      isl = c.isl * f;
      notes.push(`ISL varied ${varied[1]}–${varied[2]} % of nominal: mean input ${isl.toFixed(0)} tokens`);
    }
    return { inputTokens: isl, outputTokens: c.osl };
  }
  if (c.isl !== null && c.osl === null) return 'prefill-only';
  const d = MLPERF_DATASETS.find((x) => x.match.test(text));
  if (d === undefined) return { skip: `no ISL/OSL and dataset "${text}" has no known mean lengths` };
  const stated = /mean output ~?([\d,]+)/i.exec(text);
  const osl = stated !== null ? Number(stated[1]!.replace(/,/g, '')) : d.meanOutputTokens;
  const spread = {
    inputWeightedTokens: d.meanInputTokens * d.inputWeightedRatio,
    outputWeightedTokens: osl * d.outputWeightedRatio,
  };
  notes.push(
    `${d.name}: mean input ${d.meanInputTokens}, mean output ${osl} tokens; running sequences (weighted by output length): prompt ${spread.inputWeightedTokens.toFixed(0)}, final output ${spread.outputWeightedTokens.toFixed(0)}`,
  );
  return { inputTokens: d.meanInputTokens, outputTokens: osl, spread };
}

function modeOf(c: PublishedCase, model: Model): CaseMode | { skip: string } {
  const s = c.scenario.toLowerCase();
  if (/batch size 1 latency/.test(s)) return { kind: 'prefill' };
  if (/fixed max concurrency/.test(s)) {
    if (c.concurrency === null || c.concurrency === undefined)
      return { skip: 'fixed-concurrency scenario without a concurrency' };
    return { kind: 'concurrency', concurrency: c.concurrency };
  }
  if (/static batching|fixed batch/.test(s)) return { kind: 'static', batch: c.concurrency ?? null };
  if (s === 'offline' || /offline max[- ]?throughput|max throughput \(benchmark_throughput/.test(s))
    return { kind: 'offline' };
  if (s === 'server' || s === 'interactive') {
    const scenario = s;
    const ttft = latencyValue(c, 'constraint_ttft_p99_ms');
    const tpot = latencyValue(c, 'constraint_tpot_p99_ms');
    const table = MLPERF_LATENCY_LIMITS_MS[model.key];
    const fallback = table === undefined ? null : scenario === 'server' ? table.server : table.interactive;
    const ttftMs = ttft ?? fallback?.[0] ?? null;
    const tpotMs = tpot ?? fallback?.[1] ?? null;
    if (ttftMs === null || tpotMs === null)
      return { skip: `${c.scenario} without latency limits (none published for ${model.key})` };
    return { kind: 'latency', scenario, limits: { ttftP99S: ttftMs / 1000, tpotP99S: tpotMs / 1000 } };
  }
  return { skip: `scenario "${c.scenario}" is not modelled` };
}

/** What the case reports, per chip, in the unit the prediction is made in. */
function reportedOf(
  c: PublishedCase,
  mode: CaseMode,
  notes: string[],
): { metric: Metric; value: number } | { code: string; skip: string } {
  if (mode.kind === 'prefill') {
    const ttft = latencyValue(c, 'ttft_ms');
    return ttft === null
      ? { code: 'no-result', skip: 'batch-1 latency case without a TTFT' }
      : { metric: 'TTFT s', value: ttft / 1000 };
  }
  const unit = c.throughput_unit ?? '';
  const perChip =
    c.throughput_per_accelerator ??
    (c.throughput !== null && c.count !== null ? c.throughput / c.count : null);
  if (perChip === null || perChip <= 0) return { code: 'no-result', skip: 'no throughput published' };
  if (/total .*tokens\/s per (gpu|chip)/i.test(unit))
    return { metric: 'total tokens/s per chip', value: perChip };
  if (/output tokens\/s/i.test(unit)) return { metric: 'output tokens/s per chip', value: perChip };
  if (/^(queries|samples)\/s$/i.test(unit.trim())) {
    const sps = latencyValue(c, 'completed_samples_per_s');
    const tps = latencyValue(c, 'derived_mean_output_tokens_per_sample');
    if (sps !== null && tps !== null && c.throughput !== null) {
      const tokens = sps * tps;
      if (Math.abs(tokens - c.throughput) / c.throughput < 0.05) {
        notes.push(
          `unit says ${unit} but throughput = completed samples/s × tokens/sample (${tokens.toFixed(0)}): read as output tokens/s`,
        );
        return { metric: 'output tokens/s per chip', value: perChip };
      }
    }
    return { code: 'unit', skip: `throughput in ${unit}, not tokens/s (and not consistent with tokens/s)` };
  }
  return { code: 'unit', skip: `throughput unit "${unit}" not understood` };
}

function candidateLayouts(
  base: Omit<SteadyReplica, 'layout'>,
  c: PublishedCase,
  given: Partial<ReplicaLayout> | null,
): { layouts: ReplicaLayout[]; note: string } | { skip: string } {
  const acc = base.accelerator;
  const mla = base.model.attention.type === 'mla';
  const fits = (l: ReplicaLayout): string | null => {
    try {
      const cap = replicaCapacity({ ...base, layout: l });
      return cap.kvSequences >= 1 ? null : 'no room for one sequence in KV';
    } catch (err) {
      if (err instanceof InputError) return err.message;
      throw err;
    }
  };
  if (given !== null) {
    const layout: ReplicaLayout = {
      tp: given.tp ?? 1,
      pp: given.pp ?? 1,
      attentionDp: given.attentionDp ?? 1,
    };
    if (c.count !== null && layout.tp * layout.pp > c.count)
      return { skip: `${c.tp} needs ${layout.tp * layout.pp} chips, the system has ${c.count}` };
    const why = fits(layout);
    if (why !== null) return { skip: `does not fit at ${c.tp}: ${why}` };
    return { layouts: [layout], note: `layout ${c.tp} as published` };
  }
  const system = c.count ?? Number.POSITIVE_INFINITY;
  const nodeChips = c.accelerators_per_node ?? acc.chipsPerNode ?? 8;
  const maxTp = Math.min(system, Math.max(nodeChips, acc.scaleupDomainChips ?? 0));
  const tps: number[] = [];
  for (let tp = 1; tp <= maxTp; tp *= 2) tps.push(tp);
  const widest = tps[tps.length - 1] ?? 1;
  const layouts: ReplicaLayout[] = [];
  let lastReason = 'no chips';
  for (let pp = 1; pp <= 8 && layouts.length === 0; pp *= 2) {
    for (const tp of pp === 1 ? tps : [widest]) {
      if (tp * pp > system) break;
      const layout: ReplicaLayout = { tp, pp, attentionDp: mla ? tp : 1 };
      const why = fits(layout);
      if (why === null) layouts.push(layout);
      else lastReason = why;
    }
  }
  if (layouts.length === 0)
    return { skip: `does not fit on ${c.count ?? 'any published number of'} × ${acc.name}: ${lastReason}` };
  return {
    layouts,
    note: `TP not published: best of ${layouts.map(layoutName).join(', ')} (highest predicted throughput per chip)${mla ? '; MLA attention data-parallel over the TP group, as DeepSeek deployments run' : ''}`,
  };
}

export function layoutName(l: ReplicaLayout): string {
  return `${l.attentionDp > 1 ? 'DEP' : 'TP'}${l.tp}${l.pp > 1 ? `×PP${l.pp}` : ''}`;
}

/** Resolve a published case against the catalog: a prepared case or a skip with its reason. */
export function prepareCase(c: PublishedCase, catalog: Catalog): Preparation {
  const notes: string[] = [];
  const key = c.model_canonical ?? c.model;
  const model = catalog.models.get(key);
  if (model === undefined) return skip('unknown-model', `unknown model: ${key} is not in the model catalog`);
  if (/open division/i.test(c.notes ?? '') || /-open-/.test(c.id))
    return skip(
      'open-division',
      'MLPerf open division: the model may have been changed (pruned, distilled, re-quantized), so the catalog model does not describe what ran',
    );
  if (/heterogeneous/i.test(c.notes ?? ''))
    return skip(
      'heterogeneous',
      'heterogeneous cluster: mixed accelerators cannot be one catalog accelerator',
    );
  if (/disagg/i.test(c.software ?? ''))
    return skip(
      'disaggregated',
      'disaggregated prefill/decode serving: the split of GPUs between prefill and decode pools is not published',
    );
  const hw = mapHardware(c, catalog);
  if ('skip' in hw) return skip('unknown-hardware', hw.skip);
  const acc = catalog.accelerator(hw.key);
  if (hw.approximation !== null) notes.push(hw.approximation);
  if (acc.bf16DenseTflops === null)
    return skip(
      'hardware-data',
      `${acc.name} has no bf16 peak in the catalog; its step time cannot be modelled`,
    );
  const mode = modeOf(c, model);
  if ('skip' in mode) return skip('scenario', mode.skip);
  const rep = reportedOf(c, mode, notes);
  if ('skip' in rep) return skip(rep.code, rep.skip);
  const prec = weightPrecision(c, acc, notes);
  if ('skip' in prec) return skip('precision', prec.skip);
  const w = workloadOf(c, notes);
  if (typeof w === 'object' && 'skip' in w) return skip('no-lengths', w.skip);
  const workload: SteadyWorkload = w === 'prefill-only' ? { inputTokens: c.isl ?? 1, outputTokens: 1 } : w;
  if (mode.kind === 'prefill' && w !== 'prefill-only')
    notes.push('batch-1 latency: TTFT of one prefill of the input');
  const stack = stackFromSoftware(c.software, acc);
  if (stack === null) notes.push(`software "${c.software ?? ''}" not matched to a stack: default profile`);
  const kv: Precision = prec.weights !== 'bf16' && acc.precisions.includes('fp8') ? 'fp8' : 'bf16';
  const serving = mode.kind === 'latency' || mode.kind === 'concurrency' ? 'online' : 'offline';
  // MLPerf submitters tune their engines' batch limits; version defaults apply to the rest
  const legacyVllm = isLegacyVllm(c.software) && c.source_type !== 'mlperf_inference';
  const limits = stackLimits(stack, acc, workload, serving, { legacyVllm });
  const parsed = parseLayout(c.tp);
  if (parsed === 'bad') return skip('layout', `parallel layout "${c.tp}" not understood`);
  const base = { model, accelerator: acc, weights: prec.weights, kv, limits, workload };
  const chosen = candidateLayouts(base, c, parsed);
  if ('skip' in chosen) return skip('does-not-fit', chosen.skip);
  const reportedTtftMs =
    mode.kind === 'prefill'
      ? null
      : (latencyValue(c, 'ttft_mean_ms') ?? latencyValue(c, 'ttft_p50_ms') ?? null);
  const reportedTpotMs = latencyValue(c, 'tpot_mean_ms') ?? latencyValue(c, 'tpot_p50_ms');
  return {
    ok: true,
    prepared: {
      id: c.id,
      source: c,
      model,
      accelerator: acc,
      stack,
      candidates: chosen.layouts.map((layout) => ({ ...base, layout })),
      layoutNote: chosen.note,
      systemChips: c.count,
      mode,
      metric: rep.metric,
      reported: rep.value,
      reportedTtftS: reportedTtftMs === null ? null : reportedTtftMs / 1000,
      reportedTpotS: reportedTpotMs === null ? null : reportedTpotMs / 1000,
      notes,
    },
  };
}

export interface Prediction {
  predicted: number;
  replica: SteadyReplica;
  /** Replicas in the measured system (null: system size not published). */
  replicas: number | null;
  steady: SteadyResult | null;
  ttftS: number | null;
  tpotS: number | null;
}

function predictOne(p: PreparedCase, r: SteadyReplica, profile: PerfProfile): Prediction {
  const timer = steadyTimer(r, profile);
  const chips = r.layout.tp * r.layout.pp;
  const replicas = p.systemChips === null ? null : Math.floor(p.systemChips / chips);
  // idle chips (system size not a multiple of the replica) count in the per-chip figure
  const used = replicas === null || p.systemChips === null ? 1 : (replicas * chips) / p.systemChips;
  if (p.mode.kind === 'prefill') {
    const t = prefillLatencyS(timer, r.workload.inputTokens);
    return { predicted: t, replica: r, replicas, steady: null, ttftS: t, tpotS: null };
  }
  let s: SteadyResult;
  switch (p.mode.kind) {
    case 'offline':
      s = offlineThroughput(r, timer);
      break;
    case 'latency':
      s = latencyBoundThroughput(r, timer, p.mode.limits);
      break;
    case 'concurrency':
      s = concurrencyThroughput(r, timer, p.mode.concurrency);
      break;
    case 'static':
      s = staticBatchThroughput(r, timer, p.mode.batch);
      break;
  }
  const perChip =
    p.metric === 'total tokens/s per chip' ? s.totalTokensPerSPerChip : s.outputTokensPerSPerChip;
  return { predicted: perChip * used, replica: r, replicas, steady: s, ttftS: s.ttftS, tpotS: s.tpotS };
}

/**
 * Predict one prepared case with a profile: the published layout, or the best of the candidate
 * layouts (highest throughput per chip; lowest TTFT for batch-1 latency cases). A layout that turns
 * out infeasible (InputError) is passed over; if none is left the error propagates.
 */
export function predictPrepared(p: PreparedCase, profile: PerfProfile): Prediction {
  let best: Prediction | null = null;
  let lastErr: unknown = null;
  for (const r of p.candidates) {
    let pr: Prediction;
    try {
      pr = predictOne(p, r, profile);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      lastErr = err;
      continue;
    }
    const better =
      best === null ||
      (p.mode.kind === 'prefill' ? pr.predicted < best.predicted : pr.predicted > best.predicted);
    if (better) best = pr;
  }
  if (best === null)
    throw lastErr instanceof Error ? lastErr : new InputError(`${p.id}: no layout to predict with`);
  return best;
}

export function profileFor(p: PreparedCase, profiles: PerfProfile[]): ProfileChoice {
  return chooseProfile(profiles, p.accelerator.key, p.stack);
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

export interface ErrorFigure {
  reported: number;
  predicted: number;
  errorPct: number;
}

export interface ValidationRow {
  id: string;
  sourceType: string;
  model: string;
  hardwareKey: string;
  hardware: string | null;
  scenario: string;
  software: string | null;
  status: 'predicted' | 'skipped';
  /** Skips only: a short code and the reason in words. */
  skipCode: string | null;
  reason: string | null;
  stack: string | null;
  metric: Metric | null;
  reported: number | null;
  predicted: number | null;
  errorPct: number | null;
  ttft: ErrorFigure | null;
  tpot: ErrorFigure | null;
  /**
   * Whether the case is on the held-out side of the deterministic split that `pertoken calibrate
   * --published` fits on (null when skipped): the shipped fits never saw the held-out cases.
   */
  heldOut: boolean | null;
  config: {
    mode: CaseMode['kind'];
    /** e.g. TP2, DEP8, TP8×PP2. */
    layout: string;
    tp: number;
    pp: number;
    attentionDp: number;
    replicas: number | null;
    batch: number | null;
    limitedBy: string | null;
    weights: Precision;
    kv: Precision;
    inputTokens: number;
    outputTokens: number;
    stackLimits: string;
    profile: string;
  } | null;
  notes: string[];
}

const errPct = (pred: number, rep: number): number => (100 * (pred - rep)) / rep;

export function predictRow(p: PreparedCase, profiles: PerfProfile[]): ValidationRow {
  const choice = profileFor(p, profiles);
  const pr = predictPrepared(p, choice.profile);
  const c = p.source;
  const fig = (rep: number | null, pred: number | null): ErrorFigure | null =>
    rep === null || pred === null || rep <= 0
      ? null
      : { reported: rep, predicted: pred, errorPct: errPct(pred, rep) };
  // TTFT is compared where the model predicts it: with fixed concurrency (Little's law) — not under
  // Poisson arrivals, where it is mostly queueing at an arrival rate the prediction does not use
  const compareTtft = p.mode.kind === 'concurrency';
  const compareTpot = p.mode.kind === 'concurrency' || p.mode.kind === 'latency';
  const r = pr.replica;
  return {
    id: p.id,
    sourceType: c.source_type,
    model: p.model.key,
    hardwareKey: p.accelerator.key,
    hardware: c.hardware ?? null,
    scenario: c.scenario,
    software: c.software ?? null,
    status: 'predicted',
    skipCode: null,
    reason: null,
    stack: p.stack,
    metric: p.metric,
    reported: p.reported,
    predicted: pr.predicted,
    errorPct: errPct(pr.predicted, p.reported),
    ttft: compareTtft ? fig(p.reportedTtftS, pr.ttftS) : null,
    tpot: compareTpot ? fig(p.reportedTpotS, pr.tpotS) : null,
    heldOut: isHeldOut(p),
    config: {
      mode: p.mode.kind,
      layout: layoutName(r.layout),
      tp: r.layout.tp,
      pp: r.layout.pp,
      attentionDp: r.layout.attentionDp,
      replicas: pr.replicas,
      batch: pr.steady?.batch ?? 1,
      limitedBy: pr.steady?.limitedBy ?? null,
      weights: r.weights,
      kv: r.kv,
      inputTokens: r.workload.inputTokens,
      outputTokens: r.workload.outputTokens,
      stackLimits: r.limits.description,
      profile: choice.description,
    },
    notes: [...p.notes, p.layoutNote],
  };
}

function skippedRow(c: PublishedCase, code: string, reason: string): ValidationRow {
  return {
    id: c.id,
    sourceType: c.source_type,
    model: c.model_canonical ?? c.model,
    hardwareKey: c.hardware_key,
    hardware: c.hardware ?? null,
    scenario: c.scenario,
    software: c.software ?? null,
    status: 'skipped',
    skipCode: code,
    reason,
    stack: null,
    metric: null,
    reported: null,
    predicted: null,
    errorPct: null,
    ttft: null,
    tpot: null,
    heldOut: null,
    config: null,
    notes: [],
  };
}

export interface GroupSummary {
  n: number;
  medianAbsErrorPct: number;
  /** Median of signed errors: > 0 the model over-predicts. */
  medianErrorPct: number;
}

export interface ValidationSummary {
  /** Throughput cases predicted (the bar is on these). */
  n: number;
  skipped: number;
  medianAbsErrorPct: number;
  medianErrorPct: number;
  /** Share of throughput cases within ±15 % / ±30 %. */
  within15Pct: number;
  within30Pct: number;
  byHardware: Record<string, GroupSummary>;
  /** Hardware families (architecture generations), e.g. NVIDIA Hopper, AMD CDNA3. */
  byFamily: Record<string, GroupSummary>;
  bySource: Record<string, GroupSummary>;
  byStack: Record<string, GroupSummary>;
  byMode: Record<string, GroupSummary>;
  byModel: Record<string, GroupSummary>;
  /** The split the published fits use: cases they were fitted on, and cases held out of every fit. */
  bySplit: { fitted: GroupSummary; heldOut: GroupSummary };
  skippedReasons: Record<string, number>;
  /** Latency comparisons where both sides exist (not part of the bar). */
  latency: { ttft: GroupSummary; tpot: GroupSummary; batch1Ttft: GroupSummary };
}

export interface ValidationReport {
  cases: ValidationRow[];
  summary: ValidationSummary;
}

/** Architecture family of an accelerator key, for the per-family summary. */
export function hardwareFamily(key: string): string {
  if (/^(H100|H200|GH200)/.test(key)) return 'NVIDIA Hopper';
  if (/^G?B(200|300)/.test(key)) return 'NVIDIA Blackwell';
  if (/^A100/.test(key)) return 'NVIDIA Ampere';
  if (/^L40/.test(key)) return 'NVIDIA Ada';
  if (/^MI3(00|25)/.test(key)) return 'AMD CDNA3';
  if (/^MI35/.test(key)) return 'AMD CDNA4';
  if (/^TPU/.test(key)) return 'Google TPU';
  if (/^(Trainium|Inferentia)/.test(key)) return 'AWS Neuron';
  return key;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Count, median |error| and median signed error of a group of errors (%). */
export function group(errors: number[]): GroupSummary {
  return { n: errors.length, medianAbsErrorPct: medianAbs(errors), medianErrorPct: median(errors) };
}

/** Rows grouped by `key` (sorted keys), each group summarised over `err` of its rows. */
export function groupBy<T>(
  rows: T[],
  key: (r: T) => string,
  err: (r: T) => number,
): Record<string, GroupSummary> {
  const m = new Map<string, number[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k) ?? [];
    list.push(err(r));
    m.set(k, list);
  }
  const out: Record<string, GroupSummary> = {};
  for (const k of [...m.keys()].sort()) out[k] = group(m.get(k)!);
  return out;
}

export function summarize(rows: ValidationRow[]): ValidationSummary {
  const thr = rows.filter((r) => r.status === 'predicted' && r.metric !== 'TTFT s');
  const errors = thr.map((r) => r.errorPct!);
  const skipped = rows.filter((r) => r.status === 'skipped');
  const reasons: Record<string, number> = {};
  for (const r of skipped) reasons[r.skipCode!] = (reasons[r.skipCode!] ?? 0) + 1;
  const b1 = rows.filter((r) => r.status === 'predicted' && r.metric === 'TTFT s').map((r) => r.errorPct!);
  return {
    n: thr.length,
    skipped: skipped.length,
    medianAbsErrorPct: medianAbs(errors),
    medianErrorPct: median(errors),
    within15Pct: errors.length === 0 ? NaN : errors.filter((e) => Math.abs(e) <= 15).length / errors.length,
    within30Pct: errors.length === 0 ? NaN : errors.filter((e) => Math.abs(e) <= 30).length / errors.length,
    byHardware: groupBy(
      thr,
      (r) => r.hardwareKey,
      (r) => r.errorPct!,
    ),
    byFamily: groupBy(
      thr,
      (r) => hardwareFamily(r.hardwareKey),
      (r) => r.errorPct!,
    ),
    bySource: groupBy(
      thr,
      (r) => r.sourceType,
      (r) => r.errorPct!,
    ),
    byStack: groupBy(
      thr,
      (r) => r.stack ?? 'unknown',
      (r) => r.errorPct!,
    ),
    byMode: groupBy(
      thr,
      (r) => r.config!.mode,
      (r) => r.errorPct!,
    ),
    byModel: groupBy(
      thr,
      (r) => r.model,
      (r) => r.errorPct!,
    ),
    bySplit: {
      fitted: group(thr.filter((r) => r.heldOut === false).map((r) => r.errorPct!)),
      heldOut: group(thr.filter((r) => r.heldOut === true).map((r) => r.errorPct!)),
    },
    skippedReasons: reasons,
    latency: {
      ttft: group(thr.filter((r) => r.ttft !== null).map((r) => r.ttft!.errorPct)),
      tpot: group(thr.filter((r) => r.tpot !== null).map((r) => r.tpot!.errorPct)),
      batch1Ttft: group(b1),
    },
  };
}

/** Prepare every case (skips carry their reason). */
export function prepareAll(
  cases: PublishedCase[],
  catalog: Catalog,
): { prepared: PreparedCase[]; skipped: ValidationRow[] } {
  const prepared: PreparedCase[] = [];
  const skipped: ValidationRow[] = [];
  for (const c of cases) {
    const p = prepareCase(c, catalog);
    if (p.ok) prepared.push(p.prepared);
    else skipped.push(skippedRow(c, p.code, p.reason));
  }
  return { prepared, skipped };
}

/** Validate every case with the given profiles. A case that fails to predict is a skip with the reason. */
export function validateCases(
  cases: PublishedCase[],
  catalog: Catalog,
  profiles: PerfProfile[],
): ValidationReport {
  const rows: ValidationRow[] = cases.map((c) => {
    const p = prepareCase(c, catalog);
    if (!p.ok) return skippedRow(c, p.code, p.reason);
    try {
      return predictRow(p.prepared, profiles);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return skippedRow(c, 'does-not-fit', err.message);
    }
  });
  return { cases: rows, summary: summarize(rows) };
}

// ---------------------------------------------------------------------------------------------
// Deterministic held-out split
// ---------------------------------------------------------------------------------------------

/** FNV-1a 32-bit hash of a string. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * The group a case belongs to for the held-out split: near-duplicates (the same model, hardware,
 * scenario and lengths from several submitters or software versions) share a group, so a held-out
 * case never has its twin in the fit.
 */
export function splitGroup(p: PreparedCase): string {
  const w = p.candidates[0]!.workload;
  return [
    p.model.key,
    p.accelerator.key,
    p.mode.kind,
    Math.round(w.inputTokens),
    Math.round(w.outputTokens),
  ].join('|');
}

/** Deterministic split: about `heldOutShare` of the groups (by hash) are held out of the fit. */
export function isHeldOut(p: PreparedCase, heldOutShare = 0.3): boolean {
  return fnv1a(splitGroup(p)) % 1000 < heldOutShare * 1000;
}
