import { Rng } from '../../util/rng.js';
import type { TraceRequest } from '../types.js';
import { fmtS, type ReaderContext } from './context.js';

/** Mean seconds between session starts when a trace has no global clock and none is given. */
export const DEFAULT_SESSION_INTERARRIVAL_S = 60;

/**
 * Start times for `n` sessions of a trace without a global clock: a Poisson process (exponential
 * gaps, mean `opts.sessionInterarrivalS`, default 60 s) from the seeded RNG, the first at t = 0.
 * Always warns with the value used and how to change it.
 */
export function placeSessions(ctx: ReaderContext, n: number, what: string): number[] {
  const meanS = ctx.opts.sessionInterarrivalS ?? DEFAULT_SESSION_INTERARRIVAL_S;
  const rng = new Rng(ctx.seed);
  const starts: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) t += rng.exponential(meanS);
    starts.push(t);
  }
  ctx.warn(
    `${what} have no common clock: placed ${n} session start(s) by a Poisson process with mean inter-arrival ` +
      `${fmtS(meanS)} s${ctx.opts.sessionInterarrivalS === undefined ? ' (the default)' : ''}, seed ${ctx.seed}; ` +
      'change it with --session-interarrival <s> (sessionInterarrivalS) and --seed',
  );
  return starts;
}

/** Shift so the earliest request is at t = 0, then stable-sort by arrival. */
export function shiftAndSort(reqs: TraceRequest[]): TraceRequest[] {
  let min = Infinity;
  for (const r of reqs) if (r.arrivalS < min) min = r.arrivalS;
  if (Number.isFinite(min)) for (const r of reqs) r.arrivalS -= min;
  return reqs.sort((a, b) => a.arrivalS - b.arrivalS);
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Keep the rows of `opts.model` (agent traces), reporting how many the filter excluded. */
export function filterModel(ctx: ReaderContext, reqs: TraceRequest[]): TraceRequest[] {
  const want = ctx.opts.model?.trim().toLowerCase();
  if (want === undefined) return reqs;
  const kept = reqs.filter((r) => r.model?.toLowerCase() === want);
  ctx.warn(
    `--model ${ctx.opts.model}: excluded ${reqs.length - kept.length} of ${reqs.length} requests ` +
      '(turns of a session that used another model are gone, so its closed loop has holes)',
  );
  return kept;
}

/** 32-bit FNV-1a of a string: a stable namespace for per-conversation ids. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
