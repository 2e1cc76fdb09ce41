import { InputError } from '../../util/errors.js';

/** A line longer than this is an error, not something to buffer forever (a wrong file, a binary). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Consecutive lines of a file, as offsets into one decoded text (no string per line): line
 * `firstLine + i` (1-based) is `text.slice(starts[i], ends[i])`, without its LF or CRLF.
 */
export interface LineChunk {
  text: string;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  firstLine: number;
}

/** The text of line i of a chunk. */
export function lineAt(chunk: LineChunk, i: number): string {
  return chunk.text.slice(chunk.starts[i], chunk.ends[i]);
}

/** True for an empty or whitespace-only line text[start, end). */
export function isBlankRange(text: string, start: number, end: number): boolean {
  if (start >= end) return true;
  const c = text.charCodeAt(start);
  if (c !== 32 && c !== 9) return false;
  return text.slice(start, end).trim() === '';
}

function tooLong(file: string, line: number, size: number, complete: boolean): InputError {
  const mib = (size / (1024 * 1024)).toFixed(1);
  return new InputError(
    `${file}:${line}: line longer than 4 MiB (${complete ? '' : 'at least '}${mib} MiB); ` +
      'this does not look like a line-oriented trace (wrong file or --format?)',
  );
}

let scratchStarts = new Int32Array(1 << 16);
let scratchEnds = new Int32Array(1 << 16);

/** Offsets of the complete lines in text[0, limit) — `limit` is just past the last LF. */
function index(text: string, limit: number, firstLine: number, file: string): LineChunk {
  let count = 0;
  let start = 0;
  while (start < limit) {
    const nl = text.indexOf('\n', start);
    const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    if (end - start > MAX_LINE_BYTES) throw tooLong(file, firstLine + count, end - start, true);
    if (count === scratchStarts.length) {
      const grownStarts = new Int32Array(count * 2);
      const grownEnds = new Int32Array(count * 2);
      grownStarts.set(scratchStarts);
      grownEnds.set(scratchEnds);
      scratchStarts = grownStarts;
      scratchEnds = grownEnds;
    }
    scratchStarts[count] = start;
    scratchEnds[count] = end;
    count++;
    start = nl + 1;
  }
  return { text, starts: scratchStarts.slice(0, count), ends: scratchEnds.slice(0, count), count, firstLine };
}

/**
 * Split a byte stream into lines, one LineChunk per input chunk: LF or CRLF endings, a last line
 * without a newline, a UTF-8 BOM. Each chunk is decoded up to its last LF (a byte that never occurs
 * inside a multi-byte UTF-8 character) into one flat string; the bytes after it wait for the next
 * chunk. A line over MAX_LINE_BYTES is an InputError naming its line number.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>, file: string): AsyncGenerator<LineChunk> {
  // The incomplete last line so far, in pieces (a long line arrives over many chunks).
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let lineNo = 1;
  let first = true;

  for await (let buf of chunks) {
    if (first && buf.length > 0) {
      first = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    if (buf.length === 0) continue;
    const lastNl = buf.lastIndexOf(10);
    if (lastNl === -1) {
      carry.push(buf);
      carryBytes += buf.length;
      if (carryBytes > MAX_LINE_BYTES) throw tooLong(file, lineNo, carryBytes, false);
      continue;
    }
    let whole = buf;
    let limit = lastNl + 1;
    if (carry.length > 0) {
      carry.push(buf);
      whole = Buffer.concat(carry, carryBytes + buf.length);
      limit += carryBytes;
      carry = [];
      carryBytes = 0;
    }
    const text = whole.toString('utf8', 0, limit);
    const chunk = index(text, text.length, lineNo, file);
    lineNo += chunk.count;
    if (limit < whole.length) {
      const rest = Buffer.from(whole.subarray(limit));
      carry.push(rest);
      carryBytes = rest.length;
      if (carryBytes > MAX_LINE_BYTES) throw tooLong(file, lineNo, carryBytes, false);
    }
    yield chunk;
  }
  if (carry.length > 0) {
    const last = Buffer.concat(carry, carryBytes).toString('utf8');
    const end = last.endsWith('\r') ? last.length - 1 : last.length;
    if (end > MAX_LINE_BYTES) throw tooLong(file, lineNo, end, true);
    yield { text: last, starts: Int32Array.of(0), ends: Int32Array.of(end), count: 1, firstLine: lineNo };
  }
}
