/**
 * The worker thread of `compare` (piscina): runs one simulated candidate per task and returns its
 * result as plain data. The scenario, catalog and performance profiles are loaded once per thread
 * and scenario file. Sizing progress (`replicas: auto`) goes back on the task's port: each trial,
 * then `done`.
 */
import { InputError } from '../util/errors.js';
import {
  loadRunContext,
  runSimTask,
  type CompareCandidate,
  type RunContext,
  type SimTask,
  type SizingMessage,
  type WorkerResult,
} from './compare.js';

const contexts = new Map<string, Promise<RunContext>>();

/**
 * Errors come back as data: a thrown error loses its class crossing the thread boundary, and an
 * input error (exit 2, a message naming the file and field) must stay one.
 */
export default async function runCompareTask(task: SimTask): Promise<WorkerResult> {
  const key = [task.file, ...task.catalogDirs].join('\0');
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = loadRunContext(task.file, task.catalogDirs);
    contexts.set(key, ctx);
  }
  const port = task.progress;
  const post = (m: SizingMessage): void => port?.postMessage(m);
  try {
    const candidate: CompareCandidate = await runSimTask(
      await ctx,
      task,
      port !== undefined ? (trial) => post({ kind: 'trial', trial }) : undefined,
    );
    return { ok: true, candidate };
  } catch (err) {
    if (err instanceof InputError) return { ok: false, input: true, message: err.message };
    throw err;
  } finally {
    post({ kind: 'done' });
  }
}
