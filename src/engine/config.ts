import { InputError } from '../util/errors.js';
import type { EngineConfig, RetryConfig } from './types.js';

export const DEFAULT_RETRY: RetryConfig = {
  maxAttempts: 1,
  backoffS: 1,
  multiplier: 2,
  jitter: 0.1,
  on: ['timeout', 'rejected'],
};

/** vLLM-like defaults. */
export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  replicas: 1,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 8192,
  blockSize: 16,
  batchPolicy: 'chunked-prefill',
  router: 'least-outstanding',
  admission: 'unlimited',
  preemption: 'newest',
  watermark: 0.01,
  prefixCaching: true,
  queueLimit: Infinity,
  timeoutS: Infinity,
  retry: DEFAULT_RETRY,
  sessionLookaheadS: 600,
  affinityLoadSlack: 8,
  stepJumping: true,
  maxJumpSteps: 4096,
  timelineBucketS: 60,
};

export type EngineConfigInput = Partial<Omit<EngineConfig, 'retry'>> & { retry?: Partial<RetryConfig> };

function check(ok: boolean, field: string, expected: string, found: unknown): void {
  if (!ok) throw new InputError(`engine config: ${field}: expected ${expected}, found ${String(found)}`);
}

const isInt = (x: number, min: number): boolean => Number.isInteger(x) && x >= min;

/** Defaults filled in and every field checked (InputError naming the field). */
export function resolveEngineConfig(input: EngineConfigInput = {}): EngineConfig {
  const retry: RetryConfig = { ...DEFAULT_RETRY, ...(input.retry ?? {}) };
  const c: EngineConfig = { ...DEFAULT_ENGINE_CONFIG, ...input, retry };
  check(isInt(c.replicas, 1), 'replicas', 'an integer ≥ 1', c.replicas);
  check(isInt(c.maxNumSeqs, 1), 'maxNumSeqs', 'an integer ≥ 1', c.maxNumSeqs);
  check(isInt(c.maxNumBatchedTokens, 1), 'maxNumBatchedTokens', 'an integer ≥ 1', c.maxNumBatchedTokens);
  check(isInt(c.blockSize, 1), 'blockSize', 'an integer ≥ 1', c.blockSize);
  check(
    c.maxNumBatchedTokens >= c.maxNumSeqs,
    'maxNumBatchedTokens',
    `a token budget ≥ maxNumSeqs (${c.maxNumSeqs}), as vLLM requires, so that every decode fits in a step`,
    c.maxNumBatchedTokens,
  );
  check(c.watermark >= 0 && c.watermark < 1, 'watermark', 'a fraction in [0, 1)', c.watermark);
  check(c.queueLimit >= 0, 'queueLimit', 'a number ≥ 0', c.queueLimit);
  check(c.timeoutS > 0, 'timeoutS', 'seconds > 0 (Infinity for none)', c.timeoutS);
  check(c.sessionLookaheadS >= 0, 'sessionLookaheadS', 'seconds ≥ 0', c.sessionLookaheadS);
  check(c.affinityLoadSlack >= 0, 'affinityLoadSlack', 'a number ≥ 0', c.affinityLoadSlack);
  check(isInt(c.maxJumpSteps, 1), 'maxJumpSteps', 'an integer ≥ 1', c.maxJumpSteps);
  check(c.timelineBucketS > 0, 'timelineBucketS', 'seconds > 0', c.timelineBucketS);
  check(isInt(retry.maxAttempts, 1), 'retry.maxAttempts', 'an integer ≥ 1', retry.maxAttempts);
  check(
    retry.backoffS >= 0 && Number.isFinite(retry.backoffS),
    'retry.backoffS',
    'seconds ≥ 0',
    retry.backoffS,
  );
  check(
    retry.multiplier >= 1 && Number.isFinite(retry.multiplier),
    'retry.multiplier',
    'a number ≥ 1',
    retry.multiplier,
  );
  check(retry.jitter >= 0 && retry.jitter <= 1, 'retry.jitter', 'a fraction in [0, 1]', retry.jitter);
  for (const o of retry.on)
    check(['timeout', 'rejected', 'failed'].includes(o), 'retry.on', 'timeout, rejected or failed', o);
  return c;
}
