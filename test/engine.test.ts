import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  affinePerf,
  policyNames,
  registerRouter,
  resolveEngineConfig,
  simulate,
  type EngineConfigInput,
  type SimulationSummary,
} from '../src/engine/index.js';
import { keysFromTraceHashes } from '../src/engine/hashing.js';
import type { RequestRecord, SloSpec } from '../src/metrics/types.js';
import type { ReplicaPerf, StepBatch } from '../src/perf/types.js';
import { InputError } from '../src/util/errors.js';
import type { TraceRequest } from '../src/workload/types.js';

const NO_SLO: SloSpec = { attainment: 0.99 };

function req(
  id: number,
  arrivalS: number,
  promptTokens: number,
  outputTokens: number,
  extra: Partial<TraceRequest> = {},
): TraceRequest {
  return { id, arrivalS, promptTokens, outputTokens, ...extra };
}

async function run(
  requests: TraceRequest[],
  opts: {
    perf?: ReplicaPerf;
    replicas?: number;
    config?: EngineConfigInput;
    slo?: SloSpec;
    seed?: number;
  } = {},
): Promise<{ s: SimulationSummary; recs: RequestRecord[] }> {
  const perf =
    opts.perf ?? affinePerf({ baseS: 0.005, perTokenS: 1e-4, perContextTokenS: 1e-6, kvTokens: 100_000 });
  const recs: RequestRecord[] = [];
  const s = await simulate({
    requests: [requests],
    replicas: Array.from({ length: opts.replicas ?? 1 }, () => perf),
    config: opts.config ?? {},
    slo: opts.slo ?? NO_SLO,
    seed: opts.seed ?? 1,
    onRequest: (r) => recs.push(r),
    debug: { checkInvariants: true },
  });
  recs.sort((a, b) => a.id - b.id);
  return { s, recs };
}

describe('engine: a lone request', () => {
  // One replica, no contention: E2E is the prefill step plus (n − 1) decode steps (the prefill
  // step emits the first token, as in vLLM), each decode step timed with its own context.
  for (const jump of [true, false]) {
    it(`E2E = prefill step + Σ decode steps, exactly (stepJumping ${jump})`, async () => {
      const base = 0.004;
      const perToken = 7e-5;
      const perCtx = 3e-7;
      const perf = affinePerf({
        baseS: base,
        perTokenS: perToken,
        perContextTokenS: perCtx,
        kvTokens: 50_000,
      });
      const P = 1000;
      const n = 300;
      const arrival = 1.25;
      const { s, recs } = await run([req(0, arrival, P, n)], { perf, config: { stepJumping: jump } });
      const r = recs[0]!;
      let t = arrival;
      t += perf.stepTimeS({
        decodeSeqs: 0,
        decodeContextTokens: 0,
        prefillSeqs: 1,
        prefillTokens: P,
        prefillContextTokens: 0,
        prefillAttnPairs: (P * (P + 1)) / 2,
      });
      const first = t;
      for (let j = 1; j < n; j++)
        t += perf.stepTimeS({
          decodeSeqs: 1,
          decodeContextTokens: P + j - 1,
          prefillSeqs: 0,
          prefillTokens: 0,
          prefillContextTokens: 0,
          prefillAttnPairs: 0,
        });
      assert.equal(r.outcome, 'accepted');
      assert.equal(r.firstTokenS, first);
      assert.equal(r.endS, t);
      assert.equal(r.e2eS, t - arrival);
      assert.equal(r.ttftS, first - arrival);
      assert.equal(r.queueDelayS, 0);
      assert.equal(r.tpotS, (t - first) / (n - 1));
      assert.equal(s.loop.steps, n);
      if (jump)
        assert.ok(
          s.loop.stepEnds <= 3,
          `expected the decode run in one jump, got ${s.loop.stepEnds} step events`,
        );
      else assert.equal(s.loop.stepEnds, n);
    });
  }

  it('a prompt longer than the token budget is prefilled in chunks', async () => {
    const perf = affinePerf({ baseS: 0.01, perTokenS: 1e-4, kvTokens: 50_000 });
    const { recs, s } = await run([req(0, 0, 2500, 2)], {
      perf,
      config: { maxNumBatchedTokens: 1024, maxNumSeqs: 8 },
    });
    // chunks 1024 + 1024 + 452, then one decode step
    assert.equal(s.loop.steps, 4);
    assert.equal(recs[0]!.firstTokenS, 3 * 0.01 + 2500 * 1e-4);
  });

  it('0 output tokens: done when the prompt is prefilled (TTFT = E2E, no TPOT)', async () => {
    const { recs } = await run([req(0, 0, 300, 0)]);
    const r = recs[0]!;
    assert.equal(r.outcome, 'accepted');
    assert.equal(r.ttftS, r.e2eS);
    assert.ok(Number.isNaN(r.tpotS));
    assert.equal(r.generatedTokens, 0);
  });
});

