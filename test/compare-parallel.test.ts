// compare runs its simulated candidates on worker threads (piscina); the result must be the same,
// byte for byte, as the sequential run in this thread.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCompare } from '../src/cli/commands/compare.js';
import { workerCount } from '../src/cost/compare.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pertoken-parallel-'));
const scenario = join(dir, 'par.yaml');
writeFileSync(
  join(dir, 'commit.yaml'),
  `vendor: Test cloud
name: mi300x-commit
date: "2026-01-01"
source: test offer
evidence: estimated
offer: { kind: committed_capacity, instance: azure/nd-mi300x-v5, usd_per_hour: 30, term_months: 1, parallelism: { tp: 2 }, replicas: 2 }
`,
);
writeFileSync(
  scenario,
  `name: parallel
workload:
  synth: { preset: chat, rate: 4, requests: 120, seed: 5 }
slo: { ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.9 }
model: llama-3.1-8b
candidates:
  - { name: h100, instance: aws/p5.48xlarge, replicas: 1 }
  - { name: h200, instance: aws/p5en.48xlarge, replicas: 2 }
  - { name: too-big, model: llama-3.1-70b, instance: aws/p5.48xlarge, replicas: 1 }
  - { name: api, pricing: { model: api, usd_per_1m_input: 0.1, usd_per_1m_output: 0.2, source: test } }
quotes: [commit.yaml]
`,
);

async function json(workers: number): Promise<{ out: string; progress: string }> {
  let out = '';
  let progress = '';
  await runCompare(
    scenario,
    { json: true, workers: String(workers) },
    { stdout: (t) => (out += t), stderr: (t) => (progress += t) },
  );
  return { out, progress };
}

describe('compare on worker threads', () => {
  it('--json is byte-identical with 1 and with 3 workers; progress says which candidate finished', async () => {
    const seq = await json(1);
    const par = await json(3);
    assert.equal(par.out, seq.out);
    const j = JSON.parse(par.out) as { candidates: { name: string; status: string }[] };
    assert.deepEqual(
      j.candidates.map((c) => c.name),
      ['h100', 'h200', 'too-big', 'api', 'mi300x-commit'],
    );
    for (const name of ['h100', 'h200', 'too-big', 'api', 'mi300x-commit'])
      assert.match(par.progress, new RegExp(`\\[\\d/5\\] ${name} done \\(`));
    assert.match(par.progress, /\[5\/5\]/);
  });

  it('the CLI from source (tsx) runs workers too, same output as --workers 1', () => {
    const a = runCli(['compare', scenario, '--json', '--quiet', '--workers', '2']);
    const b = runCli(['compare', scenario, '--json', '--quiet', '--workers', '1']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const bad = runCli(['compare', scenario, '--workers', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--workers: expected an integer ≥ 1, found "many"/);
  });

  it('a bad trace row read on a worker is the same input error (exit 2, file:line) as in this thread', () => {
    writeFileSync(join(dir, 'bad.csv'), 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n1,abc,5\n');
    const badScenario = join(dir, 'bad.yaml');
    writeFileSync(
      badScenario,
      `name: bad
workload:
  trace: { path: bad.csv }
slo: { ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.9 }
model: llama-3.1-8b
candidates:
  - { name: h100, instance: aws/p5.48xlarge, replicas: 1 }
  - { name: h200, instance: aws/p5en.48xlarge, replicas: 1 }
`,
    );
    for (const workers of ['1', '2']) {
      const r = runCli(['compare', badScenario, '--quiet', '--workers', workers]);
      assert.equal(r.code, 2, `--workers ${workers}: ${r.stderr}`);
      assert.match(r.stderr, /bad\.csv:3: prompt_tokens: expected a non-negative integer, found "abc"/);
      assert.doesNotMatch(r.stderr, /internal error/);
    }
  });

  it('pool size: never more workers than simulated candidates; PERTOKEN_WORKERS is the default', () => {
    assert.equal(workerCount(1), 1);
    assert.equal(workerCount(3, 8), 3);
    assert.equal(workerCount(5, 2), 2);
    const env = process.env.PERTOKEN_WORKERS;
    try {
      process.env.PERTOKEN_WORKERS = '1';
      assert.equal(workerCount(6), 1);
      process.env.PERTOKEN_WORKERS = 'x';
      assert.throws(() => workerCount(6), /PERTOKEN_WORKERS: expected an integer ≥ 1/);
    } finally {
      if (env === undefined) delete process.env.PERTOKEN_WORKERS;
      else process.env.PERTOKEN_WORKERS = env;
    }
  });
});
