import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadCatalog } from '../src/catalog/load.js';
import { BUNDLED_PROFILE_DIR, buildReplicaPerf, loadProfiles } from '../src/perf/profiles.js';
import { prefillStep } from '../src/perf/steady.js';
import { emptyStep } from '../src/perf/types.js';
import { prepareCase, readPublishedCases } from '../src/perf/validate.js';
import {
  caseLengths,
  mlperfDatasetLengths,
  runEngineCase,
  sampleLengths,
  validateCasesWithEngine,
  type EngineFigures,
} from '../src/perf/validate-engine.js';
import { simulate } from '../src/engine/index.js';
import type { RequestRecord } from '../src/metrics/types.js';
import { runCli, repoRoot } from './helpers/cli.js';

const PUBLISHED = join(repoRoot, 'calibration/published-results.json');

/** Two llama-2-70b Server cases and one llama-3.1-8b Server case (H200 / MI300X, target_qps published). */
const SUBSET = [
  'mlperf-v5.1-closed-AMD-8xMI300X_2xEPYC_9575F-llama2-70b-Server',
  'mlperf-v4.1-closed-Lenovo-Lenovo_8xH200_TRT-llama2-70b-Server',
  'mlperf-v5.1-closed-Cisco-C845A_H200_NVLx8_TRT-llama3.1-8b-Server',
];

async function subset() {
  const [catalog, profiles, all] = await Promise.all([
    loadCatalog(),
    loadProfiles([BUNDLED_PROFILE_DIR]),
    readPublishedCases(PUBLISHED),
  ]);
  const cases = all.filter((c) => SUBSET.includes(c.id));
  assert.equal(cases.length, SUBSET.length);
  return { catalog, profiles, cases };
}

test('the engine path runs Server cases deterministically with finite figures', async () => {
  const { catalog, profiles, cases } = await subset();
  const a = await validateCasesWithEngine(cases, catalog, profiles, { modes: ['latency'] });
  const b = await validateCasesWithEngine(cases, catalog, profiles, { modes: ['latency'] });
  assert.deepEqual(a, b);
  const numeric: (keyof EngineFigures)[] = [
    'throughput',
    'errorPct',
    'ttftP99Ms',
    'ttftErrorPct',
    'tpotP99Ms',
    'tpotErrorPct',
    'ttftP50Ms',
    'tpotP50Ms',
  ];
  for (const row of a.cases) {
    assert.equal(row.status, 'predicted', row.id);
    const e = row.engine;
    assert.ok(e !== null, `${row.id}: no engine figures`);
    for (const k of numeric) assert.ok(Number.isFinite(e[k]), `${row.id}: engine.${k} = ${String(e[k])}`);
    assert.equal(typeof e.meetsConstraints, 'boolean');
    assert.ok(e.throughput > 0 && e.ttftP99Ms > 0 && e.tpotP99Ms > 0);
    assert.ok(e.simulatedReplicas >= 1 && e.simulatedReplicas <= Math.min(8, e.replicas));
    // the steady-state fields are untouched
    assert.ok(Number.isFinite(row.predicted!) && Number.isFinite(row.errorPct!));
  }
  const s = a.summary.engine;
  assert.equal(s.n, SUBSET.length);
  for (const k of [
    'medianAbsThroughputErrorPct',
    'medianAbsTtftP99ErrorPct',
    'medianAbsTpotP99ErrorPct',
  ] as const)
    assert.ok(Number.isFinite(s[k]), k);
  assert.deepEqual(Object.keys(s.byHardware).sort(), ['H200', 'MI300X']);
  assert.equal(s.byHardware.H200!.n, 2);
});

