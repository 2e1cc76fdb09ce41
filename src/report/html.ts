/**
 * The self-contained HTML report of `pertoken compare --out report.html`: one file, inline CSS,
 * charts as inline SVG rendered here (charts.ts). Nothing is loaded from the network: no scripts,
 * no fonts, no images.
 */
import { writeFile } from 'node:fs/promises';
import { RANKING_HEADERS, tableRows, type CompareCandidate, type CompareResult } from '../cost/compare.js';
import { describeSizing } from '../engine/size-replicas.js';
import { costBreakdownSpec, latencyCdfSpec, renderSvg, utilizationSpec } from './charts.js';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const table = (headers: string[], rows: string[][], cls = ''): string =>
  `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;

const usd = (x: number | null): string => (x === null ? '–' : `$${x.toLocaleString('en-US')}`);

/** Every catalog number a candidate uses: price, accelerator, model, stack, profile. */
function assumptionRows(c: CompareCandidate): string[][] {
  const rows: string[][] = [];
  const p = c.price;
  const priceValue =
    c.kind === 'api'
      ? `${usd(p.usdPer1mInput)}/1M input, ${usd(p.usdPer1mOutput)}/1M output`
      : c.kind === 'managed'
        ? `${usd(p.usdPerInstanceHour)}/unit-hour, ${c.replicas ?? '?'} units`
        : `${usd(p.usdPerInstanceHour)}/hour${p.instance !== null ? ` (${p.instance}, ${p.chipsPerInstance ?? '?'} chips)` : ''}`;
  const q = c.quote;
  rows.push([
    q ? `${c.name} [quote]` : c.name,
    q
      ? `price (quote: ${q.kind.replace(/_/g, ' ')} from ${q.vendor}, ${q.date}, ${q.file})`
      : `price (${p.pricingModel.replace(/_/g, '-')}, from ${p.source})`,
    priceValue,
    p.evidence ?? '–',
    [p.sources.join('; ') || 'unsourced', p.notes].filter((x) => x !== null && x !== '').join(' — '),
  ]);
  for (const f of c.detail?.facts ?? []) rows.push([c.name, f.name, f.value, f.evidence, f.source]);
  const prof = c.detail?.profile;
  if (prof !== null && prof !== undefined)
    rows.push([
      c.name,
      'performance-model profile',
      `kernels: ${prof.kernelSource}; overheads: ${prof.overheadSource}`,
      prof.kernelSource === 'measured' ? 'measured' : prof.kernelSource === 'published' ? 'fit' : 'estimated',
      prof.description,
    ]);
  return rows;
}

/** Warnings: product changes, vendor-reported or estimated inputs, infeasible candidates, the rest. */
export function reportWarnings(r: CompareResult): string[] {
  const out: string[] = [...r.warnings];
  for (const c of r.candidates) {
    if (c.status === 'infeasible') out.push(`${c.name}: infeasible — ${c.reason ?? 'no reason given'}`);
    for (const pc of c.productChange) out.push(`${c.name}: product change — ${pc}`);
    const soft: string[] = [];
    if (c.price.evidence === 'vendor-reported' || c.price.evidence === 'estimated')
      soft.push(`price (${c.price.evidence})`);
    if (c.price.evidence === 'scenario (unsourced)') soft.push('price (unsourced, from the scenario)');
    for (const f of c.detail?.facts ?? [])
      if (f.evidence === 'vendor-reported' || f.evidence === 'estimated')
        soft.push(`${f.name} (${f.evidence})`);
    if (c.detail?.profile?.kernelSource === 'default')
      soft.push('performance model: default kernel profile (estimated)');
    if (soft.length > 0) out.push(`${c.name}: inputs not measured — ${soft.join(', ')}`);
    for (const w of c.warnings) out.push(`${c.name}: ${w}`);
  }
  return out;
}

const CSS = `
:root{color-scheme:light;--fg:#1a1a1a;--muted:#666;--line:#ddd;--warn:#8a4b00;--warnbg:#fff6e5}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:1100px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.meta{color:var(--muted);margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}
figure{margin:8px 0 16px}figcaption{color:var(--muted);font-size:12px;margin-top:4px}
figure svg{max-width:100%;height:auto}
ul.warnings{background:var(--warnbg);color:var(--warn);border:1px solid #f0c36d;padding:8px 8px 8px 28px;border-radius:4px}
ul.warnings li{margin:2px 0}
.lines td:nth-child(2),.lines td:nth-child(3){text-align:right;white-space:nowrap}
`;

const figure = (id: string, svg: string, caption: string): string =>
  `<figure id="${id}">${svg}<figcaption>${esc(caption)}</figcaption></figure>`;

/** The report as one HTML string. */
export async function compareHtml(r: CompareResult): Promise<string> {
  const [cost, ttft, tpot, util] = await Promise.all([
    renderSvg(costBreakdownSpec(r)),
    renderSvg(latencyCdfSpec(r, 'ttft')),
    renderSvg(latencyCdfSpec(r, 'tpot')),
    renderSvg(utilizationSpec(r)),
  ]);
  const warnings = reportWarnings(r);
  const simulated = r.candidates.filter((c) => c.detail?.ttft != null).length;
  const parts: string[] = [];
  parts.push(`<h1>${esc(r.scenario)}: cost per 1M accepted output tokens</h1>`);
  parts.push(
    `<p class="meta">Workload: ${esc(r.workload)}. Window: ${r.window.days} days (${esc(r.window.mapping)}). Seed ${r.seed}. ${r.candidates.length} candidates, ${r.ranking.length} feasible.</p>`,
  );
  parts.push('<h2>Warnings</h2>');
  parts.push(
    warnings.length > 0
      ? `<ul class="warnings">${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`
      : '<p>None.</p>',
  );
  parts.push('<h2>Ranking</h2>');
  parts.push(table(RANKING_HEADERS, tableRows(r), 'ranking'));
  parts.push('<h2>Cost breakdown</h2>');
  parts.push(
    figure(
      'chart-cost',
      cost,
      'Cost per 1M accepted output tokens, stacked by the ledger’s nine cost lines (feasible candidates, in rank order).',
    ),
  );
  parts.push('<h2>Latency</h2>');
  const cdfNote =
    'CDF drawn through the percentiles the simulation summary keeps — p50, p90, p95, p99, p99.9 and max (HDR histogram, 3 significant digits) — joined by straight lines; the curve between them is not measured. Simulated candidates only (API candidates have no simulated latency).';
  if (simulated === 0) parts.push('<p>No simulated candidates: no latency distributions.</p>');
  parts.push(figure('chart-ttft', ttft, `Time to first token. ${cdfNote}`));
  parts.push(figure('chart-tpot', tpot, `Time per output token. ${cdfNote}`));
  parts.push('<h2>Utilization over time</h2>');
  parts.push(
    figure(
      'chart-util',
      util,
      'Busy fraction per simulated minute, averaged over each candidate’s replicas (a replica is busy while a step runs). The window’s cost scales this trace span to the window.',
    ),
  );
  parts.push('<h2>Cost lines</h2>');
  for (const c of r.candidates) {
    if (c.ledger === null) continue;
    parts.push(`<h3>${esc(c.name)}</h3>`);
    if (c.sizing)
      parts.push(`<p class="meta">Replicas: ${c.replicas} (${esc(describeSizing(c.sizing.trials))}).</p>`);
    parts.push(
      table(
        ['line', 'USD', 'share', 'basis'],
        c.ledger.lines.map((l) => [
          l.name,
          `$${l.usd.toFixed(2)}`,
          `${(100 * l.share).toFixed(1)} %`,
          l.basis,
        ]),
        'lines',
      ),
    );
  }
  parts.push('<h2>Assumptions</h2>');
  parts.push('<p>Every catalog number the candidates use, with its evidence level and source.</p>');
  parts.push(
    table(
      ['candidate', 'input', 'value', 'evidence', 'source'],
      r.candidates.flatMap(assumptionRows),
      'assumptions',
    ),
  );
  const ledgerAssumptions = r.candidates.flatMap((c) => c.assumptions.map((a) => [c.name, a]));
  parts.push('<h3>Ledger assumptions</h3>');
  parts.push(
    ledgerAssumptions.length > 0
      ? table(['candidate', 'assumption'], ledgerAssumptions, 'ledger-assumptions')
      : '<p>None.</p>',
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.scenario)} — pertoken compare</title>
<style>${CSS}</style>
</head>
<body>
${parts.join('\n')}
<p class="meta">Generated by pertoken compare. Self-contained: no scripts, fonts or images are loaded.</p>
</body>
</html>
`;
}

/** Write the report to `file`. */
export async function writeCompareHtml(r: CompareResult, file: string): Promise<void> {
  await writeFile(file, await compareHtml(r), 'utf8');
}
