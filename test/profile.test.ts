import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { TraceProfiler } from '../src/workload/profile.js';
import { IntDistribution, quantilesOf } from '../src/util/stats.js';
import type { ReadReport, TraceRequest } from '../src/workload/types.js';

const REPORT: ReadReport = {
  file: 'mem',
  format: 'generic',
  rows: 0,
  badRows: 0,
  firstBadRows: [],
  warnings: [],
};

function req(
  id: number,
  arrivalS: number,
  promptTokens: number,
  outputTokens: number,
  extra: Partial<TraceRequest> = {},
): TraceRequest {
  return { id, arrivalS, promptTokens, outputTokens, ...extra };
}

test('length percentiles are linear-interpolated order statistics (hand calculation)', () => {
  // values 10, 20, 30, 40 (n = 4): p50 rank h = 3 × 0.5 = 1.5 → 20 + 0.5 × (30 − 20) = 25
  // p90: h = 2.7 → 30 + 0.7 × 10 = 37; p99: h = 2.97 → 30 + 0.97 × 10 = 39.7
  const p = new TraceProfiler();
  [10, 40, 20, 30].forEach((v, i) => p.add(req(i, i, v, 1)));
  const out = p.finish(REPORT);
  assert.equal(out.promptTokens.mean, 25);
  assert.equal(out.promptTokens.p50, 25);
  assert.ok(Math.abs(out.promptTokens.p90 - 37) < 1e-9);
  assert.ok(Math.abs(out.promptTokens.p99 - 39.7) < 1e-9);
  assert.equal(out.promptTokens.max, 40);
});

test('rate figures: duration, mean rate, peak one-minute bucket from t = 0, inter-arrival CV', () => {
  // arrivals 0, 10, 20, 70, 130: gaps 10, 10, 50, 60 → mean 32.5,
  // population variance ((22.5² + 22.5² + 17.5² + 27.5²) / 4) = (506.25·2 + 306.25 + 756.25) / 4 = 518.75
  // → std 22.78 → CV 0.7008
  // buckets [0,60): 3, [60,120): 1, [120,180): 1 → peak 3
  const p = new TraceProfiler();
  [0, 10, 20, 70, 130].forEach((t, i) => p.add(req(i, t, 1, 1)));
  const out = p.finish(REPORT);
  assert.equal(out.requests, 5);
  assert.equal(out.durationS, 130);
  assert.ok(Math.abs(out.meanRatePerS - 5 / 130) < 1e-12);
  assert.equal(out.peakRatePerMin, 3);
  assert.deepEqual(out.ratePerMin, [3, 1, 1]);
  assert.ok(Math.abs(out.interarrivalCv! - Math.sqrt(518.75) / 32.5) < 1e-12);
});

test('prefix reuse counts blocks whose hash appeared in an earlier request', () => {
  // r0: [1,2,3] → 0 reused; r1: [1,2,4] → 2 reused; r2: [5] → 0; r3: [1,2,4,6] → 3 reused;
  // blocks = 3 + 3 + 1 + 4 = 11, reused = 0 + 2 + 0 + 3 = 5 → 5/11
  const p = new TraceProfiler();
  p.add(req(0, 0, 3, 1, { hashIds: [1, 2, 3] }));
  p.add(req(1, 1, 3, 1, { hashIds: [1, 2, 4] }));
  p.add(req(2, 2, 1, 1, { hashIds: [5] }));
  p.add(req(3, 3, 4, 1, { hashIds: [1, 2, 4, 6] }));
  assert.equal(p.finish(REPORT).prefixReuse, 5 / 11);
});

test('no hashes → prefixReuse null; no sessions → sessions null', () => {
  const p = new TraceProfiler();
  p.add(req(0, 0, 5, 5));
  const out = p.finish(REPORT);
  assert.equal(out.prefixReuse, null);
  assert.equal(out.sessions, null);
  assert.equal(out.interarrivalCv, null);
});

