import type { SynthPreset, SynthSpecInput } from './spec.js';

/**
 * Preset workloads, in the user-facing (snake_case) spec shape so that any field can be
 * overridden by the user's spec or CLI flags. Sources are cited per parameter; "assumption"
 * marks values with no trace behind them. Section numbers refer to shared/traces/README.md.
 *
 * Lognormal `mean`/`median` are those of the unclipped distribution; draws are rounded and clipped
 * to [min, max], which moves the realized mean slightly (noted where it matters).
 */

/**
 * `chat`: independent requests like a chat service. Azure LLM inference trace 2023, conversation
 * (README §2, Patel et al. "Splitwise", ISCA 2024, CC-BY-4.0): 5.53 req/s with inter-arrival CV
 * 1.09 (so Poisson); input mean 1,155, median 1,020, max 14,050; output mean 211, median 129,
 * max 1,000. Clipping the output at the trace's max 1,000 makes the realized output mean ≈ 201.
 */
const chat: SynthSpecInput = {
  rate: 5.53,
  duration_s: 3600,
  arrivals: { kind: 'poisson' },
  prompt: { dist: 'lognormal', mean: 1155, median: 1020, min: 1, max: 14050 },
  output: { dist: 'lognormal', mean: 211, median: 129, min: 1, max: 1000 },
};

/**
 * `coding-agent`: closed-loop multi-turn sessions whose context grows turn by turn. Sessions
 * start as a Poisson process at rate / mean turns per session, so `rate` stays in requests/s.
 * Turn k's prompt = turn k−1's prompt + its answer + tool output; prefix-hash blocks of 64 tokens
 * repeat the previous turn's full blocks exactly.
 *
 * Sources: README §8 (mini-swe-agent + DeepSeek calls, 79 sessions) and §9 (WEKA Claude Code
 * traces, 710 traces; the flattened sample, 90 agents, is what the log-sd values were computed on):
 * - turns: calls per session median 45 (§9, all traces) to 66–88 (§8, per run); range 4–188 (§8),
 *   up to 395 (§9 sample). Lognormal median 60; sigma 0.8 between the samples' log-sd of the
 *   turn count (0.52 in §8, 1.18 in §9). Clipped to [2, 400].
 * - initial_prompt (system prompt + tool definitions + task): first-call median 1,794 (§8,
 *   mini-swe-agent's short system prompt) vs 23,340 (§9 sample; Claude Code's system + tool tokens
 *   alone are 4,243 + 12,974). Lognormal median 12,000, sigma 0.8, clipped to [1,000, 100,000].
 * - tool_output (tokens appended per turn besides the previous answer): median 108, log-sd 1.12
 *   (§8) and median 519, log-sd 1.78 (§9 sample). Lognormal median 250, sigma 1.4, [0, 32,000].
 * - output: completion median 90, mean 222 (§8); median 216 (§9, all traces). Lognormal median
 *   150, mean 300, [1, 8,192].
 * - gap_s (tool + think time before the next call): think time median 10 s (§9; the §9 sample's
 *   log-sd is 1.57); tool execution alone median < 1 s (§8). Lognormal median 10 s, sigma 1.5,
 *   clipped to [0.1, 3,600] (the §9 p99 of 3,014 s is human idle time; set a smaller median, e.g.
 *   0.5 s, for an autonomous agent with no human in the loop).
 * - nominal_ttft_s 2 + nominal_tpot_s 0.02 × output: LLM latency median 4–7 s (§8), API time
 *   median 6 s (§9); only used to lay out the recorded arrivals (the engine recomputes them).
 * - block_size 64 (§9 hash blocks); max_context_tokens 200,000 (a 200k-context model; a session
 *   ends rather than compacts when the next prompt would exceed it).
 * Together these give prompts of median ≈ 50k tokens per request (§8 median 19,203; §9 103,659)
 * and ≈ 98% prefix-block reuse on the previous turn (§9: about 96%).
 */
const codingAgent: SynthSpecInput = {
  rate: 1,
  duration_s: 3600,
  arrivals: { kind: 'poisson' },
  output: { dist: 'lognormal', median: 150, mean: 300, min: 1, max: 8192 },
  sessions: {
    turns: { dist: 'lognormal', median: 60, sigma: 0.8, min: 2, max: 400 },
    initial_prompt: { dist: 'lognormal', median: 12000, sigma: 0.8, min: 1000, max: 100000 },
    tool_output: { dist: 'lognormal', median: 250, sigma: 1.4, min: 0, max: 32000 },
    gap_s: { dist: 'lognormal', median: 10, sigma: 1.5, min: 0.1, max: 3600 },
    block_size: 64,
    max_context_tokens: 200_000,
    shared_prefix_tokens: 0,
    nominal_ttft_s: 2,
    nominal_tpot_s: 0.02,
  },
};

/**
 * `rag`: retrieval-augmented QA, long prompts (retrieved passages) and short answers.
 * Assumption (no public per-request RAG trace in shared/traces): prompt lognormal median 8,000
 * with sigma 0.42 so that 90% fall in 4,000–16,000 tokens (8–32 chunks of 500 tokens), clipped
 * to [1,000, 32,000]; answer lognormal median 150, mean 200, [1, 1,024]; Poisson at 2 req/s.
 */
const rag: SynthSpecInput = {
  rate: 2,
  duration_s: 3600,
  arrivals: { kind: 'poisson' },
  prompt: { dist: 'lognormal', median: 8000, sigma: 0.42, min: 1000, max: 32000 },
  output: { dist: 'lognormal', median: 150, mean: 200, min: 1, max: 1024 },
};

/**
 * `batch`: offline work (e.g. document summarisation), all submitted at t = 0.
 * Assumption: 10,000 requests; prompt lognormal median 3,000, mean 4,000, [100, 32,000];
 * summary lognormal median 300, mean 400, [1, 2,048].
 */
const batch: SynthSpecInput = {
  rate: 1,
  duration_s: 3600,
  requests: 10000,
  arrivals: { kind: 'batch' },
  prompt: { dist: 'lognormal', median: 3000, mean: 4000, min: 100, max: 32000 },
  output: { dist: 'lognormal', median: 300, mean: 400, min: 1, max: 2048 },
};

/**
 * `embeddings`: embedding requests, prefill only (output 0 tokens).
 * Assumption: Poisson at 50 req/s; input lognormal median 300, mean 400 (passages chunked to a
 * few hundred tokens), clipped to [1, 8,192] (a common embedding-model input limit).
 */
const embeddings: SynthSpecInput = {
  rate: 50,
  duration_s: 3600,
  arrivals: { kind: 'poisson' },
  prompt: { dist: 'lognormal', median: 300, mean: 400, min: 1, max: 8192 },
  output: { dist: 'fixed', value: 0 },
};

/** The presets, keyed by name, in the input shape (overridable field by field). */
export const PRESET_INPUTS: Readonly<Record<SynthPreset, SynthSpecInput>> = {
  chat,
  'coding-agent': codingAgent,
  rag,
  batch,
  embeddings,
};
