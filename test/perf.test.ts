import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import fc from 'fast-check';
import { loadCatalog } from '../src/catalog/load.js';
import {
  DEFAULT_PROFILE,
  buildReplicaPerf,
  causalPairs,
  emptyStep,
  loadProfiles,
  maxSequencesAt,
  memoryPlan,
  replicaSpec,
  ReplicaModel,
  type StepBatch,
  type StepBreakdown,
} from '../src/perf/index.js';
import { InputError } from '../src/util/errors.js';
import { reservedContextTokens, runningContextTokens, type StackLimits } from '../src/perf/steady.js';

const catalog = await loadCatalog();
const profiles = await loadProfiles();
const H200 = catalog.accelerator('H200');
const H100 = catalog.accelerator('H100_SXM');

function decode(batch: number, context: number): StepBatch {
  const s = emptyStep();
  s.decodeSeqs = batch;
  s.decodeContextTokens = batch * context;
  return s;
}
function prefill(tokens: number): StepBatch {
  const s = emptyStep();
  s.prefillSeqs = 1;
  s.prefillTokens = tokens;
  s.prefillAttnPairs = causalPairs(tokens, 0);
  return s;
}
function comp(b: StepBreakdown, prefix: string): { flops: number; bytes: number; seconds: number } {
  const cs = b.components.filter((c) => c.name.startsWith(prefix));
  assert.ok(cs.length > 0, `no component ${prefix}`);
  return cs.reduce(
    (a, c) => ({ flops: a.flops + c.flops, bytes: a.bytes + c.bytes, seconds: a.seconds + c.seconds }),
    { flops: 0, bytes: 0, seconds: 0 },
  );
}
const replica = (
  modelKey: string,
  tp = 1,
  acc = H200,
  extra: Partial<Parameters<typeof replicaSpec>[0]> = {},
): ReplicaModel =>
  new ReplicaModel(
    replicaSpec({ model: catalog.model(modelKey), accelerator: acc, stack: 'vllm', tp, ...extra }),
    DEFAULT_PROFILE,
  );

test('Llama-3.1-8B: linear-layer FLOPs and weight bytes per layer match the hand calculation', () => {
  // per layer, tp=1: qkv W[6144,4096] (32 q + 2·8 kv heads × 128), o W[4096,4096],
  // gate_up W[28672,4096] (2 × 14336), down W[4096,14336] → 218,103,808 weights per layer.
  // At T tokens: FLOPs = 2 · T · 218,103,808; bf16 weight bytes = 2 · 218,103,808 = 436,207,616.
  const b = replica('llama-3.1-8b').breakdown(decode(1, 1));
  const per = (name: string): number => comp(b, name).flops / 32 / 2; // weights touched per layer (T=1)
  assert.equal(per('attn qkv'), 6144 * 4096);
  assert.equal(per('attn o'), 4096 * 4096);
  assert.equal(per('ffn gate_up'), 28672 * 4096);
  assert.equal(per('ffn down'), 4096 * 14336);
  // bytes = weights·2 + activations (m·k + m·n)·2 with m = 1
  assert.equal(comp(b, 'attn qkv').bytes / 32, 6144 * 4096 * 2 + (4096 + 6144) * 2);
  assert.equal(comp(b, 'lm_head').flops, 2 * 128256 * 4096);
  // decode attention at context 1: reads 2 (K,V) × 8 heads × 128 × 2 B = 4,096 B per layer
  assert.equal(comp(b, 'decode attention').bytes, 32 * 4096);
});

test('Llama-3.1-70B at tp=4: sharded shapes, KV bytes per token 327,680, ring all-reduce by hand', () => {
  const r = replica('llama-3.1-70b', 4, H100, { weights: 'fp8', kv: 'fp8' });
  const T = 64;
  const b = r.breakdown(decode(T, 1024));
  // qkv per chip: (64/4 q + 2·(8/4) kv) heads × 128 = 2560 outputs × 8192 inputs
  assert.equal(comp(b, 'attn qkv').flops, 80 * 2 * T * 2560 * 8192);
  assert.equal(comp(b, 'ffn down').flops, 80 * 2 * T * 8192 * (28672 / 4));
  // bf16 KV for the whole replica: 80 layers × 8 KV heads × 128 × 2 × 2 B (tp=2: 4 heads on each chip)
  const p1 = memoryPlan(
    replicaSpec({ model: catalog.model('llama-3.1-70b'), accelerator: H200, stack: null, tp: 2 }),
  );
  assert.equal(p1.kvBytesPerToken, 327_680);
  // fp8 KV halves it; split over 4 chips
  assert.equal(r.plan.kvBytesPerTokenPerChip, 327_680 / 2 / 4);
  // ring all-reduce: 2 per layer of T·8192·2 B, each latency + 2(tp−1)/tp · bytes / (900/2 GB/s)
  const bytes = T * 8192 * 2;
  const expected = 2 * 80 * (DEFAULT_PROFILE.allReduceLatencyS + ((2 * 3) / 4) * (bytes / 450e9));
  assert.ok(Math.abs(comp(b, 'tp all-reduce').seconds - expected) < 1e-12);
});