describe('engine: batching and KV', () => {
  it('continuous batching: a request arriving mid-decode joins the running batch', async () => {
    const { recs, s } = await run([req(0, 0, 100, 200), req(1, 0.05, 100, 10)]);
    assert.ok(recs[1]!.endS < recs[0]!.endS, 'the short request finishes first');
    assert.equal(s.utilization.batchSize.max, 2);
  });

  it('max_num_seqs caps the running batch', async () => {
    const reqs = Array.from({ length: 10 }, (_, i) => req(i, 0, 50, 20));
    const { s } = await run(reqs, { config: { maxNumSeqs: 3, maxNumBatchedTokens: 512 } });
    assert.equal(s.utilization.batchSize.max, 3);
    assert.equal(s.requests.byOutcome.accepted, 10);
  });

  it('preempts by recompute when KV blocks run out, and every request still completes', async () => {
    const perf = affinePerf({ baseS: 0.001, perTokenS: 1e-5, kvTokens: 16 * 40 });
    const reqs = Array.from({ length: 6 }, (_, i) => req(i, 0, 100, 150));
    const { s, recs } = await run(reqs, { perf, config: { maxNumSeqs: 8, maxNumBatchedTokens: 2048 } });
    assert.ok(s.preemptions > 0, 'expected preemptions');
    assert.equal(s.requests.byOutcome.accepted, 6);
    assert.ok(recs.some((r) => r.preemptions > 0));
    // recompute: prompts (and generated tokens) are prefilled again
    assert.ok(s.tokens.prefillComputed > s.tokens.prompt);
    assert.equal(s.tokens.emitted, 6 * 150);
  });

  it('a request that can never fit in the KV pool fails at once', async () => {
    const perf = affinePerf({ baseS: 0.001, kvTokens: 1000 });
    const { recs, s } = await run([req(0, 0, 2000, 10), req(1, 0, 100, 10)], { perf });
    assert.equal(recs[0]!.outcome, 'failed');
    assert.equal(recs[1]!.outcome, 'accepted');
    assert.ok(s.notes.some((n) => n.includes('does not fit')));
  });

  it('prefill-first runs whole prompts alone before decoding; chunked mixes them', async () => {
    const reqs = [req(0, 0, 100, 50), req(1, 0.02, 4000, 5)];
    const pf = await run(reqs, { config: { batchPolicy: 'prefill-first', maxNumBatchedTokens: 2048 } });
    const ch = await run(reqs, { config: { batchPolicy: 'chunked-prefill', maxNumBatchedTokens: 2048 } });
    assert.equal(pf.s.requests.byOutcome.accepted, 2);
    // prefill-first stalls request 0's decodes for one 4000-token step: a larger max gap
    assert.ok(pf.recs[0]!.maxItlS > ch.recs[0]!.maxItlS);
  });
});

