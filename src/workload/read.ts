import { InputError, excerpt } from '../util/errors.js';
import { ReaderContext } from './readers/context.js';
import { detectFormat as detectFromLine } from './readers/detect.js';
import type { BufferedFormat, DocumentFormat, LineFormat } from './readers/format.js';
import { READERS } from './readers/index.js';
import { isBlankRange, lineAt, splitLines, type LineChunk } from './readers/lines.js';
import { BATCH_SIZE, OrderCheck, ShiftToZero, Sink, SortAll, type Stage } from './readers/pipeline.js';
import { openSource, type TraceSource } from './readers/source.js';
import {
  TRACE_FORMATS,
  type ReadOptions,
  type ReadReport,
  type TraceFormat,
  type TraceRequest,
} from './types.js';

/** Largest JSON document (decompressed) the whole-document formats will hold in memory. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

/**
 * An opened trace. `batches()` streams the requests (about BATCH_SIZE at a time) in nondecreasing
 * `arrivalS`, with `id` the 0-based ordinal; it may be iterated once. `report` is filled while
 * streaming and is final once the iteration ends.
 */
export interface TraceStream {
  format: TraceFormat;
  report: ReadReport;
  batches(): AsyncIterable<TraceRequest[]>;
}

/** The format of a trace from its first non-blank line (CSV header or first JSON line) and path. */
export function detectFormat(firstLine: string, path: string): TraceFormat | undefined {
  return detectFromLine(firstLine, path);
}

function checkOptions(opts: ReadOptions): void {
  if (opts.format !== undefined && !(TRACE_FORMATS as readonly string[]).includes(opts.format))
    throw new InputError(
      `format: expected one of ${TRACE_FORMATS.join(', ')}, found ${JSON.stringify(opts.format)}`,
    );
  if (opts.seed !== undefined && !Number.isInteger(opts.seed))
    throw new InputError(`seed: expected an integer, found ${String(opts.seed)}`);
  const s = opts.sessionInterarrivalS;
  if (s !== undefined && !(Number.isFinite(s) && s > 0))
    throw new InputError(`session inter-arrival: expected a number of seconds > 0, found ${String(s)}`);
}

const USES_MODEL: readonly TraceFormat[] = [
  'burstgpt',
  'weka-requests',
  'weka-session',
  'agent-calls',
  'tracelab',
];

/** Options the chosen format does not use are reported, not silently ignored. */
function unusedOptions(ctx: ReaderContext): void {
  const { opts, format } = ctx;
  if (opts.model !== undefined && !USES_MODEL.includes(format))
    ctx.warn(`--model is ignored: format ${format} has no model column (used by ${USES_MODEL.join(', ')})`);
  if (opts.kind !== undefined && format !== 'burstgpt')
    ctx.warn(`--kind is ignored: it filters BurstGPT's Log Type, and this trace is ${format}`);
  if (opts.sessionInterarrivalS !== undefined && format !== 'weka-requests')
    ctx.warn(`--session-interarrival is ignored: format ${format} has its own clock`);
}

function unknownFormat(file: string, firstLine: string): InputError {
  return new InputError(
    `${file}: unknown trace format; first line ${excerpt(firstLine, 120)}. ` +
      `Known formats: ${TRACE_FORMATS.join(', ')}. If the file is one of them, pass --format <name> ` +
      '(a missing column is then reported by name)',
  );
}

function emptyError(file: string, what: string): InputError {
  return new InputError(`${file}: empty: ${what}; expected at least one data row`);
}

/** Count the non-blank lines going by, to tell a header-only file from one whose rows were all bad. */
async function* counted(lines: AsyncIterable<LineChunk>, count: { n: number }): AsyncGenerator<LineChunk> {
  for await (const chunk of lines) {
    for (let i = 0; i < chunk.count; i++)
      if (!isBlankRange(chunk.text, chunk.starts[i] as number, chunk.ends[i] as number)) count.n++;
    yield chunk;
  }
}

function* inBatches(reqs: TraceRequest[]): Generator<TraceRequest[]> {
  for (let i = 0; i < reqs.length; i += BATCH_SIZE) yield reqs.slice(i, i + BATCH_SIZE);
}

