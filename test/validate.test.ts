import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadCatalog } from '../src/catalog/load.js';
import { BUNDLED_PROFILE_DIR, chooseProfile, loadProfiles } from '../src/perf/profiles.js';
import {
  concurrencyThroughput,
  latencyBoundThroughput,
  prefillStep,
  stackLimits,
  staticBatchThroughput,
  steadyCycle,
  TPOT_MARGIN,
  type ReplicaCapacity,
  type SteadyReplica,
} from '../src/perf/steady.js';
import {
  fnv1a,
  isHeldOut,
  isLegacyVllm,
  parsePublishedCases,
  prepareAll,
  prepareCase,
  readPublishedCases,
  splitGroup,
  validateCases,
  type PublishedCase,
} from '../src/perf/validate.js';
import type { StepBatch, StepTimer } from '../src/perf/types.js';
import { InputError } from '../src/util/errors.js';
import { runCli, repoRoot } from './helpers/cli.js';

const PUBLISHED = join(repoRoot, 'calibration/published-results.json');

/** A toy step time: 10 ms + 10 µs per token in the step (decode and prefill alike). */
const toy: StepTimer = {
  stepTimeS: (b: StepBatch) => 0.01 + 1e-5 * (b.decodeSeqs + b.prefillTokens),
};

test('steady cycle: prefill share that fits in the token budget (hand calculation)', () => {
  // isl 100, osl 50, B 200: each step owes P = 200·100/50 = 400 prompt tokens; budget 1000 holds
  // them: one mixed step of 200 + 400 tokens = 0.01 + 600e-5 = 0.016 s → 200 / 0.016 = 12 500 tok/s
  const c = steadyCycle(toy, 200, { inputTokens: 100, outputTokens: 50 }, 1000);
  assert.equal(c.mixed.decodeSeqs, 200);
  assert.equal(c.mixed.prefillTokens, 400);
  assert.equal(c.extraPrefillSteps, 0);
  assert.ok(Math.abs(c.cycleS - 0.016) < 1e-12);
  assert.ok(Math.abs(c.batch / c.cycleS - 12500) < 1e-6);
  // TTFT: one step of waiting plus isl / (T − B) = 100/800 of a step
  assert.ok(Math.abs(c.ttftS - 0.016 * (1 + 100 / 800)) < 1e-12);
});

test('steady cycle: prefill beyond the budget runs as amortised prefill-only steps (hand calculation)', () => {
  // budget 400: the mixed step takes 200 decode + 200 prefill tokens (0.014 s); the other 200
  // prefill tokens are 200/400 = 0.5 of a 400-token prefill step (0.014 s) per cycle:
  // cycle = 0.014 + 0.5·0.014 = 0.021 s → 200 / 0.021 = 9 523.8 tok/s
  const c = steadyCycle(toy, 200, { inputTokens: 100, outputTokens: 50 }, 400);
  assert.equal(c.mixed.prefillTokens, 200);
  assert.ok(Math.abs(c.extraPrefillSteps - 0.5) < 1e-12);
  assert.ok(Math.abs(c.extraPrefillS - 0.014) < 1e-12);
  assert.ok(Math.abs(c.cycleS - 0.021) < 1e-12);
  assert.ok(Math.abs(c.batch / c.cycleS - 200 / 0.021) < 1e-6);
});

test('prefill step: whole prompts count isl(isl+1)/2 causal pairs each; a chunk sees its prior context', () => {
  const whole = prefillStep(300, 100);
  assert.equal(whole.prefillSeqs, 3);
  assert.equal(whole.prefillAttnPairs, 3 * ((100 * 101) / 2));
  // a 40-token chunk of a 100-token prompt: on average after 30 tokens → 40·30 + 40·41/2 = 2020
  const chunk = prefillStep(40, 100);
  assert.equal(chunk.prefillAttnPairs, 40 * 30 + (40 * 41) / 2);
});

