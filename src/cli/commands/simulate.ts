import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import {
  affinePerf,
  describeSizing,
  policyNames,
  simulate,
  sizeReplicas,
  sizingTrialLine,
  trialRecords,
  type SimulationSummary,
  type SizingTrialRecord,
} from '../../engine/index.js';
import { loadProfiles } from '../../perf/profiles.js';
import type { EngineConfigInput } from '../../engine/config.js';
import {
  engineConfigFor,
  explicitReplicasFor,
  openScenarioWorkload,
  replicaPerfFor,
  sloFor,
  type ScenarioWorkload,
} from '../../engine/from-scenario.js';
import type { LatencyStats, RequestRecord } from '../../metrics/types.js';
import type { ReplicaPerf } from '../../perf/types.js';
import { loadScenario, type ResolvedCandidate, type ResolvedScenario } from '../../scenario/index.js';
import { InputError } from '../../util/errors.js';
import { toJson } from '../../util/output.js';
import { addCatalogOption } from '../catalog-option.js';
import type { ReadReport } from '../../workload/types.js';

/** Raw flags of `pertoken simulate`. */
export interface SimulateFlags {
  candidate?: string;
  json?: boolean;
  requests?: string;
  quiet?: boolean;
  catalog?: string[];
  replicas?: string;
  router?: string;
  batchPolicy?: string;
  admission?: string;
  queueLimit?: string;
  preemption?: string;
  timeout?: string;
  retries?: string;
  backoff?: string;
  seed?: string;
  prefixCaching?: boolean;
  stepJumping?: boolean;
  affinePerf?: string;
}

/** Where the command writes (process streams by default; tests pass their own). */
export interface SimulateIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (a live bar) or not (a plain line every few seconds). */
  isTty: boolean;
}

function parseNum(
  flag: string,
  raw: string,
  opts: { integer?: boolean; min?: number; exclusiveMin?: number },
): number {
  const x = Number(raw);
  const ok =
    raw.trim() !== '' &&
    Number.isFinite(x) &&
    (!opts.integer || Number.isInteger(x)) &&
    (opts.min === undefined || x >= opts.min) &&
    (opts.exclusiveMin === undefined || x > opts.exclusiveMin);
  if (!ok) {
    const what = opts.integer ? 'an integer' : 'a number';
    const bound =
      opts.min !== undefined
        ? ` ≥ ${opts.min}`
        : opts.exclusiveMin !== undefined
          ? ` > ${opts.exclusiveMin}`
          : '';
    throw new InputError(`${flag}: expected ${what}${bound}, found ${JSON.stringify(raw)}`);
  }
  return x;
}

/** Engine overrides from the flags. */
export function configOverrides(f: SimulateFlags): EngineConfigInput {
  const o: EngineConfigInput = {};
  if (f.router !== undefined) o.router = f.router;
  if (f.batchPolicy !== undefined) o.batchPolicy = f.batchPolicy;
  if (f.admission !== undefined) o.admission = f.admission;
  if (f.preemption !== undefined) o.preemption = f.preemption;
  if (f.queueLimit !== undefined) {
    o.queueLimit = parseNum('--queue-limit', f.queueLimit, { integer: true, min: 0 });
    if (f.admission === undefined) o.admission = 'queue-limit';
  }
  if (f.timeout !== undefined) o.timeoutS = parseNum('--timeout', f.timeout, { exclusiveMin: 0 });
  if (f.retries !== undefined || f.backoff !== undefined) {
    o.retry = {};
    if (f.retries !== undefined)
      o.retry.maxAttempts = 1 + parseNum('--retries', f.retries, { integer: true, min: 0 });
    if (f.backoff !== undefined) o.retry.backoffS = parseNum('--backoff', f.backoff, { min: 0 });
  }
  if (f.prefixCaching === false) o.prefixCaching = false;
  if (f.stepJumping === false) o.stepJumping = false;
  return o;
}

