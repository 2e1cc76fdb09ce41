// Property tests of docs/invariants.md: each numbered invariant there is checked here on random
// workloads and random engine configurations (fixed fast-check seeds, so the runs are repeatable).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  affinePerf,
  simulate,
  type BoundaryInfo,
  type EngineConfigInput,
  type SimulationSummary,
} from '../src/engine/index.js';
import type { RequestRecord, SloSpec } from '../src/metrics/types.js';
import { toJson } from '../src/util/output.js';
import type { TraceRequest } from '../src/workload/types.js';

interface Scenario {
  requests: TraceRequest[];
  replicas: number;
  perf: { baseS: number; perTokenS: number; perContextTokenS: number; kvTokens: number };
  config: EngineConfigInput;
  seed: number;
}

const SLO: SloSpec = {
  ttftS: 1,
  tpotS: 0.02,
  attainment: 0.9,
  percentiles: [{ metric: 'ttft', percentile: 90, limitS: 1 }],
};

/** Random workloads: open-loop requests, optional closed-loop sessions, optional prefix hashes. */
const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    reqs: fc.array(
      fc.record({
        gapS: fc.double({ min: 0, max: 0.3, noNaN: true }),
        prompt: fc.integer({ min: 1, max: 400 }),
        output: fc.integer({ min: 0, max: 400 }),
        group: fc.integer({ min: 0, max: 2 }),
        thinkS: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
      { minLength: 1, maxLength: 40, size: 'large' },
    ),
    burst: fc.constantFrom(0.001, 0.01, 0.1, 1),
    sessions: fc.constantFrom(0, 0, 2, 4),
    hashes: fc.constantFrom('none', 'same', 'coarse'),
    replicas: fc.integer({ min: 1, max: 3 }),
    maxNumSeqs: fc.integer({ min: 1, max: 16 }),
    budgetExtra: fc.integer({ min: 0, max: 700 }),
    blockSize: fc.constantFrom(1, 4, 16),
    kvTokens: fc.integer({ min: 300, max: 4000 }),
    kvTight: fc.option(fc.double({ min: 0.05, max: 2, noNaN: true }), { nil: undefined }),
    batchPolicy: fc.constantFrom('chunked-prefill', 'prefill-first'),
    router: fc.constantFrom('round-robin', 'least-outstanding', 'least-kv', 'prefix-affinity', 'random'),
    preemption: fc.constantFrom('newest', 'fewest-generated'),
    watermark: fc.constantFrom(0, 0.01, 0.1),
    timeoutS: fc.option(fc.double({ min: 0.1, max: 3, noNaN: true }), { nil: undefined }),
    retries: fc.integer({ min: 0, max: 2 }),
    queueLimit: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined, freq: 3 }),
    baseS: fc.double({ min: 0, max: 0.03, noNaN: true }),
    perTokenS: fc.double({ min: 0, max: 5e-4, noNaN: true }),
    perContextTokenS: fc.double({ min: 0, max: 2e-5, noNaN: true }),
    seed: fc.integer({ min: 0, max: 1000 }),
  })
  .map((g) => {
    let t = 0;
    const lastPrompt = new Map<string, number>();
    const turns = new Map<string, number>();
    const requests: TraceRequest[] = g.reqs.map((r, id) => {
      t += r.gapS * g.burst;
      const out: TraceRequest = { id, arrivalS: t, promptTokens: r.prompt, outputTokens: r.output };
      if (g.sessions > 0) {
        const sid = `s${id % g.sessions}`;
        const k = turns.get(sid) ?? 0;
        turns.set(sid, k + 1);
        // each turn's prompt extends the previous one (as agent traces do)
        out.promptTokens = (lastPrompt.get(sid) ?? 0) + r.prompt;
        lastPrompt.set(sid, out.promptTokens + r.output);
        out.sessionId = sid;
        out.turn = k;
        if (k > 0) {
          out.dependsOnPrevious = true;
          out.gapS = r.thinkS;
        }
      }
      if (g.hashes !== 'none') {
        const bs = g.hashes === 'same' ? g.blockSize : 64;
        const n = Math.ceil(out.promptTokens / bs);
        out.hashIds = Array.from({ length: n }, (_, i) =>
          i < 6 ? r.group * 1000 + i : 1_000_000 + id * 1000 + i,
        );
        out.blockSize = bs;
      }
      return out;
    });
    const config: EngineConfigInput = {
      maxNumSeqs: g.maxNumSeqs,
      maxNumBatchedTokens: g.maxNumSeqs + g.budgetExtra,
      blockSize: g.blockSize,
      batchPolicy: g.batchPolicy,
      router: g.router,
      preemption: g.preemption,
      watermark: g.watermark,
      retry: { maxAttempts: 1 + g.retries, backoffS: 0.1, jitter: 0.5 },
      maxJumpSteps: 64,
    };
    if (g.timeoutS !== undefined) config.timeoutS = g.timeoutS;
    if (g.queueLimit !== undefined) {
      config.admission = 'queue-limit';
      config.queueLimit = g.queueLimit;
    }
    // Tight KV: just above the largest request (plus watermark), so sequences preempt one another.
    const largest = Math.max(...requests.map((r) => r.promptTokens + Math.max(1, r.outputTokens)));
    const kvTokens = g.kvTight === undefined ? g.kvTokens : Math.ceil((largest + 32) * (1.12 + g.kvTight));
    return {
      requests,
      replicas: g.replicas,
      perf: { baseS: g.baseS, perTokenS: g.perTokenS, perContextTokenS: g.perContextTokenS, kvTokens },
      config,
      seed: g.seed,
    };
  });