describe('engine: prefix cache', () => {
  const shared = (id: number, arrivalS: number, P: number, n: number): TraceRequest =>
    req(id, arrivalS, P, n, {
      hashIds: Array.from({ length: Math.ceil(P / 16) }, (_, i) => 7000 + i),
      blockSize: 16,
    });

  it('a repeated prompt hits the cache and skips prefill compute', async () => {
    const { recs, s } = await run([shared(0, 0, 1600, 5), shared(1, 10, 1600, 5)]);
    assert.equal(recs[0]!.cachedPromptTokens, 0);
    // at most floor((P − 1) / block) blocks hit: one token is always computed
    assert.equal(recs[1]!.cachedPromptTokens, 1584);
    assert.ok(recs[1]!.ttftS < recs[0]!.ttftS);
    assert.equal(s.tokens.prefillComputed, 1600 + 16);
    assert.equal(s.prefixCache.hitTokens, 1584);
    assert.ok(s.prefixCache.hitRate > 0.49);
  });

  it('re-blocks trace hashes of another block size (and says so)', async () => {
    const r64 = (id: number, t: number): TraceRequest =>
      req(id, t, 640, 3, { hashIds: Array.from({ length: 10 }, (_, i) => 500 + i), blockSize: 64 });
    const { recs, s } = await run([r64(0, 0), r64(1, 5)]);
    assert.equal(recs[1]!.cachedPromptTokens, 624);
    assert.equal(s.prefixCache.reblockedRequests, 2);
    assert.ok(s.notes.some((n) => n.includes('re-blocked')));
    // engine block j's key comes from the trace block holding its last token
    const k = keysFromTraceHashes([1, 2], 64, 128, 16);
    assert.equal(k.length, 8);
    assert.equal(new Set(k).size, 8);
    const partial = keysFromTraceHashes([1], 64, 128, 16);
    assert.equal(partial.length, 4, 'stops where the hash ids end');
  });

  it('derives keys for session turns without hashes: each turn extends the previous one', async () => {
    const turns = [
      req(0, 0, 1000, 100, { sessionId: 'a', turn: 0 }),
      req(1, 1, 1200, 50, { sessionId: 'a', turn: 1, dependsOnPrevious: true, gapS: 2 }),
    ];
    const { recs, s } = await run(turns);
    // turn 0's prompt + answer (1,100 tokens) are cached: 68 full blocks of 16
    assert.equal(recs[1]!.cachedPromptTokens, 68 * 16);
    assert.equal(s.prefixCache.derivedSessionRequests, 2);
  });

  it('evicts unreferenced cached blocks, least recently used first', async () => {
    // KV holds 100 blocks. A and B (40 blocks each) stay cached after they finish; C (60 blocks)
    // evicts all of A (the least recently used; a prefix's tail goes first); A then misses and its
    // recompute evicts B, while C still hits.
    const perf = affinePerf({ baseS: 0.001, perTokenS: 1e-5, kvTokens: 1600 });
    const p = (id: number, t: number, group: number, blocks = 40): TraceRequest =>
      req(id, t, blocks * 16, 1, {
        hashIds: Array.from({ length: blocks }, (_, i) => group * 100 + i),
        blockSize: 16,
      });
    const { recs, s } = await run([p(0, 0, 1), p(1, 1, 2), p(2, 2, 3, 60), p(3, 3, 1), p(4, 4, 3, 60)], {
      perf,
      config: { watermark: 0 },
    });
    assert.equal(recs[3]!.cachedPromptTokens, 0, 'A was evicted');
    assert.ok(recs[4]!.cachedPromptTokens > 0, 'C is still cached');
    assert.ok(s.prefixCache.evictedBlocks > 0);
  });

  it('caching off: no hits', async () => {
    const { s } = await run([shared(0, 0, 800, 2), shared(1, 5, 800, 2)], {
      config: { prefixCaching: false },
    });
    assert.equal(s.prefixCache.hitTokens, 0);
  });

  it("trusts a source's cached-token count when there are no hashes", async () => {
    const { recs } = await run([req(0, 0, 1000, 2, { cachedPromptTokens: 600 })]);
    assert.equal(recs[0]!.cachedPromptTokens, 592);
  });
});

