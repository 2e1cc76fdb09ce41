import { InputError } from '../../util/errors.js';
import type { TraceRequest } from '../types.js';
import { fmtS, request, show, type ReaderContext } from './context.js';
import type { DocumentFormat } from './format.js';
import { JsonFields, isObject, type JsonObject } from './json.js';
import { filterModel, fnv1a32, shiftAndSort } from './sessions.js';

/** Distinct hash ids one conversation may hold: ids are namespaced as fnv32(id) · 2^21 + index. */
const IDS_PER_CONVERSATION = 2 ** 21;

/** `file: not valid JSON …` with the line and column of a JSON.parse position. */
function syntaxError(ctx: ReaderContext, text: string, err: unknown): InputError {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(msg);
  if (m !== null) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n');
    return new InputError(
      `${ctx.file}:${line}:${col}: not valid JSON (${msg}); format ${ctx.format} is one JSON document`,
    );
  }
  return new InputError(`${ctx.file}: not valid JSON (${msg}); format ${ctx.format} is one JSON document`);
}

/** Maps a conversation's local hash ids to ids unique across conversations. */
class HashRemap {
  private readonly map = new Map<number, number>();
  private readonly base: number;
  constructor(
    private readonly ctx: ReaderContext,
    conversation: string,
    private readonly keep: boolean,
  ) {
    this.base = fnv1a32(conversation) * IDS_PER_CONVERSATION;
  }
  apply(ids: number[]): number[] {
    if (this.keep) return ids;
    return ids.map((id) => {
      let g = this.map.get(id);
      if (g === undefined) {
        if (this.map.size >= IDS_PER_CONVERSATION)
          throw new InputError(
            `${this.ctx.file}: more than ${IDS_PER_CONVERSATION} distinct hash ids in one conversation`,
          );
        g = this.base + this.map.size;
        this.map.set(id, g);
      }
      return g;
    });
  }
}

interface Turn {
  path: string;
  tS: number;
  thinkS: number | undefined;
  apiS: number | undefined;
}

/**
 * One WEKA Claude Code conversation, verbatim (`{id, block_size, hash_id_scope, requests[]}`),
 * read whole. Main requests have `t` from the conversation start; a `type: "subagent"` entry nests
 * its own `requests[]` whose `t` is from the sub-agent start (its own `t`). The main agent and each
 * sub-agent (`id/agent_id`) are closed-loop sessions: gap = think_time (when missing: t − previous
 * t − previous api_time, ≥ 0). Local hash ids are remapped to ids unique across conversations;
 * `hash_id_scope: "global"` ids are kept.
 */
function readWekaSession(ctx: ReaderContext, text: string): TraceRequest[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw syntaxError(ctx, text, err);
  }
  if (!isObject(doc) || !Array.isArray(doc.requests)) {
    const found = isObject(doc)
      ? `an object with keys ${show(Object.keys(doc).slice(0, 8))}`
      : `a JSON ${Array.isArray(doc) ? 'array' : typeof doc}`;
    throw new InputError(
      `${ctx.file}: not a ${ctx.format} document: expected a JSON object {id, block_size, requests[]}, found ${found}; ` +
        'pass --format if this is another kind of trace',
    );
  }
  // Every position is reported as line 1 plus its JSON path (the document is usually one line).
  const top = new JsonFields(ctx, 1, doc);
  const id = top.text('id');
  const blockSize = top.count('block_size');
  const scope = top.has('hash_id_scope') ? String(top.raw('hash_id_scope')) : 'local';
  const remap = new HashRemap(ctx, id, scope === 'global');
  const out: TraceRequest[] = [];
  let derivedGaps = 0;

  const session = (
    sessionId: string,
    entries: JsonObject[],
    basePath: string,
    offsetS: number,
    kind: string | undefined,
  ): void => {
    let prev: Turn | undefined;
    let turn = 0;
    entries.forEach((entry, i) => {
      const path = `${basePath}[${i}].`;
      try {
        const f = new JsonFields(ctx, 1, entry, path);
        if (entry.type === 'subagent') {
          const agent = f.text('agent_id');
          const startS = offsetS + f.nonNegative('t');
          const sub = f.optText('subagent_type');
          session(`${id}/${agent}`, f.objects('requests'), `${path}requests`, startS, sub ?? 'subagent');
          return;
        }
        const tS = f.nonNegative('t');
        if (prev !== undefined && tS < prev.tS)
          throw ctx.rowError(
            1,
            `${path}t`,
            `≥ the previous request's t (${fmtS(prev.tS)} s at ${prev.path}t)`,
            `${fmtS(tS)} s`,
          );
        const r = request(offsetS + tS, f.count('in'), f.count('out'));
        r.sessionId = sessionId;
        r.turn = turn;
        const thinkS = f.optNonNegative('think_time');
        const apiS = f.optNonNegative('api_time');
        if (prev !== undefined) {
          r.dependsOnPrevious = true;
          if (thinkS !== undefined) r.gapS = thinkS;
          else {
            r.gapS = Math.max(0, tS - prev.tS - (prev.apiS ?? 0));
            derivedGaps++;
          }
        }
        const ids = f.optIds('hash_ids');
        if (ids !== undefined) {
          r.hashIds = remap.apply(ids);
          r.blockSize = blockSize;
        }
        const model = f.optText('model');
        if (model !== undefined) r.model = model;
        if (kind !== undefined) r.kind = kind;
        out.push(r);
        prev = { path, tS, thinkS, apiS };
        turn++;
      } catch (err) {
        ctx.bad(err);
      }
    });
  };

  session(id, top.objects('requests'), 'requests', 0, undefined);
  if (out.length === 0 && ctx.report.badRows === 0)
    throw new InputError(`${ctx.file}: empty: no requests in the conversation`);
  if (derivedGaps > 0)
    ctx.warn(
      `${derivedGaps} turn(s) without think_time: gap taken as t − previous t − previous api_time (≥ 0)`,
    );
  if (scope !== 'global')
    ctx.warn(
      `hash ids are local to conversation ${id}: remapped to ids unique across conversations ` +
        '(namespace fnv32(id) · 2^21 + first-seen order)',
    );
  return shiftAndSort(filterModel(ctx, out));
}

export const wekaSessionReader: DocumentFormat = { kind: 'document', read: readWekaSession };
