import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { registerSimulate, runSimulate, type SimulateFlags } from '../src/cli/commands/simulate.js';
import { InputError } from '../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pertoken-simulate-'));

function scenario(name: string, replicas: number | 'auto', extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
workload:
  synth: { preset: chat, rate: 4, requests: 120, seed: 5 }
slo: { ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.9 }
model: llama-3.1-70b
candidates:
  - name: h100
    instance: aws/p5.48xlarge
    parallelism: { tp: 4 }
    replicas: ${replicas}
    batching: { max_num_seqs: 64, max_num_batched_tokens: 4096, block_size: 16 }
  - name: h200
    instance: aws/p5en.48xlarge
    parallelism: { tp: 2 }
    replicas: ${replicas}
${extra}`,
  );
  return file;
}

const AFFINE = 'base=0.005,token=3e-5,context=4e-8,kv=200000';

async function cli(file: string, flags: SimulateFlags): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  await runSimulate(file, flags, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTty: false });
  return { out, err };
}

describe('pertoken simulate', () => {
  const file = scenario('two', 2);

  it('prints a summary table per candidate', async () => {
    const { out } = await cli(file, { affinePerf: AFFINE, quiet: true });
    assert.match(out, /^h100 — 2 × affine/m);
    assert.match(out, /^h200 — 2 × affine/m);
    assert.match(out, /requests {5}120: accepted/);
    assert.match(out, /SLO {10}(met|NOT MET): attainment/);
    assert.match(out, /TTFT/);
  });

  it('--json: one object, byte-identical across runs with the same seed', async () => {
    const a = await cli(file, { affinePerf: AFFINE, json: true, candidate: 'h100', quiet: true });
    const b = await cli(file, { affinePerf: AFFINE, json: true, candidate: 'h100', quiet: true });
    assert.equal(a.out, b.out);
    const j = JSON.parse(a.out) as {
      scenario: string;
      candidates: {
        name: string;
        summary: { requests: { total: number }; config: { maxNumSeqs: number } };
      }[];
    };
    assert.equal(j.scenario, 'two');
    assert.equal(j.candidates.length, 1);
    assert.equal(j.candidates[0]!.summary.requests.total, 120);
    assert.equal(j.candidates[0]!.summary.config.maxNumSeqs, 64, "the candidate's batching limits");
  });

  it('--requests writes one CSV row per request with a candidate column', async () => {
    const csv = join(dir, 'rows.csv');
    const { err } = await cli(file, { affinePerf: AFFINE, requests: csv, quiet: true });
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1 + 240);
    assert.match(lines[0]!, /^candidate,id,sessionId,turn,replica,/);
    assert.match(lines[1]!, /^h100,/);
    assert.match(err, /wrote .*rows\.csv/);
  });

  it('flags reach the engine: router, timeout, replicas', async () => {
    const { out } = await cli(file, {
      affinePerf: AFFINE,
      json: true,
      quiet: true,
      router: 'round-robin',
      timeout: '30',
      replicas: '3',
      candidate: 'h200',
    });
    const j = JSON.parse(out) as {
      candidates: { summary: { replicaCount: number; config: { router: string; timeoutS: number } } }[];
    };
    assert.equal(j.candidates[0]!.summary.replicaCount, 3);
    assert.equal(j.candidates[0]!.summary.config.router, 'round-robin');
    assert.equal(j.candidates[0]!.summary.config.timeoutS, 30);
  });

  it('replicas auto: sized by simulation (the fewest meeting the SLO), no longer an error', async () => {
    const { out } = await cli(scenario('auto', 'auto'), { affinePerf: AFFINE, quiet: true });
    assert.match(out, /^h100 — \d+ × affine/m);
    assert.match(out, /^ {2}replicas {5}\d+ \(auto: fewest meeting the SLO; tried 1[✗✓]/m);
  });

  it('clear errors: unknown candidate, bad flags', async () => {
    await assert.rejects(
      cli(file, { affinePerf: AFFINE, candidate: 'nope' }),
      (e: unknown) => e instanceof InputError && /no candidate "nope".*h100, h200/.test(e.message),
    );
    await assert.rejects(cli(file, { affinePerf: 'base=1' }), /--affine-perf: expected kv=TOKENS/);
    await assert.rejects(
      cli(file, { affinePerf: AFFINE, timeout: '-1' }),
      /--timeout: expected a number > 0/,
    );
  });

  it('runs with the real performance model (catalog + profiles) by default', async () => {
    const { out } = await cli(file, { json: true, quiet: true });
    const j = JSON.parse(out) as { candidates: { replicaLabel: string }[] };
    assert.equal(j.candidates.length, 2);
    assert.match(j.candidates[0]!.replicaLabel, /Llama 3\.1 70B on 4× NVIDIA H100/);
    assert.match(j.candidates[1]!.replicaLabel, /Llama 3\.1 70B on 2× NVIDIA H200/);
  });

  it('registers the command with commander', () => {
    const program = new Command();
    registerSimulate(program);
    const cmd = program.commands.find((c) => c.name() === 'simulate');
    assert.ok(cmd);
    const help = cmd.helpInformation();
    for (const flag of ['--candidate', '--json', '--requests', '--quiet', '--router', '--timeout'])
      assert.ok(help.includes(flag), flag);
    assert.ok(!help.includes('--affine-perf'), 'the stand-in timer is a hidden option');
  });
});
