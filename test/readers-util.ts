import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { readTrace } from '../src/workload/read.js';
import type { ReadOptions, ReadReport, TraceRequest } from '../src/workload/types.js';

/** Bundled samples (byte copies of the shared ones). */
export const TRACES = join(import.meta.dirname, '..', 'data', 'traces');
export const EXTERNAL = join(import.meta.dirname, 'fixtures', 'external');

export function sample(name: string): string {
  return join(TRACES, name);
}

const dir = mkdtempSync(join(tmpdir(), 'pertoken-readers-'));
// Registered at import time, i.e. on the root test: runs once all of the file's tests are done.
after(() => rmSync(dir, { recursive: true, force: true }));

/** A temp directory for this test file, removed when the file's tests end. */
export function tempDir(): string {
  return dir;
}

let counter = 0;

/** Write a fixture file into the temp directory and return its path. */
export function fixture(name: string, content: string | Buffer): string {
  const path = join(tempDir(), `${counter++}-${name}`);
  writeFileSync(path, content);
  return path;
}

export async function read(
  path: string,
  opts: ReadOptions = {},
): Promise<{ requests: TraceRequest[]; report: ReadReport }> {
  return readTrace(path, opts);
}

export function sum(reqs: TraceRequest[], key: 'promptTokens' | 'outputTokens'): number {
  let s = 0;
  for (const r of reqs) s += r[key];
  return s;
}

export function isNondecreasing(reqs: TraceRequest[]): boolean {
  for (let i = 1; i < reqs.length; i++)
    if ((reqs[i] as TraceRequest).arrivalS < (reqs[i - 1] as TraceRequest).arrivalS) return false;
  return true;
}
