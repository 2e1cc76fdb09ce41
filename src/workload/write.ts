import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { TraceRequest } from './types.js';

/**
 * Writers for the generic trace format (what the generic reader reads back).
 *
 * JSONL: one object per request with keys, in this order, `arrival_s, prompt_tokens,
 * output_tokens` and, when present, `session_id, turn, gap_s, hash_ids, block_size`.
 * CSV: header `arrival_s,prompt_tokens,output_tokens,session_id,turn,gap_s,hash_ids,block_size`,
 * empty cells for absent values, hash ids space-separated.
 *
 * Numbers are printed deterministically: arrival_s and gap_s with 6 decimals (toFixed), counts as
 * integers. Fields the generic format has no column for (model, kind, dependsOnPrevious, …) are
 * not written; a reader infers closed-loop turns from turn ≥ 1 / gap_s.
 */

export type GenericTraceFormat = 'jsonl' | 'csv';

export const GENERIC_CSV_HEADER =
  'arrival_s,prompt_tokens,output_tokens,session_id,turn,gap_s,hash_ids,block_size';

/** Seconds with 6 decimals (microseconds). */
export function formatSeconds(s: number): string {
  return s.toFixed(6);
}

/** One request as a JSONL line (no newline). */
export function toJsonlLine(r: TraceRequest): string {
  let line = `{"arrival_s":${formatSeconds(r.arrivalS)},"prompt_tokens":${r.promptTokens},"output_tokens":${r.outputTokens}`;
  if (r.sessionId !== undefined) line += `,"session_id":${JSON.stringify(r.sessionId)}`;
  if (r.turn !== undefined) line += `,"turn":${r.turn}`;
  if (r.gapS !== undefined) line += `,"gap_s":${formatSeconds(r.gapS)}`;
  if (r.hashIds !== undefined) line += `,"hash_ids":[${r.hashIds.join(',')}]`;
  if (r.blockSize !== undefined) line += `,"block_size":${r.blockSize}`;
  return `${line}}`;
}

/** RFC 4180 quoting, only when needed. */
function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One request as a CSV row (no newline), columns as GENERIC_CSV_HEADER. */
export function toCsvRow(r: TraceRequest): string {
  return [
    formatSeconds(r.arrivalS),
    String(r.promptTokens),
    String(r.outputTokens),
    r.sessionId === undefined ? '' : csvCell(r.sessionId),
    r.turn === undefined ? '' : String(r.turn),
    r.gapS === undefined ? '' : formatSeconds(r.gapS),
    r.hashIds === undefined ? '' : r.hashIds.join(' '),
    r.blockSize === undefined ? '' : String(r.blockSize),
  ].join(',');
}

/** `csv` for a `.csv` path (any case), else `jsonl`. */
export function genericFormatForPath(path: string): GenericTraceFormat {
  return path.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl';
}

export interface WriteSummary {
  requests: number;
  /** Distinct session ids. */
  sessions: number;
  firstArrivalS: number | undefined;
  lastArrivalS: number | undefined;
  promptTokens: number;
  outputTokens: number;
}

/** Resolves on 'drain', rejects on 'error'; removes both listeners either way. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      out.off('drain', onDrain);
      out.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    out.on('drain', onDrain);
    out.on('error', done);
  });
}

type Batches = AsyncIterable<TraceRequest[]> | Iterable<TraceRequest[]>;

/** Write batches to a stream in the generic format; resolves once written (does not end the stream). */
export async function writeGenericTrace(
  batches: Batches,
  out: Writable,
  format: GenericTraceFormat,
): Promise<WriteSummary> {
  const summary: WriteSummary = {
    requests: 0,
    sessions: 0,
    firstArrivalS: undefined,
    lastArrivalS: undefined,
    promptTokens: 0,
    outputTokens: 0,
  };
  const sessions = new Set<string>();
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure = err;
  };
  out.on('error', onError);
  try {
    if (format === 'csv') out.write(`${GENERIC_CSV_HEADER}\n`);
    const line = format === 'csv' ? toCsvRow : toJsonlLine;
    for await (const batch of batches) {
      if (failure) throw failure;
      let chunk = '';
      for (const r of batch) {
        chunk += `${line(r)}\n`;
        summary.firstArrivalS ??= r.arrivalS;
        summary.lastArrivalS = r.arrivalS;
        summary.promptTokens += r.promptTokens;
        summary.outputTokens += r.outputTokens;
        if (r.sessionId !== undefined) sessions.add(r.sessionId);
      }
      summary.requests += batch.length;
      if (chunk.length > 0 && !out.write(chunk)) await drained(out);
    }
    if (failure) throw failure;
  } finally {
    out.off('error', onError);
  }
  summary.sessions = sessions.size;
  return summary;
}

/**
 * Write batches to a file (via a temporary file renamed into place, so a failed run leaves no
 * half-written trace), format from the extension unless given.
 */
export async function writeGenericTraceFile(
  batches: Batches,
  path: string,
  format: GenericTraceFormat = genericFormatForPath(path),
): Promise<WriteSummary> {
  const tmp = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(tmp);
  try {
    await once(out, 'open');
    const summary = await writeGenericTrace(batches, out, format);
    out.end();
    await once(out, 'finish');
    await rename(tmp, path);
    return summary;
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