describe('engine: cluster', () => {
  const burst = (n: number, P = 200, out = 50): TraceRequest[] =>
    Array.from({ length: n }, (_, i) => req(i, i * 0.001, P, out));

  it('round-robin sends request i to replica i mod N', async () => {
    const { recs } = await run(burst(9), { replicas: 3, config: { router: 'round-robin' } });
    assert.deepEqual(
      recs.map((r) => r.replica),
      [0, 1, 2, 0, 1, 2, 0, 1, 2],
    );
  });

  it('least-outstanding spreads a burst evenly', async () => {
    const { s } = await run(burst(12), { replicas: 4, config: { router: 'least-outstanding' } });
    for (const r of s.replicas) assert.equal(r.decodeTokens + 0 > 0, true);
    const counts = s.replicas.map((r) => r.prefillTokens / 200);
    assert.deepEqual(counts, [3, 3, 3, 3]);
  });

  it('least-kv picks the replica with the least KV in use', async () => {
    const reqs = [req(0, 0, 4000, 200), req(1, 0.5, 100, 10), req(2, 0.6, 100, 10)];
    const { recs } = await run(reqs, { replicas: 2, config: { router: 'least-kv' } });
    assert.equal(recs[0]!.replica, 0);
    assert.equal(recs[1]!.replica, 1);
    assert.equal(recs[2]!.replica, 1);
  });

  it('prefix-affinity sends a request to the replica holding its prefix, within the load cap', async () => {
    const withPrefix = (id: number, t: number, group: number): TraceRequest =>
      req(id, t, 800, 20, { hashIds: Array.from({ length: 50 }, (_, i) => group * 1000 + i), blockSize: 16 });
    const reqs = [
      withPrefix(0, 0, 1),
      withPrefix(1, 0.001, 2),
      withPrefix(2, 5, 2),
      withPrefix(3, 6, 1),
      withPrefix(4, 7, 2),
    ];
    const { recs } = await run(reqs, { replicas: 2, config: { router: 'prefix-affinity' } });
    assert.equal(recs[2]!.replica, recs[1]!.replica);
    assert.equal(recs[3]!.replica, recs[0]!.replica);
    assert.equal(recs[4]!.replica, recs[1]!.replica);
    assert.ok(recs[2]!.cachedPromptTokens > 0 && recs[3]!.cachedPromptTokens > 0);
  });

  it('admission with a queue limit rejects arrivals beyond it', async () => {
    const { s, recs } = await run(burst(20), {
      config: { admission: 'queue-limit', queueLimit: 2, maxNumSeqs: 2, maxNumBatchedTokens: 512 },
    });
    assert.ok(s.requests.byOutcome.rejected > 0);
    for (const r of recs.filter((x) => x.outcome === 'rejected')) {
      assert.equal(r.generatedTokens, 0);
      assert.ok(Number.isNaN(r.admittedS));
    }
  });

  it('client timeouts: the request fails at its deadline and its tokens are waste', async () => {
    const reqs = Array.from({ length: 8 }, (_, i) => req(i, 0, 100, 400));
    const { s, recs } = await run(reqs, { config: { timeoutS: 1, maxNumSeqs: 2, maxNumBatchedTokens: 512 } });
    const timedOut = recs.filter((r) => r.outcome === 'timeout');
    assert.ok(timedOut.length > 0);
    for (const r of timedOut) {
      assert.equal(r.endS, r.arrivalS + 1);
      assert.equal(r.wastedTokens, r.generatedTokens);
    }
    assert.ok(s.tokens.outputWasted > 0);
    assert.equal(
      s.tokens.outputAccepted + s.tokens.outputSloMiss + s.tokens.outputWasted,
      s.tokens.outputGenerated,
    );
  });

  it('retries with backoff: every attempt counts, retry tokens are never accepted', async () => {
    const reqs = Array.from({ length: 6 }, (_, i) => req(i, 0, 100, 300));
    const { s, recs } = await run(reqs, {
      config: {
        timeoutS: 0.5,
        maxNumSeqs: 2,
        maxNumBatchedTokens: 512,
        retry: { maxAttempts: 3, backoffS: 0.2, jitter: 0 },
      },
    });
    assert.equal(
      s.attempts.arrived,
      recs.reduce((n, r) => n + r.attempts, 0),
    );
    assert.equal(s.attempts.retries, s.attempts.arrived - recs.length);
    assert.ok(s.attempts.retries > 0);
    for (const r of recs) {
      if (r.attempts > 1) assert.ok(r.attemptArrivalS >= r.arrivalS + 0.5 + 0.2);
      if (r.outcome === 'accepted') assert.equal(r.generatedTokens - r.wastedTokens, r.outputTokens);
    }
    assert.equal(
      s.tokens.outputAccepted,
      recs.filter((r) => r.outcome === 'accepted').reduce((n, r) => n + r.outputTokens, 0),
    );
  });

  it('closed-loop sessions: a slow replica stretches the session', async () => {
    const turns = (perTokenS: number): Promise<{ recs: RequestRecord[] }> =>
      run(
        [0, 1, 2].map((k) =>
          req(k, k * 3, 200 + 100 * k, 100, { sessionId: 's', turn: k, dependsOnPrevious: k > 0, gapS: 1 }),
        ),
        { perf: affinePerf({ baseS: 0.01, perTokenS, kvTokens: 50_000 }) },
      );
    const fast = await turns(1e-5);
    const slow = await turns(1e-3);
    for (const { recs } of [fast, slow])
      for (let k = 1; k < 3; k++) assert.equal(recs[k]!.arrivalS, recs[k - 1]!.endS + 1);
    assert.ok(slow.recs[2]!.endS > fast.recs[2]!.endS + 0.1);
  });

  it('SLO: slo-miss names the limit broken; attainment and goodput count accepted requests only', async () => {
    const reqs = [req(0, 0, 100, 10), req(1, 0.1, 20000, 10)];
    const { s, recs } = await run(reqs, {
      slo: { ttftS: 0.5, attainment: 0.9, percentiles: [{ metric: 'ttft', percentile: 50, limitS: 1 }] },
    });
    assert.equal(recs[0]!.outcome, 'accepted');
    assert.equal(recs[1]!.outcome, 'slo-miss');
    assert.equal(recs[1]!.sloMiss, 'ttft');
    assert.equal(s.slo.attainment, 0.5);
    assert.equal(s.slo.met, false);
    assert.equal(s.goodputTokPerS, 10 / s.durationS);
  });
});

