import type { Rng } from '../util/rng.js';

/** Retries of attempts that ended without completing. */
export interface RetryConfig {
  /** Attempts in all, the first included (1 = no retries). */
  maxAttempts: number;
  /** Delay before retry k (1-based) = backoffS × multiplier^(k−1) × (1 + jitter × U[0,1)). */
  backoffS: number;
  multiplier: number;
  jitter: number;
  /** Which attempt outcomes are retried. */
  on: ('timeout' | 'rejected' | 'failed')[];
}

/** Everything the engine needs besides the workload, the replicas' performance and the SLO. */
export interface EngineConfig {
  /** Replica count when `replicas` is given as a factory. */
  replicas: number;
  /** vLLM `max_num_seqs`: sequences running at once on a replica. */
  maxNumSeqs: number;
  /** vLLM `max_num_batched_tokens`: tokens (prefill + decode) per step. */
  maxNumBatchedTokens: number;
  /** Tokens per paged KV block (the pool is floor(kv.tokens / blockSize) blocks). */
  blockSize: number;
  /** Batch-formation policy name (`chunked-prefill`, `prefill-first`). */
  batchPolicy: string;
  /** Router name (`round-robin`, `least-outstanding`, `least-kv`, `prefix-affinity`, `random`). */
  router: string;
  /** Admission policy name (`unlimited`, `queue-limit`). */
  admission: string;
  /** Preemption victim policy name (`newest`, `fewest-generated`). Preemption is by recompute. */
  preemption: string;
  /** Fraction of KV blocks that must stay free when a new sequence is admitted (vLLM: 0.01). */
  watermark: number;
  prefixCaching: boolean;
  /** `queue-limit` admission: waiting requests per replica beyond which arrivals are rejected. */
  queueLimit: number;
  /** Client timeout per attempt, seconds (Infinity: none). */
  timeoutS: number;
  retry: RetryConfig;
  /** How far ahead (recorded time) the trace is read when it has closed-loop turns. */
  sessionLookaheadS: number;
  /** `prefix-affinity`: a replica is eligible if its outstanding requests ≤ the least + this. */
  affinityLoadSlack: number;
  /** Jump over runs of identical decode steps (false: simulate every step; for checks). */
  stepJumping: boolean;
  /** Longest jump computed ahead at once (a longer stable run is several jumps). */
  maxJumpSteps: number;
  /** Utilization timeline bucket, seconds. */
  timelineBucketS: number;
}

/** What a router or admission policy may read about a replica. */
export interface ReplicaView {
  readonly index: number;
  /** Waiting + running attempts (not counting timed-out ones awaiting removal). */
  outstanding(): number;
  waitingCount(): number;
  runningCount(): number;
  /** KV blocks in use by running sequences, and the pool size. */
  kvUsedBlocks(): number;
  kvTotalBlocks(): number;
  /** Leading blocks of `keys` present in this replica's prefix cache (O(log n): see KvPool.cachedPrefixLength). */
  cachedPrefixBlocks(keys: Float64Array): number;
}

/** What a router knows about the request being routed. */
export interface RouteRequest {
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly sessionId: string | undefined;
  /** Prefix-cache keys (null without prefix information or with caching off). */
  readonly keys: Float64Array | null;
}

/** The replicas as a router sees them. */
export interface ClusterView {
  readonly replicas: readonly ReplicaView[];
  /**
   * outstanding[i] === replicas[i].outstanding(), kept current by the engine: scanning one typed
   * array is much faster than visiting every replica object on each arrival.
   */
  readonly outstanding: Int32Array;
}

export interface Router {
  readonly name: string;
  /** True if the router reads KV use or cache contents (the engine then brings replicas up to date first). */
  readonly readsKvState: boolean;
  /** Index of the replica to send the request to. */
  route(req: RouteRequest, cluster: ClusterView, rng: Rng): number;
}

export interface AdmissionPolicy {
  readonly name: string;
  /** False rejects the attempt at the replica the router chose. */
  admit(replica: ReplicaView, config: EngineConfig): boolean;
}

/** A running sequence as a policy sees it. */
export interface SeqView {
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly generated: number;
  readonly kvTokens: number;
  readonly prefillTarget: number;
  readonly arrivalS: number;
}

export interface PreemptionPolicy {
  readonly name: string;
  /**
   * True if the policy always picks the newest candidate (the engine then skips building the
   * candidate list).
   */
  readonly picksNewest: boolean;
  /**
   * Index in `candidates` of the sequence to preempt (by recompute) because the KV pool is short.
   * Candidates are the running sequences not yet in this step's batch (the requester included), in
   * admission order, oldest first.
   */
  pickVictim(candidates: readonly SeqView[]): number;
}

/**
 * The operations a batch-formation policy uses to build one step on one replica. Running
 * sequences are either decoding (they move together, one token per step) or part-way through a
 * (chunked) prefill.
 */
export interface StepFormation {
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  /** Running sequences (decoding + prefilling). */
  runningCount(): number;
  hasWaiting(): boolean;
  /**
   * Put every decoding sequence in the step (one token each), preempting victims (chosen by the
   * preemption policy among all running sequences) while the KV pool is short. Returns the number
   * of decode tokens scheduled. Call it at most once, before anything else.
   */
  scheduleDecodes(): number;
  /** Running sequences part-way through their prefill, in admission order. */
  prefillingCount(): number;
  /** Prompt tokens prefilling sequence i has left to compute. */
  prefillRemaining(i: number): number;
  /**
   * Put `tokens` of prefilling sequence i's prompt in the step, preempting victims among the
   * prefilling sequences from i on until its blocks fit. False if sequence i itself was preempted.
   */
  schedulePrefill(i: number, tokens: number): boolean;
  /**
   * Admit the head of the waiting queue (after its prefix-cache hit) with up to `maxTokens` of
   * prefill — all of what is left unless `partial` — if the KV pool keeps its watermark free.
   * Returns the tokens scheduled, 0 if the head cannot be admitted (or there is none).
   */
  admitHead(maxTokens: number, partial: boolean): number;
}

export interface BatchPolicy {
  readonly name: string;
  /**
   * True if, after a step in which every running sequence decodes one token, forming the next
   * step from the same sequences with no fewer tokens of KV in use again gives the same pure-decode
   * step (the waiting queue, if any, stays blocked). The engine only jumps over steps for such
   * policies.
   */
  readonly stableUnderDecode: boolean;
  formStep(f: StepFormation): void;
}
