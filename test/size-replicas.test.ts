// `replicas: auto`: the fewest replicas whose simulated run meets the SLO (src/engine/size-replicas.ts),
// as `simulate` and `compare` use it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runSimulate, type SimulateFlags } from '../src/cli/commands/simulate.js';
import { runCompare } from '../src/cli/commands/compare.js';
import { compareCsv, compareMarkdown, compareScenario, compareText } from '../src/cost/index.js';
import {
  affinePerf,
  describeSizing,
  simulate,
  sizeReplicas,
  SizingError,
  type SimulationSummary,
  type SizingTrial,
} from '../src/engine/index.js';
import type { SloSpec } from '../src/metrics/types.js';
import { compareHtml } from '../src/report/html.js';
import { InputError } from '../src/util/errors.js';
import { synthesize } from '../src/workload/synth/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pertoken-size-'));

/** A stand-in summary: only the fields sizeReplicas reads. */
function fakeSummary(replicas: number, met: boolean, attainment = met ? 1 : 0.5): SimulationSummary {
  return {
    replicaCount: replicas,
    slo: { attainment, attainmentTarget: 0.99, met, percentiles: [] },
    requests: {
      sloMissBy: { ttft: met ? 0 : 10, tpot: 0, e2e: 0 },
      byOutcome: { accepted: 10, 'slo-miss': met ? 0 : 10, timeout: 0, failed: 0, rejected: 0 },
    },
    utilization: { batchSize: { max: 8 } },
    latency: { queueDelay: { count: 20, maxS: 0.1 } },
  } as unknown as SimulationSummary;
}

/** A fake run: meets the SLO exactly at the counts `meets` says; records every count asked for. */
function fakeRun(meets: (n: number) => boolean): {
  run: (n: number) => Promise<SimulationSummary>;
  asked: number[];
} {
  const asked: number[] = [];
  return {
    asked,
    run: (n) => {
      asked.push(n);
      return Promise.resolve(fakeSummary(n, meets(n), meets(n) ? 1 : n / 1000));
    },
  };
}

describe('sizeReplicas: the search', () => {
  it('finds the threshold for every k in 1…70: 1, 2, 4, … then bisect; each count run once; N − 1 failed', async () => {
    for (let k = 1; k <= 70; k++) {
      const { run, asked } = fakeRun((n) => n >= k);
      const r = await sizeReplicas(run, { name: 'fake' });
      assert.equal(r.replicas, k);
      assert.equal(r.summary.replicaCount, k, "the answer's own run is returned");
      assert.equal(
        new Set(asked).size,
        asked.length,
        `k=${k}: no count simulated twice (${asked.join(',')})`,
      );
      assert.deepEqual(
        r.trials.map((t) => t.replicas),
        asked,
      );
      if (k > 1)
        assert.ok(
          r.trials.some((t) => t.replicas === k - 1 && !t.met),
          `k=${k}: N − 1 was run and failed`,
        );
      const growth = asked.slice(0, Math.ceil(Math.log2(k)) + 1);
      assert.deepEqual(
        growth,
        growth.map((_, i) => 2 ** i),
        `k=${k}: grows by doubling first (${asked.join(',')})`,
      );
      assert.ok(asked.length <= 2 * Math.ceil(Math.log2(k)) + 1, `k=${k}: ${asked.length} trials`);
    }
  });

  it('the trials describe the search: "tried 1✗ 2✗ 4✓ 3✓"', async () => {
    const { run } = fakeRun((n) => n >= 3);
    const r = await sizeReplicas(run, { name: 'fake' });
    assert.equal(describeSizing(r.trials), 'auto: fewest meeting the SLO; tried 1✗ 2✗ 4✓ 3✓');
    const seen: SizingTrial[] = [];
    await sizeReplicas(fakeRun((n) => n >= 3).run, { name: 'fake', onTrial: (t) => seen.push(t) });
    assert.deepEqual(
      seen.map((t) => [t.replicas, t.met]),
      [
        [1, false],
        [2, false],
        [4, true],
        [3, true],
      ],
    );
    assert.ok(seen.every((t) => t.wallS >= 0));
  });

  it('not monotone: the answer still meets the SLO and N − 1 still fails (a smaller count may also meet)', async () => {
    // meets at 3 and from 6 on: growth 1✗ 2✗ 4✗ 8✓, bisect 6✓ 5✗ → 6
    const { run } = fakeRun((n) => n === 3 || n >= 6);
    const r = await sizeReplicas(run, { name: 'fake' });
    assert.equal(r.replicas, 6);
    assert.ok(r.trials.some((t) => t.replicas === 5 && !t.met));
  });

  it('gives up at the cap with the best attainment reached, naming the candidate', async () => {
    const { run, asked } = fakeRun(() => false);
    await assert.rejects(sizeReplicas(run, { name: 'h100', maxReplicas: 12 }), (e: unknown) => {
      assert.ok(e instanceof SizingError && e instanceof InputError);
      assert.match(
        e.message,
        /^h100: replicas: auto found no replica count that meets the SLO: none up to 12 replicas .*best attainment 1\.20 % \(target 99\.00 %\) at 12 replica\(s\).*tried 1✗ 2✗ 4✗ 8✗ 12✗/,
      );
      assert.equal(e.trials.length, 5);
      return true;
    });
    assert.deepEqual(asked, [1, 2, 4, 8, 12]);
  });
});