describe('engine: API', () => {
  it('streams requests from an async iterable and takes a replica factory', async () => {
    async function* gen(): AsyncGenerator<TraceRequest[]> {
      await Promise.resolve();
      for (let b = 0; b < 5; b++)
        yield Array.from({ length: 10 }, (_, i) => req(b * 10 + i, b + i * 0.01, 100, 10));
    }
    const perf = affinePerf({ baseS: 0.002, perTokenS: 1e-5, kvTokens: 10_000 });
    const progress: number[] = [];
    const s = await simulate({
      requests: gen(),
      replicas: () => perf,
      config: { replicas: 2 },
      slo: NO_SLO,
      seed: 3,
      onProgress: (t) => progress.push(t),
    });
    assert.equal(s.requests.total, 50);
    assert.equal(s.replicaCount, 2);
    assert.ok(progress.length >= 1);
  });

  it('rejects out-of-order arrivals and bad config with clear errors', async () => {
    await assert.rejects(
      run([req(0, 5, 10, 1), req(1, 1, 10, 1)]),
      (e: unknown) => e instanceof InputError && /nondecreasing/.test(e.message),
    );
    assert.throws(
      () => resolveEngineConfig({ maxNumSeqs: 512, maxNumBatchedTokens: 256 }),
      /maxNumBatchedTokens/,
    );
    await assert.rejects(
      run([req(0, 0, 10, 1)], { config: { router: 'nope' } }),
      /unknown router "nope"; expected one of/,
    );
  });

  it('policies are chosen by name from registries, and new ones can be registered', async () => {
    const names = policyNames();
    assert.deepEqual(names.batch, ['chunked-prefill', 'prefill-first', 'inflight-batching']);
    assert.ok(names.router.includes('prefix-affinity'));
    registerRouter('always-last', () => ({
      name: 'always-last',
      readsKvState: false,
      route: (_r, cluster) => cluster.replicas.length - 1,
    }));
    const { recs } = await run([req(0, 0, 10, 2), req(1, 0, 10, 2)], {
      replicas: 3,
      config: { router: 'always-last' },
    });
    assert.deepEqual(
      recs.map((r) => r.replica),
      [2, 2],
    );
    assert.throws(
      () =>
        registerRouter('always-last', () => {
          throw new Error('unused');
        }),
      /already registered/,
    );
  });

  it('prefill vs decode busy time: mixed steps are split by the model’s own part times', async () => {
    const calls: StepBatch[] = [];
    const inner = affinePerf({ baseS: 0.01, perTokenS: 1e-4, kvTokens: 50_000 });
    const perf: ReplicaPerf = { ...inner, stepTimeS: (b) => (calls.push({ ...b }), inner.stepTimeS(b)) };
    const { s } = await run([req(0, 0, 100, 50), req(1, 0.02, 1000, 5)], { perf });
    const u = s.utilization;
    assert.ok(Math.abs(u.prefillBusyS + u.decodeBusyS - u.busyS) < 1e-12);
    assert.ok(u.prefillBusyS > 0 && u.decodeBusyS > 0);
    assert.ok(
      calls.some((b) => b.prefillSeqs > 0 && b.decodeSeqs === 0 && b.prefillTokens === 1000),
      'prefill part timed alone',
    );
  });
});
