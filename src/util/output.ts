import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Write text to a file, or to stdout when `path` is undefined or '-'. */
export async function emit(text: string, path?: string): Promise<void> {
  if (path === undefined || path === '-') {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    return;
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text.endsWith('\n') ? text : `${text}\n`);
  process.stderr.write(`wrote ${path}\n`);
}

/** JSON with stable key order as built, 2-space indent, NaN/Infinity as null. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  );
}
