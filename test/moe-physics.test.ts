import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCatalog } from '../src/catalog/load.js';
import { DEFAULT_PROFILE, emptyStep, replicaSpec, ReplicaModel } from '../src/perf/index.js';
import { expectedPaddedRowsPerExpert, groupedGemmTime } from '../src/perf/kernels.js';
import { allToAll, MOE_TILE_M } from '../src/perf/step.js';

const catalog = await loadCatalog();

test('expert-parallel all-to-all bytes by hand: DeepSeek (hidden 7168, top-8) over DEP4 at 2048 tokens', () => {
  // each chip holds 2048/4 = 512 tokens; 8 copies each; 3/4 of them go to another chip
  // copies = 512 · 8 · 3/4 = 3072 hidden vectors of 7168 elements, bf16 both ways
  const a = allToAll(2048, 4, 8, 7168, 2);
  assert.equal(a.dispatchBytes, 3072 * 7168 * 2); // 44,040,192 B
  assert.equal(a.combineBytes, 3072 * 7168 * 2);
  assert.equal(a.bytesPerChip, 88_080_384);
  // one chip (ep = 1) sends nothing
  assert.equal(allToAll(2048, 1, 8, 7168, 2).bytesPerChip, 0);
});

test('DEP replica: MoE layers pay an all-to-all instead of TP all-reduces; dense layers keep theirs', () => {
  const m = catalog.model('deepseek-v3');
  const B200 = catalog.accelerator('B200');
  const r = new ReplicaModel(
    replicaSpec({ model: m, accelerator: B200, stack: 'trtllm', tp: 4, ep: 4, weights: 'fp4', kv: 'fp8' }),
    DEFAULT_PROFILE,
  );
  const s = emptyStep();
  s.decodeSeqs = 2048;
  s.decodeContextTokens = 2048 * 1000;
  const b = r.breakdown(s);
  const a2a = b.components.find((c) => c.name.startsWith('ep all-to-all'));
  assert.ok(a2a !== undefined);
  // B200: 1800 GB/s bidirectional → 900e9 B/s one way; 58 MoE layers, two collectives each:
  // 58 · (2 · latency + 88,080,384 / 900e9) = 58 · (2·lat + 97.87 µs)
  const expected = 58 * (2 * DEFAULT_PROFILE.allReduceLatencyS + 88_080_384 / 900e9);
  assert.ok(Math.abs(a2a.seconds - expected) / expected < 1e-12, `${a2a.seconds} vs ${expected}`);
  assert.equal(a2a.count, 2 * 58);
  const ar = b.components.find((c) => c.name.startsWith('tp all-reduce'));
  assert.equal(ar?.count, 2 * 3, 'only the 3 dense layers all-reduce');
  // without expert parallelism: no all-to-all, all 61 layers all-reduce
  const tpOnly = new ReplicaModel(
    replicaSpec({ model: m, accelerator: B200, stack: 'trtllm', tp: 4, weights: 'fp4', kv: 'fp8' }),
    DEFAULT_PROFILE,
  ).breakdown(s);
  assert.ok(!tpOnly.components.some((c) => c.name.startsWith('ep all-to-all')));
  assert.equal(tpOnly.components.find((c) => c.name.startsWith('tp all-reduce'))?.count, 2 * 61);
});

test('expected padded rows per expert (tile quantization of grouped GEMMs)', () => {
  // λ = 1: an expert gets a handful of tokens (P(X > 64) ≈ 1e-89), one 64-row tile
  assert.ok(Math.abs(expectedPaddedRowsPerExpert(1, 64) - 64) < 1e-9);
  // λ = 64: P(X ≤ 64) = 0.5333 for Poisson(64), so E ≈ 64·0.533 + 128·0.467 + … = 93.88 rows
  assert.ok(Math.abs(expectedPaddedRowsPerExpert(64, 64) - 93.877) < 0.01);
  // large λ: the residue mod 64 is near uniform → λ + 32 (exact sum at λ = 400 gives 434.45)
  assert.equal(expectedPaddedRowsPerExpert(1000, 64), 1000 / (1 - Math.exp(-1000)) + 32);
  assert.ok(Math.abs(expectedPaddedRowsPerExpert(400, 64) - 434.45) < 0.01);
  assert.equal(expectedPaddedRowsPerExpert(0, 64), 0);
  assert.equal(MOE_TILE_M, 64);
});

test('padded rows slow the compute term only; FLOPs and bytes stay the useful ones', () => {
  const rates = { peakFlops: 1e15, attnPeakFlops: 1e15, hbmBytesPerS: 1e20 };
  const kp = { ...DEFAULT_PROFILE.kernel, gemmFloorS: 0, smoothP: 8, gemmMHalf: 0 };
  const plain = groupedGemmTime(32, 8, 4096, 4096, 1, 2, rates, kp);
  const padded = groupedGemmTime(32, 8, 4096, 4096, 1, 2, rates, kp, 64);
  assert.equal(padded.flops, plain.flops);
  assert.equal(padded.bytes, plain.bytes);
  // compute-bound (HBM effectively infinite): twice the rows → twice the time
  assert.ok(Math.abs(padded.seconds / plain.seconds - 2) < 1e-9);
});
