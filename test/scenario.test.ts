import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scenarioJsonSchema } from '../src/cli/commands/check.js';
import { scenarioSchema } from '../src/scenario/schema.js';
import { loadValidated } from '../src/scenario/load.js';
import { InputError } from '../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pertoken-scenario-'));
function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
async function errorOf(file: string): Promise<string> {
  try {
    await loadValidated(file, scenarioSchema);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the file to be rejected');
}

const GOOD = `name: t
workload:
  trace: { path: trace.csv, format: azure }
model: llama-3.1-70b
candidates:
  - name: h100
    instance: aws/p5.48xlarge
    parallelism: { tp: 4 }
`;

test('a minimal scenario validates and every default is filled in', async () => {
  const { value } = await loadValidated(write('good.yaml', GOOD), scenarioSchema);
  assert.equal(value.window.days, 30);
  assert.equal(value.window.mapping, 'repeat');
  assert.equal(value.slo.attainment, 0.99);
  assert.equal(value.workload.scale.rate, 1);
  const c = value.candidates[0]!;
  assert.deepEqual(c.parallelism, { tp: 4, pp: 1, ep: 1 });
  assert.equal(c.replicas, 'auto');
  assert.deepEqual(c.precision, { weights: 'bf16', kv: 'bf16' });
  assert.equal(c.pricing.model, 'on_demand');
  assert.equal(c.quality_acceptance, 1);
  assert.equal(value.costs.pue, 1.3);
});

test('JSON scenarios are read too, with positions', async () => {
  const json = JSON.stringify(
    {
      workload: { trace: { path: 'x.csv' } },
      model: 'm',
      candidates: [{ name: 'a', instance: 'i', replicas: 0 }],
    },
    null,
    2,
  );
  const msg = await errorOf(write('bad.json', json));
  assert.match(msg, /bad\.json:\d+:\d+: candidates\[0\]\.replicas: expected an integer ≥ 1, found 0/);
});

test('an unknown key names file:line:col and the path', async () => {
  const msg = await errorOf(
    write('unknown.yaml', GOOD.replace('parallelism: { tp: 4 }', 'parallelism: { tp: 4, tpp: 2 }')),
  );
  assert.match(msg, /unknown\.yaml:8:27: candidates\[0\]\.parallelism\.tpp: unknown key/);
});

test('a wrong type names the field, what was expected and what was found', async () => {
  const msg = await errorOf(write('type.yaml', GOOD.replace('tp: 4', 'tp: four')));
  assert.match(
    msg,
    /type\.yaml:8:24: candidates\[0\]\.parallelism\.tp: expected an integer ≥ 1, found "four"/,
  );
});

test('a missing required field is reported at its parent', async () => {
  const msg = await errorOf(write('missing.yaml', GOOD.replace('model: llama-3.1-70b\n', '')));
  assert.match(msg, /missing\.yaml:1:1: model: missing; expected a catalog model key/);
});

test('exactly one of trace or synth', async () => {
  const both = GOOD.replace('workload:\n', 'workload:\n  synth: { preset: chat }\n');
  assert.match(
    await errorOf(write('both.yaml', both)),
    /both\.yaml:3:3: workload: expected exactly one of `trace` or `synth`/,
  );
});

test('cross-field rules: reserved needs a term, hardware needs an instance, names are unique', async () => {
  const text = `workload: { trace: { path: t.csv } }
model: m
candidates:
  - { name: a, instance: i, pricing: { model: reserved } }
  - { name: b }
  - { name: a, instance: j }
`;
  const msg = await errorOf(write('rules.yaml', text));
  assert.match(msg, /3 problems/);
  assert.match(
    msg,
    /rules\.yaml:4:38: candidates\[0\]\.pricing\.term_years: expected a value \(reserved pricing needs a term\)/,
  );
  assert.match(msg, /rules\.yaml:5:5: candidates\[1\]\.instance: expected a catalog instance key/);
  assert.match(
    msg,
    /rules\.yaml:6:13: candidates\[2\]\.name: expected a unique name; "a" is also candidates\[0\]/,
  );
});

test('an enum error lists the allowed values', async () => {
  const msg = await errorOf(write('enum.yaml', GOOD.replace('format: azure', 'format: parquet')));
  assert.match(msg, /workload\.trace\.format: expected one of "generic", "azure"/);
  assert.match(msg, /found "parquet"/);
});

test('YAML syntax errors and duplicate keys give a position', async () => {
  assert.match(await errorOf(write('syntax.yaml', 'model: [a, b\n')), /syntax\.yaml:\d+:\d+: /);
  assert.match(
    await errorOf(write('dup.yaml', 'model: a\nmodel: b\n')),
    /dup\.yaml:2:1: Map keys must be unique/,
  );
});

test('empty and missing files are clear errors', async () => {
  assert.match(await errorOf(write('empty.yaml', '  \n')), /empty\.yaml: empty file/);
  assert.match(await errorOf(join(dir, 'nope.yaml')), /nope\.yaml: cannot read \(no such file\)/);
});

test('schema/scenario.schema.json is generated from the same schema (no drift)', () => {
  const generated = scenarioJsonSchema();
  const shipped = readFileSync(new URL('../schema/scenario.schema.json', import.meta.url), 'utf8');
  assert.equal(shipped, generated, 'run `npm run schema` to regenerate schema/scenario.schema.json');
});

test('a synthetic workload in a scenario is validated with the synth schema, with positions', async () => {
  const ok = `workload:\n  synth: { preset: coding-agent, rate: 20, duration_s: 600 }\nmodel: m\ncandidates:\n  - { name: a, instance: i }\n`;
  const { value } = await loadValidated(write('synth-ok.yaml', ok), scenarioSchema);
  assert.equal(value.workload.synth?.preset, 'coding-agent');
  const msg = await errorOf(
    write(
      'synth-bad.yaml',
      ok.replace('rate: 20', 'rate: -3').replace('preset: coding-agent', 'preset: chatt'),
    ),
  );
  assert.match(msg, /synth-bad\.yaml:2:20: workload\.synth\.preset: .*"chat".*found "chatt"/);
  assert.match(msg, /synth-bad\.yaml:2:33: workload\.synth\.rate: expected a number > 0, found -3/);
});
