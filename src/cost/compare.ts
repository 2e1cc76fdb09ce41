/**
 * `compare`: every candidate of a scenario on the same trace, SLO and window, charged to the ledger
 * and ranked by cost per 1M accepted output tokens (DESIGN.md §10). A candidate with `replicas: auto`
 * is sized by simulation (size-replicas.ts) inside its task, so sizing runs in parallel too. A
 * candidate that cannot run (does not fit, no price, no replica count up to the cap meets the SLO)
 * stays in the result as infeasible, with the reason.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { dirname, resolve } from 'node:path';
import { Piscina } from 'piscina';
import { loadCatalog, type Catalog } from '../catalog/load.js';
import {
  describeSizing,
  simulate,
  sizeReplicas,
  SizingError,
  trialRecords,
  type SimulationSummary,
  type SizingTrial,
  type SizingTrialRecord,
} from '../engine/index.js';
import {
  engineConfigFor,
  explicitReplicasFor,
  openScenarioWorkload,
  replicaPerfFor,
  sloFor,
} from '../engine/from-scenario.js';
import type { LatencyStats, RequestRecord, SloSpec } from '../metrics/types.js';
import type { PerfProfile } from '../perf/profile.js';
import { loadProfiles } from '../perf/profiles.js';
import {
  loadScenario,
  type ResolvedCandidate,
  type ResolvedScenario,
  type Scenario,
} from '../scenario/index.js';
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
} from './from-simulation.js';
import type { Ledger, Usage } from './ledger.js';
import {
  finishCommittedQuote,
  managedQuoteCandidate,
  perTokenQuoteCandidate,
  quoteFiles,
  resolveQuote,
  workloadStats,
  type QuoteMarker,
  type ResolvedQuote,
  type WorkloadStats,
} from './quote.js';
import { loadQuote } from './quote-schema.js';

export interface CompareOptions {
  catalogDirs?: string[];
  /** Replicas for every hardware candidate (overrides the scenario). */
  replicas?: number;
  /** Quote files (relative to the working directory), costed after the scenario's own `quotes:`. */
  quotes?: string[];
  /** Cost only the quotes, not the scenario's candidates (`pertoken quote`). */
  quotesOnly?: boolean;
  /**
   * Worker threads for the simulated candidates; 1 runs them one after the other in this thread.
   * Default: PERTOKEN_WORKERS, else one per core (os.availableParallelism()), never more than tasks.
   */
  workers?: number;
  /** Called when a candidate starts (all simulated ones at once when they run in parallel). */
  onCandidate?: (name: string, index: number, total: number) => void;
  /** Called when a candidate has finished; `done` counts the finished ones so far. */
  onCandidateDone?: (name: string, index: number, total: number, done: number) => void;
  /** Called after each sizing run of a `replicas: auto` candidate (from worker threads too). */
  onSizingTrial?: (name: string, trial: SizingTrial) => void;
}