interface Run {
  s: SimulationSummary;
  recs: RequestRecord[];
  boundaries: BoundaryInfo[];
  eventTimes: number[];
}

async function runScenario(sc: Scenario, over: EngineConfigInput = {}): Promise<Run> {
  const perf = affinePerf({ ...sc.perf, blockSize: 16 });
  const recs: RequestRecord[] = [];
  const boundaries: BoundaryInfo[] = [];
  const eventTimes: number[] = [];
  const s = await simulate({
    requests: [sc.requests.map((r) => ({ ...r }))],
    replicas: Array.from({ length: sc.replicas }, () => perf),
    config: { ...sc.config, ...over },
    slo: SLO,
    seed: sc.seed,
    onRequest: (r) => recs.push({ ...r }),
    debug: {
      checkInvariants: true,
      onBoundary: (b) => boundaries.push(b),
      onEvent: (_k, t) => eventTimes.push(t),
    },
  });
  return { s, recs, boundaries, eventTimes };
}

const RUNS = { numRuns: 50, seed: 20240601 };

describe('invariants (docs/invariants.md), as properties', () => {
  it('1. every request ends in exactly one outcome', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const { recs, s } = await runScenario(sc);
        assert.equal(recs.length, sc.requests.length);
        assert.deepEqual(
          recs.map((r) => r.id).sort((a, b) => a - b),
          sc.requests.map((r) => r.id),
        );
        for (const r of recs) {
          assert.ok(['accepted', 'slo-miss', 'timeout', 'failed', 'rejected'].includes(r.outcome));
          assert.equal(r.sloMiss !== undefined, r.outcome === 'slo-miss');
        }
        const o = s.requests.byOutcome;
        assert.equal(o.accepted + o['slo-miss'] + o.timeout + o.failed + o.rejected, sc.requests.length);
      }),
      RUNS,
    );
  });

  it('2. request conservation at replica and cluster level, attempts counted once each', async () => {
    // The engine checks arrived = completed + queued + running + rejected + timed out + failed on
    // every replica and the cluster after every event (checkInvariants); here the end state.
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const { recs, s } = await runScenario(sc);
        const a = s.attempts;
        assert.equal(a.arrived, a.completed + a.rejected + a.timedOut + a.failed);
        assert.equal(
          a.arrived,
          recs.reduce((n, r) => n + r.attempts, 0),
        );
        assert.equal(a.retries, a.arrived - recs.length);
        assert.equal(a.completed, s.requests.byOutcome.accepted + s.requests.byOutcome['slo-miss']);
      }),
      RUNS,
    );
  });

  it('3. generated output tokens add up', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const { recs, s } = await runScenario(sc);
        const t = s.tokens;
        assert.equal(
          recs.reduce((n, r) => n + r.generatedTokens, 0),
          t.emitted,
        );
        assert.equal(t.outputGenerated, t.emitted);
        assert.equal(t.outputAccepted + t.outputSloMiss + t.outputWasted, t.outputGenerated);
        for (const r of recs) {
          const completed = r.outcome === 'accepted' || r.outcome === 'slo-miss';
          assert.equal(r.generatedTokens - r.wastedTokens, completed ? r.outputTokens : 0);
        }
        let decode = 0;
        for (const u of s.replicas) decode += u.decodeTokens;
        // every output token but a prefill's first comes from a decode step
        assert.ok(decode <= t.emitted);
      }),
      RUNS,
    );
  });

  it('4. causality: arrival ≤ admitted ≤ first scheduled ≤ first token ≤ completion', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const { recs } = await runScenario(sc);
        for (const r of recs) {
          assert.ok(r.arrivalS <= r.attemptArrivalS);
          if (r.outcome === 'accepted' || r.outcome === 'slo-miss') {
            assert.ok(r.attemptArrivalS <= r.admittedS);
            assert.ok(
              r.admittedS <= r.firstScheduledS,
              `admitted ${r.admittedS} > scheduled ${r.firstScheduledS}`,
            );
            assert.ok(r.firstScheduledS <= r.firstTokenS);
            assert.ok(r.firstTokenS <= r.endS);
            assert.ok(r.ttftS >= 0 && r.e2eS >= r.ttftS);
          } else if (r.outcome === 'timeout') {
            assert.equal(r.endS, r.attemptArrivalS + sc.config.timeoutS!);
          } else assert.equal(r.endS, r.attemptArrivalS);
        }
      }),
      RUNS,
    );
  });

  it('5. session causality: a turn never arrives before its previous turn ended plus its gap', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const { recs } = await runScenario(sc);
        const byId = new Map(recs.map((r) => [r.id, r]));
        const prevBySession = new Map<string, TraceRequest>();
        for (const q of sc.requests) {
          if (q.sessionId === undefined) continue;
          const prev = prevBySession.get(q.sessionId);
          prevBySession.set(q.sessionId, q);
          if (prev === undefined || q.dependsOnPrevious !== true) continue;
          const r = byId.get(q.id)!;
          const p = byId.get(prev.id)!;
          assert.ok(
            r.arrivalS >= p.endS + (q.gapS ?? 0),
            `turn ${q.turn} of ${q.sessionId} arrived ${r.arrivalS} < ${p.endS} + ${q.gapS}`,
          );
        }
      }),
      RUNS,
    );
  });

  it('6. the clock never goes back', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const { eventTimes, boundaries } = await runScenario(sc);
        for (let i = 1; i < eventTimes.length; i++) assert.ok(eventTimes[i]! >= eventTimes[i - 1]!);
        const last = new Map<number, number>();
        for (const b of boundaries) {
          assert.ok(b.timeS >= (last.get(b.replica) ?? 0));
          last.set(b.replica, b.timeS);
        }
      }),
      RUNS,
    );
  });

  it('7. KV: use never exceeds capacity; allocated + free = total after every step', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        for (const stepJumping of [true, false]) {
          const { boundaries, s } = await runScenario(sc, { stepJumping });
          for (const b of boundaries) {
            assert.equal(b.kvFree + b.kvPrivate + b.kvCachedReferenced + b.kvCachedIdle, b.kvTotal);
            assert.ok(b.kvFree >= 0 && b.kvPrivate >= 0 && b.kvCachedReferenced >= 0 && b.kvCachedIdle >= 0);
          }
          for (const r of s.replicas)
            assert.ok(Number.isNaN(r.kvOccupancyPermille.max) || r.kvOccupancyPermille.max <= 1000);
        }
      }),
      { ...RUNS, numRuns: 30 },
    );
  });

  it('8. determinism: the same inputs and seed give byte-identical output', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const a = await runScenario(sc);
        const b = await runScenario(sc);
        assert.equal(toJson(a.s), toJson(b.s));
        assert.equal(toJson(a.recs), toJson(b.recs));
      }),
      { ...RUNS, numRuns: 30 },
    );
  });

  it('10. step jumping gives the same per-request results as step-by-step simulation', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const jump = await runScenario(sc, { stepJumping: true });
        const step = await runScenario(sc, { stepJumping: false });
        const sorted = (x: RequestRecord[]): RequestRecord[] => [...x].sort((p, q) => p.id - q.id);
        assert.equal(toJson(sorted(jump.recs)), toJson(sorted(step.recs)));
        assert.equal(jump.s.loop.steps, step.s.loop.steps);
        assert.deepEqual(jump.s.tokens, step.s.tokens);
        assert.equal(jump.s.preemptions, step.s.preemptions);
        assert.equal(jump.s.prefixCache.hitTokens, step.s.prefixCache.hitTokens);
        assert.ok(jump.s.loop.stepEnds <= step.s.loop.stepEnds);
      }),
      { ...RUNS, numRuns: 120 },
    );
  });
});
