import { isAbsolute, relative, resolve } from 'node:path';
import { sloFromScenarioBlock } from '../metrics/slo.js';
import type { SloSpec } from '../metrics/types.js';
import type { ReplicaPerf } from '../perf/types.js';
import { buildReplicaPerf, type ProfileChoice } from '../perf/profiles.js';
import type { PerfProfile } from '../perf/profile.js';
import type { ResolvedCandidate, ResolvedScenario } from '../scenario/resolve.js';
import { InputError } from '../util/errors.js';
import { openTrace } from '../workload/read.js';
import { synthesize, type SynthSpecInput } from '../workload/synth/index.js';
import type { ReadReport, TraceRequest } from '../workload/types.js';
import type { EngineConfigInput } from './config.js';

/**
 * What the engine needs from a scenario: each candidate's replica performance, engine limits and
 * replica count, the SLO, and the workload stream.
 */

/**
 * The performance model of one replica of `candidate` (step time + KV capacity), with the best
 * profile available for its hardware and stack (measured > published fit > default). This is the
 * one place the engine meets src/perf.
 */
export function replicaPerfFor(
  scenario: ResolvedScenario,
  candidate: ResolvedCandidate,
  profiles: PerfProfile[],
): { perf: ReplicaPerf; choice: ProfileChoice } {
  void scenario;
  if (candidate.accelerator === null)
    throw new InputError(`${candidate.name}: a per-token API candidate has no hardware to simulate`);
  const s = candidate.spec;
  const { replica, choice } = buildReplicaPerf(
    {
      model: candidate.model,
      accelerator: candidate.accelerator,
      stack: candidate.stack?.key ?? null,
      tp: s.parallelism.tp,
      pp: s.parallelism.pp,
      ep: s.parallelism.ep,
      weights: s.precision.weights,
      kv: s.precision.kv,
      blockSize: s.batching.block_size,
      maxNumSeqs: s.batching.max_num_seqs,
      maxNumBatchedTokens: s.batching.max_num_batched_tokens,
    },
    profiles,
  );
  return { perf: replica, choice };
}

/**
 * The replica count a candidate asks for: the override (`--replicas N`) if given, else the
 * scenario's integer; null when the scenario says `auto` (size it with sizeReplicas).
 */
export function explicitReplicasFor(candidate: ResolvedCandidate, override?: number): number | null {
  if (override !== undefined) return override;
  const r = candidate.spec.replicas;
  return r === 'auto' ? null : r;
}

/**
 * Replica count of a candidate with an explicit count: an integer from the scenario, or the
 * override. `replicas: auto` is sized by simulation (sizeReplicas in size-replicas.ts; `simulate`
 * and `compare` do it), not here.
 */
export function replicaCountFor(candidate: ResolvedCandidate, override?: number): number {
  const n = explicitReplicasFor(candidate, override);
  if (n === null)
    throw new InputError(
      `${candidate.name}: replicas: "auto" is sized by simulation (sizeReplicas), not by replicaCountFor; ` +
        'give an integer in the scenario (candidates[].replicas) or pass --replicas N',
    );
  return n;
}

/** Engine limits from the candidate's `batching` block, with overrides (policies, timeouts, …). */
export function engineConfigFor(
  candidate: ResolvedCandidate,
  overrides: EngineConfigInput = {},
): EngineConfigInput {
  const b = candidate.spec.batching;
  return {
    maxNumSeqs: b.max_num_seqs,
    maxNumBatchedTokens: b.max_num_batched_tokens,
    blockSize: b.block_size,
    ...overrides,
  };
}

/** The scenario's SLO: per-request limits (the loosest percentile limit per metric) and distribution targets. */
export function sloFor(scenario: ResolvedScenario): SloSpec {
  return sloFromScenarioBlock(scenario.scenario.slo);
}

