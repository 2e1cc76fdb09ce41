import type { TraceRequest } from '../types.js';
import { request, type ReaderContext } from './context.js';
import { CsvHeader, CsvRow } from './csv.js';
import type { LineFormat, LineParser } from './format.js';
import { JsonFields, parseJsonLine } from './json.js';

/**
 * `generic`: pertoken's own format, CSV or JSONL (a line starting with `{`).
 * Required: `arrival_s` (or `timestamp_ms`), `prompt_tokens`, `output_tokens`.
 * Optional: `session_id`, `turn`, `gap_s`, `hash_ids` (JSON array; in CSV integers separated by
 * spaces or `|`), `block_size`, `cached_prompt_tokens`, `model`, `kind`, `depends_on_previous`,
 * `source_failed`. A row with a session and `gap_s` is closed-loop (`dependsOnPrevious`) unless it
 * is turn 0 (or, without `turn`, the session's first row); `depends_on_previous` overrides that.
 * Times are kept as written (seconds from the trace start).
 */

/** Closed-loop rule shared by the CSV and JSONL parsers. */
class ClosedLoopRule {
  private readonly seen = new Set<string>();
  apply(r: TraceRequest, explicit: boolean | undefined): void {
    if (explicit !== undefined) {
      r.dependsOnPrevious = explicit;
      return;
    }
    if (r.sessionId === undefined) return;
    let first: boolean;
    if (r.turn !== undefined) first = r.turn === 0;
    else {
      first = !this.seen.has(r.sessionId);
      if (first) this.seen.add(r.sessionId);
    }
    if (r.gapS !== undefined && !first) r.dependsOnPrevious = true;
  }
}

function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  return undefined;
}

/** Integers separated by spaces or `|` (CSV hash_ids); undefined if anything else is there. */
export function parseIdList(text: string): number[] | undefined {
  const ids: number[] = [];
  let v = 0;
  let inNum = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      inNum = true;
    } else if (c === 32 || c === 124 || c === 9) {
      if (inNum) ids.push(v);
      v = 0;
      inNum = false;
    } else return undefined;
  }
  if (inNum) ids.push(v);
  return ids.every((x) => x <= Number.MAX_SAFE_INTEGER) ? ids : undefined;
}

class GenericCsv {
  private readonly row: CsvRow;
  private readonly arrivalCol: number;
  private readonly msCol: number;
  private readonly promptCol: number;
  private readonly outputCol: number;
  private readonly sessionCol: number;
  private readonly turnCol: number;
  private readonly gapCol: number;
  private readonly hashCol: number;
  private readonly blockCol: number;
  private readonly cachedCol: number;
  private readonly modelCol: number;
  private readonly kindCol: number;
  private readonly dependsCol: number;
  private readonly failedCol: number;
  private readonly plain: boolean;
  private readonly rule = new ClosedLoopRule();

  constructor(
    private readonly ctx: ReaderContext,
    header: CsvHeader,
  ) {
    this.arrivalCol = header.find('arrival_s');
    this.msCol = this.arrivalCol === -1 ? header.find('timestamp_ms') : -1;
    if (this.arrivalCol === -1 && this.msCol === -1) throw header.missing('"arrival_s" or "timestamp_ms"');
    this.promptCol = header.require('prompt_tokens');
    this.outputCol = header.require('output_tokens');
    this.sessionCol = header.find('session_id');
    this.turnCol = header.find('turn');
    this.gapCol = header.find('gap_s');
    this.hashCol = header.find('hash_ids');
    this.blockCol = header.find('block_size');
    this.cachedCol = header.find('cached_prompt_tokens');
    this.modelCol = header.find('model');
    this.kindCol = header.find('kind');
    this.dependsCol = header.find('depends_on_previous');
    this.failedCol = header.find('source_failed');
    this.plain = [
      this.sessionCol,
      this.turnCol,
      this.gapCol,
      this.hashCol,
      this.blockCol,
      this.cachedCol,
      this.modelCol,
      this.kindCol,
      this.dependsCol,
      this.failedCol,
    ].every((c) => c === -1);
    this.row = new CsvRow(ctx, header);
  }

