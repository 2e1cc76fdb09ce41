import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TraceFormat, TraceRequest } from '../src/workload/types.js';
import { EXTERNAL, read, sample, sum } from './readers-util.js';

/**
 * Independent check: every file is read by the TypeScript reader and by
 * test/independent/trace_stats.py (Python standard library, written from the format descriptions),
 * and the two must agree on count, token sums and first/last arrival.
 */

const SCRIPT = join(import.meta.dirname, 'independent', 'trace_stats.py');

interface PyStats {
  format: string;
  count: number;
  prompt_tokens: number;
  output_tokens: number;
  first_arrival_s: number | null;
  last_arrival_s: number | null;
}

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const noPython =
  python.error !== undefined || python.status !== 0
    ? 'python3 not found: the independent Python cross-check did not run'
    : false;

function pyStats(path: string, format: TraceFormat): PyStats {
  const out = spawnSync('python3', [SCRIPT, path, format], { encoding: 'utf8', maxBuffer: 1 << 20 });
  assert.equal(out.status, 0, `trace_stats.py failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as PyStats;
}

function close(ts: number, py: number, what: string): void {
  const tol = 2e-6 + 1e-12 * Math.abs(py);
  assert.ok(Math.abs(ts - py) <= tol, `${what}: TypeScript ${ts} vs Python ${py}`);
}

async function compare(path: string, format: TraceFormat): Promise<void> {
  const py = pyStats(path, format);
  const { requests, report } = await read(path);
  assert.equal(report.format, format, 'detected format');
  assert.equal(report.badRows, 0);
  assert.equal(requests.length, py.count, 'count');
  assert.equal(sum(requests, 'promptTokens'), py.prompt_tokens, 'prompt tokens');
  assert.equal(sum(requests, 'outputTokens'), py.output_tokens, 'output tokens');
  if (py.first_arrival_s === null || py.last_arrival_s === null) return; // no global clock (weka-requests)
  const first = (requests[0] as TraceRequest).arrivalS;
  const last = (requests[requests.length - 1] as TraceRequest).arrivalS;
  if (format === 'mooncake') {
    // Python reports the quantised timestamps; the reader spreads each bucket over up to 3 s.
    assert.ok(
      first >= py.first_arrival_s && first < py.first_arrival_s + 3,
      `first ${first} vs ${py.first_arrival_s}`,
    );
    assert.ok(
      last >= py.last_arrival_s && last < py.last_arrival_s + 3,
      `last ${last} vs ${py.last_arrival_s}`,
    );
  } else {
    close(first, py.first_arrival_s, 'first arrival');
    close(last, py.last_arrival_s, 'last arrival');
  }
}

const SHIPPED: [string, TraceFormat][] = [
  ['azure-2023-code.sample.csv', 'azure'],
  ['azure-2023-conv.sample.csv', 'azure'],
  ['mooncake-fast25-conversation.sample.jsonl', 'mooncake'],
  ['mooncake-fast25-synthetic.sample.jsonl', 'mooncake'],
  ['vidur-splitwise-code.sample.csv', 'vidur'],
  ['sarathi-sharegpt-8k-llama2-lengths.sample.csv', 'vidur'],
  ['splitwise-sim-test-trace.format-example.csv', 'splitwise'],
  ['swe-agent-mini-deepseek-calls.sample.csv', 'agent-calls'],
  ['weka-claude-code-requests.sample.csv', 'weka-requests'],
  ['weka-claude-code-trace_0012.sample.json', 'weka-session'],
  ['weka-claude-code-trace_0014-subagents.sample.json', 'weka-session'],
  ['tracelab-example-session.sample.jsonl', 'tracelab'],
];

const EXTERNAL_FIXTURES: [string, TraceFormat][] = [
  ['mooncake-arxiv-trace.head30.jsonl', 'mooncake'],
  ['vidur-splitwise-conv.head100.csv', 'vidur'],
  ['vidur-arxiv-summarization-lengths.head60.csv', 'vidur'],
  ['weka-trace_0104.json', 'weka-session'],
  ['burstgpt3.head4.csv', 'burstgpt'],
  ['burstgpt1.head3.csv', 'burstgpt'],
];

describe(
  'independent Python reader agrees: external fixtures (not used to write the readers)',
  { skip: noPython },
  () => {
    for (const [name, format] of EXTERNAL_FIXTURES)
      it(`${name} (${format})`, () => compare(join(EXTERNAL, name), format));
  },
);

describe('independent Python reader agrees: bundled samples', { skip: noPython }, () => {
  for (const [name, format] of SHIPPED) it(`${name} (${format})`, () => compare(sample(name), format));
});

describe('external fixtures: reader-level checks', () => {
  it('the Vidur conv excerpt equals the first 100 requests of the Azure conv sample', async () => {
    const [v, a] = await Promise.all([
      read(join(EXTERNAL, 'vidur-splitwise-conv.head100.csv')),
      read(sample('azure-2023-conv.sample.csv')),
    ]);
    assert.equal(v.requests.length, 100);
    v.requests.forEach((r, i) => {
      const z = a.requests[i] as TraceRequest;
      assert.deepEqual([r.promptTokens, r.outputTokens], [z.promptTokens, z.outputTokens]);
      assert.ok(Math.abs(r.arrivalS - z.arrivalS) < 2e-6);
    });
  });

  it('the arXiv Mooncake slice keeps its offset (1178.625 s) and its 512-token blocks', async () => {
    const { requests, report } = await read(join(EXTERNAL, 'mooncake-arxiv-trace.head30.jsonl'));
    assert.ok(
      (requests[0] as TraceRequest).arrivalS >= 1178.625 && (requests[0] as TraceRequest).arrivalS < 1181.678,
    );
    for (const r of requests) assert.equal(r.hashIds?.length, Math.ceil(r.promptTokens / 512));
    assert.match(report.warnings.join('\n'), /30 requests shared 2 quantised timestamps/);
  });

  it('a global-scope WEKA conversation keeps its hash ids; closed loop from think_time', async () => {
    const { requests, report } = await read(join(EXTERNAL, 'weka-trace_0104.json'));
    assert.equal(requests.length, 7);
    assert.equal(requests[0]?.hashIds?.[0], 6615);
    assert.ok(!report.warnings.some((w) => /remapped/.test(w)));
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.turn, r.dependsOnPrevious ?? false, r.gapS]),
      [
        [0, 0, false, undefined],
        [3, 1, true, 0],
        [6, 2, true, 0],
        [13, 3, true, 0],
        [19, 4, true, 0],
        [24, 5, true, 0],
        [120, 6, true, 91],
      ],
    );
  });

  it('BurstGPT part 3 rows: sessions from Session ID, t = 0 at the first row', async () => {
    const { requests } = await read(join(EXTERNAL, 'burstgpt3.head4.csv'));
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.sessionId, r.model]),
      [
        [0, '1722ac82-0a46-4bf0-aa08-89794e7a2b3f', 'GPT-4'],
        [51, 'd5983bf9-4b48-497b-892b-a58995247443', 'ChatGPT'],
        [82, 'a5c69b35-4fbc-45e9-955e-18715e376d74', 'GPT-4'],
        [144, '8b74c7d8-1643-4bba-8c69-91cb4548c506', 'ChatGPT'],
      ],
    );
  });
});
