import type { TraceRequest } from '../types.js';
import { fmtS, request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import { eachLine, type BufferedFormat } from './format.js';
import type { LineChunk } from './lines.js';
import { filterModel, placeSessions, shiftAndSort } from './sessions.js';

interface WekaRow {
  line: number;
  trace: string;
  agent: string;
  subagentType: string | undefined;
  turn: number;
  tS: number;
  model: string | undefined;
  prompt: number;
  output: number;
  nBlocks: number;
  hitPrev: number;
  thinkS: number | undefined;
  apiS: number | undefined;
  blockSize: number;
}

interface SessionState {
  hashes: number[];
  prev: WekaRow;
}

/**
 * The flattened WEKA Claude Code CSV (`trace_id,agent,subagent_type,req_idx,t_s,…,in_tokens,
 * out_tokens,n_blocks,prefix_hit_blocks_prev,…,think_time_s,…,block_size`): one row per LLM call,
 * times per conversation with no global clock. Conversations are placed by a seeded Poisson
 * process; a sub-agent (agent ≠ main) is its own session `trace_id/agent`. Each session is closed
 * loop: turns after its first depend on the previous one, gap = think_time_s (when blank: t_s −
 * previous t_s − previous api_time_s, at least 0). Hash ids are synthesised per session: the first
 * `prefix_hit_blocks_prev` blocks repeat the previous request's, the rest are fresh (unique in the file).
 */
async function readWekaRequests(
  ctx: ReaderContext,
  lines: AsyncIterable<LineChunk>,
): Promise<TraceRequest[]> {
  const rows: WekaRow[] = [];
  let csv: CsvRow | undefined;
  const col: Record<string, number> = {};
  await eachLine(
    ctx,
    lines,
    (line, lineNo) => {
      const h = new CsvHeader(ctx, line, lineNo);
      for (const name of [
        'trace_id',
        'agent',
        'req_idx',
        't_s',
        'in_tokens',
        'out_tokens',
        'n_blocks',
        'prefix_hit_blocks_prev',
        'block_size',
      ])
        col[name] = h.require(name);
      for (const name of ['subagent_type', 'model', 'think_time_s', 'api_time_s']) col[name] = h.find(name);
      csv = new CsvRow(ctx, h);
    },
    (line, lineNo) => {
      const row = csv as CsvRow;
      row.split(line, 0, line.length, lineNo);
      const c = (name: string): number => col[name] as number;
      const trace = row.text(c('trace_id')).trim();
      if (trace === '') throw row.error(c('trace_id'), 'trace_id', 'a conversation id');
      const blockSize = row.count(c('block_size'), 'block_size');
      if (blockSize === 0) throw row.error(c('block_size'), 'block_size', 'a block size > 0');
      rows.push({
        line: lineNo,
        trace,
        agent: row.text(c('agent')).trim() || 'main',
        subagentType: row.optText(c('subagent_type')),
        turn: row.count(c('req_idx'), 'req_idx'),
        tS: row.nonNegative(c('t_s'), 't_s'),
        model: row.optText(c('model')),
        prompt: row.count(c('in_tokens'), 'in_tokens'),
        output: row.count(c('out_tokens'), 'out_tokens'),
        nBlocks: row.count(c('n_blocks'), 'n_blocks'),
        hitPrev: row.count(c('prefix_hit_blocks_prev'), 'prefix_hit_blocks_prev'),
        thinkS: row.optNonNegative(c('think_time_s'), 'think_time_s'),
        apiS: row.optNonNegative(c('api_time_s'), 'api_time_s'),
        blockSize,
      });
    },
  );

  const traceOrder = new Map<string, number>();
  for (const r of rows) if (!traceOrder.has(r.trace)) traceOrder.set(r.trace, traceOrder.size);
  const starts = placeSessions(ctx, traceOrder.size, 'WEKA conversations (per-conversation times)');

  const sessions = new Map<string, SessionState>();
  const out: TraceRequest[] = [];
  let nextHash = 0;
  let derivedGaps = 0;
  for (const w of rows) {
    const sessionId = w.agent === 'main' ? w.trace : `${w.trace}/${w.agent}`;
    const state = sessions.get(sessionId);
    try {
      if (state !== undefined && w.tS < state.prev.tS)
        throw ctx.rowError(
          w.line,
          't_s',
          `≥ the previous request of ${sessionId} (${fmtS(state.prev.tS)} s, line ${state.prev.line})`,
          `${fmtS(w.tS)} s`,
        );
      const prevHashes = state?.hashes ?? [];
      if (w.hitPrev > prevHashes.length || w.hitPrev > w.nBlocks)
        throw ctx.rowError(
          w.line,
          'prefix_hit_blocks_prev',
          `≤ n_blocks (${w.nBlocks}) and ≤ the previous request's blocks (${prevHashes.length})`,
          String(w.hitPrev),
        );
      const hashes = prevHashes.slice(0, w.hitPrev);
      for (let i = w.hitPrev; i < w.nBlocks; i++) hashes.push(nextHash++);
      const r = request((starts[traceOrder.get(w.trace) as number] as number) + w.tS, w.prompt, w.output);
      r.sessionId = sessionId;
      r.turn = w.turn;
      if (state !== undefined) {
        r.dependsOnPrevious = true;
        if (w.thinkS !== undefined) r.gapS = w.thinkS;
        else {
          r.gapS = Math.max(0, w.tS - state.prev.tS - (state.prev.apiS ?? 0));
          derivedGaps++;
        }
      }
      r.hashIds = hashes;
      r.blockSize = w.blockSize;
      if (w.model !== undefined) r.model = w.model;
      if (w.agent !== 'main') r.kind = w.subagentType ?? 'subagent';
      out.push(r);
      sessions.set(sessionId, { hashes, prev: w });
    } catch (err) {
      ctx.bad(err);
    }
  }
  if (derivedGaps > 0)
    ctx.warn(
      `${derivedGaps} turn(s) with a blank think_time_s: gap taken as t_s − previous t_s − previous api_time_s (≥ 0)`,
    );
  return shiftAndSort(filterModel(ctx, out));
}

export const wekaRequestsReader: BufferedFormat = {
  kind: 'buffered',
  hasHeader: true,
  read: readWekaRequests,
};
