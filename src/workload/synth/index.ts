import { InputError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { openTrace } from '../read.js';
import type { ReadReport, TraceRequest } from '../types.js';
import type { ArrivalSpec } from './arrivals.js';
import { arrivalProcess, BatchArrivals } from './arrivals.js';
import { buildLengthModel, outputSampler } from './lengths.js';
import { meanTurnsPerSession, sessionSamplers, sessionStream } from './sessions.js';
import type { SynthSpec, SynthSpecInput } from './spec.js';
import { parseSynthSpec } from './spec.js';

export * from './arrivals.js';
export * from './lengths.js';
export * from './spec.js';
export { PRESET_INPUTS } from './presets.js';
export { meanTurnsPerSession, sessionSamplers } from './sessions.js';

export interface SynthOptions {
  /** Requests per yielded batch (default 4,096; 512 with sessions, whose hash lists are long). */
  batchSize?: number;
  /** Called with the reader's report of the replayed trace once it has been read. */
  onTraceReport?: (report: ReadReport) => void;
}

/**
 * Generate a synthetic workload as a stream of request batches, in nondecreasing arrival order,
 * ids 0, 1, 2, …. Deterministic: the same spec (seed included) gives the same requests.
 *
 * Random streams are independent forks of the seed: arrivals, lengths, empirical reservoir, and one
 * per session, so e.g. changing the length distribution does not move the arrivals.
 *
 * - Independent requests (chat, rag, batch, embeddings): arrivals in [0, durationS) (batch: all at
 *   0, count = requests, else round(rate × duration)), lengths from `prompt` / `output`.
 * - Sessions (coding-agent): session starts in [0, durationS) at rate / mean turns, each session
 *   runs to its end (its later turns may fall after durationS), so the expected request count is
 *   rate × durationS. See sessions.ts for the turn model and the recorded-arrival convention.
 * - Replay: the trace's requests with arrivals divided by the scale.
 * `maxRequests` stops any of them early.
 *
 * Takes a resolved SynthSpec, or a user-shaped input (`{ preset, rate, requests, seed, … }`) that
 * is validated with parseSynthSpec first (throwing InputError).
 */
export async function* synthesize(
  specOrInput: SynthSpec | SynthSpecInput,
  opts: SynthOptions = {},
): AsyncGenerator<TraceRequest[]> {
  const spec = 'rateReqPerS' in specOrInput ? specOrInput : parseSynthSpec(specOrInput);
  if (spec.arrivals.kind === 'replay') {
    yield* replay(spec, spec.arrivals, opts);
    return;
  }
  const arrivals = spec.arrivals;
  const root = new Rng(spec.seed);
  // The root is used only to fork, so the forks never overlap one another.
  const arrivalRng = root.fork();
  const lengthRng = root.fork();
  const sampleRng = root.fork();
  const sessionRng = root.fork();

  if (spec.sessions) {
    const output = await outputSampler(spec.output, sampleRng, spec.seed);
    const samplers = sessionSamplers(spec.sessions, output);
    const meanTurns = meanTurnsPerSession(spec.sessions, samplers);
    const targetRequests = spec.maxRequests ?? spec.rateReqPerS * (spec.durationS ?? 0);
    const starts =
      arrivals.kind === 'batch'
        ? new BatchArrivals(Math.max(1, Math.round(targetRequests / meanTurns)))
        : arrivalProcess(arrivals, spec.rateReqPerS / meanTurns, arrivalRng, 0);
    yield* sessionStream({
      spec: spec.sessions,
      samplers,
      starts,
      durationS: arrivals.kind === 'batch' ? undefined : spec.durationS,
      maxRequests: spec.maxRequests,
      sessionRng,
      batchSize: opts.batchSize ?? 512,
    });
    return;
  }

  const lengths = await buildLengthModel(spec.prompt, spec.output, sampleRng, spec.seed);
  const batchCount = spec.maxRequests ?? Math.max(1, Math.round(spec.rateReqPerS * (spec.durationS ?? 0)));
  const proc = arrivalProcess(arrivals, spec.rateReqPerS, arrivalRng, batchCount);
  const endS = arrivals.kind === 'batch' ? Infinity : (spec.durationS ?? Infinity);
  const limit = spec.maxRequests ?? Infinity;
  const batchSize = opts.batchSize ?? 4096;
  let id = 0;
  let batch: TraceRequest[] = [];
  while (id < limit) {
    const arrivalS = proc.next();
    if (arrivalS === undefined || arrivalS >= endS) break;
    const { promptTokens, outputTokens } = lengths.draw(lengthRng);
    batch.push({ id: id++, arrivalS, promptTokens, outputTokens });
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function* replay(
  spec: SynthSpec,
  a: Extract<ArrivalSpec, { kind: 'replay' }>,
  opts: SynthOptions,
): AsyncGenerator<TraceRequest[]> {
  const readOpts = a.format === undefined ? { seed: spec.seed } : { format: a.format, seed: spec.seed };
  let scale = a.scale ?? 1;
  if (a.targetRateReqPerS !== undefined) {
    // First pass: the trace's mean rate, (n − 1) / span.
    const first = await openTrace(a.trace, readOpts);
    let n = 0;
    let t0 = 0;
    let t1 = 0;
    for await (const b of first.batches()) {
      for (const r of b) {
        if (n === 0) t0 = r.arrivalS;
        t1 = r.arrivalS;
        n++;
      }
    }
    if (n < 2 || t1 <= t0) {
      throw new InputError(`${a.trace}: cannot scale to a rate: the trace has no time span (${n} requests)`);
    }
    scale = a.targetRateReqPerS / ((n - 1) / (t1 - t0));
  }
  const stream = await openTrace(a.trace, readOpts);
  const endS = spec.durationS ?? Infinity;
  const limit = spec.maxRequests ?? Infinity;
  const batchSize = opts.batchSize ?? 4096;
  let id = 0;
  let out: TraceRequest[] = [];
  let done = false;
  for await (const b of stream.batches()) {
    for (const r of b) {
      const arrivalS = r.arrivalS / scale;
      if (id >= limit || arrivalS >= endS) {
        done = true;
        break;
      }
      out.push({ ...r, id: id++, arrivalS });
      if (out.length >= batchSize) {
        yield out;
        out = [];
      }
    }
    if (done) break;
  }
  if (out.length > 0) yield out;
  opts.onTraceReport?.(stream.report);
}
