/**
 * tools/profile-accelerator.py on the CPU (--quick tiny shapes): its table must be in the format
 * `pertoken calibrate --table` reads (that of calibration/h200-microbench.json), and the whole
 * loop (measure → calibrate → profile) must run. Needs a python3 that can import torch
 * (CI: Debian's python3-torch under /usr/bin/python3); without one these tests are skipped,
 * saying so, unless PERTOKEN_REQUIRE_TORCH=1.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadCatalog } from '../src/catalog/load.js';
import {
  calibrateFromMeasurements,
  loadProfiles,
  measurements,
  microbenchSchema,
  type MicrobenchTable,
} from '../src/perf/index.js';
import { repoRoot, runCli } from './helpers/cli.js';

const PROFILER = join(repoRoot, 'tools', 'profile-accelerator.py');
const REFERENCE = join(repoRoot, 'calibration', 'h200-microbench.json');
const dir = mkdtempSync(join(tmpdir(), 'pertoken-profiler-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** $PERTOKEN_PYTHON, else the first of /usr/bin/python3 (Debian's python3-torch) and python3 that imports torch. */
function findTorchPython(): { python: string | null; tried: string[] } {
  const env = process.env.PERTOKEN_PYTHON;
  const candidates = env ? [env] : ['/usr/bin/python3', 'python3'];
  const tried: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { python: py, tried };
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`);
    tried.push(`${py}: ${why}`);
  }
  return { python: null, tried };
}

const { python, tried } = findTorchPython();
// CI sets PERTOKEN_REQUIRE_TORCH=1 (it installs python3-torch): there a missing torch fails, not skips
if (python === null && process.env.PERTOKEN_REQUIRE_TORCH === '1')
  throw new Error(`PERTOKEN_REQUIRE_TORCH=1 but no python3 imports torch: ${tried.join('; ')}`);
const SKIP =
  python === null
    ? `python3-torch not installed: no python3 here imports torch (${tried.join('; ')}); ` +
      'apt-get install python3-torch, or set PERTOKEN_PYTHON to a python with torch'
    : null;

interface Run {
  code: number | null;
  stderr: string;
  seconds: number;
  table: unknown;
}

function profile(out: string, args: string[]): Run {
  const t0 = performance.now();
  const r = spawnSync(python!, [PROFILER, '--device', 'cpu', '--out', out, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, PERTOKEN_PYTHON: python! },
  });
  const seconds = (performance.now() - t0) / 1e3;
  let table: unknown = null;
  if (r.status === 0) table = JSON.parse(readFileSync(out, 'utf8')) as unknown;
  return { code: r.status, stderr: r.stderr, seconds, table };
}

/** The quick CPU profile, measured once for all the tests below. */
let quick: { run: Run; table: MicrobenchTable; file: string } | null = null;
function quickTable(t: TestContext): { run: Run; table: MicrobenchTable; file: string } | null {
  if (SKIP !== null) {
    t.skip(SKIP);
    return null;
  }
  if (quick === null) {
    const file = join(dir, 'quick.json');
    const run = profile(file, ['--quick']);
    assert.equal(run.code, 0, `profiler failed:\n${run.stderr}`);
    const parsed = microbenchSchema.safeParse(run.table);
    assert.ok(parsed.success, `schema: ${JSON.stringify(parsed.error?.issues.slice(0, 3))}`);
    quick = { run, table: parsed.data, file };
    t.diagnostic(`quick CPU profile: ${run.seconds.toFixed(1)} s with ${python}`);
  }
  return quick;
}

const catalog = await loadCatalog();
const H200 = catalog.accelerator('H200');

test('profile-accelerator.py --help runs without torch', () => {
  const r = spawnSync(python ?? 'python3', [PROFILER, '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const flag of ['--out', '--device', '--quick', '--sizes', '--max-seconds'])
    assert.ok(r.stdout.includes(flag), `--help lists ${flag}`);
});

test('quick CPU profile: validates with microbenchSchema and has the reference table’s sections and fields', (t) => {
  const q = quickTable(t);
  if (q === null) return;
  const { table } = q;
  const ref = microbenchSchema.parse(JSON.parse(readFileSync(REFERENCE, 'utf8')));
  const raw = q.run.table as Record<string, Record<string, unknown>>;
  const meta = raw.meta!;
  assert.ok(typeof meta.device === 'string' && meta.device.length > 0, 'meta.device names the CPU');
  assert.equal(meta.cuda, false);
  assert.equal(meta.timer, 'perf_counter');
  for (const key of ['torch', 'started', 'seconds_total', 'what']) assert.ok(key in meta, `meta.${key}`);
  // every section the CPU measures by default (fp8 is left out there, with a note)
  for (const s of [
    'copy_bandwidth',
    'gemm_square_bf16',
    'gemm_bf16',
    'attention_decode',
    'attention_prefill',
  ])
    assert.ok(s in raw, `section ${s}`);
  assert.ok(
    (meta.skipped as string[]).some((s) => s.startsWith('gemm_fp8')),
    'the missing fp8 section is explained in meta.skipped',
  );
  // rows carry exactly the reference's fields
  const keys = (o: object): string => Object.keys(o).sort().join(',');
  assert.equal(keys(table.gemm_bf16.rows[0]!), keys(ref.gemm_bf16.rows[0]!));
  assert.equal(keys(table.attention_decode!.rows[0]!), keys(ref.attention_decode!.rows[0]!));
  assert.equal(keys(table.attention_prefill!.rows[0]!), keys(ref.attention_prefill!.rows[0]!));
  assert.equal(keys(table.copy_bandwidth!), keys(ref.copy_bandwidth!));
  assert.equal(keys(table.gemm_square_bf16!), keys(ref.gemm_square_bf16!));
  assert.equal(table.attention_decode!.model_heads, '32q/8kv/128');
  // derived columns follow the reference's definitions
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.abs(b);
  for (const r of table.gemm_bf16.rows) {
    assert.ok(close(r.tflops!, (2 * r.m * r.n * r.k) / r.seconds / 1e12), `tflops of ${r.layer} m=${r.m}`);
    assert.ok(close(r.tb_per_s!, ((r.m * r.k + r.n * r.k + r.m * r.n) * 2) / r.seconds / 1e12));
  }
  for (const r of table.attention_decode!.rows)
    assert.equal(r.kv_bytes, 2 * r.batch * 8 * r.context * 128 * 2, 'kv_bytes = K+V bytes read');
  // one row per (layer, m): 5 projections × 5 token counts in --quick
  const layers = new Set(table.gemm_bf16.rows.map((r) => `${r.n}x${r.k}`));
  assert.equal(table.gemm_bf16.rows.length, layers.size * 5);
});

test('quick CPU profile calibrates: finite parameters and a held-out report', (t) => {
  const q = quickTable(t);
  if (q === null) return;
  const ms = measurements(q.table);
  const cal = calibrateFromMeasurements(ms, H200);
  for (const [k, v] of Object.entries(cal.params)) assert.ok(Number.isFinite(v) && v > 0, `${k} = ${v}`);
  assert.ok(cal.heldOut.n > 0 && cal.train.n > 0);
  assert.equal(cal.heldOut.n + cal.train.n, ms.length);
  assert.ok(Number.isFinite(cal.heldOut.medianAbsErrorPct));
  for (const kind of ['gemm', 'attn-decode']) assert.ok(kind in cal.heldOut.byKind, `held-out ${kind}`);
  for (const pts of Object.values(cal.corrections))
    for (const [x, y] of pts) assert.ok(Number.isFinite(x) && Number.isFinite(y));
});

test('the CLI loop: pertoken calibrate --table (CPU table as if H200) writes a profile loadProfiles accepts', async (t) => {
  const q = quickTable(t);
  if (q === null) return;
  const out = join(dir, 'profiles', 'H200.measured.json');
  const r = runCli(['calibrate', '--table', q.file, '--hardware', 'H200', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    hardware: string;
    heldOut: { n: number; medianAbsErrorPct: number };
  };
  assert.equal(report.hardware, 'H200');
  assert.ok(report.heldOut.n > 0 && Number.isFinite(report.heldOut.medianAbsErrorPct));
  const profiles = await loadProfiles([join(dir, 'profiles')]);
  assert.equal(profiles.length, 1);
  assert.equal(profiles[0]!.source, 'measured');
  assert.equal(profiles[0]!.hardware, 'H200');
  // without --hardware a CPU's name matches no catalog accelerator: a clear bad-input error
  const bare = runCli(['calibrate', '--table', q.file]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /pass --hardware KEY/);
});

test('--max-seconds cuts a run short but still writes a valid table, listing what it skipped', (t) => {
  if (SKIP !== null) return t.skip(SKIP);
  const file = join(dir, 'cut.json');
  const run = profile(file, [
    '--quick',
    '--sections',
    'gemm_bf16',
    '--sizes',
    '1,4,16',
    '--max-seconds',
    '0.001',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const table = microbenchSchema.parse(run.table);
  assert.ok(table.gemm_bf16.rows.length >= 1, 'the first GEMM is always measured');
  const meta = table.meta as { skipped?: string[] };
  assert.ok(
    (meta.skipped ?? []).some((s) => s.includes('out of time')),
    'skipped shapes are listed',
  );
  assert.equal(table.attention_decode, undefined);
});
