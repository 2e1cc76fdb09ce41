import type { TraceRequest } from '../types.js';
import { request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import { DatetimeParser } from './datetime.js';
import type { LineFormat, LineParser } from './format.js';

/**
 * Azure LLM inference traces: 2023 (`2023-11-16 18:17:03.9799600`, naive, CRLF), 2024
 * (`2024-05-10 00:00:00.009930+00:00`, some rows without a fraction) and the 2025 multimodal
 * variant (`TIMESTAMP,NumImages,ContextTokens,GeneratedTokens`). Columns are found by name;
 * t = 0 is the first row.
 */
class AzureParser implements LineParser {
  private csv: CsvRow | undefined;
  private tsCol = -1;
  private promptCol = -1;
  private outputCol = -1;
  private readonly clock = new DatetimeParser();
  private originSec: number | undefined;
  private originFrac = 0;

  constructor(private readonly ctx: ReaderContext) {}

  header(line: string, lineNo: number): boolean {
    const header = new CsvHeader(this.ctx, line, lineNo);
    this.tsCol = header.require('TIMESTAMP');
    this.promptCol = header.require('ContextTokens');
    this.outputCol = header.require('GeneratedTokens');
    if (header.has('NumImages'))
      this.ctx.warn(
        'Azure multimodal trace: NumImages is not kept; image tokens are assumed to be in ContextTokens',
      );
    this.csv = new CsvRow(this.ctx, header);
    return true;
  }

  row(text: string, start: number, end: number, lineNo: number): TraceRequest {
    const row = this.csv as CsvRow;
    row.split(text, start, end, lineNo);
    const col = this.tsCol;
    const clock = this.clock;
    if (!clock.parse(row.src(col), row.start(col), row.end(col)))
      throw row.error(
        col,
        'TIMESTAMP',
        'a datetime like 2023-11-16 18:17:03.9799600 or 2024-05-10 00:00:00.009930+00:00',
      );
    if (this.originSec === undefined) {
      this.originSec = clock.sec;
      this.originFrac = clock.frac;
    }
    // Whole seconds and fractions are subtracted apart so 100 ns digits survive.
    const arrivalS = clock.sec - this.originSec + (clock.frac - this.originFrac);
    return request(
      arrivalS,
      row.count(this.promptCol, 'ContextTokens'),
      row.count(this.outputCol, 'GeneratedTokens'),
    );
  }

  end(): void {}
}

export const azureReader: LineFormat = {
  kind: 'lines',
  absoluteTime: true,
  create: (ctx) => new AzureParser(ctx),
};