async function toyReplica(): Promise<{ r: SteadyReplica; cap: ReplicaCapacity }> {
  const catalog = await loadCatalog();
  const acc = catalog.accelerator('H200');
  const workload = { inputTokens: 100, outputTokens: 50 };
  const limits = { ...stackLimits('vllm', acc, workload, 'online'), tokenBudget: () => 1_000_000 };
  const r: SteadyReplica = {
    model: catalog.model('llama-3.1-8b'),
    accelerator: acc,
    weights: 'fp8',
    kv: 'fp8',
    layout: { tp: 1, pp: 1, attentionDp: 1 },
    limits,
    workload,
  };
  const cap = {
    plan: null as never,
    kvSequences: 4096,
    maxBatch: 4096,
    tokenBudget: 1_000_000,
    limitedBy: 'stack' as const,
  };
  return { r, cap };
}

test('latency-bound capacity: the largest batch whose TPOT stays under the margin (hand calculation)', async () => {
  const { r, cap } = await toyReplica();
  // cycle(B) = 0.01 + 1e-5·(B + 2B) = 0.01 + 3e-5·B; TPOT limit 50 ms × 0.8 = 40 ms → B = 1000
  const s = latencyBoundThroughput(r, toy, { tpotP99S: 0.05, ttftP99S: 10 }, cap);
  assert.equal(TPOT_MARGIN, 0.8);
  assert.equal(s.batch, 1000);
  assert.equal(s.limitedBy, 'tpot');
  assert.ok(Math.abs(s.outputTokensPerSPerReplica - 1000 / 0.04) < 1e-6);
  // input + output per chip: ×(100 + 50)/50
  assert.ok(Math.abs(s.totalTokensPerSPerChip - 3 * s.outputTokensPerSPerChip) < 1e-9);
});

test("fixed concurrency: batch = clients up to capacity; TTFT by Little's law beyond it", async () => {
  const { r, cap } = await toyReplica();
  const small = concurrencyThroughput(r, toy, 64, cap);
  assert.equal(small.batch, 64);
  assert.equal(small.limitedBy, 'concurrency');
  const capped = { ...cap, maxBatch: 100 };
  const big = concurrencyThroughput(r, toy, 400, capped);
  assert.equal(big.batch, 100);
  // 400 clients, 100 decoding: each waits (400/100 − 1) × osl × TPOT before its prefill
  const cycle = 0.01 + 3e-5 * 100;
  assert.ok(Math.abs(big.ttftS - (big.cycle.ttftS + 3 * 50 * cycle)) < 1e-9);
});

test('static batch: prefill all prompts, then osl decode steps (hand calculation)', async () => {
  const { r, cap } = await toyReplica();
  // B 10, isl 100: one prefill step of 1000 tokens (0.02 s); 50 decode steps of 10 tokens (0.0101 s)
  const s = staticBatchThroughput(r, toy, 10, cap);
  const total = 0.02 + 50 * 0.0101;
  assert.ok(Math.abs(s.outputTokensPerSPerReplica - (10 * 50) / total) < 1e-9);
  assert.ok(Math.abs(s.ttftS - 0.02) < 1e-12);
});

