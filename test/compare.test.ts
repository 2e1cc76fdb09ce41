import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCompare } from '../src/cli/commands/compare.js';
import {
  compareCsv,
  compareMarkdown,
  compareScenario,
  compareText,
  ledgerFromSimulation,
  STORAGE_USD_PER_GB_MONTH,
  type CompareResult,
} from '../src/cost/index.js';
import type { SimulationSummary } from '../src/engine/simulate.js';
import type { ResolvedCandidate } from '../src/scenario/resolve.js';
import type { Scenario } from '../src/scenario/schema.js';
import { repoRoot, runCli } from './helpers/cli.js';

const close = (a: number, b: number, rel = 1e-9): void =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b)), `${a} ≉ ${b}`);

/** A small synthetic summary: 2 replicas of 4 chips over one hour. Only the fields the adapter reads. */
function summary(): SimulationSummary {
  return {
    durationS: 3600,
    replicaCount: 2,
    requests: {
      total: 100,
      byOutcome: { accepted: 80, 'slo-miss': 10, timeout: 5, failed: 0, rejected: 5 },
      sloMissBy: { ttft: 10, tpot: 0, e2e: 0 },
      retried: 0,
      sessions: 0,
    },
    tokens: {
      prompt: 55000,
      promptCached: 0,
      outputRequested: 10500,
      outputGenerated: 10000,
      outputAccepted: 9000,
      outputSloMiss: 500,
      outputWasted: 500,
      prefillComputed: 50000,
      emitted: 10000,
    },
    utilization: { busyS: 3600, prefillBusyS: 720, decodeBusyS: 2880 },
  } as unknown as SimulationSummary;
}

function candidate(quality = 1): ResolvedCandidate {
  return {
    name: 'synthetic',
    modelKey: 'llama-3.1-8b',
    productChange: [],
    instance: {
      key: 'test/8-chip',
      chips: 8,
      price: {
        per: 'instance',
        sources: ['test price sheet'],
        evidence: { default: 'vendor-reported', fields: {}, notes: {} },
        notes: null,
      },
    },
    accelerator: { name: 'test chip', tdpW: 700, idleW: 100 },
    instanceUsdPerHour: 80,
    priceSource: 'catalog',
    chipsPerReplica: 4,
    spec: {
      pricing: { model: 'on_demand' },
      precision: { weights: 'bf16', kv: 'bf16' },
      quality_acceptance: quality,
    },
  } as unknown as ResolvedCandidate;
}

const scenario = {
  window: { days: 30, mapping: 'as-is' },
  costs: {
    orchestration_usd_month: 730,
    egress_usd_gb: 0.1,
    bytes_per_output_token: 4,
    pue: 1.3,
    usd_kwh: 0.08,
  },
} as unknown as Scenario;

