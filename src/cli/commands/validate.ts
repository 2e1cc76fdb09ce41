import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import Table from 'cli-table3';
import { loadCatalog } from '../../catalog/load.js';
import { BUNDLED_PROFILE_DIR, loadProfiles } from '../../perf/profiles.js';
import {
  prepareAll,
  readPublishedCases,
  validateCases,
  type GroupSummary,
  type ValidationReport,
} from '../../perf/validate.js';
import { fitPublishedProfile } from '../../perf/fit-published.js';
import { validateCasesWithEngine, type EngineValidationReport } from '../../perf/validate-engine.js';
import { addCatalogOption } from '../catalog-option.js';
import { InputError } from '../../util/errors.js';
import { emit, toJson } from '../../util/output.js';

/** The published results shipped with the package. */
export const BUNDLED_PUBLISHED_RESULTS = fileURLToPath(
  new URL('../../../calibration/published-results.json', import.meta.url),
);

const fmt = (x: number | null, digits = 0): string =>
  x === null || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: digits });
/** A median |error| in %, "–" when there is none (no cases). */
const abs1 = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(1)} %` : '–');
/** A share (0..1) as a whole percentage, "–" when there is none. */
const share0 = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(0)} %` : '–');
const pct = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${abs1(x)}` : '—');

function groupTable(title: string, groups: Record<string, GroupSummary>): string {
  const t = new Table({
    head: [title, 'n', 'median |error|', 'median error'],
    style: { head: [], border: [], compact: true },
  });
  for (const [k, g] of Object.entries(groups))
    t.push([k, g.n, `${abs1(g.medianAbsErrorPct)}`, pct(g.medianErrorPct)]);
  return t.toString();
}

/** The text report: predicted cases, skipped cases with reasons, then the summary. */
const medianText = (g: { n: number; medianAbsErrorPct: number }): string =>
  g.n === 0 ? '–' : `${abs1(g.medianAbsErrorPct)}`;

/**
 * The text report. `shipped`: the cases are the shipped file the published fits split into fitted
 * and held-out cases; any other file was in no fit, so its cases are all out of sample.
 */
export function formatValidation(
  report: ValidationReport | EngineValidationReport,
  file: string,
  shipped = true,
): string {
  const rows = report.cases;
  const pred = new Table({
    head: ['case', 'hardware', 'stack', 'mode', 'layout', 'batch', 'reported', 'predicted', 'error', 'split'],
    style: { head: [], border: [], compact: true },
  });
  for (const r of rows) {
    if (r.status !== 'predicted') continue;
    const c = r.config!;
    const unit = r.metric === 'TTFT s' ? ' s' : '';
    pred.push([
      r.id.length > 64 ? `${r.id.slice(0, 63)}…` : r.id,
      r.hardwareKey,
      r.stack ?? '—',
      c.mode,
      c.layout,
      c.batch ?? '—',
      `${fmt(r.reported, r.metric === 'TTFT s' ? 3 : 0)}${unit}`,
      `${fmt(r.predicted, r.metric === 'TTFT s' ? 3 : 0)}${unit}`,
      pct(r.errorPct!),
      !shipped ? 'not in fits' : r.heldOut === true ? 'held out' : 'fitted',
    ]);
  }
  const skipped = rows.filter((r) => r.status === 'skipped');
  const s = report.summary;
  const lines = [
    `validation against ${file}: ${rows.length} cases, ${rows.length - skipped.length} predicted, ${skipped.length} skipped`,
    'throughput per chip (output tokens/s; InferenceX: input+output tokens/s); batch-1 rows compare TTFT',
    pred.toString(),
    '',
    `skipped (${skipped.length}):`,
    ...skipped.map((r) => `  ${r.id}: [${r.skipCode}] ${r.reason}`),
    '',
    `throughput: ${s.n} cases, median |error| ${abs1(s.medianAbsErrorPct)} (median error ${pct(s.medianErrorPct)}), ` +
      `${share0(s.within15Pct)} within ±15 %, ${share0(s.within30Pct)} within ±30 %`,
    shipped
      ? `  cases the published fits were fitted on: ${s.bySplit.fitted.n}, median |error| ${abs1(s.bySplit.fitted.medianAbsErrorPct)}; ` +
        `held out of every fit: ${s.bySplit.heldOut.n}, median |error| ${abs1(s.bySplit.heldOut.medianAbsErrorPct)}`
      : `  none of these cases was in the published fits (they were fitted on the shipped file only)`,
    `  latency (not in the bar): TPOT ${s.latency.tpot.n} cases ${medianText(s.latency.tpot)}, ` +
      `TTFT (fixed concurrency) ${s.latency.ttft.n} cases ${medianText(s.latency.ttft)}, ` +
      `batch-1 TTFT ${s.latency.batch1Ttft.n} cases ${medianText(s.latency.batch1Ttft)}`,
    `  skipped by reason: ${
      Object.entries(s.skippedReasons)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    groupTable('hardware family', s.byFamily),
    groupTable('hardware', s.byHardware),
    groupTable('source', s.bySource),
    groupTable('stack', s.byStack),
    groupTable('mode', s.byMode),
    groupTable('model', s.byModel),
  ];
  if ('engine' in s) {
    const e = (report as EngineValidationReport).summary.engine.allModes.engine;
    lines.splice(
      lines.findIndex((l) => l.startsWith('  cases the published fits')),
      0,
      `  engine in the loop (every mode it runs): ${e.n} cases, median |error| ${abs1(e.medianAbsErrorPct)} (median error ${pct(e.medianErrorPct)}), ${share0(e.within15Pct)} within ±15 % — the headline is the steady-state figure above (see "engine" below)`,
    );
    lines.push('', ...engineLines(report as EngineValidationReport));
  }
  return lines.join('\n');
}