// A small synthetic workload on a stand-in step timer: cheap enough to run a dozen times.
const PERF = affinePerf({ baseS: 0.005, perTokenS: 3e-5, perContextTokenS: 4e-8, kvTokens: 200_000 });
const sloOf = (ttftS: number): SloSpec => ({
  ttftS,
  tpotS: 0.03,
  attainment: 0.95,
  percentiles: [
    { metric: 'ttft', percentile: 95, limitS: ttftS },
    { metric: 'tpot', percentile: 95, limitS: 0.03 },
  ],
});
const runAt = (slo: SloSpec) => (n: number) =>
  simulate({
    requests: synthesize({ preset: 'chat', rate: 40, requests: 120, seed: 7 }),
    replicas: () => PERF,
    config: { replicas: n },
    slo,
    seed: 1,
  });

describe('sizeReplicas on the engine', () => {
  it('the chosen N meets the SLO and N − 1 does not; deterministic', async () => {
    const slo = sloOf(1);
    const a = await sizeReplicas(runAt(slo), { name: 'affine' });
    assert.ok(a.replicas > 1, `a workload that needs more than one replica (got ${a.replicas})`);
    assert.equal(a.summary.replicaCount, a.replicas);
    assert.equal(a.summary.slo.met, true);
    const below = await runAt(slo)(a.replicas - 1);
    assert.equal(below.slo.met, false, `${a.replicas - 1} replicas should miss the SLO`);
    const again = await runAt(slo)(a.replicas);
    assert.equal(JSON.stringify(again), JSON.stringify(a.summary), 'the returned run is the run at N');
    const b = await sizeReplicas(runAt(slo), { name: 'affine' });
    assert.equal(b.replicas, a.replicas);
    assert.deepEqual(
      b.trials.map(({ replicas, attainment, met }) => ({ replicas, attainment, met })),
      a.trials.map(({ replicas, attainment, met }) => ({ replicas, attainment, met })),
    );
  });

  it('a TTFT limit below one prefill step: a clear error once more replicas cannot help', async () => {
    await assert.rejects(sizeReplicas(runAt(sloOf(0.001)), { name: 'affine' }), (e: unknown) => {
      assert.ok(e instanceof SizingError);
      assert.match(e.message, /^affine: replicas: auto found no replica count that meets the SLO/);
      assert.match(e.message, /every request already ran alone with no queueing/);
      assert.match(e.message, /best attainment 0\.00 % \(target 95\.00 %\)/);
      assert.match(e.message, /requests missed by ttft 120/);
      assert.ok(e.trials.length < 11, `stops before the cap (${e.trials.length} trials)`);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------------------------
// simulate and compare
// ---------------------------------------------------------------------------------------------

function simScenario(name: string, replicas: string | null, slo = 'ttft_p95_s: 1, tpot_p95_s: 0.03'): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
workload:
  synth: { preset: chat, rate: 40, requests: 120, seed: 7 }
slo: { ${slo}, attainment: 0.95 }
model: llama-3.1-8b
candidates:
  - name: h100
    instance: aws/p5.48xlarge
${replicas === null ? '' : `    replicas: ${replicas}\n`}`,
  );
  return file;
}

const AFFINE = 'base=0.005,token=3e-5,context=4e-8,kv=200000';

async function sim(file: string, flags: SimulateFlags): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  await runSimulate(
    file,
    { affinePerf: AFFINE, ...flags },
    {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      isTty: false,
    },
  );
  return { out, err };
}

interface SimJson {
  candidates: {
    sizing?: { rule: string; trials: { replicas: number; attainment: number; met: boolean }[] };
    summary: { replicaCount: number; slo: { met: boolean } };
  }[];
}

describe('pertoken simulate with replicas: auto', () => {
  it('sizes the candidate (the default is auto), says how, and is deterministic', async () => {
    const file = simScenario('auto', null);
    const { out, err } = await sim(file, {});
    const n = Number(/^h100 — (\d+) × affine/m.exec(out)![1]);
    assert.ok(n > 1);
    assert.match(
      out,
      new RegExp(`^  replicas     ${n} \\(auto: fewest meeting the SLO; tried 1✗ .*${n}✓`, 'm'),
    );
    assert.match(err, /^h100: sizing, 1 replica: SLO missed \(attainment \d+\.\d\d %; \d+\.\d s\)$/m);
    assert.match(err, new RegExp(`^h100: sizing, ${n} replicas: SLO met`, 'm'));
    assert.match(err, new RegExp(`^h100: ${n} replicas \\(auto: fewest meeting the SLO; tried `, 'm'));
    const a = await sim(file, { json: true, quiet: true });
    const b = await sim(file, { json: true, quiet: true });
    assert.equal(a.out, b.out, 'byte-identical JSON (no wall-clock times in it)');
    assert.equal(a.err, '', '--quiet: no progress lines');
    const j = JSON.parse(a.out) as SimJson;
    const c = j.candidates[0]!;
    assert.equal(c.summary.replicaCount, n);
    assert.equal(c.summary.slo.met, true);
    assert.equal(c.sizing!.rule, 'fewest replicas meeting the SLO');
    assert.ok(c.sizing!.trials.some((t) => t.replicas === n - 1 && !t.met));
    assert.ok(c.sizing!.trials.every((t) => !('wallS' in t)));
  });

  it('an integer in the scenario, or --replicas N, bypasses sizing', async () => {
    const fixed = await sim(simScenario('fixed', '2'), { json: true });
    assert.doesNotMatch(fixed.err, /sizing/);
    const j = JSON.parse(fixed.out) as SimJson;
    assert.equal(j.candidates[0]!.summary.replicaCount, 2);
    assert.equal(j.candidates[0]!.sizing, undefined);
    const flag = await sim(simScenario('auto-flag', 'auto'), { replicas: '1' });
    assert.doesNotMatch(flag.err, /sizing/);
    assert.match(flag.out, /^h100 — 1 × affine/m);
    assert.doesNotMatch(flag.out, /auto: fewest/);
  });

  it('--requests with auto: the rows of the chosen count only', async () => {
    const csv = join(dir, 'auto-rows.csv');
    const { err } = await sim(simScenario('auto-rows', 'auto'), { requests: csv });
    assert.equal(readFileSync(csv, 'utf8').trim().split('\n').length, 1 + 120);
    assert.match(err, /once more for the --requests rows/);
  });

  it('an unreachable SLO: exit-2 error naming the candidate and the best attainment', async () => {
    const file = simScenario('unreachable', 'auto', 'ttft_p95_s: 0.001, tpot_p95_s: 0.03');
    await assert.rejects(
      sim(file, { quiet: true }),
      (e: unknown) =>
        e instanceof InputError &&
        /^h100: replicas: auto found no replica count that meets the SLO: .*best attainment 0\.00 %/.test(
          e.message,
        ),
    );
  });
});

// compare uses the real performance model: Llama-3.1-8B on one H100 needs 3 replicas for this load.
function compareScenarioFile(): string {
  const file = join(dir, 'cmp.yaml');
  writeFileSync(
    file,
    `name: cmp
workload:
  synth: { preset: chat, rate: 60, requests: 200, seed: 3 }
slo: { ttft_p95_s: 0.5, tpot_p95_s: 0.03, attainment: 0.95 }
model: llama-3.1-8b
candidates:
  - { name: h100-auto, instance: aws/p5.48xlarge }
  - { name: h100-two, instance: aws/p5.48xlarge, replicas: 2 }
`,
  );
  return file;
}

describe('pertoken compare with replicas: auto', () => {
  it('sizes inside the task, on worker threads too: same JSON with 1 and 2 workers, progress per trial', async () => {
    const file = compareScenarioFile();
    const run = async (workers: string): Promise<{ out: string; err: string }> => {
      let out = '';
      let err = '';
      await runCompare(
        file,
        { json: true, workers },
        { stdout: (t) => (out += t), stderr: (t) => (err += t) },
      );
      return { out, err };
    };
    const seq = await run('1');
    const par = await run('2');
    assert.equal(par.out, seq.out);
    for (const p of [seq.err, par.err]) {
      assert.match(p, /^h100-auto: sizing, 1 replica: SLO missed/m);
      assert.match(p, /^h100-auto: sizing, 3 replicas: SLO met/m);
      assert.doesNotMatch(p, /h100-two: sizing/);
    }
    const j = JSON.parse(par.out) as {
      candidates: {
        name: string;
        status: string;
        replicas: number | null;
        sizing: { trials: { replicas: number; met: boolean }[] } | null;
      }[];
    };
    const by = new Map(j.candidates.map((c) => [c.name, c]));
    assert.equal(by.get('h100-auto')!.status, 'ok');
    assert.equal(by.get('h100-auto')!.replicas, 3);
    assert.deepEqual(
      by.get('h100-auto')!.sizing!.trials.map((t) => `${t.replicas}${t.met ? '✓' : '✗'}`),
      ['1✗', '2✗', '4✓', '3✓'],
    );
    assert.equal(by.get('h100-two')!.replicas, 2);
    assert.equal(by.get('h100-two')!.sizing, null, 'an explicit count is not sized');
  });

  it('text, Markdown, CSV and HTML say how the count was found', async () => {
    const r = await compareScenario(compareScenarioFile(), { workers: 1 });
    const text = compareText(r);
    assert.match(text, /^\d +h100-auto +\$[\d.,]+ .* 3 \(auto\) /m);
    assert.match(text, /^ {2}replicas {5}3 \(auto: fewest meeting the SLO; tried 1✗ 2✗ 4✓ 3✓\)$/m);
    assert.match(compareMarkdown(r), /^- replicas: 3 \(auto: fewest meeting the SLO; tried 1✗ 2✗ 4✓ 3✓\)$/m);
    const csv = compareCsv(r).trim().split('\n');
    assert.match(csv[0]!, /,replicas,replicas_sizing,/);
    assert.ok(csv.some((l) => l.includes(',3,auto: fewest meeting the SLO; tried 1✗ 2✗ 4✓ 3✓,')));
    const html = await compareHtml(r);
    assert.match(html, /<td>3 \(auto\)<\/td>/);
    assert.match(html, /Replicas: 3 \(auto: fewest meeting the SLO; tried 1✗ 2✗ 4✓ 3✓\)/);
  });

  it('an unreachable SLO: the candidate stays in the output as infeasible, with the best attainment', async () => {
    const file = join(dir, 'cmp-unreachable.yaml');
    writeFileSync(
      file,
      `name: cmp-unreachable
workload:
  synth: { preset: chat, rate: 4, requests: 40, seed: 3 }
slo: { ttft_p95_s: 0.0001, attainment: 0.95 }
model: llama-3.1-8b
candidates:
  - { name: h100, instance: aws/p5.48xlarge }
`,
    );
    const r = await compareScenario(file, { workers: 1 });
    const c = r.candidates[0]!;
    assert.equal(c.status, 'infeasible');
    assert.match(
      c.reason!,
      /^h100: replicas: auto found no replica count that meets the SLO: .*best attainment 0\.00 %/,
    );
    assert.equal(r.ranking.length, 0);
    assert.match(compareText(r), /^– +h100 +infeasible/m);
  });
});
