// `npm run bench`: speed and memory figures, printed as a table and saved to bench/results/latest.json.
// Figures are wall-clock on this machine; they are measurements, not tests (no pass/fail here).
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/util/rng.js';
import { readTrace } from '../src/workload/read.js';
import { synthesize } from '../src/workload/synth/index.js';
import { loadCatalog } from '../src/catalog/load.js';
import { buildReplicaPerf, causalPairs, emptyStep, loadProfiles } from '../src/perf/index.js';
import { simulate } from '../src/engine/index.js';

interface Figure {
  bench: string;
  value: number;
  unit: string;
  note: string;
}
const figures: Figure[] = [];
const record = (bench: string, value: number, unit: string, note = ''): void => {
  figures.push({ bench, value, unit, note });
  process.stdout.write(
    `${bench.padEnd(46)} ${value.toFixed(value < 10 ? 3 : 0).padStart(12)} ${unit.padEnd(8)} ${note}\n`,
  );
};

const ROWS = Number(process.env.PERTOKEN_BENCH_ROWS ?? 10_000_000);

/** A deterministic generic CSV of `rows` requests (cached in the temp dir between runs). */
async function genericCsv(rows: number): Promise<string> {
  const file = join(tmpdir(), `pertoken-bench-${rows}.csv`);
  if (existsSync(file) && statSync(file).size > rows * 10) return file;
  const out = createWriteStream(file);
  const rng = new Rng(42);
  let t = 0;
  out.write('arrival_s,prompt_tokens,output_tokens\n');
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    t += rng.exponential(0.01);
    chunk += `${t.toFixed(6)},${1 + Math.floor(rng.exponential(1000))},${1 + Math.floor(rng.exponential(200))}\n`;
    if ((i & 8191) === 8191) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return file;
}

async function main(): Promise<void> {
  process.stdout.write(`pertoken bench — node ${process.version}, ${new Date().toISOString()}\n\n`);

  // 1. profile streaming: rows/s and peak RSS on a large generic CSV, in a child process.
  const csv = await genericCsv(ROWS);
  const child = execFileSync(process.execPath, ['--import', 'tsx', 'bench/profile-child.ts', csv], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const r = JSON.parse(child) as { rows: number; seconds: number; rowsPerS: number; maxRssMB: number };
  record(
    `profile ${r.rows.toLocaleString('en-US')}-row generic CSV`,
    r.rowsPerS / 1e6,
    'M rows/s',
    `${r.seconds.toFixed(2)} s`,
  );
  record('profile peak RSS', r.maxRssMB, 'MB', 'bar: < 500 MB');

  // 2. every shipped sample through its reader.
  const samples = [
    'azure-2023-code.sample.csv',
    'azure-2023-conv.sample.csv',
    'mooncake-fast25-conversation.sample.jsonl',
    'mooncake-fast25-synthetic.sample.jsonl',
    'vidur-splitwise-code.sample.csv',
    'weka-claude-code-requests.sample.csv',
    'swe-agent-mini-deepseek-calls.sample.csv',
  ];
  for (const s of samples) {
    const path = join('data/traces', s);
    if (!existsSync(path)) continue;
    const t0 = performance.now();
    const { requests } = await readTrace(path);
    const ms = performance.now() - t0;
    record(`read ${s}`, ms, 'ms', `${requests.length} requests`);
  }

  // 3. synthetic generation.
  for (const [preset, n] of [
    ['chat', 1_000_000],
    ['coding-agent', 100_000],
  ] as const) {
    const t0 = performance.now();
    let count = 0;
    for await (const batch of synthesize({ preset, rate: 100, requests: n, seed: 1 })) count += batch.length;
    const s = (performance.now() - t0) / 1000;
    record(
      `synth ${preset} ${n.toLocaleString('en-US')} requests`,
      count / s / 1e6,
      'M req/s',
      `${s.toFixed(2)} s`,
    );
  }

  // 4. the step-time function (the engine calls it millions of times)
  {
    const catalog = await loadCatalog();
    const profiles = await loadProfiles();
    for (const [modelKey, acc, tp] of [
      ['llama-3.1-8b', 'H200', 1],
      ['llama-3.1-70b', 'H100_SXM', 4],
      ['mixtral-8x7b', 'H200', 2],
    ] as const) {
      const { replica } = buildReplicaPerf(
        { model: catalog.model(modelKey), accelerator: catalog.accelerator(acc), stack: 'vllm', tp },
        profiles,
      );
      const batch = emptyStep();
      const calls = 5_000_000;
      let sink = 0;
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) {
        batch.decodeSeqs = 1 + (i & 255);
        batch.decodeContextTokens = batch.decodeSeqs * (512 + (i & 4095));
        batch.prefillTokens = (i & 7) === 0 ? 512 : 0;
        batch.prefillSeqs = batch.prefillTokens > 0 ? 1 : 0;
        batch.prefillAttnPairs = batch.prefillTokens > 0 ? causalPairs(512, 1024) : 0;
        batch.prefillContextTokens = batch.prefillTokens > 0 ? 1024 : 0;
        sink += replica.stepTimeS(batch);
      }
      const s = (performance.now() - t0) / 1000;
      record(
        `stepTimeS ${modelKey} tp${tp} on ${acc}`,
        calls / s / 1e6,
        'M calls/s',
        `bar ≥ 5 (checksum ${sink.toExponential(3)})`,
      );
    }
  }

  // 5. the engine with the real performance model: the Azure code sample on one H100 replica of Llama-3.1-8B
  {
    const catalog = await loadCatalog();
    const profiles = await loadProfiles();
    const { replica } = buildReplicaPerf(
      { model: catalog.model('llama-3.1-8b'), accelerator: catalog.accelerator('H100_SXM'), stack: 'vllm' },
      profiles,
    );
    const { requests } = await readTrace('data/traces/azure-2023-code.sample.csv');
    const t0 = performance.now();
    const summary = await simulate({
      requests: [requests],
      replicas: [replica],
      slo: { ttftS: 2, tpotS: 0.05, attainment: 0.99 },
      seed: 1,
    });
    const ms = performance.now() - t0;
    record(
      'simulate azure code 8,819 req, 1× H100 8B (perf model)',
      ms,
      'ms',
      `${JSON.stringify(summary).length} B summary`,
    );
  }

  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/latest.json',
    JSON.stringify({ node: process.version, figures }, null, 2) + '\n',
  );
  process.stdout.write('\nsaved bench/results/latest.json\n\n');
  // 6. the engine bench (each case in its own process for a clean peak RSS)
  process.stdout.write(
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/engine.ts'], { encoding: 'utf8' }),
  );
}

await main();
