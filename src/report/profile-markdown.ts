import type { TraceProfile } from '../workload/profile.js';

const BAR_WIDTH = 40;

function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function bar(value: number, max: number): string {
  const n = max > 0 ? Math.round((value / max) * BAR_WIDTH) : 0;
  return n === 0 ? '' : `\`${'█'.repeat(n)}\``;
}

function histogramTable(title: string, buckets: TraceProfile['promptHistogram'], total: number): string {
  const max = Math.max(0, ...buckets.map((b) => b.count));
  const rows = buckets
    .filter((b) => b.count > 0)
    .map((b) => {
      const range = b.low === b.high ? `${b.low}` : `${b.low}–${b.high}`;
      return `| ${range} | ${b.count} | ${fmt((100 * b.count) / total, 1)} % | ${bar(b.count, max)} |`;
    });
  return [`### ${title}`, '', '| tokens | requests | share | |', '|---:|---:|---:|:---|', ...rows, ''].join(
    '\n',
  );
}

/** Requests per bucket for the rate-over-time table: at most ~48 rows, bucket a whole number of minutes. */
function rateTable(perMin: number[]): string {
  if (perMin.length === 0) return '_no arrivals_\n';
  const minutesPerRow = Math.max(1, Math.ceil(perMin.length / 48));
  const rows: { startMin: number; count: number }[] = [];
  for (let m = 0; m < perMin.length; m += minutesPerRow) {
    let c = 0;
    for (let k = m; k < Math.min(perMin.length, m + minutesPerRow); k++) c += perMin[k]!;
    rows.push({ startMin: m, count: c });
  }
  const max = Math.max(...rows.map((r) => r.count));
  const lines = rows.map((r) => {
    const ratePerS = r.count / (minutesPerRow * 60);
    return `| ${fmt(r.startMin, 0)} | ${r.count} | ${fmt(ratePerS, 2)} | ${bar(r.count, max)} |`;
  });
  return [
    `Buckets of ${minutesPerRow} minute(s) from t = 0.`,
    '',
    '| start (min) | requests | req/s | |',
    '|---:|---:|---:|:---|',
    ...lines,
    '',
  ].join('\n');
}

/** The "price our trace" document: everything a vendor needs to quote, nothing that identifies content. */
export function profileMarkdown(p: TraceProfile): string {
  const lengthRow = (name: string, s: TraceProfile['promptTokens']): string =>
    `| ${name} | ${fmt(s.mean)} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.max, 0)} |`;
  const out: string[] = [];
  out.push(`# Workload profile`, '');
  out.push(
    `Source: \`${p.source.file}\` (format \`${p.source.format}\`, ${p.source.rows} rows read, ${p.source.badRows} bad rows skipped).`,
    '',
  );
  out.push('## Summary', '', '| figure | value |', '|---|---:|');
  out.push(`| requests | ${fmt(p.requests, 0)} |`);
  out.push(`| duration | ${fmt(p.durationS, 1)} s (${fmt(p.durationS / 3600, 2)} h) |`);
  out.push(`| mean arrival rate | ${fmt(p.meanRatePerS, 3)} req/s |`);
  out.push(
    `| peak one-minute bucket | ${fmt(p.peakRatePerMin, 0)} req/min (${fmt(p.peakRatePerMin / 60, 2)} req/s) |`,
  );
  out.push(`| inter-arrival CV | ${fmt(p.interarrivalCv, 2)} |`);
  out.push(
    `| prefix reuse (blocks seen before) | ${p.prefixReuse === null ? 'no prefix hashes' : `${fmt(100 * p.prefixReuse, 1)} %`} |`,
  );
  if (p.cachedPromptFraction !== null)
    out.push(`| cached prompt tokens (as recorded) | ${fmt(100 * p.cachedPromptFraction, 1)} % |`);
  out.push(`| requests the source marked failed | ${fmt(p.sourceFailed, 0)} |`);
  out.push('');
  out.push('## Token lengths', '', '| | mean | p50 | p90 | p99 | max |', '|---|---:|---:|---:|---:|---:|');
  out.push(lengthRow('prompt (input)', p.promptTokens), lengthRow('output', p.outputTokens), '');
  out.push(histogramTable('Prompt tokens', p.promptHistogram, p.requests));
  out.push(histogramTable('Output tokens', p.outputHistogram, p.requests));
  out.push('## Arrival rate over time', '', rateTable(p.ratePerMin));
  out.push('## Sessions', '');
  if (p.sessions === null) out.push('Open-loop trace: requests are independent (no session ids).', '');
  else {
    out.push(
      `${fmt(p.sessions.count, 0)} sessions, ${fmt(p.sessions.turnsMean, 1)} turns each on average.`,
      p.sessions.gapS === null
        ? 'No tool/think gaps recorded.'
        : `Tool/think gap between an answer and the next turn: p50 ${fmt(p.sessions.gapS.p50, 2)} s, p90 ${fmt(p.sessions.gapS.p90, 2)} s.`,
      'Turns are closed-loop: each is sent after the previous answer plus the gap, so slower serving stretches sessions.',
      '',
    );
  }
  if (p.source.warnings.length > 0 || p.source.firstBadRows.length > 0) {
    out.push('## Data notes', '');
    for (const w of p.source.warnings) out.push(`- ${w}`);
    for (const b of p.source.firstBadRows) out.push(`- skipped: ${b}`);
    out.push('');
  }
  out.push(
    '## Definitions',
    '',
    '- Percentiles are linear-interpolated between order statistics.',
    '- Peak rate counts the requests arriving in the busiest one-minute bucket, buckets counted from t = 0.',
    '- Prefix reuse is the fraction of all prefix blocks whose hash appeared in an earlier request (an unlimited cache).',
    '',
    '_Generated by pertoken profile._',
    '',
  );
  return out.join('\n');
}
