import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/index.js';
import { loadCatalog } from '../src/catalog/load.js';
import { InputError } from '../src/util/errors.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pertoken-resolve-'));
writeFileSync(join(dir, 'trace.csv'), 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n');
const catalog = await loadCatalog();

function scenario(name: string, candidates: string, model = 'llama-3.1-70b'): string {
  const p = join(dir, name);
  writeFileSync(p, `workload:\n  trace: { path: trace.csv }\nmodel: ${model}\ncandidates:\n${candidates}`);
  return p;
}
async function errorOf(file: string): Promise<string> {
  try {
    await loadScenario(file, { catalog });
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.message;
  }
  assert.fail('expected the scenario to be rejected');
}

test('resolves instances, default stacks per vendor, and catalog prices', async () => {
  const r = await loadScenario(
    scenario(
      'ok.yaml',
      `  - { name: h100, instance: aws/p5.48xlarge, parallelism: { tp: 4 } }
  - { name: mi, instance: azure/nd-mi300x-v5 }
  - { name: tpu, instance: gcp/tpu-v6e, parallelism: { tp: 8 } }
  - { name: res, instance: aws/p5.48xlarge, pricing: { model: reserved, term_years: 1 } }
`,
    ),
    { catalog },
  );
  const [h100, mi, tpu, res] = r.candidates;
  assert.equal(h100!.stack!.key, 'vllm');
  assert.equal(h100!.stackChosenBy, 'default');
  assert.equal(mi!.stack!.key, 'rocm-vllm');
  assert.equal(tpu!.stack!.key, 'jax-xla');
  // p5.48xlarge is priced per chip in the catalog: 8 chips × $6.88 on demand, × $4.75 with a 1-year commitment
  assert.ok(Math.abs(h100!.instanceUsdPerHour! - 8 * 6.88) < 1e-9);
  assert.ok(Math.abs(res!.instanceUsdPerHour! - 8 * 4.75) < 1e-9);
  assert.equal(h100!.chipsPerReplica, 4);
  assert.equal(r.tracePath, join(dir, 'trace.csv'));
});

test('unknown catalog keys are named with their position and near matches', async () => {
  const msg = await errorOf(
    scenario('unknown.yaml', `  - { name: a, instance: aws/p5.48xlarg }\n`, 'llama-3.1-70'),
  );
  assert.match(msg, /unknown\.yaml:3:8: model: unknown model "llama-3\.1-70"; did you mean "llama-3\.1-70b"/);
  assert.match(
    msg,
    /unknown\.yaml:5:26: candidates\[0\]\.instance: unknown instance "aws\/p5\.48xlarg"; did you mean "aws\/p5\.48xlarge"/,
  );
});

test('a stack that does not run on the hardware, an unsupported precision, too many chips per replica', async () => {
  const msg = await errorOf(
    scenario(
      'compat.yaml',
      `  - { name: a, instance: gcp/tpu-v6e, stack: vllm }
  - { name: b, instance: aws/p4d.24xlarge, precision: { weights: fp8 } }
  - { name: c, instance: aws/p5.48xlarge, parallelism: { tp: 16 } }
`,
    ),
  );
  assert.match(msg, /candidates\[0\]\.stack: stack "vllm" does not run on .*TPU v6e/);
  assert.match(msg, /candidates\[1\]\.precision\.weights: .*A100.* has no fp8 support/);
  assert.match(
    msg,
    /candidates\[2\]\.parallelism: tp × pp = 16 chips per replica, but aws\/p5\.48xlarge has 8/,
  );
});

test('a pricing model with no published price asks for one instead of defaulting', async () => {
  const msg = await errorOf(
    scenario('price.yaml', `  - { name: a, instance: aws/p5.48xlarge, pricing: { model: spot } }\n`),
  );
  assert.match(
    msg,
    /candidates\[0\]\.pricing\.model: aws\/p5\.48xlarge has no published spot price; give pricing\.usd_per_hour/,
  );
});

test('a different model is flagged as a product change', async () => {
  const r = await loadScenario(
    scenario('pc.yaml', `  - { name: a, instance: aws/p5.48xlarge, model: llama-3.1-8b }\n`),
    { catalog },
  );
  assert.deepEqual(r.candidates[0]!.productChange, [
    'serves llama-3.1-8b instead of the reference llama-3.1-70b',
  ]);
  assert.ok(r.warnings.some((w) => w.includes('product change')));
});

test('a missing trace file is an error at workload.trace.path', async () => {
  const p = join(dir, 'notrace.yaml');
  writeFileSync(
    p,
    `workload:\n  trace: { path: nope.csv }\nmodel: llama-3.1-8b\ncandidates:\n  - { name: a, instance: aws/p5.48xlarge }\n`,
  );
  assert.match(
    await errorOf(p),
    /notrace\.yaml:2:18: workload\.trace\.path: expected an existing trace file/,
  );
});

test('CLI: check prints the resolved scenario; a bad one exits 2 with the message', () => {
  const ok = runCli([
    'check',
    scenario('cli.yaml', `  - { name: a, instance: aws/p5.48xlarge, parallelism: { tp: 2 } }\n`),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /max_num_seqs: 256/);
  assert.match(ok.stdout, /chosen_by: default/);
  const bad = runCli(['check', scenario('clibad.yaml', `  - { name: a, instance: nope }\n`)]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /clibad\.yaml:5:26: candidates\[0\]\.instance: unknown instance "nope"/);
});