/** The engine comparison (Server / Interactive cases simulated at their scheduled rate). */
function engineLines(report: EngineValidationReport): string[] {
  const t = new Table({
    head: [
      'case',
      'hardware',
      'qps',
      'sim',
      'reported',
      'engine',
      'error',
      'TTFT p99 ms',
      'TPOT p99 ms',
      'ok',
    ],
    style: { head: [], border: [], compact: true },
  });
  for (const r of report.cases) {
    const e = r.engine;
    if (e === null || e.mode !== 'latency') continue;
    const lat = (pred: number, err: number | null): string =>
      `${fmt(pred)}${err === null ? '' : ` (${pct(err)})`}`;
    t.push([
      r.id.length > 48 ? `${r.id.slice(0, 47)}…` : r.id,
      r.hardwareKey,
      fmt(e.targetQps, 1),
      `${e.simulatedReplicas}/${e.replicas}`,
      fmt(r.reported),
      fmt(e.throughput),
      pct(e.errorPct),
      lat(e.ttftP99Ms, e.ttftErrorPct),
      lat(e.tpotP99Ms, e.tpotErrorPct),
      e.meetsConstraints ? 'yes' : e.keepsUp ? 'slo' : 'queue',
    ]);
  }
  const s = report.summary.engine;
  const g = new Table({
    head: ['hardware', 'n', '|thr error|', '|TTFT p99 error|', '|TPOT p99 error|'],
    style: { head: [], border: [], compact: true },
  });
  for (const [k, v] of Object.entries(s.byHardware))
    g.push([
      k,
      v.n,
      `${abs1(v.medianAbsThroughputErrorPct)}`,
      `${abs1(v.medianAbsTtftP99ErrorPct)}`,
      `${abs1(v.medianAbsTpotP99ErrorPct)}`,
    ]);
  const a = s.allModes;
  const fam = new Table({
    head: ['hardware family', 'n', 'engine |error|', 'engine error', 'steady |error|', 'steady error'],
    style: { head: [], border: [], compact: true },
  });
  for (const [k, v] of Object.entries(a.engine.byFamily)) {
    const st = a.steady.byFamily[k]!;
    fam.push([
      k,
      v.n,
      `${abs1(v.medianAbsErrorPct)}`,
      pct(v.medianErrorPct),
      `${abs1(st.medianAbsErrorPct)}`,
      pct(st.medianErrorPct),
    ]);
  }
  const mode = new Table({
    head: ['mode', 'n', 'engine |error|', 'engine error', 'steady |error|', 'steady error'],
    style: { head: [], border: [], compact: true },
  });
  for (const [k, v] of Object.entries(a.engine.byMode)) {
    const st = a.steady.byMode[k]!;
    mode.push([
      k,
      v.n,
      `${abs1(v.medianAbsErrorPct)}`,
      pct(v.medianErrorPct),
      `${abs1(st.medianAbsErrorPct)}`,
      pct(st.medianErrorPct),
    ]);
  }
  const f = new Table({
    head: ['hardware family', 'n', '|thr error|', '|TTFT p99 error|', '|TPOT p99 error|'],
    style: { head: [], border: [], compact: true },
  });
  for (const [k, v] of Object.entries(s.byFamily))
    f.push([
      k,
      v.n,
      `${abs1(v.medianAbsThroughputErrorPct)}`,
      `${abs1(v.medianAbsTtftP99ErrorPct)}`,
      `${abs1(v.medianAbsTpotP99ErrorPct)}`,
    ]);
  return [
    "engine (Server / Interactive at the scheduled rate, Poisson arrivals, the datasets' length spreads; sim = replicas simulated / in the system; ok: yes = meets the p99 limits, slo = keeps up but misses them, queue = the queue diverges):",
    t.toString(),
    `engine: ${s.n} cases, median |error| throughput ${abs1(s.medianAbsThroughputErrorPct)}, ` +
      `TTFT p99 ${abs1(s.medianAbsTtftP99ErrorPct)}, TPOT p99 ${abs1(s.medianAbsTpotP99ErrorPct)}; ` +
      `${s.keepsUp} keep up, ${s.meetsConstraints} meet the limits`,
    ...s.skipped.map((x) => `  engine skipped ${x.id}: ${x.reason}`),
    f.toString(),
    g.toString(),
    '',
    `engine, every mode (Offline and vendor tables: every request at t = 0, steady middle of the run; static batches: one batch; fixed concurrency: closed loop): ` +
      `${a.engine.n} cases, median |error| ${abs1(a.engine.medianAbsErrorPct)} (median error ${pct(a.engine.medianErrorPct)}), ` +
      `${share0(a.engine.within15Pct)} within ±15 %; the steady-state model on the same cases: ${abs1(a.steady.medianAbsErrorPct)} (${pct(a.steady.medianErrorPct)}), ${share0(a.steady.within15Pct)} within ±15 %`,
    `  mean TTFT against the published mean/p50 (Server / Interactive, fixed concurrency): ${a.meanLatency.ttft.n} cases ${abs1(a.meanLatency.ttft.medianAbsErrorPct)}, mean TPOT ${a.meanLatency.tpot.n} cases ${abs1(a.meanLatency.tpot.medianAbsErrorPct)}`,
    ...a.skipped
      .filter((x) => !s.skipped.some((y) => y.id === x.id))
      .map((x) => `  engine skipped ${x.id}: ${x.reason}`),
    fam.toString(),
    mode.toString(),
    s.headline,
  ];
}

