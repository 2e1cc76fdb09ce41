import type { TraceRequest } from '../types.js';
import { request, type ReaderContext } from './context.js';
import type { LineFormat, LineParser } from './format.js';
import { JsonFields, parseJsonLine } from './json.js';

/** Bailian / Qwen prefix blocks are 16 tokens. */
export const BAILIAN_BLOCK_SIZE = 16;

/**
 * Alibaba Bailian / Qwen JSONL (ATC'25 traces): `chat_id`, `parent_chat_id` (-1 for a root),
 * `timestamp` (float seconds from the trace start), `input_length`, `output_length`, `type`,
 * `turn` (1-based), `hash_ids` (16-token blocks). Parent links give sessions: a session is named
 * after its root chat. Turns keep their recorded arrivals (open loop): the trace has no think time
 * to rebuild a closed loop from.
 */
class BailianParser implements LineParser {
  /** chat_id → root chat_id of its session. */
  private readonly roots = new Map<string, string>();
  private sessions = 0;
  private followUps = 0;
  constructor(private readonly ctx: ReaderContext) {}

  header(): boolean {
    return false;
  }

  row(text: string, start: number, end: number, lineNo: number): TraceRequest {
    const f = new JsonFields(this.ctx, lineNo, parseJsonLine(this.ctx, text.slice(start, end), lineNo));
    const chat = f.text('chat_id');
    const parent = f.has('parent_chat_id') ? f.text('parent_chat_id') : '-1';
    const r = request(f.nonNegative('timestamp'), f.count('input_length'), f.count('output_length'));
    let root: string;
    if (parent === '-1') {
      root = chat;
      this.sessions++;
    } else {
      // A parent outside this file (cut trace) roots its own session.
      root = this.roots.get(parent) ?? parent;
      if (!this.roots.has(parent)) this.sessions++;
      this.followUps++;
    }
    this.roots.set(chat, root);
    r.sessionId = root;
    const turn = f.optCount('turn');
    if (turn !== undefined) r.turn = turn >= 1 ? turn - 1 : 0;
    const kind = f.optText('type');
    if (kind !== undefined) r.kind = kind;
    const ids = f.optIds('hash_ids');
    if (ids !== undefined) {
      r.hashIds = ids;
      r.blockSize = BAILIAN_BLOCK_SIZE;
    }
    return r;
  }

  end(): void {
    this.ctx.warn(
      `Bailian parent links: ${this.sessions} session(s), ${this.followUps} follow-up turn(s); turns keep their ` +
        'recorded arrival times (open loop), since the trace has no think time between turns',
    );
  }
}

export const bailianReader: LineFormat = {
  kind: 'lines',
  absoluteTime: false,
  create: (ctx) => new BailianParser(ctx),
};