async function* lineBatches(
  source: TraceSource,
  reader: LineFormat,
  ctx: ReaderContext,
): AsyncGenerator<TraceRequest[]> {
  const sink = new Sink(ctx);
  let head: Stage = sink;
  if (reader.after !== undefined) head = reader.after(ctx, head);
  if (reader.absoluteTime) head = new ShiftToZero(head);
  head = ctx.opts.sort === true ? new SortAll(ctx, head) : new OrderCheck(ctx, head);
  const parser = reader.create(ctx);
  let sawFirst = false;
  let headerOnly = false;
  let dataLines = 0;
  for await (const chunk of splitLines(source.chunks(), ctx.file)) {
    const { text, starts, ends, count, firstLine } = chunk;
    for (let i = 0; i < count; i++) {
      const start = starts[i] as number;
      const end = ends[i] as number;
      if (isBlankRange(text, start, end)) continue;
      const lineNo = firstLine + i;
      if (!sawFirst) {
        sawFirst = true;
        headerOnly = parser.header(lineAt(chunk, i), lineNo);
        if (headerOnly) continue;
      }
      dataLines++;
      let r: TraceRequest | undefined;
      try {
        r = parser.row(text, start, end, lineNo);
      } catch (err) {
        ctx.bad(err);
        continue;
      }
      if (r !== undefined) head.push(r, lineNo);
      if (sink.out.length >= BATCH_SIZE) yield sink.take();
    }
  }
  if (dataLines === 0) throw emptyError(ctx.file, headerOnly ? 'a header and no data rows' : 'no rows');
  parser.end();
  head.end();
  yield* inBatches(sink.take());
}

async function* bufferedBatches(
  source: TraceSource,
  reader: BufferedFormat,
  ctx: ReaderContext,
): AsyncGenerator<TraceRequest[]> {
  const count = { n: 0 };
  const reqs = await reader.read(ctx, counted(splitLines(source.chunks(), ctx.file), count));
  if (reader.hasHeader && count.n <= 1 && reqs.length === 0)
    throw emptyError(ctx.file, 'a header and no data rows');
  const sink = new Sink(ctx);
  for (const r of reqs) sink.push(r);
  yield* inBatches(sink.take());
}

async function* documentBatches(
  source: TraceSource,
  reader: DocumentFormat,
  ctx: ReaderContext,
): AsyncGenerator<TraceRequest[]> {
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of source.chunks()) {
    bytes += chunk.length;
    if (bytes > MAX_DOCUMENT_BYTES) {
      source.close();
      throw new InputError(
        `${ctx.file}: JSON document larger than ${MAX_DOCUMENT_BYTES / (1024 * 1024)} MiB (format ${ctx.format}); ` +
          'it is read whole, so split it into one file per session',
      );
    }
    parts.push(chunk);
  }
  let text = Buffer.concat(parts, bytes).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const reqs = reader.read(ctx, text);
  const sink = new Sink(ctx);
  for (const r of reqs) sink.push(r);
  yield* inBatches(sink.take());
}

/**
 * Open a trace file (plain or gzip): detects the format from the first line unless `opts.format`
 * is given. Throws InputError for a missing or empty file and an unknown format.
 */
export async function openTrace(path: string, opts: ReadOptions = {}): Promise<TraceStream> {
  checkOptions(opts);
  const source = await openSource(path);
  if (source.firstLine.trim() === '') {
    source.close();
    throw emptyError(path, 'only blank lines');
  }
  const format = opts.format ?? detectFromLine(source.firstLine, path);
  if (format === undefined) {
    source.close();
    throw unknownFormat(path, source.firstLine);
  }
  const ctx = new ReaderContext(path, format, opts);
  unusedOptions(ctx);
  const reader = READERS[format];
  let started = false;
  return {
    format,
    report: ctx.report,
    batches(): AsyncIterable<TraceRequest[]> {
      if (started) throw new Error(`${path}: batches() can only be iterated once`);
      started = true;
      switch (reader.kind) {
        case 'lines':
          return lineBatches(source, reader, ctx);
        case 'buffered':
          return bufferedBatches(source, reader, ctx);
        case 'document':
          return documentBatches(source, reader, ctx);
      }
    },
  };
}

/** Read a whole trace into memory (small traces, tests). */
export async function readTrace(
  path: string,
  opts: ReadOptions = {},
): Promise<{ requests: TraceRequest[]; report: ReadReport }> {
  const stream = await openTrace(path, opts);
  const requests: TraceRequest[] = [];
  for await (const batch of stream.batches()) for (const r of batch) requests.push(r);
  return { requests, report: stream.report };
}