test('one replica at a very low rate: TTFT = the prefill step, TPOT = the batch-1 decode step', async () => {
  const catalog = await loadCatalog();
  const profiles = await loadProfiles([BUNDLED_PROFILE_DIR]);
  const model = catalog.models.get('llama-3.1-8b')!;
  const accelerator = catalog.accelerator('H200');
  const { replica } = buildReplicaPerf(
    { model, accelerator, stack: 'vllm', weights: 'bf16', kv: 'bf16' },
    profiles,
  );
  const isl = 1000;
  const osl = 100;
  const run = await runEngineCase({
    replicas: [replica],
    rate: 0.001, // one request every 1,000 s on average: each runs alone
    promptTokens: isl,
    outputTokens: osl,
    requests: 40,
    maxNumSeqs: 256,
    maxNumBatchedTokens: 8192,
    ttftLimitS: 2,
    tpotLimitS: 0.1,
    warmupS: 0,
    seed: 7,
  });
  const prefillS = replica.stepTimeS(prefillStep(isl, isl));
  // decode steps at batch 1 over contexts isl … isl + osl − 2 (the first token came with the prefill)
  let decodeS = 0;
  for (let j = 0; j < osl - 1; j++) {
    const d = emptyStep();
    d.decodeSeqs = 1;
    d.decodeContextTokens = isl + j;
    decodeS += replica.stepTimeS(d);
  }
  const tpotS = decodeS / (osl - 1);
  const close = (got: number, want: number, what: string): void =>
    assert.ok(Math.abs(got - want) / want < 0.02, `${what}: engine ${got}, model ${want}`);
  close(run.ttftS.p50, prefillS, 'TTFT p50');
  close(run.ttftS.p99, prefillS, 'TTFT p99');
  close(run.tpotS.p50, tpotS, 'TPOT p50');
  close(run.tpotS.p99, tpotS, 'TPOT p99');
  assert.equal(run.measured, 40);
  // the served rate is the offered one (within Poisson noise of 40 requests)
  assert.ok(run.outputTokPerS > 0 && Math.abs(run.outputTokPerS / run.offeredTokPerS - 1) < 0.5);
});

test('`pertoken validate` runs the engine for Server cases; `--no-engine` skips it', async () => {
  const { cases } = await subset();
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-validate-engine-'));
  const file = join(dir, 'few.json');
  writeFileSync(file, JSON.stringify(cases.slice(0, 1)));
  const on = runCli(['validate', '--cases', file, '--json']);
  assert.equal(on.code, 0, on.stderr);
  const j = JSON.parse(on.stdout) as {
    cases: { engine?: unknown }[];
    summary: { engine?: { n: number } };
  };
  assert.ok(j.cases[0]!.engine !== null && typeof j.cases[0]!.engine === 'object');
  assert.equal(j.summary.engine?.n, 1);
  const off = runCli(['validate', '--cases', file, '--json', '--no-engine']);
  assert.equal(off.code, 0, off.stderr);
  const k = JSON.parse(off.stdout) as { cases: Record<string, unknown>[]; summary: Record<string, unknown> };
  assert.ok(!('engine' in k.cases[0]!));
  assert.ok(!('engine' in k.summary));
  const text = runCli(['validate', '--cases', file]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /engine: 1 cases, median \|error\| throughput/);
  const textOff = runCli(['validate', '--cases', file, '--no-engine']);
  assert.doesNotMatch(textOff.stdout, /engine: /);
});

test("sampled MLPerf lengths match the steady model's means within 2 % and spread", async () => {
  const [catalog, all] = await Promise.all([loadCatalog(), readPublishedCases(PUBLISHED)]);
  const datasets = mlperfDatasetLengths();
  assert.ok(datasets.length >= 5);
  for (const d of datasets) {
    for (const side of [d.input, d.output]) {
      if (side === null) continue;
      for (const [mean, n] of [
        [200, 2000],
        [0.3 * (side.maxTokens ?? 10000), 500],
      ] as const) {
        const xs = sampleLengths(side, mean, n, 42);
        const m = xs.reduce((a, b) => a + b, 0) / n;
        assert.ok(Math.abs(m / mean - 1) < 0.02, `${d.key}: mean ${m} for ${mean}`);
        assert.ok(Math.max(...xs) > 1.2 * Math.min(...xs), `${d.key}: no spread`);
        if (side.maxTokens !== null) assert.ok(Math.max(...xs) <= side.maxTokens);
      }
    }
  }
  // every MLPerf dataset in the published results has a distribution, with the steady model's means
  let checked = 0;
  for (const c of all) {
    if (c.source_type !== 'mlperf_inference' || c.isl !== null) continue;
    const prep = prepareCase(c, catalog);
    if (!prep.ok) continue;
    const w = prep.prepared.candidates[0]!.workload;
    const L = caseLengths(prep.prepared, w.inputTokens, w.outputTokens, 1000, 7);
    assert.match(L.note, /^lengths: MLPerf/, c.id);
    const mi = L.prompt.reduce((a, b) => a + b, 0) / L.prompt.length;
    const mo = L.output.reduce((a, b) => a + b, 0) / L.output.length;
    assert.ok(Math.abs(mi / w.inputTokens - 1) < 0.02, `${c.id}: input mean ${mi} vs ${w.inputTokens}`);
    assert.ok(Math.abs(mo / w.outputTokens - 1) < 0.02, `${c.id}: output mean ${mo} vs ${w.outputTokens}`);
    checked++;
  }
  assert.ok(checked > 50);
  // deterministic
  assert.deepEqual(
    sampleLengths(datasets[0]!.input, 226, 100, 3),
    sampleLengths(datasets[0]!.input, 226, 100, 3),
  );
});