test('Mixtral-8x7B: experts touched by k-of-E routing, FLOPs of top-2 only', () => {
  const r = replica('mixtral-8x7b', 2);
  // one token touches exactly 2 of 8 experts: 8·(1 − (6/8)^1) = 2
  const b1 = r.breakdown(decode(1, 100));
  assert.ok(b1.components.some((c) => c.name.startsWith('experts gate_up (2.0 of 8 touched)')));
  // FLOPs per layer at T tokens: T · 2 experts · 2 · 3 · 4096 · 14336 / tp
  const T = 32;
  const b = r.breakdown(decode(T, 100));
  const experts = comp(b, 'experts gate_up').flops + comp(b, 'experts down').flops;
  const expected = 32 * T * 2 * 2 * 3 * 4096 * (14336 / 2);
  assert.ok(Math.abs(experts - expected) / expected < 1e-12, `${experts} vs ${expected}`);
  // at 32 tokens nearly all experts are touched: 8·(1 − 0.75^32) = 7.9992…
  assert.ok(b.components.some((c) => c.name.includes('(8.0 of 8 touched)')));
});

test('DeepSeek-V3: MLA latent KV far smaller than GQA; routed + shared expert FLOPs by hand', () => {
  const m = catalog.model('deepseek-v3');
  const B200 = catalog.accelerator('B200');
  const r = new ReplicaModel(
    replicaSpec({ model: m, accelerator: B200, stack: 'trtllm', tp: 8, weights: 'fp8', kv: 'fp8' }),
    DEFAULT_PROFILE,
  );
  // 61 layers × (512 latent + 64 rope) × 1 B (fp8), replicated on each TP rank
  assert.equal(r.plan.kvBytesPerTokenPerChip, 61 * 576);
  assert.ok(r.plan.kvBytesPerTokenPerChip * 2 < 327_680 / 4, 'MLA per token is far below a 70B GQA model');
  const b = r.breakdown(decode(1, 10));
  // 58 MoE layers; one token → 8 routed experts of 3·7168·2048 weights, sharded over 8
  assert.equal(
    comp(b, 'experts gate_up').flops + comp(b, 'experts down').flops,
    58 * 8 * 2 * 3 * 7168 * (2048 / 8),
  );
  assert.equal(comp(b, 'shared experts').flops, 58 * 2 * 3 * 7168 * (2048 / 8));
  assert.equal(comp(b, 'ffn').flops, 3 * 2 * 3 * 7168 * (18432 / 8));
});

