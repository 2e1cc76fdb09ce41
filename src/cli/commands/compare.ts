import type { Command } from 'commander';
import {
  compareCsv,
  compareMarkdown,
  compareScenario,
  compareText,
  type CompareOptions,
  type CompareResult,
} from '../../cost/index.js';
import { sizingTrialLine } from '../../engine/index.js';
import { writeCompareHtml } from '../../report/html.js';
import { InputError } from '../../util/errors.js';
import { toJson } from '../../util/output.js';
import { addCatalogOption } from '../catalog-option.js';

/** Raw flags of `pertoken compare`. */
export interface CompareFlags {
  json?: boolean;
  markdown?: boolean;
  csv?: boolean;
  replicas?: string;
  quiet?: boolean;
  catalog?: string[];
  /** Also write the self-contained HTML report here. */
  out?: string;
  /** Vendor quote files, costed as candidates after the scenario's own `quotes:`. */
  quote?: string[];
  /** Worker threads for the simulated candidates (1 = sequential, in process). */
  workers?: string;
}

export interface CompareIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The result as JSON: scenario, window, candidates (ledger, latency, SLO, replicas, flags), ranking. */
export function compareJson(r: CompareResult): string {
  return `${toJson({
    scenario: r.scenario,
    window: r.window,
    workload: r.workload,
    seed: r.seed,
    candidates: r.candidates.map((c) => ({
      name: c.name,
      status: c.status,
      reason: c.reason,
      kind: c.kind,
      model: c.model,
      precision: c.precision,
      label: c.label,
      replicas: c.replicas,
      sizing: c.sizing ?? null,
      price: c.price,
      ledger: c.ledger,
      usage: c.usage,
      latency: c.latency,
      slo: c.slo,
      utilization: c.utilization,
      productChange: c.productChange,
      assumptions: c.assumptions,
      warnings: c.warnings,
      quote: c.quote ?? null,
    })),
    ranking: r.ranking,
    warnings: r.warnings,
  })}\n`;
}

/** `pertoken compare`: run, then print one format (text by default). */
export async function runCompare(
  file: string,
  f: CompareFlags,
  io: CompareIo,
  extra: Pick<CompareOptions, 'quotesOnly'> = {},
): Promise<CompareResult> {
  const formats = [f.json, f.markdown, f.csv].filter((x) => x === true).length;
  if (formats > 1) throw new InputError('expected at most one of --json, --markdown, --csv');
  const opts: CompareOptions = { ...extra };
  if (f.catalog !== undefined) opts.catalogDirs = f.catalog;
  if (f.replicas !== undefined) {
    const n = Number(f.replicas);
    if (f.replicas.trim() === '' || !Number.isInteger(n) || n < 1)
      throw new InputError(`--replicas: expected an integer ≥ 1, found ${JSON.stringify(f.replicas)}`);
    opts.replicas = n;
  }
  if (f.quote !== undefined) opts.quotes = f.quote;
  if (f.workers !== undefined) {
    const n = Number(f.workers);
    if (f.workers.trim() === '' || !Number.isInteger(n) || n < 1)
      throw new InputError(`--workers: expected an integer ≥ 1, found ${JSON.stringify(f.workers)}`);
    opts.workers = n;
  }
  if (f.quiet !== true) {
    const t0 = performance.now();
    opts.onCandidateDone = (name, _i, total, done) =>
      io.stderr(`[${done}/${total}] ${name} done (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    opts.onSizingTrial = (name, t) => io.stderr(`${sizingTrialLine(name, t)}\n`);
  }
  return finishCompare(await compareScenario(file, opts), f, io);
}

/** Print one format (text by default), the warnings and the HTML report. */
export async function finishCompare(
  r: CompareResult,
  f: CompareFlags,
  io: CompareIo,
): Promise<CompareResult> {
  if (f.quiet !== true) for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
  if (f.json === true) io.stdout(compareJson(r));
  else if (f.markdown === true) io.stdout(compareMarkdown(r));
  else if (f.csv === true) io.stdout(compareCsv(r));
  else io.stdout(compareText(r));
  if (f.out !== undefined) {
    await writeCompareHtml(r, f.out);
    if (f.quiet !== true) io.stderr(`wrote ${f.out}\n`);
  }
  return r;
}

/** Commander collector for a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description(
      'Run every candidate on the same trace, SLO and window; rank by cost per 1M accepted output tokens',
    )
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--json', 'print the comparison as one JSON object')
    .option('--markdown', 'print the comparison as Markdown')
    .option('--csv', 'print one CSV row per candidate')
    .option(
      '--replicas <n>',
      "replicas for every hardware candidate (overrides the scenario, 'auto' included; default: the scenario's count, or for 'auto' the fewest that meet the SLO)",
    )
    .option('--out <file>', 'also write a self-contained HTML report (charts, tables, assumptions)')
    .option('--quote <file>', 'a vendor quote file to cost as one more candidate (repeatable)', collect)
    .option(
      '--workers <n>',
      'worker threads for the simulated candidates (default: one per core; 1 = sequential); or PERTOKEN_WORKERS',
    )
    .option('--quiet', 'no progress lines or warnings on stderr');
  addCatalogOption(cmd).action(async (file: string, flags: CompareFlags) => {
    await runCompare(file, flags, {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
    });
  });
}
