// The README's examples are part of the product: check the ones that are data, not screenshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog } from '../src/catalog/load.js';
import { instanceUsdPerHour } from '../src/catalog/schema.js';
import { runCli, repoRoot } from './helpers/cli.js';

const README = readFileSync(join(repoRoot, 'README.md'), 'utf8');

test('the README has exactly two set-up commands on its first screen', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(README)![1]!;
  const commands = firstBlock.split('\n').filter((l) => l.trim() !== '');
  assert.equal(commands.length, 2);
  assert.match(commands[0]!, /^npm ci && npx pertoken demo/);
  assert.match(commands[1]!, /^npm test/);
  assert.ok(README.indexOf('```sh') < 1200, 'the commands are on the first screen');
});

test("the README's user-catalog example loads, overrides our entry with a warning, and prices the instance", async () => {
  const json = /```json\n([\s\S]*?)```/.exec(README)![1]!;
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-readme-'));
  writeFileSync(join(dir, 'instances.json'), json);
  const catalog = await loadCatalog({ extraDirs: [dir] });
  const trn2 = catalog.instance('aws/trn2.48xlarge');
  assert.equal(instanceUsdPerHour(trn2, 'commit1yr'), 30);
  assert.ok(catalog.warnings.some((w) => w.includes("'aws/trn2.48xlarge' overrides the bundled entry")));
});

test("the README's bad-scenario example gives the message it shows", () => {
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-readme-'));
  writeFileSync(join(dir, 't.csv'), 'arrival_s,prompt_tokens,output_tokens\n0,1,1\n');
  writeFileSync(
    join(dir, 'bad.yaml'),
    'name: t\nworkload:\n  trace: { path: t.csv }\nmodel: llama-3.1-70b\ncandidates:\n  - name: h100\n    instance: aws/p5.48xlarge\n    parallelism: { tp: four }\n',
  );
  const r = runCli(['check', 'bad.yaml'], { cwd: dir });
  assert.equal(r.code, 2);
  const shown = /\$ npx pertoken check bad\.yaml\n(.*)\n/.exec(README)![1]!;
  assert.equal(r.stderr.trim(), shown);
});