export interface ScenarioWorkload {
  requests: AsyncIterable<TraceRequest[]>;
  /** Filled while streaming a trace (warnings, bad rows); null for synthetic workloads. */
  report: ReadReport | null;
  /** One line: where the requests come from. */
  describe: string;
  /** Requests expected, when known before streaming (synthetic workloads with a count). */
  expectedRequests: number | null;
  notes: string[];
}

/**
 * The scenario's arrivals: measured from the first request (a trace cut from a longer one may start
 * hours in — the time before its first request is not part of the workload and would be billed as
 * idle), then divided by `workload.scale.rate`. Traces are sorted by arrival, so the first request
 * seen is the earliest.
 */
async function* scaled(
  src: AsyncIterable<TraceRequest[]>,
  rate: number,
  onShift: (firstArrivalS: number) => void,
): AsyncGenerator<TraceRequest[]> {
  let t0: number | null = null;
  for await (const batch of src) {
    if (batch.length === 0) continue;
    if (t0 === null) {
      t0 = batch[0]!.arrivalS;
      if (t0 !== 0) onShift(t0);
    }
    const origin = t0;
    if (rate === 1 && origin === 0) yield batch;
    else yield batch.map((r) => ({ ...r, arrivalS: (r.arrivalS - origin) / rate }));
  }
}

/**
 * A fresh stream of the scenario's workload (a trace file or a synthetic spec), arrivals divided
 * by `workload.scale.rate`. Relative paths inside a synthetic spec are taken from `scenarioDir`.
 */
export async function openScenarioWorkload(
  scenario: ResolvedScenario,
  scenarioDir: string,
): Promise<ScenarioWorkload> {
  const w = scenario.scenario.workload;
  const rate = w.scale.rate;
  const notes: string[] = [];
  const onShift = (t0: number): void => {
    notes.push(`arrivals measured from the first request (at ${t0.toFixed(3)} s in the source)`);
  };
  if (rate !== 1) notes.push(`arrivals scaled by workload.scale.rate = ${rate} (closed-loop gaps unchanged)`);
  if (w.scale.growth !== undefined)
    notes.push('workload.scale.growth is not applied by simulate (one trace replay)');
  if (w.trace !== undefined && scenario.tracePath !== null) {
    const t = w.trace;
    const stream = await openTrace(scenario.tracePath, {
      ...(t.format !== undefined ? { format: t.format } : {}),
      skipBadRows: t.skip_bad_rows,
      sort: t.sort,
      ...(t.model !== undefined ? { model: t.model } : {}),
      ...(t.kind !== undefined ? { kind: t.kind } : {}),
      ...(t.session_interarrival_s !== undefined ? { sessionInterarrivalS: t.session_interarrival_s } : {}),
      seed: w.seed,
    });
    return {
      requests: scaled(stream.batches(), rate, onShift),
      report: stream.report,
      describe: `trace ${relative(process.cwd(), scenario.tracePath) || scenario.tracePath} (${stream.format})`,
      expectedRequests: null,
      notes,
    };
  }
  if (w.synth === undefined) throw new InputError('workload: expected exactly one of `trace` or `synth`');
  const spec: SynthSpecInput = structuredClone(w.synth);
  if (spec.seed === undefined) spec.seed = w.seed;
  const abs = (p: string | undefined): string | undefined =>
    p === undefined || isAbsolute(p) ? p : resolve(scenarioDir, p);
  if (spec.arrivals?.trace !== undefined) spec.arrivals.trace = abs(spec.arrivals.trace);
  if (spec.prompt?.trace !== undefined) spec.prompt.trace = abs(spec.prompt.trace);
  if (spec.output?.trace !== undefined) spec.output.trace = abs(spec.output.trace);
  return {
    requests: scaled(synthesize(spec), rate, onShift),
    report: null,
    describe: `synthetic ${spec.preset ?? 'chat'} workload (seed ${spec.seed})`,
    expectedRequests: spec.requests ?? null,
    notes,
  };
}
