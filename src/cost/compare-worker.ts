/**
 * The worker thread of `compare` (piscina): runs one simulated candidate per task and returns its
 * result as plain data. The scenario, catalog and performance profiles are loaded once per thread
 * and scenario file.
 */
import {
  loadRunContext,
  runSimTask,
  type CompareCandidate,
  type RunContext,
  type SimTask,
} from './compare.js';

const contexts = new Map<string, Promise<RunContext>>();

export default async function runCompareTask(task: SimTask): Promise<CompareCandidate> {
  const key = [task.file, ...task.catalogDirs].join('\0');
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = loadRunContext(task.file, task.catalogDirs);
    contexts.set(key, ctx);
  }
  return runSimTask(await ctx, task);
}