/** `--affine-perf base=0.005,token=3e-5,context=4e-8,pair=0,kv=400000`: a stand-in step timer. */
export function parseAffinePerf(raw: string, blockSize: number): ReplicaPerf {
  const fields: Record<string, number> = {};
  for (const part of raw.split(',')) {
    const [k, v] = part.split('=');
    if (k === undefined || v === undefined || !['base', 'token', 'context', 'pair', 'kv'].includes(k.trim()))
      throw new InputError(
        `--affine-perf: expected base=S,token=S,context=S,pair=S,kv=TOKENS (any subset but kv), found ${JSON.stringify(part)}`,
      );
    fields[k.trim()] = parseNum(`--affine-perf ${k.trim()}`, v, { min: 0 });
  }
  if (fields.kv === undefined)
    throw new InputError('--affine-perf: expected kv=TOKENS (the KV capacity of a replica)');
  return affinePerf({
    baseS: fields.base ?? 0,
    perTokenS: fields.token ?? 0,
    perContextTokenS: fields.context ?? 0,
    perAttnPairS: fields.pair ?? 0,
    kvTokens: fields.kv,
    blockSize,
  });
}

const CSV_COLUMNS: (keyof RequestRecord)[] = [
  'id',
  'sessionId',
  'turn',
  'replica',
  'attempts',
  'arrivalS',
  'attemptArrivalS',
  'admittedS',
  'firstScheduledS',
  'firstTokenS',
  'endS',
  'queueDelayS',
  'ttftS',
  'tpotS',
  'maxItlS',
  'e2eS',
  'promptTokens',
  'outputTokens',
  'generatedTokens',
  'wastedTokens',
  'cachedPromptTokens',
  'preemptions',
  'outcome',
  'sloMiss',
];

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Per-request CSV rows, buffered and written with backpressure at the end of each candidate. */
class CsvWriter {
  private readonly out: WriteStream;
  private buf: string[] = [];
  private bufChars = 0;
  constructor(path: string) {
    this.out = createWriteStream(path);
    this.out.write(`candidate,${CSV_COLUMNS.join(',')}\n`);
  }
  row(candidate: string, r: RequestRecord): void {
    let line = csvCell(candidate);
    for (const c of CSV_COLUMNS) line += `,${csvCell(r[c])}`;
    this.buf.push(line);
    this.bufChars += line.length;
    if (this.bufChars > 1 << 20) this.flushSync();
  }
  private flushSync(): void {
    if (this.buf.length === 0) return;
    this.out.write(`${this.buf.join('\n')}\n`);
    this.buf = [];
    this.bufChars = 0;
  }
  async close(): Promise<void> {
    this.flushSync();
    this.out.end();
    await once(this.out, 'finish');
  }
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–');
const pct2 = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : '–');
const num = (x: number, digits = 0): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
const secs = (x: number): string =>
  Number.isFinite(x) ? (x < 1 ? `${(x * 1000).toFixed(1)} ms` : `${x.toFixed(3)} s`) : '–';

/**
 * The summary as a terminal table. `sizing`: the trials of a `replicas: auto` candidate (a line
 * says how the count was found); absent for an explicit count.
 */
