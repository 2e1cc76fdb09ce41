// Engine speed and memory: `node --import tsx bench/engine.ts` (called from `npm run bench`).
// Each case runs in its own child process (clean peak RSS); figures are wall-clock and CPU time on
// this machine (CPU time is the steadier figure when other work shares the machine) and are
// measurements, not tests. The engine is single-threaded.
//
//   1. the Azure 2023 code sample (8,819 requests) on one replica: cold (first call in a fresh
//      process, JIT included) and warm engine time, with and without step jumping;
//   2. 1,000,000 synthetic chat requests streamed from synthesize() through 64 replicas: total
//      time, the synthesizer's own share (measured alone), and peak RSS.
//
// Step time comes from an affine test double (affinePerf), not the performance model, so the
// figures measure the engine alone. Environment: PERTOKEN_BENCH_ENGINE_REQUESTS (default 1e6),
// PERTOKEN_BENCH_ENGINE_RATE (req/s, default 1000: ~75 sequences per replica step).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { affinePerf, simulate, type SimulationSummary } from '../src/engine/index.js';
import type { SloSpec } from '../src/metrics/types.js';
import { readTrace } from '../src/workload/read.js';
import { synthesize } from '../src/workload/synth/index.js';

const SLO: SloSpec = { ttftS: 2, tpotS: 0.05, attainment: 0.99 };
/** Roughly an 8B model on one H100-class accelerator: 5 ms per step, 33k prefill tokens/s, KV reads at 25M tokens/s. */
const PERF = affinePerf({ baseS: 0.005, perTokenS: 3e-5, perContextTokenS: 4e-8, kvTokens: 400_000 });

interface Figure {
  name: string;
  value: number;
  unit: string;
  note: string;
}

/** Wall and CPU (user + system) milliseconds since a start mark. */
function mark(): () => { wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
}

const loopNote = (s: SimulationSummary): string =>
  `${s.loop.steps.toLocaleString('en-US')} steps in ${s.loop.stepEnds.toLocaleString('en-US')} step events`;

async function azureCase(): Promise<Figure[]> {
  const path = fileURLToPath(new URL('../data/traces/azure-2023-code.sample.csv', import.meta.url));
  const { requests } = await readTrace(path);
  const run = async (jump: boolean): Promise<{ wallMs: number; cpuMs: number; s: SimulationSummary }> => {
    const done = mark();
    const s = await simulate({
      requests: [requests],
      replicas: [PERF],
      config: { stepJumping: jump },
      slo: SLO,
      seed: 1,
    });
    return { ...done(), s };
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cold = await run(true);
  const warm: { wallMs: number; cpuMs: number }[] = [];
  for (let i = 0; i < 5; i++) warm.push(await run(true));
  const steps: { wallMs: number; cpuMs: number; s: SimulationSummary }[] = [];
  for (let i = 0; i < 3; i++) steps.push(await run(false));
  return [
    {
      name: `azure code ${requests.length} req, 1 replica, cold`,
      value: cold.wallMs,
      unit: 'ms',
      note: `bar < 300 ms; CPU ${cold.cpuMs.toFixed(0)} ms; ${loopNote(cold.s)}`,
    },
    {
      name: '  warm (median of 5)',
      value: median(warm.map((w) => w.wallMs)),
      unit: 'ms',
      note: `CPU ${median(warm.map((w) => w.cpuMs)).toFixed(0)} ms`,
    },
    {
      name: '  warm, step by step (no jumping)',
      value: median(steps.map((w) => w.wallMs)),
      unit: 'ms',
      note: `CPU ${median(steps.map((w) => w.cpuMs)).toFixed(0)} ms; ${loopNote(steps[0]!.s)}`,
    },
  ];
}

async function chatCase(): Promise<Figure[]> {
  const requests = Number(process.env.PERTOKEN_BENCH_ENGINE_REQUESTS ?? 1_000_000);
  const rate = Number(process.env.PERTOKEN_BENCH_ENGINE_RATE ?? 1000);
  const spec = { preset: 'chat' as const, rate, requests, seed: 1 };
  let done = mark();
  let n = 0;
  for await (const b of synthesize(spec)) n += b.length;
  const synth = done();
  done = mark();
  const s = await simulate({
    requests: synthesize(spec),
    replicas: () => PERF,
    config: { replicas: 64 },
    slo: SLO,
    seed: 1,
  });
  const total = done();
  const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  return [
    {
      name: `${n.toLocaleString('en-US')} chat req @ ${rate}/s, 64 replicas: total`,
      value: total.wallMs / 1000,
      unit: 's',
      note: `bar < 10 s (synthesis streamed in); CPU ${secs(total.cpuMs)}`,
    },
    {
      name: '  of which synthesizing',
      value: synth.wallMs / 1000,
      unit: 's',
      note: `synthesize() alone, same spec; CPU ${secs(synth.cpuMs)}`,
    },
    {
      name: '  engine (total − synthesizing)',
      value: (total.wallMs - synth.wallMs) / 1000,
      unit: 's',
      note: `CPU ${secs(total.cpuMs - synth.cpuMs)}; ${loopNote(s)}`,
    },
    { name: '  peak RSS', value: process.resourceUsage().maxRSS / 1024, unit: 'MB', note: 'bar < 1024 MB' },
    {
      name: '  simulated',
      value: s.durationS,
      unit: 's',
      note:
        `busy ${(100 * s.utilization.busyFraction).toFixed(0)} %, batch mean ${s.utilization.batchSize.mean.toFixed(1)}, ` +
        `SLO attainment ${(100 * s.slo.attainment).toFixed(1)} %`,
    },
  ];
}

async function child(which: string): Promise<void> {
  const figures = which === 'azure' ? await azureCase() : await chatCase();
  process.stdout.write(JSON.stringify(figures));
}

function main(): void {
  process.stdout.write(`pertoken engine bench — node ${process.version}\n\n`);
  const self = fileURLToPath(import.meta.url);
  for (const which of ['azure', 'chat']) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', which], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    for (const f of JSON.parse(out) as Figure[])
      process.stdout.write(
        `${f.name.padEnd(52)} ${f.value.toFixed(f.value < 10 ? 3 : 0).padStart(10)} ${f.unit.padEnd(3)} ${f.note}\n`,
      );
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1] ?? '');
else main();
