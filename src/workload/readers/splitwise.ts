import type { TraceRequest } from '../types.js';
import { request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import type { LineFormat, LineParser } from './format.js';

/**
 * splitwise-sim CSV: `request_id,request_type,application_id,arrival_timestamp,batch_size,
 * prompt_size,token_size` (seconds; `token_size` is the output length). `request_type` is kept as
 * the kind (2 = LLM inference); `batch_size` is unused by the simulator and ignored here.
 */
class SplitwiseParser implements LineParser {
  private csv: CsvRow | undefined;
  private arrivalCol = -1;
  private promptCol = -1;
  private outputCol = -1;
  private typeCol = -1;
  constructor(private readonly ctx: ReaderContext) {}

  header(line: string, lineNo: number): boolean {
    const h = new CsvHeader(this.ctx, line, lineNo);
    this.arrivalCol = h.require('arrival_timestamp');
    this.promptCol = h.require('prompt_size');
    this.outputCol = h.require('token_size');
    this.typeCol = h.find('request_type');
    this.csv = new CsvRow(this.ctx, h);
    return true;
  }

  row(text: string, start: number, end: number, lineNo: number): TraceRequest {
    const row = this.csv as CsvRow;
    row.split(text, start, end, lineNo);
    const r = request(
      row.nonNegative(this.arrivalCol, 'arrival_timestamp'),
      row.count(this.promptCol, 'prompt_size'),
      row.count(this.outputCol, 'token_size'),
    );
    const type = row.optText(this.typeCol);
    if (type !== undefined) r.kind = type;
    return r;
  }

  end(): void {}
}

export const splitwiseReader: LineFormat = {
  kind: 'lines',
  absoluteTime: false,
  create: (ctx) => new SplitwiseParser(ctx),
};