export function summaryText(
  name: string,
  label: string,
  s: SimulationSummary,
  sizing?: readonly SizingTrialRecord[],
): string {
  const r = s.requests;
  const o = r.byOutcome;
  const share = (n: number): string => (r.total > 0 ? ` (${pct(n / r.total)})` : '');
  const lines: string[] = [];
  lines.push(`${name} — ${s.replicaCount} × ${label}`);
  if (sizing !== undefined) lines.push(`  replicas     ${s.replicaCount} (${describeSizing(sizing)})`);
  lines.push(
    `  engine       ${s.config.batchPolicy}, router ${s.config.router}, admission ${s.config.admission}, ` +
      `max_num_seqs ${s.config.maxNumSeqs}, max_num_batched_tokens ${s.config.maxNumBatchedTokens}, block ${s.config.blockSize}`,
  );
  lines.push(
    `  requests     ${num(r.total)}: accepted ${num(o.accepted)}${share(o.accepted)}, slo-miss ${num(o['slo-miss'])} ` +
      `(ttft ${num(r.sloMissBy.ttft)}, tpot ${num(r.sloMissBy.tpot)}, e2e ${num(r.sloMissBy.e2e)}), timeout ${num(o.timeout)}, ` +
      `failed ${num(o.failed)}, rejected ${num(o.rejected)}; ${num(s.attempts.retries)} retries`,
  );
  const slo = s.slo;
  const checks = slo.percentiles
    .map(
      (p) => `p${p.percentile} ${p.metric} ${secs(p.valueS)} ≤ ${secs(p.limitS)} ${p.met ? 'ok' : 'MISSED'}`,
    )
    .join('; ');
  lines.push(
    `  SLO          ${slo.met ? 'met' : 'NOT MET'}: attainment ${pct2(slo.attainment)} (target ${pct2(slo.attainmentTarget)})` +
      (checks === '' ? '' : `; ${checks}`),
  );
  lines.push(
    `  goodput      ${num(s.goodputTokPerS, 1)} accepted output tok/s; throughput ${num(s.throughputTokPerS, 1)} tok/s, ` +
      `${num(s.completedPerS, 2)} req/s over ${num(s.durationS, 1)} s`,
  );
  lines.push(
    `  latency      ${'p50'.padStart(10)}${'p90'.padStart(10)}${'p99'.padStart(10)}${'p99.9'.padStart(10)}${'mean'.padStart(10)}${'max'.padStart(10)}`,
  );
  const row = (what: string, l: LatencyStats): void => {
    lines.push(
      `    ${what.padEnd(11)}${[l.p50S, l.p90S, l.p99S, l.p999S, l.meanS, l.maxS].map((x) => secs(x).padStart(10)).join('')}`,
    );
  };
  row('queue', s.latency.queueDelay);
  row('TTFT', s.latency.ttft);
  row('TPOT', s.latency.tpot);
  row('max ITL', s.latency.maxItl);
  row('E2E', s.latency.e2e);
  const t = s.tokens;
  lines.push(
    `  tokens       prompt ${num(t.prompt)} (prefilled ${num(t.prefillComputed)}, prefix-cache hit rate ${pct(s.prefixCache.hitRate)}); ` +
      `output ${num(t.outputGenerated)} generated, ${num(t.outputAccepted)} accepted, ${num(t.outputWasted)} wasted`,
  );
  const u = s.utilization;
  lines.push(
    `  utilization  busy ${pct(u.busyFraction)} (prefill ${pct(u.busyS > 0 ? u.prefillBusyS / u.busyS : NaN)} of busy time); ` +
      `batch mean ${num(u.batchSize.mean, 1)}, p99 ${num(u.batchSize.p99)}; KV in use mean ${num(u.kvOccupancyPermille.mean / 10, 1)} %, ` +
      `p99 ${num(u.kvOccupancyPermille.p99 / 10, 1)} %; ${num(s.preemptions)} preemptions`,
  );
  for (const n of s.notes) lines.push(`  note         ${n}`);
  return lines.join('\n');
}

interface Progress {
  update: (simS: number, done: number) => void;
  stop: () => void;
}

/** A progress bar on stderr, started only once a run has taken 2 s (plain lines when stderr is not a terminal). */
function makeProgress(io: SimulateIo, name: string, expected: number | null): Progress {
  const startedMs = Date.now();
  let bar: cliProgress.SingleBar | null = null;
  return {
    update(simS: number, done: number): void {
      if (bar === null) {
        if (Date.now() - startedMs < 2000) return;
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format:
              expected !== null
                ? `${name} [{bar}] {percentage}% | {value}/{total} requests | simulated {simS} s`
                : `${name} | {value} requests done | simulated {simS} s`,
            noTTYOutput: !io.isTty,
            notTTYSchedule: 2000,
            hideCursor: io.isTty,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(expected ?? 0, done, { simS: simS.toFixed(0) });
      }
      bar.update(done, { simS: simS.toFixed(0) });
    },
    stop(): void {
      bar?.stop();
      bar = null;
    },
  };
}