test('a model that does not fit says what needed how much and what was available', () => {
  assert.throws(
    () => replica('llama-3.1-405b', 1, H100),
    (err: unknown) =>
      err instanceof InputError &&
      /Llama 3\.1 405B \(bf16 weights\) does not fit on NVIDIA H100 SXM5 80GB at tp=1/.test(err.message) &&
      /weights need 81\d\.\d GB/.test(err.message) &&
      /72\.0 GB usable \(80 GB × 0\.9/.test(err.message) &&
      /at least \d+ chips/.test(err.message),
  );
  // and fits at tp=8 in fp8
  assert.ok(replica('llama-3.1-405b', 8, H100, { weights: 'fp8', kv: 'fp8' }).kv.tokens > 0);
});

test('KV capacity in tokens and blocks; most sequences at a context', () => {
  const r = replica('llama-3.1-8b');
  const p = r.plan;
  assert.equal(p.kvCapacityBlocks, Math.floor(p.kvCapacityTokens / 16));
  assert.equal(p.kvCapacityTokens, Math.floor(p.kvBytesPerChip / 131_072));
  assert.equal(maxSequencesAt(p, 2048), Math.floor(p.kvCapacityBlocks / 128));
  assert.equal(maxSequencesAt(p, 2049), Math.floor(p.kvCapacityBlocks / 129));
});

test('the hot path equals the breakdown total, and time grows with tokens and context (property)', () => {
  const r = replica('llama-3.1-70b', 2, H200, { weights: 'fp8' });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 256 }),
      fc.integer({ min: 1, max: 8192 }),
      fc.integer({ min: 0, max: 4096 }),
      (seqs, ctx, pre) => {
        const s = decode(seqs, ctx);
        if (pre > 0) {
          s.prefillSeqs = 1;
          s.prefillTokens = pre;
          s.prefillAttnPairs = causalPairs(pre, 100);
          s.prefillContextTokens = 100;
        }
        const fast = r.stepTimeS(s);
        const slow = r.breakdown(s).seconds;
        assert.ok(Math.abs(fast - slow) <= 1e-12 * Math.max(1, slow), `${fast} vs ${slow}`);
        if (seqs > 0) {
          assert.ok(r.stepTimeS(decode(seqs, ctx + 512)) >= r.stepTimeS(decode(seqs, ctx)));
          assert.ok(r.stepTimeS(decode(seqs + 1, ctx)) >= r.stepTimeS(decode(seqs, ctx)));
        }
      },
    ),
  );
  assert.equal(r.stepTimeS(emptyStep()), 0);
});

/** Measured seconds from the H200 table, log-log interpolated along m (or context) for the test. */
const table = JSON.parse(readFileSync('calibration/h200-microbench.json', 'utf8')) as {
  gemm_bf16: { rows: { model: string; layer: string; m: number; seconds: number }[] };
  attention_decode: { rows: { batch: number; context: number; seconds: number }[] };
  attention_prefill: { rows: { length: number; seconds: number }[] };
};
function interp(points: [number, number][], x: number): number {
  const pts = [...points].sort((a, b) => a[0] - b[0]);
  const exact = pts.find((p) => p[0] === x);
  if (exact) return exact[1];
  const hi = pts.findIndex((p) => p[0] > x);
  const a = pts[hi - 1]!;
  const b = pts[hi]!;
  const t = Math.log(x / a[0]) / Math.log(b[0] / a[0]);
  return Math.exp(Math.log(a[1]) + t * (Math.log(b[1]) - Math.log(a[1])));
}
const gemmS = (layer: string, m: number): number =>
  interp(
    table.gemm_bf16.rows
      .filter((r) => r.model === 'llama-3.1-8b' && r.layer === layer)
      .map((r) => [r.m, r.seconds]),
    m,
  );

test('Llama-3.1-8B bf16 on H200 (measured calibration) agrees with the sum of the measured parts within 20 %', () => {
  const { replica: r, choice } = buildReplicaPerf(
    { model: catalog.model('llama-3.1-8b'), accelerator: H200, stack: 'vllm' },
    profiles,
  );
  assert.equal(choice.kernelSource, 'measured');
  const kernels = (b: StepBreakdown): number =>
    b.components.filter((c) => c.bound !== 'host').reduce((s, c) => s + c.seconds, 0);
  for (const batch of [1, 128]) {
    const attn = interp(
      table.attention_decode.rows.filter((x) => x.batch === batch).map((x) => [x.context, x.seconds]),
      2048,
    );
    const measured =
      32 * (gemmS('qkv', batch) + gemmS('o', batch) + gemmS('gate_up', batch) + gemmS('down', batch) + attn) +
      gemmS('lm_head', batch);
    const predicted = kernels(r.breakdown(decode(batch, 2048)));
    const err = (predicted - measured) / measured;
    assert.ok(
      Math.abs(err) < 0.2,
      `decode batch ${batch}: predicted ${predicted}, measured parts ${measured} (${(100 * err).toFixed(1)} %)`,
    );
  }
  const attnP = interp(
    table.attention_prefill.rows.map((x) => [x.length, x.seconds]),
    8192,
  );
  const measuredP =
    32 * (gemmS('qkv', 8192) + gemmS('o', 8192) + gemmS('gate_up', 8192) + gemmS('down', 8192) + attnP) +
    gemmS('lm_head', 1);
  const predictedP = kernels(r.breakdown(prefill(8192)));
  const errP = (predictedP - measuredP) / measuredP;
  assert.ok(
    Math.abs(errP) < 0.2,
    `prefill 8192: predicted ${predictedP}, measured parts ${measuredP} (${(100 * errP).toFixed(1)} %)`,
  );
});

