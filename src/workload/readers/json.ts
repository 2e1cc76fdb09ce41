import { excerpt } from '../../util/errors.js';
import { show, type ReaderContext } from './context.js';

/** A parsed JSON object whose fields are read with checks that name the field and the line. */
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse one JSONL line into an object; invalid JSON or a non-object is a row error. */
export function parseJsonLine(ctx: ReaderContext, line: string, lineNo: number): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw ctx.rowError(lineNo, 'row', 'one JSON object per line', `${excerpt(line)} (${why})`);
  }
  if (!isObject(v)) throw ctx.rowError(lineNo, 'row', 'a JSON object', excerpt(line));
  return v;
}

/** Field readers for one JSON object at one line (or one document position). */
export class JsonFields {
  constructor(
    private readonly ctx: ReaderContext,
    private readonly lineNo: number,
    private readonly obj: JsonObject,
    /** Prefix for field names in messages, e.g. `requests[3].`. */
    private readonly path = '',
  ) {}

  has(key: string): boolean {
    const v = this.obj[key];
    return v !== undefined && v !== null && v !== '';
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  private fail(key: string, expected: string): never {
    throw this.ctx.rowError(this.lineNo, this.path + key, expected, show(this.obj[key]));
  }

  /** A non-negative integer (token counts). */
  count(key: string): number {
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(key, 'a non-negative integer');
    return v;
  }

  /** A finite number (a JSON number, or a numeric string). */
  num(key: string): number {
    const v = this.obj[key];
    const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(x)) this.fail(key, 'a number');
    return x;
  }

  nonNegative(key: string): number {
    const x = this.num(key);
    if (x < 0) this.fail(key, 'a number ≥ 0');
    return x;
  }

  optCount(key: string): number | undefined {
    return this.has(key) ? this.count(key) : undefined;
  }

  optNonNegative(key: string): number | undefined {
    return this.has(key) ? this.nonNegative(key) : undefined;
  }

  /** A string, or a number written as text (ids). */
  text(key: string): string {
    const v = this.obj[key];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return this.fail(key, 'a non-empty string or number');
  }

  optText(key: string): string | undefined {
    return this.has(key) ? this.text(key) : undefined;
  }

  optBool(key: string): boolean | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  /** An array of non-negative integers (prefix block hashes). */
  ids(key: string): number[] {
    const v = this.obj[key];
    if (!Array.isArray(v)) this.fail(key, 'an array of non-negative integers');
    for (const x of v) {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
        this.fail(key, 'an array of non-negative integers');
    }
    return v as number[];
  }

  optIds(key: string): number[] | undefined {
    const v = this.obj[key];
    return v === undefined || v === null ? undefined : this.ids(key);
  }

  /** An array of objects (nested requests, events). */
  objects(key: string): JsonObject[] {
    const v = this.obj[key];
    if (!Array.isArray(v) || !v.every(isObject)) return this.fail(key, 'an array of objects');
    return v;
  }
}