/** What the trace reader wants the user to know (warnings, skipped rows). */
function readNotes(report: ReadReport, io: SimulateIo): void {
  for (const w of report.warnings) io.stderr(`warning: ${w}\n`);
  if (report.badRows > 0) {
    io.stderr(`warning: skipped ${report.badRows} bad row(s); the first ${report.firstBadRows.length}:\n`);
    for (const b of report.firstBadRows) io.stderr(`  ${b}\n`);
  }
}

/** `pertoken simulate`: the work behind the command, with its output streams injectable. */
export async function runSimulate(file: string, f: SimulateFlags, io: SimulateIo): Promise<void> {
  const scenario: ResolvedScenario = await loadScenario(
    file,
    f.catalog !== undefined ? { catalogDirs: f.catalog } : {},
  );
  for (const w of scenario.warnings) io.stderr(`warning: ${w}\n`);
  let candidates: ResolvedCandidate[] = scenario.candidates;
  if (f.candidate !== undefined) {
    candidates = candidates.filter((c) => c.name === f.candidate);
    if (candidates.length === 0)
      throw new InputError(
        `--candidate: no candidate "${f.candidate}" in ${file}; expected one of ${scenario.candidates.map((c) => c.name).join(', ')}`,
      );
  }
  const overrides = configOverrides(f);
  const seed =
    f.seed !== undefined
      ? parseNum('--seed', f.seed, { integer: true, min: 0 })
      : scenario.scenario.workload.seed;
  const replicasOverride =
    f.replicas !== undefined ? parseNum('--replicas', f.replicas, { integer: true, min: 1 }) : undefined;
  // Resolve every candidate's setup before running any, so a bad flag fails fast.
  const profiles = await loadProfiles();
  const setups = candidates.map((c) => {
    const config = engineConfigFor(c, overrides);
    // null: `replicas: auto`, sized below by simulation
    const replicas = explicitReplicasFor(c, replicasOverride);
    const perf =
      f.affinePerf !== undefined
        ? parseAffinePerf(f.affinePerf, config.blockSize!)
        : replicaPerfFor(scenario, c, profiles).perf;
    return { c, config, replicas, perf };
  });
  const slo = sloFor(scenario);
  const scenarioDir = dirname(resolve(file));
  const csv = f.requests !== undefined ? new CsvWriter(f.requests) : null;
  const results: {
    name: string;
    label: string;
    workload: string;
    summary: SimulationSummary;
    /** The trials of an auto-sized candidate; undefined for an explicit count. */
    sizing: SizingTrialRecord[] | undefined;
  }[] = [];
  const say = (line: string): void => {
    if (f.quiet !== true) io.stderr(`${line}\n`);
  };
  try {
    for (const { c, config, replicas, perf } of setups) {
      /** One full run at n replicas (rows to the CSV when `rows`). */
      const runAt = async (
        n: number,
        rows: boolean,
        barName: string,
      ): Promise<{ summary: SimulationSummary; workload: ScenarioWorkload }> => {
        const workload = await openScenarioWorkload(scenario, scenarioDir);
        const progress = f.quiet === true ? null : makeProgress(io, barName, workload.expectedRequests);
        try {
          const summary = await simulate({
            requests: workload.requests,
            replicas: () => perf,
            config: { ...config, replicas: n },
            slo,
            seed,
            ...(csv !== null && rows ? { onRequest: (r: RequestRecord) => csv.row(c.name, r) } : {}),
            ...(progress !== null ? { onProgress: progress.update } : {}),
          });
          return { summary, workload };
        } finally {
          progress?.stop();
        }
      };
      let run: { summary: SimulationSummary; workload: ScenarioWorkload };
      let sizing: SizingTrialRecord[] | undefined;
      if (replicas !== null) run = await runAt(replicas, true, c.name);
      else {
        say(
          `${c.name}: replicas auto: sizing by simulation (1, 2, 4, … replicas until the SLO is met, then bisect)`,
        );
        const workloads = new Map<number, ScenarioWorkload>();
        const sized = await sizeReplicas(
          async (n) => {
            const r = await runAt(n, false, `${c.name} (sizing, ${n} replicas)`);
            workloads.set(n, r.workload);
            return r.summary;
          },
          {
            name: c.name,
            onTrial: (t) => say(sizingTrialLine(c.name, t)),
          },
        );
        sizing = trialRecords(sized.trials);
        say(
          `${c.name}: ${sized.replicas} replica${sized.replicas === 1 ? '' : 's'} (${describeSizing(sizing)})`,
        );
        // the answer's own run; per-request rows need one more run at the chosen count
        run = { summary: sized.summary, workload: workloads.get(sized.replicas)! };
        if (csv !== null) {
          say(`${c.name}: running ${sized.replicas} replicas once more for the --requests rows`);
          run = await runAt(sized.replicas, true, c.name);
        }
      }
      const { summary, workload } = run;
      if (workload.report !== null) readNotes(workload.report, io);
      summary.notes.unshift(...workload.notes);
      results.push({ name: c.name, label: perf.label, workload: workload.describe, summary, sizing });
      if (f.json !== true) io.stdout(`${summaryText(c.name, perf.label, summary, sizing)}\n\n`);
    }
  } finally {
    if (csv !== null) await csv.close();
  }
  if (f.requests !== undefined) io.stderr(`wrote ${f.requests}\n`);
  if (f.json === true)
    io.stdout(
      `${toJson({
        scenario: scenario.scenario.name,
        seed,
        candidates: results.map((r) => ({
          name: r.name,
          replicaLabel: r.label,
          workload: r.workload,
          // only for `replicas: auto`: how the count (summary.replicaCount) was found
          ...(r.sizing !== undefined
            ? { sizing: { rule: 'fewest replicas meeting the SLO', trials: r.sizing } }
            : {}),
          summary: r.summary,
        })),
      })}\n`,
    );
}

