/**
 * The measured microbenchmark table (the format of tools/profile-accelerator.py and of the real
 * H200 table in calibration/): GEMM times by (m, n, k), decode attention by batch and context,
 * prefill attention by length, copy bandwidth. Validated at the edge like every user input.
 */
import { z } from 'zod';

const pos = z.number().positive();
const posInt = z.number().int().positive();

const gemmRow = z.object({
  model: z.string().optional(),
  layer: z.string().optional(),
  m: posInt,
  n: posInt,
  k: posInt,
  seconds: pos,
  tflops: z.number().optional(),
  tb_per_s: z.number().optional(),
});

export const microbenchSchema = z.object({
  meta: z
    .object({ device: z.string(), what: z.string().optional() })
    .loose()
    .describe('where and how the table was measured'),
  copy_bandwidth: z.object({ bytes_each_way: pos, seconds: pos }).loose().optional(),
  gemm_square_bf16: z.object({ n: posInt, seconds: pos }).loose().optional(),
  gemm_bf16: z.object({ rows: z.array(gemmRow).min(1) }).loose(),
  gemm_fp8: z
    .object({ rows: z.array(gemmRow) })
    .loose()
    .optional(),
  attention_decode: z
    .object({
      model_heads: z
        .string()
        .regex(/^\d+q\/\d+kv\/\d+$/, { error: 'expected "<q heads>q/<kv heads>kv/<head dim>"' }),
      rows: z.array(z.object({ batch: posInt, context: posInt, seconds: pos, kv_bytes: pos }).loose()),
    })
    .loose()
    .optional(),
  attention_prefill: z
    .object({
      model_heads: z
        .string()
        .regex(/^\d+q\/\d+kv\/\d+$/, { error: 'expected "<q heads>q/<kv heads>kv/<head dim>"' }),
      rows: z.array(z.object({ batch: posInt, length: posInt, seconds: pos }).loose()),
    })
    .loose()
    .optional(),
});

export type MicrobenchTable = z.output<typeof microbenchSchema>;

/** One measurement as the fitter sees it. */
export interface Measurement {
  kind: 'gemm' | 'attn-decode' | 'attn-prefill' | 'copy';
  /** bf16 or fp8 for GEMMs; bf16 otherwise. */
  dtype: 'bf16' | 'fp8';
  m: number;
  n: number;
  k: number;
  /** Attention: batch, context / length, heads. */
  batch: number;
  context: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  /** Bytes the kernel must move (attention: KV bytes read; copy: read + write). */
  bytes: number;
  seconds: number;
  /** Label for reports: `gemm bf16 llama-3.1-8b/qkv m=256`. */
  label: string;
}

function heads(spec: string): { q: number; kv: number; d: number } {
  const [q, kv, d] = spec.split('/').map((s) => parseInt(s, 10));
  return { q: q!, kv: kv!, d: d! };
}

/** Flatten a table into measurements, in file order within each section. */
export function measurements(t: MicrobenchTable): Measurement[] {
  const out: Measurement[] = [];
  const base = { batch: 0, context: 0, qHeads: 0, kvHeads: 0, headDim: 0, bytes: 0 };
  const gemm = (rows: MicrobenchTable['gemm_bf16']['rows'], dtype: 'bf16' | 'fp8'): void => {
    for (const r of rows)
      out.push({
        ...base,
        kind: 'gemm',
        dtype,
        m: r.m,
        n: r.n,
        k: r.k,
        seconds: r.seconds,
        label: `gemm ${dtype} ${r.model ?? ''}${r.layer ? `/${r.layer}` : ''} ${r.n}x${r.k} m=${r.m}`,
      });
  };
  gemm(t.gemm_bf16.rows, 'bf16');
  if (t.gemm_square_bf16)
    gemm(
      [
        {
          m: t.gemm_square_bf16.n,
          n: t.gemm_square_bf16.n,
          k: t.gemm_square_bf16.n,
          seconds: t.gemm_square_bf16.seconds,
          layer: 'square',
        },
      ],
      'bf16',
    );
  if (t.gemm_fp8) gemm(t.gemm_fp8.rows, 'fp8');
  if (t.attention_decode) {
    const h = heads(t.attention_decode.model_heads);
    for (const r of t.attention_decode.rows)
      out.push({
        ...base,
        kind: 'attn-decode',
        dtype: 'bf16',
        m: r.batch,
        n: 0,
        k: 0,
        batch: r.batch,
        context: r.context,
        qHeads: h.q,
        kvHeads: h.kv,
        headDim: h.d,
        bytes: r.kv_bytes,
        seconds: r.seconds,
        label: `decode attention batch=${r.batch} context=${r.context}`,
      });
  }
  if (t.attention_prefill) {
    const h = heads(t.attention_prefill.model_heads);
    for (const r of t.attention_prefill.rows)
      out.push({
        ...base,
        kind: 'attn-prefill',
        dtype: 'bf16',
        m: r.length,
        n: 0,
        k: 0,
        batch: r.batch,
        context: r.length,
        qHeads: h.q,
        kvHeads: h.kv,
        headDim: h.d,
        bytes: r.batch * r.length * 2 * h.kv * h.d * 2,
        seconds: r.seconds,
        label: `prefill attention batch=${r.batch} length=${r.length}`,
      });
  }
  if (t.copy_bandwidth)
    out.push({
      ...base,
      kind: 'copy',
      dtype: 'bf16',
      m: 0,
      n: 0,
      k: 0,
      bytes: 2 * t.copy_bandwidth.bytes_each_way,
      seconds: t.copy_bandwidth.seconds,
      label: 'device copy',
    });
  return out;
}

/** Deterministic half split: within each kind, alternate rows go to fit and to held-out. */
export function splitHalf(ms: Measurement[]): { fit: Measurement[]; heldOut: Measurement[] } {
  const fit: Measurement[] = [];
  const heldOut: Measurement[] = [];
  const seen = new Map<string, number>();
  for (const m of ms) {
    const key = m.kind === 'gemm' ? `gemm:${m.dtype}:${m.n}x${m.k}` : m.kind;
    const i = seen.get(key) ?? 0;
    seen.set(key, i + 1);
    (i % 2 === 0 ? fit : heldOut).push(m);
  }
  return { fit, heldOut };
}