test('the engine runs Offline, vendor-table and fixed-concurrency cases too', async () => {
  const [catalog, profiles, all] = await Promise.all([
    loadCatalog(),
    loadProfiles([BUNDLED_PROFILE_DIR]),
    readPublishedCases(PUBLISHED),
  ]);
  const pick = (f: (c: (typeof all)[number]) => boolean) =>
    all.find((c) => f(c) && prepareCase(c, catalog).ok)!;
  const cases = [
    pick(
      (c) =>
        c.source_type === 'mlperf_inference' &&
        c.scenario === 'Offline' &&
        /OpenOrca subset/.test(c.dataset ?? ''),
    ),
    pick((c) => c.source_type === 'vendor_benchmark_table' && /max-throughput/.test(c.scenario)),
    pick((c) => c.source_type === 'inferencex'),
  ];
  const rep = await validateCasesWithEngine(cases, catalog, profiles, {
    maxRequests: 600,
    maxSaturatedRequests: 2000,
  });
  const modes = rep.cases.map((r) => r.engine?.mode);
  assert.deepEqual(modes, ['offline', 'offline', 'concurrency']);
  for (const r of rep.cases) {
    const e = r.engine!;
    assert.ok(e.throughput > 0 && Number.isFinite(e.errorPct), r.id);
    assert.ok(e.windowS > 0, r.id);
    // the engine and the steady-state model agree to within a factor of 2
    assert.ok(
      e.throughput / r.predicted! > 0.5 && e.throughput / r.predicted! < 2,
      `${r.id}: ${e.throughput} vs ${r.predicted}`,
    );
  }
  assert.equal(rep.cases[2]!.engine!.clients, cases[2]!.concurrency);
  const a = rep.summary.engine.allModes;
  assert.equal(a.engine.n, 3);
  assert.equal(a.steady.n, 3);
  assert.deepEqual(Object.keys(a.engine.byMode).sort(), ['concurrency', 'offline']);
  assert.match(rep.summary.engine.headline, /^headline: /);
  // the Server / Interactive figures stay on their own
  assert.equal(rep.summary.engine.n, 0);
});

test('inflight-batching admits only whole prompts that fit the step budget beside the decodes', async () => {
  const catalog = await loadCatalog();
  const profiles = await loadProfiles([BUNDLED_PROFILE_DIR]);
  const { replica } = buildReplicaPerf(
    {
      model: catalog.models.get('llama-3.1-8b')!,
      accelerator: catalog.accelerator('H200'),
      stack: 'vllm',
      weights: 'bf16',
      kv: 'bf16',
    },
    profiles,
  );
  const run = async (batchPolicy: string): Promise<RequestRecord[]> => {
    const records: RequestRecord[] = [];
    await simulate({
      requests: [
        [
          { id: 0, arrivalS: 0, promptTokens: 100, outputTokens: 50 },
          { id: 1, arrivalS: 0.001, promptTokens: 900, outputTokens: 5 },
          { id: 2, arrivalS: 0.002, promptTokens: 200, outputTokens: 5 },
        ],
      ],
      replicas: [replica],
      config: { maxNumSeqs: 8, maxNumBatchedTokens: 512, batchPolicy, prefixCaching: false },
      slo: { ttftS: 10, tpotS: 1, attainment: 0.99 },
      seed: 1,
      onRequest: (r) => records.push(r),
    });
    return records.sort((a, b) => a.arrivalS - b.arrivalS);
  };
  const ifb = await run('inflight-batching');
  const chunked = await run('chunked-prefill');
  // the 900-token prompt never fits beside a decode in 512 tokens: it waits until it runs alone,
  // and (head-of-line) the 200-token prompt behind it waits too
  assert.ok(ifb[1]!.firstScheduledS >= ifb[0]!.endS, 'inflight: long prompt admitted beside decodes');
  assert.ok(ifb[2]!.firstScheduledS >= ifb[1]!.firstScheduledS);
  assert.equal(ifb[1]!.generatedTokens, 5);
  // chunked prefill starts it in chunks right away
  assert.ok(chunked[1]!.firstScheduledS < chunked[0]!.endS);
});