export function registerSimulate(program: Command): void {
  const names = policyNames();
  const cmd = program
    .command('simulate')
    .description("Replay the scenario's workload through each candidate's simulated serving cluster")
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--candidate <name>', 'simulate only this candidate (default: all)')
    .option('--json', 'print the summaries as one JSON object')
    .option('--requests <file>', 'write one CSV row per request (all candidates, with a candidate column)')
    .option('--quiet', 'no progress bar')
    .option(
      '--replicas <n>',
      "replicas per candidate (overrides the scenario, 'auto' included; default: the scenario's count, or for 'auto' the fewest that meet the SLO)",
    )
    .addOption(new Option('--router <name>', 'request router').choices(names.router))
    .addOption(new Option('--batch-policy <name>', 'batch formation').choices(names.batch))
    .addOption(new Option('--admission <name>', 'admission policy').choices(names.admission))
    .option(
      '--queue-limit <n>',
      'reject arrivals at a replica with this many waiting (implies --admission queue-limit)',
    )
    .addOption(new Option('--preemption <name>', 'preemption victim (recompute)').choices(names.preemption))
    .option('--timeout <s>', 'client timeout per attempt, seconds')
    .option('--retries <n>', 'retries after a timeout or rejection')
    .option('--backoff <s>', 'first retry delay, seconds (doubles each retry, 10 % jitter)')
    .option('--seed <n>', "seed for the engine's random choices (default: the scenario's workload.seed)")
    .option('--no-prefix-caching', 'turn the prefix cache off')
    .option('--no-step-jumping', 'simulate every decode step (slower; for checks)')
    .addOption(
      new Option(
        '--affine-perf <spec>',
        'stand-in step timer: base=S,token=S,context=S,pair=S,kv=TOKENS',
      ).hideHelp(),
    );
  addCatalogOption(cmd).action(async (file: string, flags: SimulateFlags) => {
    await runSimulate(file, flags, {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      isTty: process.stderr.isTTY === true,
    });
  });
}
