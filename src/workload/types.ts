/**
 * The one normalized request record every trace reader and synthetic generator produces.
 * Units are in the names; times are seconds from the start of the trace (t = 0 is the first
 * request for open-loop traces, the first session start for closed-loop agentic traces).
 */
export interface TraceRequest {
  /** 0-based ordinal in the stream (stable for a given file, format and seed). */
  id: number;
  /** Arrival time, seconds from 0. For a closed-loop turn (dependsOnPrevious) this is the arrival
   * the trace recorded, which the engine recomputes from the previous turn's completion + gapS. */
  arrivalS: number;
  promptTokens: number;
  /** 0 is legal (embeddings; BurstGPT failed requests, see sourceFailed). */
  outputTokens: number;
  /** Session (conversation / agent run) this request belongs to. */
  sessionId?: string;
  /** 0-based turn within the session. */
  turn?: number;
  /** True when this turn is only sent after the previous turn of the session completes
   * (closed loop), plus gapS of tool or think time. */
  dependsOnPrevious?: boolean;
  /** Tool-execution or think time between the previous turn's answer and this request, seconds. */
  gapS?: number;
  /** Prefix KV block hashes, one per blockSize tokens of the prompt (the last may be partial). */
  hashIds?: number[];
  /** Tokens per prefix block for hashIds (512 Mooncake, 64 WEKA Claude Code, 16 Bailian). */
  blockSize?: number;
  /** Prompt tokens the source reports as served from a prefix cache (when no hashes exist). */
  cachedPromptTokens?: number;
  /** Model named by the trace row, if any. */
  model?: string;
  /** Request kind named by the trace (e.g. BurstGPT log type, Bailian type, sub-agent). */
  kind?: string;
  /** The source recorded this request as failed (e.g. BurstGPT response tokens = 0). */
  sourceFailed?: boolean;
}

export const TRACE_FORMATS = [
  'generic',
  'azure',
  'mooncake',
  'burstgpt',
  'vidur',
  'splitwise',
  'weka-requests',
  'weka-session',
  'agent-calls',
  'tracelab',
  'bailian',
] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** Options shared by every reader. */
export interface ReadOptions {
  /** Force a format instead of auto-detection. */
  format?: TraceFormat;
  /** Count malformed rows and go on instead of stopping at the first (default false). */
  skipBadRows?: boolean;
  /** Seed for deterministic choices a reader must make (Mooncake bucket spreading, session placement). */
  seed?: number;
  /** Buffer the whole trace and sort by arrival instead of rejecting out-of-order rows. */
  sort?: boolean;
  /** Keep only rows whose model matches (BurstGPT `Model`, agent traces `model`). */
  model?: string;
  /** Keep only rows whose kind matches (BurstGPT `Log Type`). */
  kind?: string;
  /** Agentic formats: mean seconds between session starts when the trace has no global clock. */
  sessionInterarrivalS?: number;
}

/** What a reader tells the user besides the requests: warnings, skipped rows. */
export interface ReadReport {
  file: string;
  format: TraceFormat;
  rows: number;
  badRows: number;
  /** The first five bad-row messages (file:line: field: expected …, found …). */
  firstBadRows: string[];
  /** Things the user must know (bucket spreading, sorting, re-blocking, filters applied). */
  warnings: string[];
}