/** How an auto replica count was found (`replicas: auto`): the rule and every count simulated. */
export interface CandidateSizing {
  rule: 'fewest replicas meeting the SLO';
  /** In the order run; the chosen count is the smallest with met = true. */
  trials: SizingTrialRecord[];
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
  /** hardware: simulated; api: per-token prices; managed: a managed endpoint quote (not simulated). */
  kind: 'hardware' | 'api' | 'managed';
  model: string;
  precision: { weights: string; kv: string };
  /** Replica description from the performance model (null for API and infeasible candidates). */
  label: string | null;
  replicas: number | null;
  /** Set when `replicas: auto` sized the count (also on an infeasible candidate it could not size); absent or null otherwise. */
  sizing?: CandidateSizing | null;
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
  /** Set when the candidate is a vendor quote (`quotes:` / `--quote`): who, when, where from. */
  quote?: QuoteMarker | null;
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

/** Everything a simulated candidate needs, loaded once per thread (main or worker). */
export interface RunContext {
  file: string;
  dir: string;
  catalog: Catalog;
  scenario: ResolvedScenario;
  profiles: PerfProfile[];
  slo: SloSpec;
}

/** Load the scenario, its catalog and the performance profiles. */
export async function loadRunContext(file: string, catalogDirs: readonly string[] = []): Promise<RunContext> {
  const catalog = await loadCatalog({ extraDirs: [...catalogDirs] });
  const scenario = await loadScenario(file, { catalog });
  return {
    file,
    dir: dirname(resolve(file)),
    catalog,
    scenario,
    profiles: await loadProfiles(),
    slo: sloFor(scenario),
  };
}

/** One simulated candidate, as data a worker thread can receive: a scenario candidate or a quote file. */
export interface SimTask {
  file: string;
  catalogDirs: string[];
  target: { candidate: number } | { quote: string };
  /** --replicas (scenario candidates only: a quote fixes its own capacity). */
  replicas?: number;
  /** On a worker thread: where sizing progress goes (SizingMessage), transferred with the task. */
  progress?: MessagePort;
}

/** What a worker posts on SimTask.progress: each sizing trial, then `done` when the task ends. */
export type SizingMessage = { kind: 'trial'; trial: SizingTrial } | { kind: 'done' };

/** Run one simulated candidate in this thread (the worker's body, and the sequential path). */
export async function runSimTask(
  ctx: RunContext,
  task: SimTask,
  onTrial?: (trial: SizingTrial) => void,
): Promise<CompareCandidate> {
  if ('candidate' in task.target) {
    const c = ctx.scenario.candidates[task.target.candidate];
    if (c === undefined) throw new Error(`no candidate ${task.target.candidate} in ${task.file}`);
    return runHardware(ctx, c, task.replicas, null, onTrial);
  }
  const rq = resolveQuote(await loadQuote(task.target.quote), ctx.scenario, ctx.catalog);
  return runHardware(ctx, rq.candidate, undefined, rq, onTrial);
}

function quoteBase(rq: ResolvedQuote): Omit<CompareCandidate, 'status' | 'reason'> {
  const b = base(rq.candidate);
  return {
    ...b,
    kind:
      rq.marker.kind === 'committed_capacity'
        ? 'hardware'
        : rq.marker.kind === 'per_token'
          ? 'api'
          : 'managed',
    price: rq.price,
    quote: rq.marker,
  };
}

/**
 * A hardware candidate (or committed-capacity quote): simulate — at its replica count, or for
 * `replicas: auto` at the fewest replicas that meet the SLO (sizeReplicas; `onTrial` after each
 * sizing run) — then charge to the ledger.
 */
async function runHardware(
  ctx: RunContext,
  c: ResolvedCandidate,
  replicasOverride: number | undefined,
  rq: ResolvedQuote | null,
  onTrial?: (trial: SizingTrial) => void,
): Promise<CompareCandidate> {
  const spec = ctx.scenario.scenario;
  const b = rq === null ? base(c) : quoteBase(rq);
  const infeasibleHere = (reason: string, sizing: CandidateSizing | null = null): CompareCandidate => ({
    ...b,
    status: 'infeasible',
    reason,
    ...(sizing !== null ? { sizing } : {}),
  });
  let explicit: number | null;
  let perf;
  let choice;
  try {
    explicit = explicitReplicasFor(c, replicasOverride);
    ({ perf, choice } = replicaPerfFor(ctx.scenario, c, ctx.profiles));
  } catch (err) {
    if (err instanceof InputError) return infeasibleHere(err.message);
    throw err;
  }
  if (c.spec.pricing.model !== 'owned' && c.instanceUsdPerHour === null)
    return infeasibleHere(`no ${c.spec.pricing.model} price for ${c.instance?.key ?? 'the instance'}`);
  const replicaPerf = perf;
  /** One full run at n replicas, with the prompt tokens by outcome the ledger needs. */
  const runAt = async (n: number): Promise<{ summary: SimulationSummary; tally: InputTokenTally }> => {
    const workload = await openScenarioWorkload(ctx.scenario, ctx.dir);
    const { onRequest, tally } = inputTally();
    const summary = await simulate({
      requests: workload.requests,
      replicas: () => replicaPerf,
      config: { ...engineConfigFor(c), replicas: n },
      slo: ctx.slo,
      seed: spec.workload.seed,
      onRequest,
    });
    return { summary, tally };
  };
  let replicas: number;
  let summary: SimulationSummary;
  let tally: InputTokenTally;
  let sizing: CandidateSizing | null = null;
  if (explicit !== null) {
    replicas = explicit;
    ({ summary, tally } = await runAt(explicit));
  } else {
    const tallies = new Map<number, InputTokenTally>();
    try {
      const sized = await sizeReplicas(
        async (n) => {
          const r = await runAt(n);
          tallies.set(n, r.tally);
          return r.summary;
        },
        { name: c.name, ...(onTrial !== undefined ? { onTrial } : {}) },
      );
      replicas = sized.replicas;
      summary = sized.summary;
      tally = tallies.get(sized.replicas)!;
      sizing = { rule: 'fewest replicas meeting the SLO', trials: trialRecords(sized.trials) };
    } catch (err) {
      if (err instanceof SizingError)
        return infeasibleHere(err.message, {
          rule: 'fewest replicas meeting the SLO',
          trials: trialRecords(err.trials),
        });
      throw err;
    }
  }
  let l = ledgerFromSimulation({
    scenario: spec,
    candidate: c,
    summary,
    storageBytesPerReplica: weightBytesOf(perf) ?? 0,
    input: tally,
  });
  if (weightBytesOf(perf) === null)
    l.warnings.push(`${c.name}: no memory plan for the replica; storage counted as 0 bytes`);
  if (rq !== null) l = finishCommittedQuote(rq, l);
  const lat = summary.latency;
  return {
    ...withLedger({ ...b, label: perf.label, replicas, ...(sizing !== null ? { sizing } : {}) }, l),
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
  };
}

/** Worker threads to use: the option, else PERTOKEN_WORKERS, else one per core; never more than tasks. */
export function workerCount(tasks: number, requested?: number): number {
  let n = requested;
  const env = process.env.PERTOKEN_WORKERS;
  if (n === undefined && env !== undefined && env.trim() !== '') {
    const v = Number(env);
    if (!Number.isInteger(v) || v < 1)
      throw new InputError(`PERTOKEN_WORKERS: expected an integer ≥ 1, found ${JSON.stringify(env)}`);
    n = v;
  }
  n ??= availableParallelism();
  return Math.max(1, Math.min(n, tasks));
}

/**
 * The worker module and how to start it: dist/cost/compare-worker.js when running the build; the
 * .ts source with tsx's loader when running from source (tests, `tsx`): worker threads inherit the
 * parent's execArgv, and tsx's `--import` is added when the parent registered tsx another way.
 */
function workerEntry(): { filename: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './compare-worker.ts' : './compare-worker.js', import.meta.url).href;
  const execArgv = [...process.execArgv];
  if (fromSource && !execArgv.some((a) => a.includes('tsx')))
    execArgv.push('--import', import.meta.resolve('tsx'));
  return { filename, execArgv };
}

