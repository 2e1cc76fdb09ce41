import type { TraceRequest } from '../types.js';
import type { ReaderContext } from './context.js';
import { isBlankRange, lineAt, type LineChunk } from './lines.js';
import type { Stage } from './pipeline.js';

/** Parses a line-oriented format one row at a time (the streaming path). */
export interface LineParser {
  /**
   * The first non-blank line: a CSV format reads its header and returns true; a JSONL format
   * returns false and the line is then passed to `row`. Header problems throw a TraceHeaderError.
   */
  header(line: string, lineNo: number): boolean;
  /**
   * One data line, text[start, end) (text is a whole decoded chunk: no string per line). Returns
   * undefined when a filter (model, kind) leaves the row out; throws TraceRowError.
   */
  row(text: string, start: number, end: number, lineNo: number): TraceRequest | undefined;
  /** After the last line: add warnings (filters, re-blocking). */
  end(): void;
}

/** A streaming, line-oriented format. */
export interface LineFormat {
  readonly kind: 'lines';
  /** Times are a wall clock (datetime, epoch): the first request (after ordering) becomes t = 0. */
  readonly absoluteTime: boolean;
  create(ctx: ReaderContext): LineParser;
  /** A stage placed after ordering, e.g. spreading quantised timestamps. */
  after?(ctx: ReaderContext, next: Stage): Stage;
}

/**
 * A format read whole before anything is emitted (small agentic session files): it returns the
 * requests sorted by arrival, times already placed.
 */
export interface BufferedFormat {
  readonly kind: 'buffered';
  /** CSV: the first non-blank line is a header (so a file of one line has no rows). */
  readonly hasHeader: boolean;
  read(ctx: ReaderContext, lines: AsyncIterable<LineChunk>): Promise<TraceRequest[]>;
}

/** A format that is one JSON document (not lines): parsed whole, bounded in size. */
export interface DocumentFormat {
  readonly kind: 'document';
  read(ctx: ReaderContext, text: string): TraceRequest[];
}

export type TraceReader = LineFormat | BufferedFormat | DocumentFormat;

/**
 * Call `onRow` for every data line (and `onHeader` for the first non-blank line when given),
 * applying the bad-row policy to row errors. For the buffered formats.
 */
export async function eachLine(
  ctx: ReaderContext,
  lines: AsyncIterable<LineChunk>,
  onHeader: ((line: string, lineNo: number) => void) | undefined,
  onRow: (line: string, lineNo: number) => void,
): Promise<void> {
  let needHeader = onHeader !== undefined;
  for await (const chunk of lines) {
    for (let i = 0; i < chunk.count; i++) {
      if (isBlankRange(chunk.text, chunk.starts[i] as number, chunk.ends[i] as number)) continue;
      const line = lineAt(chunk, i);
      const lineNo = chunk.firstLine + i;
      if (needHeader) {
        needHeader = false;
        (onHeader as (line: string, lineNo: number) => void)(line, lineNo);
        continue;
      }
      try {
        onRow(line, lineNo);
      } catch (err) {
        ctx.bad(err);
      }
    }
  }
}

/** Stable sort by arrival (ties keep the order given). */
export function sortByArrival(reqs: TraceRequest[]): TraceRequest[] {
  return reqs.sort((a, b) => a.arrivalS - b.arrivalS);
}