interface ValidateOpts {
  cases?: string;
  json?: boolean;
  profiles?: string[];
  catalog?: string[];
  engine?: boolean;
}

export function registerValidate(program: Command): void {
  const cmd = program
    .command('validate')
    .description(
      'Predict published benchmark results (MLPerf, TensorRT-LLM tables, InferenceX) with the performance model and report the errors',
    )
    .option(
      '--cases <file>',
      'published-results file (default: the shipped calibration/published-results.json)',
    )
    .option('--profiles <dir...>', 'extra performance-profile directories (from `pertoken calibrate`)')
    .option('--json', 'print { cases, summary } as JSON')
    .option('--no-engine', 'skip the engine runs (steady-state model only)');
  addCatalogOption(cmd).action(async (o: ValidateOpts) => {
    const file = o.cases ?? BUNDLED_PUBLISHED_RESULTS;
    const [catalog, profiles, cases] = await Promise.all([
      loadCatalog({ extraDirs: o.catalog ?? [] }),
      loadProfiles([BUNDLED_PROFILE_DIR, ...(o.profiles ?? [])]),
      readPublishedCases(file),
    ]);
    const report =
      o.engine === false
        ? validateCases(cases, catalog, profiles)
        : await validateCasesWithEngine(cases, catalog, profiles);
    if (o.json === true) return emit(toJson(report));
    return emit(
      formatValidation(
        report,
        o.cases ?? 'calibration/published-results.json',
        resolve(file) === resolve(BUNDLED_PUBLISHED_RESULTS),
      ),
    );
  });
}

export interface CalibratePublishedOpts {
  published: string;
  stack?: string;
  hardware?: string;
  out?: string;
  json?: boolean;
  profiles?: string[];
  catalog?: string[];
}

/** `pertoken calibrate --published FILE --stack S [--hardware H]`: fit, report held-out error, write. */
export async function calibratePublished(o: CalibratePublishedOpts): Promise<void> {
  if (o.stack === undefined)
    throw new InputError('calibrate --published: give --stack <key> (e.g. trtllm, vllm, rocm-vllm, sglang)');
  const [catalog, profiles, cases] = await Promise.all([
    loadCatalog({ extraDirs: o.catalog ?? [] }),
    loadProfiles([BUNDLED_PROFILE_DIR, ...(o.profiles ?? [])]),
    readPublishedCases(o.published),
  ]);
  catalog.stack(o.stack);
  if (o.hardware !== undefined) catalog.accelerator(o.hardware);
  const { prepared } = prepareAll(cases, catalog);
  const r = fitPublishedProfile(prepared, profiles, o.stack, o.hardware ?? null, o.published);
  if (o.out !== undefined) await emit(toJson(r.profile), o.out);
  if (o.json === true) return emit(toJson(r));
  const p = r.profile;
  return emit(
    [
      `calibrated ${p.key} from ${o.published}: ${r.n} predictable cases, fitted on ${r.trainN}, ${r.heldOutN} held out (deterministic split by case group)`,
      `held-out median |error|: ${abs1(r.heldOutMedianAbsErrorPct)} (before the fit: ${abs1(r.beforeHeldOutMedianAbsErrorPct)})`,
      `  fitted cases: ${abs1(r.trainMedianAbsErrorPct)} (all cases before the fit: ${abs1(r.beforeMedianAbsErrorPct)})`,
      `parameters: compute efficiency × ${p.computeEffScale.toFixed(3)}, memory efficiency × ${p.memEffScale.toFixed(3)}, ` +
        `step overhead ${(p.stepOverheadS * 1e3).toFixed(2)} ms + ${(p.seqOverheadS * 1e6).toFixed(2)} µs per sequence, all-reduce latency ${(p.allReduceLatencyS * 1e6).toFixed(1)} µs`,
      o.out === undefined ? 'not written (give --out FILE)' : `profile written to ${o.out}`,
    ].join('\n'),
  );
}
