import type { BatchPolicy, StepFormation } from '../types.js';

/**
 * Chunked prefill, decode first (vLLM's chunked-prefill scheduling): every decoding sequence gets
 * its token, then prefills in progress get chunks of what is left of the `max_num_batched_tokens`
 * budget in admission order, then the waiting queue is admitted first come first served with
 * prefill chunks until the budget, `max_num_seqs` or the KV watermark stops it (head-of-line: the
 * first request that cannot be admitted blocks those behind it).
 */
export const chunkedPrefill: BatchPolicy = {
  name: 'chunked-prefill',
  stableUnderDecode: true,
  formStep(f: StepFormation): void {
    let budget = f.maxNumBatchedTokens - f.scheduleDecodes();
    for (let i = 0; i < f.prefillingCount() && budget > 0; i++) {
      const tokens = Math.min(f.prefillRemaining(i), budget);
      if (!f.schedulePrefill(i, tokens)) break;
      budget -= tokens;
    }
    while (budget > 0 && f.hasWaiting() && f.runningCount() < f.maxNumSeqs) {
      const tokens = f.admitHead(budget, true);
      if (tokens === 0) break;
      budget -= tokens;
    }
  },
};

/**
 * Prefill first, no chunking (vLLM V0's default scheduler): if waiting requests can be admitted,
 * the step is a prefill-only batch of whole prompts (FCFS, head-of-line) within
 * `max_num_batched_tokens` — a single prompt longer than the budget runs alone — and the decodes
 * wait; otherwise every decoding sequence decodes one token.
 */
export const prefillFirst: BatchPolicy = {
  name: 'prefill-first',
  stableUnderDecode: true,
  formStep(f: StepFormation): void {
    if (f.hasWaiting()) {
      let budget = f.maxNumBatchedTokens;
      let admitted = 0;
      while (f.runningCount() < f.maxNumSeqs) {
        const tokens = f.admitHead(admitted === 0 ? Infinity : budget, false);
        if (tokens === 0) break;
        admitted++;
        budget -= tokens;
        if (budget <= 0) break;
      }
      if (admitted > 0) return;
    }
    let budget = f.maxNumBatchedTokens - f.scheduleDecodes();
    // (no prefill is ever left part-done by this policy; kept for robustness)
    for (let i = 0; i < f.prefillingCount() && budget > 0; i++) {
      const tokens = f.prefillRemaining(i);
      if (tokens > budget || !f.schedulePrefill(i, tokens)) break;
      budget -= tokens;
    }
  },
};

/**
 * In-flight batching without chunked context (TensorRT-LLM's default, `enable_chunked_context`
 * off): every decoding sequence gets its token, then whole prompts are admitted first come first
 * served while they fit in what is left of the `max_num_batched_tokens` budget (`max_num_tokens`),
 * `max_num_seqs` and the KV watermark; a prompt that does not fit waits for a later step
 * (head-of-line), unless nothing else runs, when it is admitted alone whatever its length.
 */
export const inflightBatching: BatchPolicy = {
  name: 'inflight-batching',
  stableUnderDecode: true,
  formStep(f: StepFormation): void {
    const decodes = f.scheduleDecodes();
    let budget = f.maxNumBatchedTokens - decodes;
    // (no prefill is ever left part-done by this policy; kept for robustness)
    for (let i = 0; i < f.prefillingCount() && budget > 0; i++) {
      const tokens = f.prefillRemaining(i);
      if (tokens > budget || !f.schedulePrefill(i, tokens)) break;
      budget -= tokens;
    }
    let admitted = 0;
    while (f.hasWaiting() && f.runningCount() < f.maxNumSeqs) {
      const alone = decodes === 0 && admitted === 0 && f.runningCount() === 0;
      const tokens = f.admitHead(alone ? Infinity : budget, false);
      if (tokens === 0) break;
      admitted++;
      budget -= tokens;
      if (budget <= 0) break;
    }
  },
};