test('sessions: count, mean turns, gap percentiles of closed-loop turns', () => {
  const p = new TraceProfiler();
  p.add(req(0, 0, 5, 5, { sessionId: 'a', turn: 0 }));
  p.add(req(1, 1, 5, 5, { sessionId: 'b', turn: 0 }));
  p.add(req(2, 2, 5, 5, { sessionId: 'a', turn: 1, dependsOnPrevious: true, gapS: 2 }));
  p.add(req(3, 3, 5, 5, { sessionId: 'a', turn: 2, dependsOnPrevious: true, gapS: 4 }));
  const s = p.finish(REPORT).sessions!;
  assert.equal(s.count, 2);
  assert.equal(s.turnsMean, 2);
  assert.equal(s.gapS!.p50, 3); // gaps 2, 4 → h = 0.5 → 3
  assert.ok(Math.abs(s.gapS!.p90 - 3.8) < 1e-12); // h = 0.9 → 2 + 0.9 × 2
});

test('IntDistribution quantiles equal the sorted-array definition (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 300 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (values, q) => {
        const d = new IntDistribution();
        for (const v of values) d.add(v);
        const [a] = d.quantiles([q]);
        const [b] = quantilesOf([...values], [q]);
        assert.ok(Math.abs(a! - b!) < 1e-9, `${a} vs ${b}`);
        assert.equal(d.max, Math.max(...values));
      },
    ),
  );
});

test('log2 histogram buckets cover every value once', () => {
  const d = new IntDistribution();
  for (const v of [0, 1, 2, 3, 4, 7, 8, 1000]) d.add(v);
  const b = d.log2Buckets();
  assert.equal(
    b.reduce((s, x) => s + x.count, 0),
    8,
  );
  assert.deepEqual(b.slice(0, 4), [
    { low: 0, high: 0, count: 1 },
    { low: 1, high: 1, count: 1 },
    { low: 2, high: 3, count: 2 },
    { low: 4, high: 7, count: 2 },
  ]);
});

test('golden: profile of the shipped Azure code trace and Mooncake synthetic trace (issue bars)', async () => {
  const { profileTrace } = await import('../src/workload/profile.js');
  const code = await profileTrace('data/traces/azure-2023-code.sample.csv');
  assert.equal(code.requests, 8819);
  assert.ok(Math.abs(code.promptTokens.mean - 2047.8) <= 0.5, String(code.promptTokens.mean));
  assert.equal(code.outputTokens.p50, 13);
  assert.equal(code.prefixReuse, null);
  assert.ok(Math.abs(code.interarrivalCv! - 13) < 0.5);
  const moon = await profileTrace('data/traces/mooncake-fast25-synthetic.sample.jsonl');
  assert.equal(moon.requests, 3993);
  assert.ok(Math.abs(moon.prefixReuse! - 0.64) <= 0.005, String(moon.prefixReuse));
  const weka = await profileTrace('data/traces/weka-claude-code-requests.sample.csv');
  assert.ok(weka.sessions !== null && weka.sessions.count > 79);
  assert.ok(weka.prefixReuse! > 0.9);
});

test('CLI: profile --json has the documented fields; a bad row exits 2 naming file:line', async () => {
  const { runCli } = await import('./helpers/cli.js');
  const ok = runCli(['profile', 'data/traces/azure-2023-conv.sample.csv', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout) as Record<string, unknown>;
  for (const k of [
    'requests',
    'durationS',
    'meanRatePerS',
    'peakRatePerMin',
    'interarrivalCv',
    'promptTokens',
    'outputTokens',
    'prefixReuse',
    'sessions',
  ])
    assert.ok(k in j, k);
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-prof-'));
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n1,abc,5\n2,-3,5\n3,7,5\n');
  const r = runCli(['profile', bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.csv:3: prompt_tokens: expected .*found "abc"/);
  const skip = runCli(['profile', bad, '--skip-bad-rows', '--json']);
  assert.equal(skip.code, 0, skip.stderr);
  assert.equal((JSON.parse(skip.stdout) as { requests: number }).requests, 2);
  assert.match(skip.stderr, /skipped 2 bad row/);
  const md = runCli(['profile', 'data/traces/azure-2023-code.sample.csv', '--markdown']);
  assert.match(md.stdout, /# Workload profile/);
  assert.match(md.stdout, /\| requests \| 8,819 \|/);
});
