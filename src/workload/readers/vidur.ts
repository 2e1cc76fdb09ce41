import type { TraceRequest } from '../types.js';
import { request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import type { LineFormat, LineParser } from './format.js';

/**
 * Vidur trace-replay CSV (`arrived_at,num_prefill_tokens,num_decode_tokens`, seconds), and the
 * lengths-only Vidur/Sarathi file (`num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio`)
 * with no timestamps: all of its requests arrive at 0 (offline batch, or an empirical length
 * distribution), with a warning. Lengths are not clipped (Vidur clips prompt + output to 4,096).
 */
class VidurParser implements LineParser {
  private csv: CsvRow | undefined;
  private arrivalCol = -1;
  private prefillCol = -1;
  private decodeCol = -1;
  private rows = 0;
  constructor(private readonly ctx: ReaderContext) {}

  header(line: string, lineNo: number): boolean {
    const h = new CsvHeader(this.ctx, line, lineNo);
    this.arrivalCol = h.find('arrived_at');
    this.prefillCol = h.require('num_prefill_tokens');
    this.decodeCol = h.require('num_decode_tokens');
    this.csv = new CsvRow(this.ctx, h);
    return true;
  }

  row(text: string, start: number, end: number, lineNo: number): TraceRequest {
    const row = this.csv as CsvRow;
    row.split(text, start, end, lineNo);
    this.rows++;
    const arrivalS = this.arrivalCol === -1 ? 0 : row.nonNegative(this.arrivalCol, 'arrived_at');
    return request(
      arrivalS,
      row.count(this.prefillCol, 'num_prefill_tokens'),
      row.count(this.decodeCol, 'num_decode_tokens'),
    );
  }

  end(): void {
    if (this.arrivalCol === -1)
      this.ctx.warn(
        `no arrived_at column (a lengths-only file): all ${this.rows} requests arrive at t = 0 — an offline batch; ` +
          'use it as an empirical length distribution for a synthetic arrival process',
      );
  }
}

export const vidurReader: LineFormat = {
  kind: 'lines',
  absoluteTime: false,
  create: (ctx) => new VidurParser(ctx),
};
