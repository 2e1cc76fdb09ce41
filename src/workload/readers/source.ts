import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../../util/errors.js';

/** How much decoded text `openSource` reads ahead to find the first line for format detection. */
export const HEAD_CHARS = 64 * 1024;
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * An opened trace file: decompressed bytes (gzip by `.gz` extension or by the 1f 8b magic bytes),
 * with the first line peeked for format detection. `chunks()` yields every byte, the peeked ones
 * included, and may be iterated once.
 */
export interface TraceSource {
  readonly file: string;
  readonly gzip: boolean;
  /** The first non-blank line (without its line ending), cut at HEAD_CHARS; '' for an empty file. */
  readonly firstLine: string;
  chunks(): AsyncIterable<Buffer>;
  /** Release the file early (idempotent). */
  close(): void;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err)
    return typeof err.code === 'string' ? err.code : undefined;
  return undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Turn a stream error into an InputError that names the file. */
export function sourceError(file: string, gzip: boolean, err: unknown): InputError {
  if (err instanceof InputError) return err;
  const code = errorCode(err);
  if (gzip && code !== undefined && code.startsWith('Z_'))
    return new InputError(
      `${file}: truncated or corrupt gzip data (${errorMessage(err)}); the rows before the damage were not used — ` +
        're-download or re-compress the file',
    );
  return new InputError(`${file}: cannot read: ${errorMessage(err)}`);
}

async function checkFile(file: string): Promise<{ gzip: boolean }> {
  let size: number;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new InputError(`${file}: is a directory; expected a trace file`);
    size = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = errorCode(err);
    if (code === 'ENOENT') throw new InputError(`${file}: no such file`);
    if (code === 'EACCES') throw new InputError(`${file}: permission denied`);
    throw new InputError(`${file}: cannot open: ${errorMessage(err)}`);
  }
  if (size === 0)
    throw new InputError(`${file}: empty file (0 bytes); expected a header line or at least one row`);
  const fh = await open(file, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await fh.read(magic, 0, 2, 0);
    const byMagic = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    return { gzip: byMagic || /\.gz$/i.test(file) };
  } finally {
    await fh.close();
  }
}

/** The first line with content in `text` (CR and BOM stripped), or undefined if it is not complete yet. */
function firstContentLine(text: string, complete: boolean): string | undefined {
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    let line = text.slice(start, end);
    if (start === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() !== '') {
      if (nl !== -1 || complete || line.length >= HEAD_CHARS) return line.slice(0, HEAD_CHARS);
      return undefined;
    }
    if (nl === -1) return complete ? '' : undefined;
    start = nl + 1;
  }
}

/** Open a trace file: checks it exists and is not empty, detects gzip, peeks the first line. */
export async function openSource(file: string): Promise<TraceSource> {
  const { gzip } = await checkFile(file);
  const raw = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  let stream: Readable = raw;
  if (gzip) {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    raw.on('error', (err) => gunzip.destroy(err));
    raw.pipe(gunzip);
    stream = gunzip;
  }
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const peeked: Buffer[] = [];
  const decoder = new StringDecoder('utf8');
  let text = '';
  let done = false;
  let firstLine: string | undefined;
  try {
    while (firstLine === undefined) {
      const next = await it.next();
      if (next.done === true) {
        done = true;
        text += decoder.end();
        firstLine = firstContentLine(text, true) ?? '';
        break;
      }
      peeked.push(next.value);
      text += decoder.write(next.value);
      firstLine = firstContentLine(text, false);
      if (firstLine === undefined && text.length > 4 * HEAD_CHARS && text.trim() !== '')
        firstLine = firstContentLine(text, true) ?? '';
    }
  } catch (err) {
    stream.destroy();
    raw.destroy();
    throw sourceError(file, gzip, err);
  }
  let consumed = false;
  const close = (): void => {
    stream.destroy();
    raw.destroy();
  };
  return {
    file,
    gzip,
    firstLine,
    close,
    chunks(): AsyncIterable<Buffer> {
      if (consumed) throw new Error(`${file}: trace source already consumed`);
      consumed = true;
      return (async function* (): AsyncGenerator<Buffer> {
        try {
          for (const b of peeked) yield b;
          peeked.length = 0;
          while (!done) {
            let next: IteratorResult<Buffer>;
            try {
              next = await it.next();
            } catch (err) {
              throw sourceError(file, gzip, err);
            }
            if (next.done === true) break;
            yield next.value;
          }
        } finally {
          close();
        }
      })();
    },
  };
}
