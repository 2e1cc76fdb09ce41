/**
 * The worker thread of `compare` (piscina): runs one simulated candidate per task and returns its
 * result as plain data. The scenario, catalog and performance profiles are loaded once per thread
 * and scenario file. Sizing progress (`replicas: auto`) goes back on the task's port: each trial,
 * then `done`.
 */
import {
  loadRunContext,
  runSimTask,
  type CompareCandidate,
  type RunContext,
  type SimTask,
  type SizingMessage,
} from './compare.js';

const contexts = new Map<string, Promise<RunContext>>();

export default async function runCompareTask(task: SimTask): Promise<CompareCandidate> {
  const key = [task.file, ...task.catalogDirs].join('\0');
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = loadRunContext(task.file, task.catalogDirs);
    contexts.set(key, ctx);
  }
  const port = task.progress;
  const post = (m: SizingMessage): void => port?.postMessage(m);
  try {
    return await runSimTask(
      await ctx,
      task,
      port !== undefined ? (trial) => post({ kind: 'trial', trial }) : undefined,
    );
  } finally {
    post({ kind: 'done' });
  }
}