test('every published case is predicted or skipped with a reason, never dropped', async () => {
  const [catalog, profiles, cases] = await Promise.all([
    loadCatalog(),
    loadProfiles(),
    readPublishedCases(PUBLISHED),
  ]);
  const report = validateCases(cases, catalog, profiles);
  assert.equal(report.cases.length, cases.length);
  assert.deepEqual(
    report.cases.map((r) => r.id),
    cases.map((c) => c.id),
  );
  for (const r of report.cases) {
    if (r.status === 'skipped') {
      assert.ok(r.reason !== null && r.reason.length > 10, `${r.id}: skip without a reason`);
      assert.ok(r.skipCode !== null);
    } else {
      assert.ok(Number.isFinite(r.predicted) && r.predicted! > 0, `${r.id}: no prediction`);
      assert.ok(Number.isFinite(r.errorPct), `${r.id}: no error`);
      assert.ok(r.config !== null && r.heldOut !== null);
    }
  }
  const s = report.summary;
  assert.equal(s.skipped, report.cases.filter((r) => r.status === 'skipped').length);
  assert.equal(
    Object.values(s.skippedReasons).reduce((a, b) => a + b, 0),
    s.skipped,
  );
  // the bar (issue: ≤ 15 %): 9.5 % reached with the shipped profiles (13.1 % before the dataset
  // length spreads and the per-sequence overhead), asserted with ~1 point of slack; the error on
  // the cases held out of every fit (8.9 % reached) must stay under the bar too
  assert.ok(s.n >= 250, `only ${s.n} throughput cases predicted`);
  assert.ok(s.medianAbsErrorPct <= 10.5, `median |error| ${s.medianAbsErrorPct.toFixed(2)} % > 10.5 %`);
  assert.ok(
    s.bySplit.heldOut.medianAbsErrorPct <= 12,
    `held-out median |error| ${s.bySplit.heldOut.medianAbsErrorPct.toFixed(2)} % > 12 %`,
  );
  assert.ok(s.bySplit.heldOut.n >= 50);
  for (const hw of ['H100_SXM', 'H200', 'B200', 'GB200', 'MI300X', 'MI325X'])
    assert.ok(s.byHardware[hw] !== undefined && s.byHardware[hw].n > 0, `no ${hw} cases`);
  // the four kinds of source are all exercised
  assert.deepEqual(Object.keys(s.bySource).sort(), [
    'inferencex',
    'mlperf_inference',
    'vendor_benchmark_table',
    'vendor_blog',
  ]);
});

