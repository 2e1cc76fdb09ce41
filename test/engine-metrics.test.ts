import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { build } from 'hdr-histogram-js';
import {
  BusyTimeline,
  classifyCompleted,
  LatencyHistogram,
  ReplicaUsage,
  RequestMetrics,
  sloFromScenarioBlock,
  WeightedIntDistribution,
  type RequestRecord,
} from '../src/metrics/index.js';

describe('metrics: latency histogram', () => {
  it('gives the percentiles an HDR histogram (3 significant digits) would, capped at the exact max', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (values) => {
          const mine = new LatencyHistogram();
          const hdr = build({ numberOfSignificantValueDigits: 3 });
          for (const v of values) {
            mine.record(v);
            hdr.recordValue(Math.round(v * 1e6));
          }
          const max = Math.max(...values);
          for (const p of [50, 90, 95, 99, 99.9])
            assert.equal(mine.percentileS(p), Math.min(hdr.getValueAtPercentile(p) / 1e6, max));
          const s = mine.stats();
          assert.equal(s.count, values.length);
          assert.equal(s.maxS, max);
          assert.ok(
            Math.abs(s.meanS - values.reduce((a, b) => a + b, 0) / values.length) < 1e-9 * Math.max(1, max),
          );
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('keeps 3 significant digits and ignores NaN', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 1000);
    h.record(NaN);
    const s = h.stats();
    assert.equal(s.count, 1000);
    assert.ok(Math.abs(s.p50S - 0.5) / 0.5 < 1e-3);
    assert.ok(Math.abs(s.p99S - 0.99) / 0.99 < 1e-3);
    const empty = new LatencyHistogram().stats();
    assert.equal(empty.count, 0);
    assert.ok(Number.isNaN(empty.p50S));
  });

  it('takes values beyond 2^32 µs (71 minutes) through a real HDR histogram', () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record(5000);
    assert.equal(h.stats().p99S, 5000);
    assert.ok(Math.abs(h.percentileS(50) - 1) < 1e-3);
    assert.equal(h.toHdr().totalCount, 2);
  });

  it('merges', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.record(1);
    b.record(3);
    a.add(b);
    assert.equal(a.count, 2);
    assert.equal(a.stats().maxS, 3);
  });
});

describe('metrics: distributions and timelines', () => {
  it('weighted integer distribution: order-statistic quantiles, weights, merge', () => {
    const d = new WeightedIntDistribution();
    d.add(1, 3);
    d.add(10, 1);
    assert.equal(d.quantile(0.5), 1);
    assert.equal(d.quantile(0.8), 10);
    const s = d.summary();
    assert.equal(s.count, 4);
    assert.equal(s.mean, 13 / 4);
    assert.deepEqual(s.histogram, [
      [1, 3],
      [10, 1],
    ]);
    const e = new WeightedIntDistribution();
    e.add(2000, 2);
    e.merge(d);
    assert.equal(e.count, 6);
    assert.equal(e.summary().max, 2000);
  });

  it('busy timeline splits intervals across 1-minute buckets', () => {
    const t = new BusyTimeline(60);
    t.addInterval(50, 20); // 10 s in minute 0, 10 s in minute 1
    t.addInterval(130, 5);
    assert.deepEqual(t.fractions(150), [10 / 60, 10 / 60, 5 / 30]);
  });

  it('replica usage: prefill + decode busy time add up to busy time', () => {
    const u = new ReplicaUsage(0, 'x', 100, 16);
    u.addBusy(0, 2, 0.5);
    u.addBusy(2, 1, 0);
    const s = u.summary(10);
    assert.equal(s.busyS, 3);
    assert.equal(s.prefillBusyS + s.decodeBusyS, 3);
    assert.equal(s.idleS, 7);
    assert.equal(s.busyFraction, 0.3);
  });
});

function record(over: Partial<RequestRecord>): RequestRecord {
  return {
    id: 0,
    sessionId: undefined,
    turn: undefined,
    replica: 0,
    attempts: 1,
    arrivalS: 0,
    attemptArrivalS: 0,
    admittedS: 0,
    firstScheduledS: 0,
    firstTokenS: 0.1,
    endS: 1,
    queueDelayS: 0,
    ttftS: 0.1,
    tpotS: 0.01,
    maxItlS: 0.02,
    e2eS: 1,
    promptTokens: 100,
    outputTokens: 10,
    generatedTokens: 10,
    wastedTokens: 0,
    cachedPromptTokens: 0,
    preemptions: 0,
    outcome: 'accepted',
    sloMiss: undefined,
    ...over,
  };
}

describe('metrics: SLO', () => {
  it('classifies a completed request by the first limit it breaks', () => {
    const slo = { ttftS: 1, tpotS: 0.05, e2eS: 10, attainment: 0.99 };
    assert.deepEqual(classifyCompleted(slo, 0.5, 0.01, 2), { outcome: 'accepted', miss: undefined });
    assert.deepEqual(classifyCompleted(slo, 2, 0.1, 20), { outcome: 'slo-miss', miss: 'ttft' });
    assert.deepEqual(classifyCompleted(slo, 0.5, 0.1, 20), { outcome: 'slo-miss', miss: 'tpot' });
    assert.deepEqual(classifyCompleted(slo, 0.5, NaN, 20), { outcome: 'slo-miss', miss: 'e2e' });
  });

  it("takes a scenario's slo block: the loosest percentile limit per metric is the per-request limit", () => {
    const s = sloFromScenarioBlock({ ttft_p50_s: 0.5, ttft_p99_s: 3, tpot_p95_s: 0.05, attainment: 0.95 });
    assert.equal(s.ttftS, 3);
    assert.equal(s.tpotS, 0.05);
    assert.equal(s.e2eS, undefined);
    assert.equal(s.attainment, 0.95);
    assert.deepEqual(
      s.percentiles!.map((p) => `${p.metric}@${p.percentile}=${p.limitS}`),
      ['tpot@95=0.05', 'ttft@50=0.5', 'ttft@99=3'],
    );
  });

  it('attainment counts every request; percentile targets use completed ones; goodput tokens only from accepted', () => {
    const m = new RequestMetrics();
    m.add(record({ id: 0 }));
    m.add(record({ id: 1, outcome: 'slo-miss', sloMiss: 'ttft', ttftS: 5 }));
    m.add(record({ id: 2, outcome: 'timeout', ttftS: NaN, e2eS: NaN, generatedTokens: 4, wastedTokens: 4 }));
    m.add(record({ id: 3, outcome: 'rejected', ttftS: NaN, generatedTokens: 0 }));
    const slo = m.slo({
      ttftS: 1,
      attainment: 0.5,
      percentiles: [{ metric: 'ttft', percentile: 50, limitS: 1 }],
    });
    assert.equal(slo.attainment, 0.25);
    assert.equal(slo.met, false);
    assert.ok(Math.abs(slo.percentiles[0]!.valueS - 0.1) / 0.1 < 1e-3, 'HDR: 3 significant digits');
    assert.equal(m.tokens.outputAccepted, 10);
    assert.equal(m.tokens.outputSloMiss, 10);
    assert.equal(m.tokens.outputWasted, 4);
    assert.equal(m.latency().ttft.count, 2);
    assert.deepEqual(m.requests().byOutcome, {
      accepted: 1,
      'slo-miss': 1,
      timeout: 1,
      failed: 0,
      rejected: 1,
    });
  });
});
