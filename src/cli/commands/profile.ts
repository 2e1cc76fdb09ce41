import type { Command } from 'commander';
import { profileTrace, type TraceProfile } from '../../workload/profile.js';
import { profileMarkdown } from '../../report/profile-markdown.js';
import { addTraceOptions, printReadNotes, toReadOptions, type RawTraceOptions } from '../trace-options.js';
import { emit, toJson } from '../../util/output.js';

function fmt(x: number | null, digits = 1): string {
  return x === null || Number.isNaN(x) ? '–' : x.toFixed(digits);
}

/** Plain-text summary for the terminal. */
export function profileText(p: TraceProfile): string {
  const len = (s: TraceProfile['promptTokens']): string =>
    `mean ${fmt(s.mean)}  p50 ${fmt(s.p50, 0)}  p90 ${fmt(s.p90, 0)}  p99 ${fmt(s.p99, 0)}  max ${fmt(s.max, 0)}`;
  const lines = [
    `trace        ${p.source.file} (${p.source.format})`,
    `requests     ${p.requests}`,
    `duration     ${fmt(p.durationS)} s`,
    `rate         mean ${fmt(p.meanRatePerS, 3)} req/s, peak ${p.peakRatePerMin} req/min, inter-arrival CV ${fmt(p.interarrivalCv, 2)}`,
    `prompt       ${len(p.promptTokens)}`,
    `output       ${len(p.outputTokens)}`,
    `prefix reuse ${p.prefixReuse === null ? 'no prefix hashes' : fmt(p.prefixReuse, 3)}`,
    `sessions     ${
      p.sessions === null
        ? 'none (open loop)'
        : `${p.sessions.count}, ${fmt(p.sessions.turnsMean)} turns mean` +
          (p.sessions.gapS === null
            ? ''
            : `, gap p50 ${fmt(p.sessions.gapS.p50, 2)} s p90 ${fmt(p.sessions.gapS.p90, 2)} s`)
    }`,
  ];
  if (p.cachedPromptFraction !== null)
    lines.push(
      `cached       ${fmt(100 * p.cachedPromptFraction)} % of prompt tokens served from the source's prefix cache`,
    );
  if (p.sourceFailed > 0) lines.push(`failed       ${p.sourceFailed} (marked failed by the source)`);
  return lines.join('\n');
}

/** The JSON contract: the documented fields first, then the extras. */
export function profileJson(p: TraceProfile): string {
  return toJson(p);
}

export function registerProfile(program: Command): void {
  const cmd = program
    .command('profile')
    .description('Summarize a trace: the vendor-neutral "price our trace" document')
    .argument('<trace>', 'trace file (.gz accepted)')
    .option('--json', 'print one JSON object')
    .option('--markdown', 'write a Markdown document a vendor could price')
    .option('--out <file>', 'write to a file instead of stdout');
  addTraceOptions(cmd).action(
    async (trace: string, raw: RawTraceOptions & { json?: boolean; markdown?: boolean; out?: string }) => {
      const opts = toReadOptions(raw);
      const p = await profileTrace(trace, opts);
      printReadNotes(p.source);
      const out = raw.out;
      if (raw.json === true) await emit(profileJson(p), out);
      else if (raw.markdown === true) await emit(profileMarkdown(p), out);
      else await emit(profileText(p), out);
    },
  );
}