describe('ledger from a simulation', () => {
  it('matches a hand calculation', () => {
    const l = ledgerFromSimulation({
      scenario,
      candidate: candidate(),
      summary: summary(),
      storageBytesPerReplica: 16e9,
      input: { accepted: 40000, wasted: 10000 },
    });
    // 2 replicas × 4 chips = one 8-chip instance for 1 h at $80; each replica is half an instance,
    // busy 3600 s in all → 0.5 busy instance-hours ($40: prefill 20 % = $8, decode $32), 0.5 idle ($40).
    // Waste: prefill 10k/50k = 20 % → $1.60; decode (500 slo-miss + 500 wasted)/10k = 10 % → $3.20.
    const line = (n: string): number => l.ledger.lines.find((x) => x.name === n)!.usd;
    close(l.ledger.provisionedInstanceHours, 1);
    close(l.ledger.busyInstanceHours, 0.5);
    close(line('accelerator'), 6.4 + 28.8);
    close(line('failed requests & retries'), 1.6 + 3.2);
    close(line('idle capacity'), 40);
    close(line('network'), ((10000 * 4) / 1e9) * 0.1);
    const storage = 32 * STORAGE_USD_PER_GB_MONTH * (1 / 730); // 2 replicas × 16 GB for 1 h of a 730 h month
    close(line('storage & cache'), storage);
    close(line('orchestration'), 1); // $730/month for 1 h
    const total = 35.2 + 4.8 + 40 + 4e-6 + storage + 1;
    close(l.ledger.totalUsd, total);
    close(l.ledger.usdPer1mAcceptedOutput, (total / 9000) * 1e6);
    close(l.ledger.usdPer1mInput, (total / 40000) * 1e6);
    close(l.ledger.usdPerRequest, total / 80);
    assert.equal(l.price.evidence, 'vendor-reported');
    assert.deepEqual(l.price.sources, ['test price sheet']);
    assert.deepEqual(l.productChange, []);
  });

  it('quality_acceptance 0.9 moves 10 % of accepted output into waste', () => {
    const args = {
      scenario,
      summary: summary(),
      storageBytesPerReplica: 16e9,
      input: { accepted: 40000, wasted: 10000 },
    };
    const a = ledgerFromSimulation({ ...args, candidate: candidate(1) });
    const b = ledgerFromSimulation({ ...args, candidate: candidate(0.9) });
    close(b.usage.acceptedOutputTokens, 0.9 * a.usage.acceptedOutputTokens);
    close(b.usage.wastedOutputTokens - a.usage.wastedOutputTokens, 0.1 * a.usage.acceptedOutputTokens);
    close(
      b.usage.acceptedOutputTokens + b.usage.wastedOutputTokens,
      a.usage.acceptedOutputTokens + a.usage.wastedOutputTokens,
    );
    close(b.ledger.totalUsd, a.ledger.totalUsd); // same hardware, same bill
    const failed = (x: typeof a): number =>
      x.ledger.lines.find((l) => l.name === 'failed requests & retries')!.usd;
    assert.ok(failed(b) > failed(a));
    close(b.ledger.usdPer1mAcceptedOutput, a.ledger.usdPer1mAcceptedOutput / 0.9);
    assert.match(b.assumptions.join('\n'), /quality_acceptance 0\.9/);
  });

  it('spot without an interruption rate says so and uses 0', () => {
    const c = candidate();
    (c.spec.pricing as { model: string }).model = 'spot';
    const l = ledgerFromSimulation({ scenario, candidate: c, summary: summary(), storageBytesPerReplica: 0 });
    assert.match(l.warnings.join('\n'), /spot_interruptions_per_hour.*0/);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'pertoken-compare-'));

function smallScenario(): string {
  const file = join(dir, 'small.yaml');
  writeFileSync(
    file,
    `name: small
workload:
  synth: { preset: chat, rate: 4, requests: 80, seed: 3 }
slo: { ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.9 }
model: llama-3.1-8b
candidates:
  - name: h100
    instance: aws/p5.48xlarge
    replicas: 1
  - name: too-big
    model: llama-3.1-70b
    instance: aws/p5.48xlarge
    replicas: 1
  - name: unplanned
    instance: aws/p5.48xlarge
`,
  );
  return file;
}

describe('pertoken compare', () => {
  it('the example scenario: every candidate runs and its lines sum to its total', async () => {
    const r = await compareScenario(join(repoRoot, 'scenarios/compare-example.yaml'));
    assert.equal(r.candidates.length, 5);
    assert.equal(r.ranking.length, 5);
    for (const c of r.candidates) {
      assert.equal(c.status, 'ok', `${c.name}: ${c.reason}`);
      const l = c.ledger!;
      close(
        l.lines.reduce((s, x) => s + x.usd, 0),
        l.totalUsd,
      );
      close(
        l.lines.reduce((s, x) => s + x.share, 0),
        1,
      );
      close(l.usdPer1mAcceptedOutput, (l.totalUsd / l.acceptedOutputTokens) * 1e6);
    }
    const costs = r.ranking.map((e) => e.usdPer1mAcceptedOutput);
    assert.deepEqual(
      costs,
      [...costs].sort((a, b) => a - b),
    );
    assert.match(compareText(r), /^1 +\S+ +\$/m);
  });

  let small: CompareResult;
  it('an infeasible candidate stays in the output with its reason; replicas auto is sized', async () => {
    small = await compareScenario(smallScenario());
    const by = new Map(small.candidates.map((c) => [c.name, c]));
    assert.equal(by.get('h100')!.status, 'ok');
    assert.equal(by.get('h100')!.sizing, undefined, 'an explicit count is not sized');
    assert.equal(by.get('too-big')!.status, 'infeasible');
    assert.match(by.get('too-big')!.reason!, /\S/);
    const unplanned = by.get('unplanned')!;
    assert.equal(unplanned.status, 'ok', unplanned.reason ?? '');
    assert.equal(unplanned.slo!.met, true);
    assert.ok(unplanned.sizing!.trials.some((t) => t.replicas === unplanned.replicas && t.met));
    assert.deepEqual(small.ranking.map((e) => e.name).sort(), ['h100', 'unplanned']);
    assert.match(compareText(small), /too-big +infeasible/);
    assert.match(compareText(small), /^ {2}replicas {5}\d+ \(auto: fewest meeting the SLO; tried /m);
    assert.match(compareMarkdown(small), /Infeasible: /);
    const csv = compareCsv(small).trim().split('\n');
    assert.equal(csv.length, 4);
    assert.match(csv[3]!, /^,too-big,infeasible,/);
  });

  it('--json is deterministic', async () => {
    const file = smallScenario();
    const run = async (): Promise<string> => {
      let out = '';
      await runCompare(file, { json: true, quiet: true }, { stdout: (t) => (out += t), stderr: () => {} });
      return out;
    };
    const a = await run();
    assert.equal(a, await run());
    const j = JSON.parse(a) as {
      scenario: string;
      window: unknown;
      candidates: { name: string }[];
      ranking: unknown[];
    };
    assert.equal(j.scenario, 'small');
    assert.deepEqual(j.window, { days: 30, mapping: 'repeat' });
    assert.deepEqual(
      j.candidates.map((c) => c.name),
      ['h100', 'too-big', 'unplanned'],
    );
    assert.equal(j.ranking.length, 2);
  });

  it('a trace that starts hours in costs the same as the same trace starting at 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pertoken-offset-'));
    const rows = (offsetS: number): string =>
      'arrival_s,prompt_tokens,output_tokens\n' +
      Array.from({ length: 60 }, (_, i) => `${offsetS + i * 0.5},${200 + i},${50 + (i % 7)}`).join('\n') +
      '\n';
    const ledgers: string[] = [];
    for (const offsetS of [0, 3600]) {
      writeFileSync(join(dir, `t${offsetS}.csv`), rows(offsetS));
      writeFileSync(
        join(dir, `s${offsetS}.yaml`),
        `name: offset
workload:
  trace: { path: t${offsetS}.csv }
slo: { ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.9 }
model: llama-3.1-8b
candidates:
  - { name: h100, instance: aws/p5.48xlarge, replicas: 1 }
  - { name: api, pricing: { model: api, usd_per_1m_input: 0.1, usd_per_1m_output: 0.2, source: test } }
`,
      );
      const r = await compareScenario(join(dir, `s${offsetS}.yaml`), { workers: 1 });
      ledgers.push(JSON.stringify(r.candidates.map((c) => [c.name, c.ledger?.totalUsd, c.latency])));
    }
    assert.equal(ledgers[1], ledgers[0]);
  });

  it('exits 2 on a bad scenario', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nmodel: llama-3.1-8b\ncandidates: []\n');
    const r = runCli(['compare', bad, '--quiet']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /pertoken: /);
  });
});
