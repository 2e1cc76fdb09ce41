import type { TraceFormat } from '../types.js';

/**
 * Format detection from the first non-blank line (a CSV header, or the first JSON object — looked
 * at as text, since a one-line JSON document can be megabytes long and arrive cut) and the path.
 */

function jsonHas(line: string, ...keys: string[]): boolean {
  return keys.every((k) => line.includes(`"${k}"`));
}

function detectJson(line: string): TraceFormat | undefined {
  if (jsonHas(line, 'chat_id', 'parent_chat_id')) return 'bailian';
  if (jsonHas(line, 'round_index') && (jsonHas(line, 'input_tokens_total') || jsonHas(line, 'timing_events')))
    return 'tracelab';
  if (
    jsonHas(line, 'prompt_tokens', 'output_tokens') &&
    (jsonHas(line, 'arrival_s') || jsonHas(line, 'timestamp_ms'))
  )
    return 'generic';
  if (jsonHas(line, 'timestamp', 'input_length', 'output_length')) return 'mooncake';
  if (jsonHas(line, 'requests') && (jsonHas(line, 'block_size') || jsonHas(line, 'hash_id_scope')))
    return 'weka-session';
  return undefined;
}

function detectCsv(line: string): TraceFormat | undefined {
  const cols = new Set(line.split(',').map((c) => c.trim().replace(/^"|"$/g, '').trim().toLowerCase()));
  const has = (...names: string[]): boolean => names.every((n) => cols.has(n));
  if (has('timestamp', 'contexttokens', 'generatedtokens')) return 'azure';
  if (has('timestamp', 'request tokens', 'response tokens')) return 'burstgpt';
  if (has('num_prefill_tokens', 'num_decode_tokens')) return 'vidur';
  if (has('arrival_timestamp', 'prompt_size', 'token_size')) return 'splitwise';
  if (has('trace_id', 'req_idx', 'in_tokens', 'out_tokens')) return 'weka-requests';
  if (has('instance_id', 'call_idx', 'prompt_tokens', 'completion_tokens')) return 'agent-calls';
  if (has('prompt_tokens', 'output_tokens') && (cols.has('arrival_s') || cols.has('timestamp_ms')))
    return 'generic';
  return undefined;
}

/** The format of a trace from its first non-blank line and its path; undefined when unknown. */
export function detectFormat(firstLine: string, path: string): TraceFormat | undefined {
  let line = firstLine;
  if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
  line = line.trim();
  if (line === '') return undefined;
  if (line.startsWith('{') || line.startsWith('[')) {
    const byKeys = detectJson(line);
    if (byKeys !== undefined) return byKeys;
    // A pretty-printed JSON document starts with a lone `{`: the only document format is WEKA's.
    if (line === '{' && /\.json(\.gz)?$/i.test(path)) return 'weka-session';
    return undefined;
  }
  return detectCsv(line);
}
