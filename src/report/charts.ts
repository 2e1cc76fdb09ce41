/**
 * Charts of the `compare` HTML report, rendered server-side to inline SVG with vega + vega-lite
 * (`View.toSVG()`, no browser, no canvas). Each function returns an SVG string that needs nothing
 * from the network: no fonts, no images, no scripts.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { CompareCandidate, CompareResult } from '../cost/compare.js';

const WIDTH = 640;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** Render a vega-lite spec to an SVG string (the namespace attributes dropped: inline SVG needs none). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile({ ...spec, config: { font: FONT, ...spec.config } }).spec), {
    renderer: 'none',
  });
  try {
    const svg = await view.toSVG();
    return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}

const feasible = (r: CompareResult): CompareCandidate[] => {
  const byName = new Map(r.candidates.map((c) => [c.name, c]));
  return r.ranking.map((e) => byName.get(e.name)!).filter((c) => c.ledger !== null);
};

/** Stacked bars: $ per 1M accepted output tokens per candidate, split by the ledger's cost lines. */
export function costBreakdownSpec(r: CompareResult): TopLevelSpec {
  const cands = feasible(r);
  const lineOrder = cands[0]?.ledger?.lines.map((l) => l.name) ?? [];
  const values = cands.flatMap((c) =>
    c.ledger!.lines.map((l, i) => ({
      candidate: c.name,
      line: l.name,
      order: i,
      usdPer1m: l.share * c.ledger!.usdPer1mAcceptedOutput,
    })),
  );
  return {
    width: WIDTH,
    height: { step: 28 },
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'candidate', type: 'nominal', sort: cands.map((c) => c.name), title: null },
      x: {
        field: 'usdPer1m',
        type: 'quantitative',
        stack: 'zero',
        title: '$ per 1M accepted output tokens',
      },
      color: {
        field: 'line',
        type: 'nominal',
        sort: lineOrder,
        scale: { scheme: 'tableau10' },
        title: 'cost line',
      },
      order: { field: 'order', type: 'quantitative' },
    },
  };
}

const PERCENTILES: [string, number, 'p50S' | 'p90S' | 'p95S' | 'p99S' | 'p999S' | 'maxS'][] = [
  ['p50', 0.5, 'p50S'],
  ['p90', 0.9, 'p90S'],
  ['p95', 0.95, 'p95S'],
  ['p99', 0.99, 'p99S'],
  ['p99.9', 0.999, 'p999S'],
  ['max', 1, 'maxS'],
];

/** A CDF from the summary's percentiles (p50/p90/p95/p99/p99.9/max), one line per candidate. */
export function latencyCdfSpec(r: CompareResult, metric: 'ttft' | 'tpot', sloS?: number): TopLevelSpec {
  const values = feasible(r).flatMap((c) => {
    const s = c.detail?.[metric];
    if (s === null || s === undefined || s.count === 0) return [];
    return PERCENTILES.map(([label, q, key]) => ({
      candidate: c.name,
      percentile: label,
      q,
      ms: Math.max(1e-3, s[key] * 1000),
    }));
  });
  return {
    width: WIDTH,
    height: 260,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true, interpolate: 'linear' },
        encoding: {
          x: {
            field: 'ms',
            type: 'quantitative',
            scale: { type: 'log' },
            title: `${metric.toUpperCase()} (ms, log scale)`,
          },
          y: {
            field: 'q',
            type: 'quantitative',
            scale: { domain: [0.5, 1] },
            axis: { format: '.1%' },
            title: 'share of completed requests ≤ x',
          },
          color: { field: 'candidate', type: 'nominal', scale: { scheme: 'category10' } },
          tooltip: [
            { field: 'candidate', type: 'nominal' },
            { field: 'percentile', type: 'nominal' },
            { field: 'ms', type: 'quantitative', format: '.2f' },
          ],
        },
      },
      ...(sloS !== undefined
        ? [
            {
              data: { values: [{ ms: sloS * 1000 }] },
              mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#b00' },
              encoding: { x: { field: 'ms', type: 'quantitative' as const } },
            },
          ]
        : []),
    ],
  };
}

/** Busy fraction per minute (mean over each candidate's replicas). */
export function utilizationSpec(r: CompareResult): TopLevelSpec {
  const values = feasible(r).flatMap((c) =>
    (c.detail?.busyPerMinute ?? []).map((busy, minute) => ({ candidate: c.name, minute, busy })),
  );
  return {
    width: WIDTH,
    height: 240,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'minute', type: 'quantitative', title: 'simulated minute' },
      y: {
        field: 'busy',
        type: 'quantitative',
        scale: { domain: [0, 1] },
        axis: { format: '.0%' },
        title: 'busy fraction (mean over replicas)',
      },
      color: { field: 'candidate', type: 'nominal', scale: { scheme: 'category10' } },
    },
  };
}