/**
 * One task on the pool, with a message channel for its sizing progress: the worker posts each
 * trial and then `done` (compare-worker.ts); the channel closes once both the result and `done`
 * are in, so no progress line is lost.
 */
/** What a worker returns: the candidate, or a user's input error as data (compare-worker.ts). */
export type WorkerResult =
  { ok: true; candidate: CompareCandidate } | { ok: false; input: true; message: string };

async function runOnPool(
  piscina: Piscina<SimTask, WorkerResult>,
  task: SimTask,
  onTrial: (trial: SizingTrial) => void,
): Promise<CompareCandidate> {
  const { port1, port2 } = new MessageChannel();
  let signalDone = (): void => {};
  const done = new Promise<void>((res) => (signalDone = res));
  port1.on('message', (m: SizingMessage) => {
    if (m.kind === 'done') signalDone();
    else onTrial(m.trial);
  });
  try {
    const r = await piscina.run({ ...task, progress: port2 }, { transferList: [port2] });
    await done;
    if (!r.ok) throw new InputError(r.message);
    return r.candidate;
  } finally {
    port1.close();
  }
}

interface Planned {
  name: string;
  /** Simulated (hardware, committed-capacity quote) or costed from the reference workload. */
  task: SimTask | null;
  /** For candidates that are not simulated: how to cost them. */
  direct: ((stats: WorkloadStats) => CompareCandidate) | null;
}

