import { Rng } from '../../util/rng.js';
import type { TraceRequest } from '../types.js';
import type { ArrivalProcess } from './arrivals.js';
import type { Sampler } from './lengths.js';
import { secondsSampler, tokenSampler } from './lengths.js';
import type { SessionSpec } from './spec.js';

/**
 * Multi-turn closed-loop sessions (the coding-agent preset).
 *
 * Each session draws its turn count and a turn-0 prompt; after turn k (answer O_k) the next prompt
 * is P_{k+1} = P_k + O_k + tool_output, and the next request follows a tool/think gap. The session
 * ends at its drawn turn count, or before a turn whose prompt would exceed maxContextTokens.
 *
 * Recorded arrival of turn k+1 = arrival_k + nominalTtftS + nominalTpotS × O_k + gap. This is only
 * a plausible layout: turns ≥ 1 carry dependsOnPrevious + gapS, and the engine recomputes their
 * arrival as (its own completion time of turn k) + gapS.
 *
 * Prefix hashes: one id per blockSize tokens of the prompt (the last block may be partial). Turn
 * k+1 repeats all of turn k's *full* blocks and gets fresh ids for the rest (turn k's partial last
 * block is a different block once tokens are appended). The first sharedPrefixTokens of every
 * session's turn 0 use ids shared by all sessions (ids 0 … shared blocks − 1).
 *
 * Memory: one small record per active session (its last hash list included); sessions interleave
 * through a min-heap keyed by (next arrival, session index), so output is in arrival order.
 */

interface ActiveSession {
  index: number;
  id: string;
  rng: Rng;
  turnsPlanned: number;
  turn: number;
  arrivalS: number;
  gapS: number;
  promptTokens: number;
  prevPromptTokens: number;
  prevHashIds: number[] | undefined;
}

