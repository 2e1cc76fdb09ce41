import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TraceProfiler } from '../src/workload/profile.js';
import { IntDistribution, quantilesOf } from '../src/util/stats.js';
import type { ReadReport, TraceRequest } from '../src/workload/types.js';

const REPORT: ReadReport = { file: 'mem', format: 'generic', rows: 0, badRows: 0, firstBadRows: [], warnings: [] };

function req(id: number, arrivalS: number, promptTokens: number, outputTokens: number, extra: Partial<TraceRequest> = {}): TraceRequest {
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
  // population variance ((22.5² + 22.5² + 17.5² + 27.5²) / 4) = 456.25 → std 21.36 → CV 0.6572
  // buckets [0,60): 3, [60,120): 1, [120,180): 1 → peak 3
  const p = new TraceProfiler();
  [0, 10, 20, 70, 130].forEach((t, i) => p.add(req(i, t, 1, 1)));
  const out = p.finish(REPORT);
  assert.equal(out.requests, 5);
  assert.equal(out.durationS, 130);
  assert.ok(Math.abs(out.meanRatePerS - 5 / 130) < 1e-12);
  assert.equal(out.peakRatePerMin, 3);
  assert.deepEqual(out.ratePerMin, [3, 1, 1]);
  assert.ok(Math.abs(out.interarrivalCv! - Math.sqrt(456.25) / 32.5) < 1e-12);
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
    fc.property(fc.array(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
      const d = new IntDistribution();
      for (const v of values) d.add(v);
      const [a] = d.quantiles([q]);
      const [b] = quantilesOf([...values], [q]);
      assert.ok(Math.abs(a! - b!) < 1e-9, `${a} vs ${b}`);
      assert.equal(d.max, Math.max(...values));
    }),
  );
});

test('log2 histogram buckets cover every value once', () => {
  const d = new IntDistribution();
  for (const v of [0, 1, 2, 3, 4, 7, 8, 1000]) d.add(v);
  const b = d.log2Buckets();
  assert.equal(b.reduce((s, x) => s + x.count, 0), 8);
  assert.deepEqual(b.slice(0, 4), [
    { low: 0, high: 0, count: 1 },
    { low: 1, high: 1, count: 1 },
    { low: 2, high: 3, count: 2 },
    { low: 4, high: 7, count: 2 },
  ]);
});