/**
 * Run every candidate of the scenario file — and every quote (the scenario's `quotes:` and
 * `opts.quotes`) — and charge each to the ledger. Simulated candidates run on worker threads, one
 * task per candidate (piscina; `workers: 1` runs them in this thread, one after the other); the
 * result is the same, byte for byte, either way.
 */
export async function compareScenario(file: string, opts: CompareOptions = {}): Promise<CompareResult> {
  const catalogDirs = opts.catalogDirs ?? [];
  const ctx = await loadRunContext(file, catalogDirs);
  const scenario = ctx.scenario;
  const spec = scenario.scenario;
  const seed = spec.workload.seed;
  const plan: Planned[] = [];
  if (opts.quotesOnly !== true)
    scenario.candidates.forEach((c, i) => {
      if (c.spec.pricing.model === 'api') {
        plan.push({
          name: c.name,
          task: null,
          direct: (stats) => ({
            ...withLedger(
              base(c),
              ledgerForApi({ scenario: spec, candidate: c, reference: stats.reference }),
            ),
            slo: { attainment: 1, target: spec.slo.attainment, met: true, assumed: true },
          }),
        });
      } else
        plan.push({
          name: c.name,
          task: {
            file,
            catalogDirs: [...catalogDirs],
            target: { candidate: i },
            ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
          },
          direct: null,
        });
    });
  const seen = new Map<string, string>();
  for (const qf of quoteFiles(spec, ctx.dir, opts.quotes ?? [])) {
    const rq = resolveQuote(await loadQuote(qf), scenario, ctx.catalog);
    const other = seen.get(rq.marker.name);
    if (other !== undefined)
      throw new InputError(
        `${rq.loaded.locate(['name'])}: name: expected a unique quote name; "${rq.marker.name}" is also the name of ${other}`,
      );
    seen.set(rq.marker.name, qf);
    if (rq.marker.kind === 'committed_capacity')
      plan.push({
        name: rq.marker.name,
        task: { file, catalogDirs: [...catalogDirs], target: { quote: qf } },
        direct: null,
      });
    else plan.push({ name: rq.marker.name, task: null, direct: (stats) => costDirectQuote(rq, spec, stats) });
  }
  if (plan.length === 0)
    throw new InputError(`${file}: no quotes to cost (give --quote FILE or the scenario's quotes:)`);

  const total = plan.length;
  const results: (CompareCandidate | undefined)[] = new Array<CompareCandidate | undefined>(total);
  let done = 0;
  const finished = (i: number, r: CompareCandidate): void => {
    results[i] = r;
    done++;
    opts.onCandidateDone?.(plan[i]!.name, i, total, done);
  };
  const simulated = plan.flatMap((p, i) => (p.task !== null ? [i] : []));
  const pool = workerCount(simulated.length, opts.workers);
  let stats: WorkloadStats | null = null;
  const directs = async (): Promise<void> => {
    for (const [i, p] of plan.entries())
      if (p.direct !== null) {
        opts.onCandidate?.(p.name, i, total);
        stats ??= await workloadStats(scenario, ctx.dir);
        finished(i, p.direct(stats));
      }
  };
  if (pool > 1) {
    const { filename, execArgv } = workerEntry();
    const piscina = new Piscina<SimTask, WorkerResult>({
      filename,
      execArgv,
      minThreads: pool,
      maxThreads: pool,
    });
    try {
      const runs = simulated.map((i) => {
        const name = plan[i]!.name;
        opts.onCandidate?.(name, i, total);
        return runOnPool(piscina, plan[i]!.task!, (t) => opts.onSizingTrial?.(name, t)).then((r) =>
          finished(i, r),
        );
      });
      await Promise.all([directs(), ...runs]);
    } finally {
      await piscina.destroy();
    }
  } else
    for (const [i, p] of plan.entries()) {
      opts.onCandidate?.(p.name, i, total);
      if (p.task !== null) finished(i, await runSimTask(ctx, p.task, (t) => opts.onSizingTrial?.(p.name, t)));
      else {
        stats ??= await workloadStats(scenario, ctx.dir);
        finished(i, p.direct!(stats));
      }
    }
  const candidates = results.map((r, i) => {
    if (r === undefined) throw new Error(`candidate ${plan[i]!.name} produced no result`);
    return r;
  });
  return {
    scenario: spec.name,
    window: { days: spec.window.days, mapping: spec.window.mapping },
    workload: (await openScenarioWorkload(scenario, ctx.dir)).describe,
    seed,
    candidates,
    ranking: rankCandidates(candidates),
    warnings: scenario.warnings,
  };
}

