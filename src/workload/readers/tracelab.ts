import type { TraceRequest } from '../types.js';
import { fmtS, request, show, type ReaderContext } from './context.js';
import { DatetimeParser } from './datetime.js';
import { eachLine, type BufferedFormat } from './format.js';
import { JsonFields, parseJsonLine } from './json.js';
import type { LineChunk } from './lines.js';
import { filterModel, shiftAndSort } from './sessions.js';

interface Round {
  line: number;
  session: string;
  index: number;
  firstS: number;
  lastS: number;
  r: TraceRequest;
}

/**
 * TraceLab round JSONL (`session_id, round_index, input_tokens_total, prefix_tokens,
 * newly_append_tokens, output_tokens, timing_events[]` with ISO-8601 timestamps). A round arrives
 * at its earliest event; rounds after a session's first are closed loop with gap = this arrival −
 * the previous round's latest event. cachedPromptTokens = prefix_tokens. t = 0 is the earliest round.
 */
async function readTracelab(ctx: ReaderContext, lines: AsyncIterable<LineChunk>): Promise<TraceRequest[]> {
  const clock = new DatetimeParser();
  // Whole seconds of the first time seen: times are kept relative to it so milliseconds stay exact.
  let baseSec: number | undefined;
  const rounds: Round[] = [];
  let mismatched = 0;
  await eachLine(ctx, lines, undefined, (line, lineNo) => {
    const f = new JsonFields(ctx, lineNo, parseJsonLine(ctx, line, lineNo));
    const events = f.objects('timing_events');
    if (events.length === 0) throw ctx.rowError(lineNo, 'timing_events', 'at least one timed event', '[]');
    let firstS = Infinity;
    let lastS = -Infinity;
    events.forEach((e, i) => {
      const ts = e.timestamp;
      if (typeof ts !== 'string' || !clock.parse(ts, 0, ts.length))
        throw ctx.rowError(
          lineNo,
          `timing_events[${i}].timestamp`,
          'an ISO-8601 time like 2026-06-01T05:40:20.151Z',
          show(ts),
        );
      baseSec ??= clock.sec;
      const s = clock.sec - baseSec + clock.frac;
      if (s < firstS) firstS = s;
      if (s > lastS) lastS = s;
    });
    const prompt = f.count('input_tokens_total');
    const prefix = f.count('prefix_tokens');
    if (f.has('newly_append_tokens') && prefix + f.count('newly_append_tokens') !== prompt) mismatched++;
    if (prefix > prompt)
      throw ctx.rowError(lineNo, 'prefix_tokens', `≤ input_tokens_total (${prompt})`, String(prefix));
    const r = request(firstS, prompt, f.count('output_tokens'));
    r.cachedPromptTokens = prefix;
    const model = f.optText('model');
    if (model !== undefined) r.model = model;
    rounds.push({
      line: lineNo,
      session: f.text('session_id'),
      index: f.count('round_index'),
      firstS,
      lastS,
      r,
    });
  });

  const bySession = new Map<string, Round[]>();
  for (const round of rounds) {
    const list = bySession.get(round.session);
    if (list === undefined) bySession.set(round.session, [round]);
    else list.push(round);
  }
  const out: TraceRequest[] = [];
  for (const [session, list] of bySession) {
    list.sort((a, b) => a.index - b.index);
    let prev: Round | undefined;
    for (const round of list) {
      try {
        const r = round.r;
        r.sessionId = session;
        r.turn = round.index;
        if (prev !== undefined) {
          const gapS = round.firstS - prev.lastS;
          if (gapS < 0)
            throw ctx.rowError(
              round.line,
              'timing_events',
              `a first event after round ${prev.index}'s last event (line ${prev.line})`,
              `one ${fmtS(-gapS)} s before it`,
            );
          r.dependsOnPrevious = true;
          r.gapS = gapS;
        }
        out.push(r);
        prev = round;
      } catch (err) {
        ctx.bad(err);
      }
    }
  }
  if (mismatched > 0)
    ctx.warn(
      `${mismatched} round(s) where input_tokens_total ≠ prefix_tokens + newly_append_tokens; input_tokens_total used`,
    );
  return shiftAndSort(filterModel(ctx, out));
}

export const tracelabReader: BufferedFormat = { kind: 'buffered', hasHeader: false, read: readTracelab };