test('calibration on half the H200 table predicts the other half within 10 % median error', async () => {
  const { calibrateFromMeasurements, measurements, microbenchSchema } = await import('../src/perf/index.js');
  const t = microbenchSchema.parse(JSON.parse(readFileSync('calibration/h200-microbench.json', 'utf8')));
  const cal = calibrateFromMeasurements(measurements(t), H200);
  assert.ok(cal.heldOut.n > 60);
  assert.ok(cal.heldOut.medianAbsErrorPct < 10, `held-out median |error| ${cal.heldOut.medianAbsErrorPct}`);
  assert.ok(cal.heldOut.byKind.gemm!.medianAbsErrorPct < 10);
  assert.ok(cal.heldOut.byKind['attn-decode']!.medianAbsErrorPct < 10);
});

test('bad microbenchmark tables and profile files are rejected with the file and the field path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-perf-bad-'));
  const notJson = join(dir, 'broken.json');
  writeFileSync(notJson, '{ "meta": ');
  const r1 = runCli(['calibrate', '--table', notJson, '--hardware', 'H200']);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /broken\.json: cannot read as JSON/);
  const badRow = join(dir, 'badrow.json');
  writeFileSync(
    badRow,
    JSON.stringify({ meta: { device: 'x' }, gemm_bf16: { rows: [{ m: 1, n: 8, k: 8, seconds: -1 }] } }),
  );
  const r2 = runCli(['calibrate', '--table', badRow, '--hardware', 'H200']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /badrow\.json: gemm_bf16\.rows\.0\.seconds: /);
  const profDir = join(dir, 'profiles');
  mkdirSync(profDir);
  writeFileSync(join(profDir, 'x.json'), JSON.stringify({ ...DEFAULT_PROFILE, smoothP: 'three' }));
  await assert.rejects(
    loadProfiles([profDir]),
    (e: unknown) => e instanceof InputError && /x\.json: /.test(e.message),
  );
});

test('per-sequence host overhead: adds seqOverheadS × sequences to the step, in hot path and breakdown', () => {
  const profile = { ...DEFAULT_PROFILE, seqOverheadS: 5e-6 };
  const spec = replicaSpec({ model: catalog.model('llama-3.1-8b'), accelerator: H200, stack: 'vllm' });
  const base = new ReplicaModel(spec, DEFAULT_PROFILE);
  const withSeq = new ReplicaModel(spec, profile);
  const s = decode(100, 1000);
  s.prefillSeqs = 2;
  s.prefillTokens = 300;
  s.prefillAttnPairs = causalPairs(300, 0);
  // 102 sequences in the step × 5 µs = 0.51 ms more than without the term
  assert.ok(Math.abs(withSeq.stepTimeS(s) - base.stepTimeS(s) - 102 * 5e-6) < 1e-12);
  const host = withSeq.breakdown(s).components.find((c) => c.name === 'host / scheduler overhead');
  assert.ok(
    host !== undefined && Math.abs(host.seconds - (DEFAULT_PROFILE.stepOverheadS + 102 * 5e-6)) < 1e-15,
  );
});

test('length spread: running sequences are weighted by output length (hand calculation)', () => {
  // two request types, equally frequent: (i=100, o=100) and (i=300, o=900)
  // E[i] = 200, E[o] = 500; E[i·o] = (100·100 + 300·900)/2 = 140,000 → E[i·o]/E[o] = 280
  // E[o²] = (100² + 900²)/2 = 410,000 → E[o²]/E[o] = 820
  const w = {
    inputTokens: 200,
    outputTokens: 500,
    spread: { inputWeightedTokens: 280, outputWeightedTokens: 820 },
  };
  // running context = 280 + 820/2 = 690 (fixed lengths at the means would say 200 + 250 = 450)
  assert.equal(runningContextTokens(w), 690);
  assert.equal(runningContextTokens({ inputTokens: 200, outputTokens: 500 }), 450);
  const full = { kvReservation: 'full' } as StackLimits;
  const incremental = { kvReservation: 'incremental' } as StackLimits;
  // a full reservation holds each running sequence's final length: 280 + 820 = 1,100
  assert.equal(reservedContextTokens(w, full), 1100);
  assert.equal(reservedContextTokens(w, incremental), 690);
});
