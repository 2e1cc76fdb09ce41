// Golden end-to-end runs on the real trace samples: the same scenario and seed must give the same
// summary, byte for byte, as the one checked in. After an intended change to the engine, the
// performance model or a reader, regenerate with `npm run golden` and review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { runSimulate } from '../src/cli/commands/simulate.js';
import { repoRoot } from './helpers/cli.js';

const GOLDEN = [
  {
    scenario: 'scenarios/golden-azure-conv-8b-h100.yaml',
    summary: 'test/golden/azure-conv-8b-h100.summary.json',
  },
];

async function run(scenario: string): Promise<string> {
  let out = '';
  await runSimulate(
    `${repoRoot}${scenario}`,
    { json: true, quiet: true },
    { stdout: (t) => (out += t), stderr: () => {}, isTty: false },
  );
  // paths are machine-specific: keep them relative to the repository
  return out.split(repoRoot).join('');
}

for (const g of GOLDEN) {
  test(`golden: ${g.scenario}`, async () => {
    const a = await run(g.scenario);
    if (process.env.PERTOKEN_UPDATE_GOLDEN === '1') writeFileSync(`${repoRoot}${g.summary}`, a);
    const b = await run(g.scenario);
    assert.equal(a, b, 'the same seed gives the same summary');
    const shipped = readFileSync(`${repoRoot}${g.summary}`, 'utf8');
    assert.equal(
      a,
      shipped,
      `summary differs from ${g.summary}; if intended, run npm run golden and review the diff`,
    );
    const j = JSON.parse(a) as { candidates: { summary: { requests?: unknown } }[] };
    assert.equal(j.candidates.length, 1);
  });
}
