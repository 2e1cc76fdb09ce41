import { InputError, TraceRowError, excerpt } from '../../util/errors.js';
import type { ReadOptions, ReadReport, TraceFormat, TraceRequest } from '../types.js';

/** The first this many bad-row messages are kept in the report. */
export const MAX_BAD_ROW_MESSAGES = 5;

/**
 * A problem with a CSV header (a missing column): same `file:line: field: expected …, found …`
 * shape as a row error, but never skipped by --skip-bad-rows, since no row could be read.
 */
export class TraceHeaderError extends InputError {
  constructor(file: string, line: number, expected: string, found: string) {
    super(`${file}:${line}: header: expected ${expected}, found ${found}`);
    this.name = 'TraceHeaderError';
  }
}

/** What every reader shares: the file name, the options, the report it fills, bad-row policy. */
export class ReaderContext {
  readonly report: ReadReport;
  constructor(
    readonly file: string,
    readonly format: TraceFormat,
    readonly opts: ReadOptions,
  ) {
    this.report = { file, format, rows: 0, badRows: 0, firstBadRows: [], warnings: [] };
  }

  /** A malformed row: rethrow, or with skipBadRows count it and keep the first messages. */
  bad(err: unknown): void {
    if (!(err instanceof TraceRowError) || this.opts.skipBadRows !== true) throw err;
    this.report.badRows++;
    if (this.report.firstBadRows.length < MAX_BAD_ROW_MESSAGES) this.report.firstBadRows.push(err.message);
  }

  /** A row error at `line` for `field`. */
  rowError(line: number, field: string, expected: string, found: string): TraceRowError {
    return new TraceRowError(this.file, line, field, expected, found);
  }

  warn(message: string): void {
    this.report.warnings.push(message);
  }

  get seed(): number {
    return this.opts.seed ?? 0;
  }
}

/** Quote a value for an error message, shortening long ones. */
export function show(value: unknown): string {
  if (typeof value === 'string') return excerpt(value);
  if (value === undefined) return 'nothing (field missing)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} chars)` : text;
}

/** Seconds formatted for messages: up to microseconds, no trailing zeros. */
export function fmtS(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 1e6) / 1e6) : String(x);
}

/** A new request with the four required fields; optional fields are added by the caller. */
export function request(arrivalS: number, promptTokens: number, outputTokens: number): TraceRequest {
  return { id: 0, arrivalS, promptTokens, outputTokens };
}
