import { Rng } from '../../util/rng.js';
import type { TraceRequest } from '../types.js';
import { fmtS, request, type ReaderContext } from './context.js';
import type { LineFormat, LineParser } from './format.js';
import { JsonFields, parseJsonLine } from './json.js';
import type { Stage } from './pipeline.js';

/** Mooncake prefix blocks are 512 tokens. */
export const MOONCAKE_BLOCK_SIZE = 512;
/** Mooncake FAST'25 timestamps are quantised to buckets of about this many seconds. */
export const MOONCAKE_BUCKET_S = 3;

/**
 * Mooncake JSONL (FAST'25 and arXiv traces): `{"timestamp": ms, "input_length", "output_length",
 * "hash_ids": [...]}` with 512-token blocks. Times are kept (ms from the trace start → s).
 */
class MooncakeParser implements LineParser {
  private blockMismatch = 0;
  private firstMismatchLine = 0;
  constructor(private readonly ctx: ReaderContext) {}

  header(): boolean {
    return false;
  }

  row(text: string, start: number, end: number, lineNo: number): TraceRequest {
    const f = new JsonFields(this.ctx, lineNo, parseJsonLine(this.ctx, text.slice(start, end), lineNo));
    const r = request(f.nonNegative('timestamp') / 1000, f.count('input_length'), f.count('output_length'));
    const ids = f.optIds('hash_ids');
    if (ids !== undefined) {
      r.hashIds = ids;
      r.blockSize = MOONCAKE_BLOCK_SIZE;
      if (ids.length !== Math.ceil(r.promptTokens / MOONCAKE_BLOCK_SIZE) && this.blockMismatch++ === 0)
        this.firstMismatchLine = lineNo;
    }
    return r;
  }

  end(): void {
    if (this.blockMismatch > 0)
      this.ctx.warn(
        `${this.blockMismatch} row(s) (first at line ${this.firstMismatchLine}) have a hash_ids length other than ` +
          `ceil(input_length / ${MOONCAKE_BLOCK_SIZE}); their prefix blocks are used as given`,
      );
  }
}

/**
 * Spread requests that share a timestamp over the bucket they stand for, deterministically: the k
 * requests at t get sorted uniform offsets in [t, t + w), w = min(bucket, next distinct timestamp − t)
 * (the bucket alone for the last one), in file order. Order stays nondecreasing; a timestamp held by
 * one request is left alone.
 */
export class BucketSpreader implements Stage {
  private group: TraceRequest[] = [];
  private groupLines: number[] = [];
  private readonly rng: Rng;
  private spread = 0;
  private groups = 0;
  private largest = 0;

  constructor(
    private readonly ctx: ReaderContext,
    private readonly next: Stage,
    private readonly bucketS = MOONCAKE_BUCKET_S,
  ) {
    this.rng = new Rng(ctx.seed);
  }

  push(r: TraceRequest, line: number): void {
    const g = this.group;
    if (g.length > 0 && r.arrivalS !== (g[0] as TraceRequest).arrivalS) this.flush(r.arrivalS);
    this.group.push(r);
    this.groupLines.push(line);
  }

  private flush(nextS: number): void {
    const g = this.group;
    const k = g.length;
    if (k > 1) {
      const t = (g[0] as TraceRequest).arrivalS;
      const width = Math.min(this.bucketS, nextS - t);
      const offsets: number[] = [];
      for (let i = 0; i < k; i++) offsets.push(this.rng.uniform());
      offsets.sort((a, b) => a - b);
      let prev = t;
      for (let i = 0; i < k; i++) {
        const at = t + (offsets[i] as number) * width;
        // Rounding must not carry a request onto the next timestamp (nor out of order).
        prev = at < nextS ? Math.max(at, prev) : prev;
        (g[i] as TraceRequest).arrivalS = prev;
      }
      this.spread += k;
      this.groups++;
      if (k > this.largest) this.largest = k;
    }
    for (let i = 0; i < k; i++) this.next.push(g[i] as TraceRequest, this.groupLines[i] as number);
    this.group = [];
    this.groupLines = [];
  }

  end(): void {
    this.flush(Infinity);
    if (this.spread > 0)
      this.ctx.warn(
        `${this.spread} requests shared ${this.groups} quantised timestamps (up to ${this.largest} each): spread each ` +
          `group over [t, t + min(${fmtS(this.bucketS)} s, next timestamp − t)) at sorted uniform offsets, seed ` +
          `${this.ctx.seed} (change with --seed)`,
      );
    this.next.end();
  }
}

export const mooncakeReader: LineFormat = {
  kind: 'lines',
  absoluteTime: false,
  create: (ctx) => new MooncakeParser(ctx),
  after: (ctx, next) => new BucketSpreader(ctx, next),
};
