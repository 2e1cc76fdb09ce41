import { parse as parseCsvSync } from 'csv-parse/sync';
import { excerpt, type TraceRowError } from '../../util/errors.js';
import { TraceHeaderError, type ReaderContext } from './context.js';
import { POW10, parseCount, parseDecimal } from './numbers.js';

const COMMA = 44;
const DOT = 46;
const MINUS = 45;
const QUOTE = '"';
const QUOTE_CODE = 34;

/** Split one line with quoted fields (rare in traces) with csv-parse; a quote left open is a row error. */
function splitQuoted(ctx: ReaderContext, line: string, lineNo: number): string[] {
  try {
    const rows = parseCsvSync(line, { relax_column_count: true });
    return rows[0] ?? [];
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw ctx.rowError(
      lineNo,
      'row',
      'comma-separated fields (a quoted field must close on the same line)',
      `${excerpt(line)} (${why})`,
    );
  }
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

/** A CSV header: column positions by name (matched trimmed and case-insensitively). */
export class CsvHeader {
  readonly names: string[];
  private readonly index = new Map<string, number>();

  constructor(
    private readonly ctx: ReaderContext,
    readonly line: string,
    readonly lineNo: number,
  ) {
    this.names = line.includes(QUOTE) ? splitQuoted(ctx, line, lineNo) : line.split(',');
    this.names.forEach((n, i) => {
      const key = normalizeName(n);
      if (!this.index.has(key)) this.index.set(key, i);
    });
  }

  get width(): number {
    return this.names.length;
  }

  /** Position of the first of `names` present, or -1. */
  find(...names: string[]): number {
    for (const n of names) {
      const i = this.index.get(normalizeName(n));
      if (i !== undefined) return i;
    }
    return -1;
  }

  has(...names: string[]): boolean {
    return this.find(...names) !== -1;
  }

  /** Position of a required column; a missing one names the column and shows the header found. */
  require(...names: string[]): number {
    const i = this.find(...names);
    if (i === -1) throw this.missing(names.map((n) => `"${n}"`).join(' or '));
    return i;
  }

  missing(what: string): TraceHeaderError {
    return new TraceHeaderError(
      this.ctx.file,
      this.lineNo,
      `a column ${what} (format ${this.ctx.format})`,
      `header ${excerpt(this.line, 200)}`,
    );
  }
}

/**
 * One data row, split without copying: field i is line[starts[i], ends[i]). Lines with a double
 * quote go through csv-parse instead. Getters throw a TraceRowError naming the column.
 */
export class CsvRow {
  /** The text holding the current line (a whole decoded chunk) and the line's bounds in it. */
  private chunk = '';
  private lineStart = 0;
  private lineEnd = 0;
  lineNo = 0;
  private n = 0;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** Value of each plain-decimal field found while splitting, NaN for any other field. */
  private readonly values: Float64Array;
  private quoted: string[] | null = null;

  constructor(
    private readonly ctx: ReaderContext,
    private readonly header: CsvHeader,
  ) {
    this.starts = new Int32Array(header.width + 1);
    this.ends = new Int32Array(header.width + 1);
    this.values = new Float64Array(header.width + 1);
  }

  /** The current line (a copy, for messages). */
  get line(): string {
    return this.chunk.slice(this.lineStart, this.lineEnd);
  }

  /**
   * Split the line text[start, end); a row with a different number of fields than the header is
   * an error. One pass over the characters finds the commas and, on the way, the value of every
   * field that is a plain decimal number (`-?digits[.digits]`, ≤ 15 digits): the number getters
   * use it and only fall back to full parsing for anything else (exponents, blanks, errors).
   */
  split(text: string, start: number, end: number, lineNo: number): void {
    this.chunk = text;
    this.lineStart = start;
    this.lineEnd = end;
    this.lineNo = lineNo;
    this.quoted = null;
    const width = this.header.width;
    const starts = this.starts;
    const ends = this.ends;
    const values = this.values;
    let n = 0;
    let i = start;
    for (;;) {
      // One field: an optional minus, digits, an optional fraction; anything else makes it non-plain.
      const fieldStart = i;
      let c = i < end ? text.charCodeAt(i) : COMMA;
      const neg = c === MINUS;
      if (neg) c = ++i < end ? text.charCodeAt(i) : COMMA;
      let mant = 0;
      const intStart = i;
      while (c >= 48 && c <= 57) {
        mant = mant * 10 + (c - 48);
        c = ++i < end ? text.charCodeAt(i) : COMMA;
      }
      let digits = i - intStart;
      let frac = 0;
      if (c === DOT) {
        c = ++i < end ? text.charCodeAt(i) : COMMA;
        const fracStart = i;
        while (c >= 48 && c <= 57) {
          mant = mant * 10 + (c - 48);
          c = ++i < end ? text.charCodeAt(i) : COMMA;
        }
        frac = i - fracStart;
        digits += frac;
      }
      let plain = digits > 0 && digits <= 15;
      if (c !== COMMA) {
        plain = false;
        while (c !== COMMA) {
          if (c === QUOTE_CODE) {
            this.splitQuotedLine(lineNo);
            return;
          }
          c = ++i < end ? text.charCodeAt(i) : COMMA;
        }
      }
      if (n < width) {
        starts[n] = fieldStart;
        ends[n] = i;
        values[n] = plain ? (neg ? -1 : 1) * (frac > 0 ? mant / (POW10[frac] as number) : mant) : NaN;
      }
      n++;
      if (i >= end) break;
      i++;
    }
    this.n = n;
    if (n !== width) throw this.fieldCountError();
  }

  private splitQuotedLine(lineNo: number): void {
    this.quoted = splitQuoted(this.ctx, this.line, lineNo);
    this.n = this.quoted.length;
    if (this.n !== this.header.width) throw this.fieldCountError();
  }

  private fieldCountError(): TraceRowError {
    return this.ctx.rowError(
      this.lineNo,
      'row',
      `${this.header.width} comma-separated fields as in the header`,
      `${this.n} in ${excerpt(this.line)}`,
    );
  }

  /** Raw access for hand-written field parsers: field `col` is src(col)[start(col), end(col)). */
  src(col: number): string {
    return this.quoted !== null ? (this.quoted[col] ?? '') : this.chunk;
  }
  start(col: number): number {
    return this.quoted !== null ? 0 : (this.starts[col] as number);
  }
  end(col: number): number {
    return this.quoted !== null ? (this.quoted[col] ?? '').length : (this.ends[col] as number);
  }

  /** The text of a field (a copy). */
  text(col: number): string {
    if (this.quoted !== null) return this.quoted[col] ?? '';
    return this.chunk.slice(this.starts[col], this.ends[col]);
  }

  /** True when the field is empty or blank. */
  isBlank(col: number): boolean {
    if (col < 0) return true;
    if (this.quoted !== null) return (this.quoted[col] ?? '').trim() === '';
    const a = this.starts[col] as number;
    const b = this.ends[col] as number;
    if (a === b) return true;
    const c = this.chunk.charCodeAt(a);
    return (c === 32 || c === 9) && this.chunk.slice(a, b).trim() === '';
  }

  error(col: number, field: string, expected: string): TraceRowError {
    return this.ctx.rowError(this.lineNo, field, expected, excerpt(this.text(col)));
  }

  /** A token count: a non-negative integer. */
  count(col: number, field: string): number {
    if (this.quoted === null) {
      const fast = this.values[col] as number;
      if (fast >= 0 && fast === Math.floor(fast)) return fast;
    }
    const v =
      this.quoted !== null
        ? parseCount(this.quoted[col] ?? '', 0, (this.quoted[col] ?? '').length)
        : parseCount(this.chunk, this.starts[col] as number, this.ends[col] as number);
    if (v !== v) throw this.error(col, field, 'a non-negative integer');
    return v;
  }

  /** A finite decimal number. */
  num(col: number, field: string): number {
    if (this.quoted === null) {
      const fast = this.values[col] as number;
      if (fast === fast) return fast;
    }
    const v =
      this.quoted !== null
        ? parseDecimal(this.quoted[col] ?? '', 0, (this.quoted[col] ?? '').length)
        : parseDecimal(this.chunk, this.starts[col] as number, this.ends[col] as number);
    if (!Number.isFinite(v)) throw this.error(col, field, 'a number');
    return v;
  }

  /** A finite number ≥ 0 (times, durations). */
  nonNegative(col: number, field: string): number {
    const v = this.num(col, field);
    if (v < 0) throw this.error(col, field, 'a number ≥ 0');
    return v;
  }

  /** Optional variants: undefined for an absent column (-1) or a blank field. */
  optCount(col: number, field: string): number | undefined {
    return this.isBlank(col) ? undefined : this.count(col, field);
  }
  optNonNegative(col: number, field: string): number | undefined {
    return this.isBlank(col) ? undefined : this.nonNegative(col, field);
  }
  optNum(col: number, field: string): number | undefined {
    return this.isBlank(col) ? undefined : this.num(col, field);
  }
  optText(col: number): string | undefined {
    return this.isBlank(col) ? undefined : this.text(col).trim();
  }
}