  parse(text: string, start: number, end: number, lineNo: number): TraceRequest {
    const row = this.row;
    row.split(text, start, end, lineNo);
    const arrivalS =
      this.arrivalCol !== -1
        ? row.nonNegative(this.arrivalCol, 'arrival_s')
        : row.nonNegative(this.msCol, 'timestamp_ms') / 1000;
    const r = request(
      arrivalS,
      row.count(this.promptCol, 'prompt_tokens'),
      row.count(this.outputCol, 'output_tokens'),
    );
    if (this.plain) return r;
    const session = row.optText(this.sessionCol);
    if (session !== undefined) r.sessionId = session;
    const turn = row.optCount(this.turnCol, 'turn');
    if (turn !== undefined) r.turn = turn;
    const gap = row.optNonNegative(this.gapCol, 'gap_s');
    if (gap !== undefined) r.gapS = gap;
    if (!row.isBlank(this.hashCol)) {
      const ids = parseIdList(row.text(this.hashCol));
      if (ids === undefined) throw row.error(this.hashCol, 'hash_ids', 'integers separated by spaces or "|"');
      r.hashIds = ids;
    }
    const block = row.optCount(this.blockCol, 'block_size');
    if (block !== undefined) r.blockSize = block;
    const cached = row.optCount(this.cachedCol, 'cached_prompt_tokens');
    if (cached !== undefined) r.cachedPromptTokens = cached;
    const model = row.optText(this.modelCol);
    if (model !== undefined) r.model = model;
    const kind = row.optText(this.kindCol);
    if (kind !== undefined) r.kind = kind;
    let explicit: boolean | undefined;
    if (!row.isBlank(this.dependsCol)) {
      explicit = parseBool(row.text(this.dependsCol));
      if (explicit === undefined) throw row.error(this.dependsCol, 'depends_on_previous', 'true or false');
    }
    if (!row.isBlank(this.failedCol)) {
      const failed = parseBool(row.text(this.failedCol));
      if (failed === undefined) throw row.error(this.failedCol, 'source_failed', 'true or false');
      if (failed) r.sourceFailed = true;
    }
    this.rule.apply(r, explicit);
    return r;
  }
}

class GenericJsonl {
  private readonly rule = new ClosedLoopRule();
  constructor(private readonly ctx: ReaderContext) {}

  parse(line: string, lineNo: number): TraceRequest {
    const f = new JsonFields(this.ctx, lineNo, parseJsonLine(this.ctx, line, lineNo));
    let arrivalS: number;
    if (f.has('arrival_s')) arrivalS = f.nonNegative('arrival_s');
    else if (f.has('timestamp_ms')) arrivalS = f.nonNegative('timestamp_ms') / 1000;
    else
      throw this.ctx.rowError(lineNo, 'arrival_s', 'a number (or "timestamp_ms")', 'nothing (field missing)');
    const r = request(arrivalS, f.count('prompt_tokens'), f.count('output_tokens'));
    const session = f.optText('session_id');
    if (session !== undefined) r.sessionId = session;
    const turn = f.optCount('turn');
    if (turn !== undefined) r.turn = turn;
    const gap = f.optNonNegative('gap_s');
    if (gap !== undefined) r.gapS = gap;
    const ids = f.optIds('hash_ids');
    if (ids !== undefined) r.hashIds = ids;
    const block = f.optCount('block_size');
    if (block !== undefined) r.blockSize = block;
    const cached = f.optCount('cached_prompt_tokens');
    if (cached !== undefined) r.cachedPromptTokens = cached;
    const model = f.optText('model');
    if (model !== undefined) r.model = model;
    const kind = f.optText('kind');
    if (kind !== undefined) r.kind = kind;
    if (f.optBool('source_failed') === true) r.sourceFailed = true;
    this.rule.apply(r, f.optBool('depends_on_previous'));
    return r;
  }
}

class GenericParser implements LineParser {
  private csv: GenericCsv | undefined;
  private readonly jsonl: GenericJsonl;
  constructor(private readonly ctx: ReaderContext) {
    this.jsonl = new GenericJsonl(ctx);
  }
  /** The first line decides: `{` starts JSONL, anything else is the CSV header. */
  header(line: string, lineNo: number): boolean {
    if (line.trimStart().startsWith('{')) return false;
    this.csv = new GenericCsv(this.ctx, new CsvHeader(this.ctx, line, lineNo));
    return true;
  }
  row(text: string, start: number, end: number, lineNo: number): TraceRequest {
    return this.csv !== undefined
      ? this.csv.parse(text, start, end, lineNo)
      : this.jsonl.parse(text.slice(start, end), lineNo);
  }
  end(): void {}
}

export const genericReader: LineFormat = {
  kind: 'lines',
  absoluteTime: false,
  create: (ctx) => new GenericParser(ctx),
};
