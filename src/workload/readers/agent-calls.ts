import type { TraceRequest } from '../types.js';
import { fmtS, request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import { eachLine, type BufferedFormat } from './format.js';
import type { LineChunk } from './lines.js';
import { filterModel, median, shiftAndSort } from './sessions.js';

interface Call {
  line: number;
  session: string;
  model: string | undefined;
  callIdx: number;
  requestTs: number | undefined;
  responseTs: number | undefined;
  createdTs: number | undefined;
  toolDoneTs: number | undefined;
  prompt: number;
  output: number;
  cached: number | undefined;
}

/**
 * Agent calls CSV (mini-swe-agent, one row per LLM call): `run,instance_id,model,call_idx,
 * request_ts,response_ts,server_created_ts,prompt_tokens,completion_tokens,cached_prompt_tokens,…,
 * next_tool_done_ts,…` in epoch seconds. A session is `run/instance_id`, closed loop: each call
 * after the first depends on the previous one with gap = request_ts − previous response_ts (tool
 * time). A blank request_ts (always call 0) is estimated: the previous call's next_tool_done_ts
 * when there is one, else server_created_ts minus the median (server_created_ts − request_ts) of
 * the calls that have both (capped at response_ts), else response_ts. t = 0 is the earliest call.
 */
async function readAgentCalls(ctx: ReaderContext, lines: AsyncIterable<LineChunk>): Promise<TraceRequest[]> {
  const calls: Call[] = [];
  let csv: CsvRow | undefined;
  const col: Record<string, number> = {};
  await eachLine(
    ctx,
    lines,
    (line, lineNo) => {
      const h = new CsvHeader(ctx, line, lineNo);
      for (const name of ['run', 'instance_id', 'call_idx', 'prompt_tokens', 'completion_tokens'])
        col[name] = h.require(name);
      col.request_ts = h.require('request_ts');
      for (const name of [
        'model',
        'response_ts',
        'server_created_ts',
        'cached_prompt_tokens',
        'next_tool_done_ts',
      ])
        col[name] = h.find(name);
      csv = new CsvRow(ctx, h);
    },
    (line, lineNo) => {
      const row = csv as CsvRow;
      row.split(line, 0, line.length, lineNo);
      const c = (name: string): number => col[name] as number;
      calls.push({
        line: lineNo,
        session: `${row.text(c('run')).trim()}/${row.text(c('instance_id')).trim()}`,
        model: row.optText(c('model')),
        callIdx: row.count(c('call_idx'), 'call_idx'),
        requestTs: row.optNonNegative(c('request_ts'), 'request_ts'),
        responseTs: row.optNonNegative(c('response_ts'), 'response_ts'),
        createdTs: row.optNonNegative(c('server_created_ts'), 'server_created_ts'),
        toolDoneTs: row.optNonNegative(c('next_tool_done_ts'), 'next_tool_done_ts'),
        prompt: row.count(c('prompt_tokens'), 'prompt_tokens'),
        output: row.count(c('completion_tokens'), 'completion_tokens'),
        cached: row.optCount(c('cached_prompt_tokens'), 'cached_prompt_tokens'),
      });
    },
  );

  const offsets: number[] = [];
  for (const k of calls)
    if (k.requestTs !== undefined && k.createdTs !== undefined) offsets.push(k.createdTs - k.requestTs);
  const createdLagS = offsets.length > 0 ? median(offsets) : 0;

  // Sessions in file order, calls in call_idx order (stable for ties).
  const bySession = new Map<string, Call[]>();
  for (const k of calls) {
    const list = bySession.get(k.session);
    if (list === undefined) bySession.set(k.session, [k]);
    else list.push(k);
  }
  const out: TraceRequest[] = [];
  let fromToolDone = 0;
  let fromCreated = 0;
  let fromResponse = 0;
  for (const [session, list] of bySession) {
    list.sort((a, b) => a.callIdx - b.callIdx);
    let prev: { call: Call; arrivalS: number } | undefined;
    for (const k of list) {
      try {
        let arrivalS = k.requestTs;
        if (arrivalS === undefined && prev?.call.toolDoneTs !== undefined) {
          arrivalS = prev.call.toolDoneTs;
          fromToolDone++;
        }
        if (arrivalS === undefined && k.createdTs !== undefined) {
          arrivalS = k.createdTs - createdLagS;
          if (k.responseTs !== undefined) arrivalS = Math.min(arrivalS, k.responseTs);
          fromCreated++;
        }
        if (arrivalS === undefined && k.responseTs !== undefined) {
          arrivalS = k.responseTs;
          fromResponse++;
        }
        if (arrivalS === undefined)
          throw ctx.rowError(
            k.line,
            'request_ts',
            'epoch seconds (or server_created_ts / response_ts to estimate it)',
            'blanks',
          );
        const r = request(arrivalS, k.prompt, k.output);
        r.sessionId = session;
        r.turn = k.callIdx;
        if (prev !== undefined) {
          const prevDoneS = prev.call.responseTs ?? prev.arrivalS;
          const gapS = arrivalS - prevDoneS;
          if (gapS < 0)
            throw ctx.rowError(
              k.line,
              'request_ts',
              `≥ the previous call's response_ts ${fmtS(prevDoneS)} (closed loop)`,
              `${fmtS(arrivalS)} (${fmtS(gapS)} s earlier)`,
            );
          r.dependsOnPrevious = true;
          r.gapS = gapS;
        }
        if (k.cached !== undefined) r.cachedPromptTokens = k.cached;
        if (k.model !== undefined) r.model = k.model;
        out.push(r);
        prev = { call: k, arrivalS };
      } catch (err) {
        ctx.bad(err);
      }
    }
  }
  const estimated = fromToolDone + fromCreated + fromResponse;
  if (estimated > 0)
    ctx.warn(
      `${estimated} call(s) without request_ts (call 0 of each session): arrival estimated from ` +
        [
          fromToolDone > 0 ? `the previous call's next_tool_done_ts (${fromToolDone})` : '',
          fromCreated > 0
            ? `server_created_ts − ${fmtS(createdLagS)} s, the median server_created_ts − request_ts of the other calls (${fromCreated})`
            : '',
          fromResponse > 0 ? `response_ts (${fromResponse})` : '',
        ]
          .filter((s) => s !== '')
          .join('; '),
    );
  return shiftAndSort(filterModel(ctx, out));
}

export const agentCallsReader: BufferedFormat = { kind: 'buffered', hasHeader: true, read: readAgentCalls };