/** Min-heap of sessions by (arrivalS, index). */
class SessionHeap {
  private readonly items: ActiveSession[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): ActiveSession | undefined {
    return this.items[0];
  }
  private static less(a: ActiveSession, b: ActiveSession): boolean {
    return a.arrivalS < b.arrivalS || (a.arrivalS === b.arrivalS && a.index < b.index);
  }
  push(s: ActiveSession): void {
    const h = this.items;
    h.push(s);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p];
      if (!parent || !SessionHeap.less(s, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = s;
  }
  pop(): ActiveSession | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const left = h[l];
      const right = h[l + 1];
      let c = l;
      let child = left;
      if (right && left && SessionHeap.less(right, left)) {
        c = l + 1;
        child = right;
      }
      if (!child || !SessionHeap.less(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

/** Samplers for the session parameters. */
export interface SessionSamplers {
  turns: Sampler;
  initialPrompt: Sampler;
  toolOutput: Sampler;
  gapS: Sampler;
  output: Sampler;
}

export function sessionSamplers(spec: SessionSpec, output: Sampler): SessionSamplers {
  return {
    turns: tokenSampler(spec.turns),
    initialPrompt: tokenSampler(spec.initialPrompt),
    toolOutput: tokenSampler(spec.toolOutput),
    gapS: secondsSampler(spec.gapS),
    output,
  };
}

const PILOT_SEED = 0x5eed;
const PILOT_SESSIONS = 2000;

/**
 * Mean requests per session: the exact mean of the turn-count distribution, times the fraction
 * of planned turns that survive the context cap, estimated from a fixed-seed pilot of 2,000
 * sessions (so the result depends on the spec only, not on the seed; exactly 1 when the cap
 * never binds).
 */
export function meanTurnsPerSession(spec: SessionSpec, s: SessionSamplers): number {
  const rng = new Rng(PILOT_SEED);
  let planned = 0;
  let realized = 0;
  for (let i = 0; i < PILOT_SESSIONS; i++) {
    const n = s.turns.draw(rng);
    let p = Math.min(s.initialPrompt.draw(rng), spec.maxContextTokens);
    let k = 1;
    while (k < n) {
      p += s.output.draw(rng) + s.toolOutput.draw(rng);
      if (p > spec.maxContextTokens) break;
      k++;
    }
    planned += n;
    realized += k;
  }
  return (s.turns.mean * realized) / planned;
}

export interface SessionStreamOptions {
  spec: SessionSpec;
  samplers: SessionSamplers;
  /** Session start times (nondecreasing). */
  starts: ArrivalProcess;
  /** Session starts at or after this are dropped (undefined: all of `starts`). */
  durationS: number | undefined;
  maxRequests: number | undefined;
  /** Parent of per-session random streams (used only for forking). */
  sessionRng: Rng;
  batchSize: number;
}

/** Generate session turns in nondecreasing arrival order, in batches. */
export function* sessionStream(o: SessionStreamOptions): Generator<TraceRequest[]> {
  const { spec, samplers } = o;
  const blockSize = spec.blockSize;
  const sharedBlocks = Math.floor(spec.sharedPrefixTokens / blockSize);
  let nextHashId = sharedBlocks;
  const heap = new SessionHeap();
  let nextStart = o.starts.next();
  let sessionCount = 0;
  let emitted = 0;
  let batch: TraceRequest[] = [];
  const limit = o.maxRequests ?? Infinity;

  while (emitted < limit) {
    const top = heap.peek();
    if (
      nextStart !== undefined &&
      (o.durationS === undefined || nextStart < o.durationS) &&
      (top === undefined || nextStart <= top.arrivalS)
    ) {
      const index = sessionCount++;
      const rng = o.sessionRng.fork();
      const turnsPlanned = Math.max(1, samplers.turns.draw(rng));
      heap.push({
        index,
        id: `s${index}`,
        rng,
        turnsPlanned,
        turn: 0,
        arrivalS: nextStart,
        gapS: 0,
        promptTokens: Math.min(samplers.initialPrompt.draw(rng), spec.maxContextTokens),
        prevPromptTokens: 0,
        prevHashIds: undefined,
      });
      nextStart = o.starts.next();
      continue;
    }
    const s = heap.pop();
    if (!s) break;

    const promptTokens = s.promptTokens;
    const nBlocks = Math.ceil(promptTokens / blockSize);
    const prev = s.prevHashIds;
    const keep = Math.min(
      nBlocks,
      prev
        ? Math.floor(s.prevPromptTokens / blockSize)
        : Math.min(sharedBlocks, Math.floor(promptTokens / blockSize)),
    );
    let hashIds: number[];
    if (prev) {
      hashIds = prev.slice(0, keep);
    } else {
      hashIds = [];
      for (let i = 0; i < keep; i++) hashIds.push(i);
    }
    for (let i = keep; i < nBlocks; i++) hashIds.push(nextHashId++);

    const outputTokens = samplers.output.draw(s.rng);
    const req: TraceRequest = {
      id: emitted++,
      arrivalS: s.arrivalS,
      promptTokens,
      outputTokens,
      sessionId: s.id,
      turn: s.turn,
      hashIds,
      blockSize,
    };
    if (s.turn > 0) {
      req.dependsOnPrevious = true;
      req.gapS = s.gapS;
    }
    batch.push(req);
    if (batch.length >= o.batchSize) {
      yield batch;
      batch = [];
    }

    if (s.turn + 1 < s.turnsPlanned) {
      const nextPrompt = promptTokens + outputTokens + samplers.toolOutput.draw(s.rng);
      if (nextPrompt <= spec.maxContextTokens) {
        const gapS = samplers.gapS.draw(s.rng);
        s.arrivalS = s.arrivalS + spec.nominalTtftS + spec.nominalTpotS * outputTokens + gapS;
        s.gapS = gapS;
        s.turn++;
        s.prevPromptTokens = promptTokens;
        s.prevHashIds = hashIds;
        s.promptTokens = nextPrompt;
        heap.push(s);
      }
    }
  }
  if (batch.length > 0) yield batch;
}
