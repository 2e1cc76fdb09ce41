import type { TraceRequest } from '../types.js';
import { request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import type { LineFormat, LineParser } from './format.js';

/** `Conversation log`, `conversation`, `CONVERSATION LOG` all name the same kind. */
export function normalizeKind(kind: string): string {
  return kind
    .trim()
    .toLowerCase()
    .replace(/\s+log$/, '');
}

/**
 * BurstGPT CSV, parts 1–2 (`Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`)
 * and part 3 (adds `Session ID` and `Elapsed time`): columns are read by name. `Response tokens` =
 * 0 marks a failed request: kept, with `sourceFailed`. `opts.model` and `opts.kind` (log type)
 * filter rows, and the report says how many they excluded. t = 0 is the first kept row.
 */
class BurstGptParser implements LineParser {
  private csv: CsvRow | undefined;
  private tsCol = -1;
  private modelCol = -1;
  private promptCol = -1;
  private outputCol = -1;
  private kindCol = -1;
  private sessionCol = -1;
  private readonly wantModel: string | undefined;
  private readonly wantKind: string | undefined;
  private excludedByModel = 0;
  private excludedByKind = 0;
  private kept = 0;
  private failed = 0;

  constructor(private readonly ctx: ReaderContext) {
    this.wantModel = ctx.opts.model?.trim().toLowerCase();
    this.wantKind = ctx.opts.kind === undefined ? undefined : normalizeKind(ctx.opts.kind);
  }

  header(line: string, lineNo: number): boolean {
    const h = new CsvHeader(this.ctx, line, lineNo);
    this.tsCol = h.require('Timestamp');
    this.modelCol = h.require('Model');
    this.promptCol = h.require('Request tokens');
    this.outputCol = h.require('Response tokens');
    this.kindCol = h.require('Log Type');
    this.sessionCol = h.find('Session ID');
    this.csv = new CsvRow(this.ctx, h);
    return true;
  }

  row(text: string, start: number, end: number, lineNo: number): TraceRequest | undefined {
    const row = this.csv as CsvRow;
    row.split(text, start, end, lineNo);
    const arrivalS = row.nonNegative(this.tsCol, 'Timestamp');
    const prompt = row.count(this.promptCol, 'Request tokens');
    const output = row.count(this.outputCol, 'Response tokens');
    const model = row.text(this.modelCol).trim();
    const kind = row.text(this.kindCol).trim();
    if (this.wantModel !== undefined && model.toLowerCase() !== this.wantModel) {
      this.excludedByModel++;
      return undefined;
    }
    if (this.wantKind !== undefined && normalizeKind(kind) !== this.wantKind) {
      this.excludedByKind++;
      return undefined;
    }
    const r = request(arrivalS, prompt, output);
    if (model !== '') r.model = model;
    if (kind !== '') r.kind = kind;
    const session = row.optText(this.sessionCol);
    if (session !== undefined) r.sessionId = session;
    if (output === 0) {
      r.sourceFailed = true;
      this.failed++;
    }
    this.kept++;
    return r;
  }

  end(): void {
    const total = this.kept + this.excludedByModel + this.excludedByKind;
    if (this.wantModel !== undefined)
      this.ctx.warn(`--model ${this.ctx.opts.model}: excluded ${this.excludedByModel} of ${total} rows`);
    if (this.wantKind !== undefined)
      this.ctx.warn(
        `--kind ${this.ctx.opts.kind}: excluded ${this.excludedByKind} of ${total - this.excludedByModel} rows ` +
          '(matched against Log Type, case-insensitive, "log" optional)',
      );
    if (total > 0 && this.kept === 0) this.ctx.warn('the filters excluded every row: the trace is empty');
    if (this.failed > 0)
      this.ctx.warn(
        `${this.failed} request(s) with Response tokens = 0 are kept as failed requests (sourceFailed)`,
      );
  }
}

export const burstgptReader: LineFormat = {
  kind: 'lines',
  absoluteTime: true,
  create: (ctx) => new BurstGptParser(ctx),
};