/** A per-token or managed-endpoint quote, costed from the reference workload (not simulated). */
function costDirectQuote(rq: ResolvedQuote, spec: Scenario, stats: WorkloadStats): CompareCandidate {
  const b = quoteBase(rq);
  if (rq.marker.kind === 'per_token') {
    const l = perTokenQuoteCandidate(rq, spec, stats);
    return {
      ...withLedger(b, l),
      slo: { attainment: 1, target: spec.slo.attainment, met: true, assumed: true },
    };
  }
  const m = managedQuoteCandidate(rq, spec, stats);
  return {
    ...withLedger(
      {
        ...b,
        label: `throughput unit (${m.unitTokensPerS.toLocaleString('en-US', { maximumFractionDigits: 1 })} weighted tokens/s)`,
        replicas: m.units,
      },
      m.ledger,
    ),
    // the effective rate (with an upfront payment, it depends on the units the trace needs)
    price: m.ledger.price,
    slo: { attainment: m.sloMet ? 1 : 0, target: spec.slo.attainment, met: m.sloMet, assumed: true },
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

/** Columns of the ranking (text, markdown and the HTML report). */
export const RANKING_HEADERS = [
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

/** The candidate's name with its quote marker. */
export function displayName(c: CompareCandidate): string {
  return c.quote ? `${c.name} [quote]` : c.name;
}

/** How the candidate is priced, in words: the pricing model, or the quote's kind and vendor. */
export function pricingLabel(c: CompareCandidate): string {
  if (c.quote) return `quote: ${c.quote.kind.replace(/_/g, ' ')}, ${c.quote.vendor}, ${c.quote.date}`;
  return c.price.pricingModel.replace('_', '-');
}

const notSimulated = (c: CompareCandidate): string | null =>
  c.kind === 'api' ? 'n/a (API)' : c.kind === 'managed' ? 'n/a (managed)' : null;

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
          ? c.slo.met
            ? 'assumed met'
            : 'NOT MET (vendor figures)'
          : `${pct(c.slo.attainment, 2)} ${c.slo.met ? 'met' : 'NOT MET'}`;
    const na = notSimulated(c);
    rows.push([
      String(e.rank),
      displayName(c),
      money(c.ledger?.usdPer1mAcceptedOutput),
      na ?? secs(c.latency?.ttftP95S),
      na ?? secs(c.latency?.tpotP95S),
      slo,
      c.kind === 'api' ? 'n/a (API)' : pct(c.utilization),
      c.replicas === null
        ? '–'
        : c.kind === 'managed'
          ? `${c.replicas} units`
          : `${c.replicas}${c.sizing ? ' (auto)' : ''}`,
      c.ledger === null ? '' : topLines(c.ledger),
    ]);
  }
  for (const c of r.candidates)
    if (c.status === 'infeasible')
      rows.push(['–', displayName(c), 'infeasible', '', '', '', '', '', c.reason ?? '']);
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
  out.push(...pad([RANKING_HEADERS, ...tableRows(r)]));
  for (const c of r.candidates) {
    out.push('');
    const head = `${displayName(c)} — ${c.model} ${c.precision.weights}/${c.precision.kv}${c.label !== null ? `, ${c.replicas} × ${c.label}` : ''} (${pricingLabel(c)})`;
    out.push(head);
    if (c.status === 'infeasible') {
      out.push(`  infeasible: ${c.reason}`);
      continue;
    }
    if (c.sizing) out.push(`  replicas     ${c.replicas} (${describeSizing(c.sizing.trials)})`);
    const l = c.ledger!;
    for (const line of l.lines)
      out.push(
        `  ${line.name.padEnd(26)}${money(line.usd).padStart(14)}${pct(line.share).padStart(9)}  ${line.basis}`,
      );
    out.push(
      `  ${'total'.padEnd(26)}${money(l.totalUsd).padStart(14)}${'100.0 %'.padStart(9)}  ${money(l.usdPer1mAcceptedOutput)}/1M accepted output, ${money(l.usdPer1mInput)}/1M input, ${money(l.usdPerRequest)}/request`,
    );
    const src = c.price.sources.length > 0 ? c.price.sources[0] : 'unsourced';
    if (c.quote)
      out.push(
        `  quote        ${c.quote.vendor} "${c.quote.name}" of ${c.quote.date} (${c.quote.evidence}), ${c.quote.file}: ${c.quote.source}${c.quote.notes !== null ? ` — ${c.quote.notes}` : ''}`,
      );
    else
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
  out.push(`| ${RANKING_HEADERS.join(' | ')} |`);
  out.push(`|${RANKING_HEADERS.map(() => ' --- ').join('|')}|`);
  for (const row of tableRows(r)) out.push(`| ${row.map(esc).join(' | ')} |`);
  for (const c of r.candidates) {
    out.push('');
    out.push(`## ${displayName(c)}`);
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
    if (c.sizing) out.push(`- replicas: ${c.replicas} (${describeSizing(c.sizing.trials)})`);
    if (c.quote)
      out.push(
        `- quote: ${esc(c.quote.vendor)} "${esc(c.quote.name)}" of ${c.quote.date}, ${c.quote.kind.replace(/_/g, ' ')} (${c.quote.evidence}, ${c.quote.file}) — ${c.quote.source}${c.quote.notes !== null ? ` — ${c.quote.notes}` : ''}`,
      );
    else
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
    'replicas_sizing',
    ...lineNames.map((n) => `usd_${n.replace(/[^a-z]+/g, '_')}`),
    'quote_vendor',
    'quote_kind',
    'quote_date',
    'quote_source',
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
      c.quote ? `quote:${c.quote.kind}` : c.price.pricingModel,
      c.ledger?.usdPer1mAcceptedOutput,
      c.ledger?.totalUsd,
      c.latency?.ttftP95S,
      c.latency?.tpotP95S,
      c.slo?.attainment,
      c.slo === null ? null : String(c.slo.met),
      c.utilization,
      c.replicas,
      c.sizing ? describeSizing(c.sizing.trials) : null,
      ...lineNames.map((n) => c.ledger?.lines.find((l) => l.name === n)?.usd),
      c.quote?.vendor,
      c.quote?.kind,
      c.quote?.date,
      c.quote?.source,
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}