test('`pertoken validate --json` prints { cases, summary } with the documented shape', () => {
  const r = runCli(['validate', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    cases: { id: string; status: string; predicted: number | null; reported: number | null }[];
    summary: Record<string, unknown>;
  };
  assert.ok(Array.isArray(out.cases) && out.cases.length === 291);
  for (const k of [
    'n',
    'skipped',
    'medianAbsErrorPct',
    'byHardware',
    'bySource',
    'byStack',
    'skippedReasons',
  ])
    assert.ok(k in out.summary, `summary.${k} missing`);
  const text = runCli(['validate']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /median \|error\| \d+\.\d %/);
  assert.match(text.stdout, /skipped \(\d+\):/);
});

test('the held-out split is deterministic and keeps near-duplicate results together', async () => {
  assert.equal(fnv1a(''), 0x811c9dc5);
  assert.equal(fnv1a('a'), 0xe40c292c);
  const [catalog, cases] = await Promise.all([loadCatalog(), readPublishedCases(PUBLISHED)]);
  const a = prepareAll(cases, catalog).prepared;
  const b = prepareAll(cases, catalog).prepared;
  assert.deepEqual(
    a.map((p) => isHeldOut(p)),
    b.map((p) => isHeldOut(p)),
  );
  const side = new Map<string, boolean>();
  for (const p of a) {
    const g = splitGroup(p);
    const h = isHeldOut(p);
    if (side.has(g)) assert.equal(side.get(g), h, `group ${g} split across the two sides`);
    side.set(g, h);
  }
  const share = a.filter((p) => isHeldOut(p)).length / a.length;
  assert.ok(share > 0.15 && share < 0.45, `held-out share ${share}`);
});

test('published-results errors name the file and the case field', () => {
  const good = JSON.parse(readFileSync(PUBLISHED, 'utf8')) as PublishedCase[];
  const bad = [good[0], { ...good[1], count: 'eight' }];
  assert.throws(
    () => parsePublishedCases(bad, 'bad.json'),
    (e: unknown) => e instanceof InputError && /^bad\.json: cases\[1\]\.count: /.test(e.message),
  );
  assert.throws(() => parsePublishedCases({ nope: 1 }, 'x.json'), /x\.json: expected an array of cases/);
  assert.equal(parsePublishedCases({ cases: good.slice(0, 2) }, 'ok.json').length, 2);
});

test('case preparation: unknown model and hardware, open division and disaggregation are skipped with reasons', async () => {
  const catalog = await loadCatalog();
  const base = (JSON.parse(readFileSync(PUBLISHED, 'utf8')) as PublishedCase[]).find((c) =>
    c.id.startsWith('trtllm-v0.14.0-llama-3.1-70b-H200-FP8-TP1-1000x1000'),
  )!;
  const ok = prepareCase(base, catalog);
  assert.ok(ok.ok);
  const unknownModel = prepareCase({ ...base, model_canonical: 'no-such-model' }, catalog);
  assert.ok(!unknownModel.ok && unknownModel.code === 'unknown-model');
  const unknownHw = prepareCase({ ...base, hardware_key: 'RTX PRO 6000' }, catalog);
  assert.ok(!unknownHw.ok && unknownHw.code === 'unknown-hardware');
  const open = prepareCase({ ...base, notes: 'OPEN division (model/accuracy rules relaxed)' }, catalog);
  assert.ok(!open.ok && open.code === 'open-division');
  const disagg = prepareCase({ ...base, software: 'dynamo-trt (disagg)' }, catalog);
  assert.ok(!disagg.ok && disagg.code === 'disaggregated');
  const noTput = prepareCase({ ...base, throughput: null, throughput_per_accelerator: null }, catalog);
  assert.ok(!noTput.ok && noTput.code === 'no-result');
  const tooSmall = prepareCase(
    { ...base, model_canonical: 'llama-3.1-405b', tp: 'TP1', precision: 'FP16' },
    catalog,
  );
  assert.ok(!tooSmall.ok && tooSmall.code === 'does-not-fit' && /does not fit/.test(tooSmall.reason));
  assert.ok(isLegacyVllm('vLLM 0.6.5.dev964+mlperf50'));
  assert.ok(isLegacyVllm('vLLM (ROCm, 2024-10)'));
  assert.ok(!isLegacyVllm('vLLM 0.10.0, RHEL 9.6'));
  assert.ok(!isLegacyVllm('TensorRT 10.11'));
});

test('`calibrate --published` writes a profile that loadProfiles accepts and chooseProfile picks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-calibrate-'));
  const out = join(dir, 'trtllm.A100_80GB.published.json');
  const r = runCli([
    'calibrate',
    '--published',
    PUBLISHED,
    '--stack',
    'trtllm',
    '--hardware',
    'A100_80GB',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /held-out median \|error\|: \d+\.\d %/);
  const p = JSON.parse(readFileSync(out, 'utf8')) as { source: string; evidence: string; fit: unknown };
  assert.equal(p.source, 'published');
  assert.equal(p.evidence, 'vendor-reported');
  assert.ok(p.fit !== null);
  return loadProfiles([BUNDLED_PROFILE_DIR, dir]).then((profiles) => {
    const fitted = profiles.find((x) => x.key === 'trtllm.A100_80GB.published' && x.fit !== null);
    assert.ok(fitted !== undefined);
    assert.ok(fitted.fit!.heldOutN >= 3);
    assert.equal(chooseProfile(profiles, 'A100_80GB', 'trtllm').profile.key, 'trtllm.A100_80GB.published');
  });
});

test('calibrate --published refuses a stack with too few cases, naming the counts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-calibrate-'));
  const few = (JSON.parse(readFileSync(PUBLISHED, 'utf8')) as PublishedCase[]).slice(0, 3);
  writeFileSync(join(dir, 'few.json'), JSON.stringify(few));
  const r = runCli(['calibrate', '--published', join(dir, 'few.json'), '--stack', 'trtllm']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /predictable published cases for trtllm .* a fit needs ≥ 8/);
});
