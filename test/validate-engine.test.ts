import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadCatalog } from '../src/catalog/load.js';
import { BUNDLED_PROFILE_DIR, buildReplicaPerf, loadProfiles } from '../src/perf/profiles.js';
import { prefillStep } from '../src/perf/steady.js';
import { emptyStep } from '../src/perf/types.js';
import { readPublishedCases } from '../src/perf/validate.js';
import { runEngineCase, validateCasesWithEngine, type EngineFigures } from '../src/perf/validate-engine.js';
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
  const a = await validateCasesWithEngine(cases, catalog, profiles);
  const b = await validateCasesWithEngine(cases, catalog, profiles);
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
