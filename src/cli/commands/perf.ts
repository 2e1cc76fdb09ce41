import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import Table from 'cli-table3';
import { loadCatalog } from '../../catalog/load.js';
import { PRECISIONS, type Precision } from '../../catalog/schema.js';
import {
  buildReplicaPerf,
  calibrateFromMeasurements,
  causalPairs,
  emptyStep,
  loadProfiles,
  BUNDLED_PROFILE_DIR,
  maxSequencesAt,
  measurements,
  microbenchSchema,
  type PerfProfile,
  type StepBreakdown,
} from '../../perf/index.js';
import { addCatalogOption } from '../catalog-option.js';
import { calibratePublished } from './validate.js';
import { InputError } from '../../util/errors.js';
import { emit, toJson } from '../../util/output.js';

function intOption(flag: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!Number.isInteger(x) || x < min)
    throw new InputError(`${flag}: expected an integer ≥ ${min}, found ${JSON.stringify(v)}`);
  return x;
}
function precisionOption(flag: string, v: string | undefined): Precision | undefined {
  if (v === undefined) return undefined;
  if (!(PRECISIONS as readonly string[]).includes(v))
    throw new InputError(`${flag}: expected one of ${PRECISIONS.join(', ')}, found ${JSON.stringify(v)}`);
  return v as Precision;
}

const us = (s: number): string => (s * 1e6).toFixed(1);

function breakdownTable(b: StepBreakdown): string {
  const t = new Table({
    head: ['component', 'count', 'µs', 'share', 'GFLOP', 'MB', 'bound'],
    style: { head: [], border: [], compact: true },
  });
  for (const c of b.components)
    t.push([
      c.name,
      c.count,
      us(c.seconds),
      `${((100 * c.seconds) / b.seconds).toFixed(1)} %`,
      (c.flops / 1e9).toFixed(2),
      (c.bytes / 1e6).toFixed(1),
      c.bound,
    ]);
  t.push(['total', '', us(b.seconds), '100 %', '', '', '']);
  return t.toString();
}

interface PerfOpts {
  model: string;
  hardware: string;
  stack?: string;
  tp?: string;
  pp?: string;
  weights?: string;
  kv?: string;
  batch?: string;
  context?: string;
  prefill?: string;
  maxNumSeqs?: string;
  maxNumBatchedTokens?: string;
  blockSize?: string;
  json?: boolean;
  catalog?: string[];
  profiles?: string[];
}

export function registerPerf(program: Command): void {
  const perf = program
    .command('perf')
    .description('Step time with its breakdown, decode tokens/s and KV capacity of one replica')
    .requiredOption('--model <key>', 'catalog model key')
    .requiredOption(
      '--hardware <key>',
      'catalog accelerator key (e.g. H200) or instance key (e.g. aws/p5.48xlarge)',
    )
    .option('--stack <key>', 'serving stack profile (default: by vendor)')
    .option('--tp <n>', 'tensor-parallel degree', '1')
    .option('--pp <n>', 'pipeline-parallel degree', '1')
    .option('--weights <p>', 'weight precision', 'bf16')
    .option('--kv <p>', 'KV-cache precision', 'bf16')
    .option('--batch <n>', 'decode sequences in the step', '1')
    .option('--context <n>', 'context tokens of each decode sequence', '2048')
    .option('--prefill <n>', 'time a prefill of this many tokens (one chunk, no prior context) instead')
    .option('--max-num-seqs <n>', 'engine limit on sequences per step', '256')
    .option('--max-num-batched-tokens <n>', 'engine limit on tokens per step', '8192')
    .option('--block-size <n>', 'paged KV block size', '16')
    .option('--profiles <dir...>', 'extra performance-profile directories (from `pertoken calibrate`)')
    .option('--json', 'print JSON');
  addCatalogOption(perf).action(async (o: PerfOpts) => {
    const catalog = await loadCatalog({ extraDirs: o.catalog ?? [] });
    const model = catalog.model(o.model);
    const inst = catalog.instances.get(o.hardware);
    const accelerator = inst ? catalog.accelerator(inst.acceleratorKey) : catalog.accelerator(o.hardware);
    const stack =
      o.stack ??
      (accelerator.category === 'tpu'
        ? 'jax-xla'
        : accelerator.category === 'gpu'
          ? accelerator.vendor === 'AMD'
            ? 'rocm-vllm'
            : 'vllm'
          : 'neuron');
    catalog.stack(stack);
    const profiles = await loadProfiles([BUNDLED_PROFILE_DIR, ...(o.profiles ?? [])]);
    const maxNumSeqs = intOption('--max-num-seqs', o.maxNumSeqs, 256);
    const maxNumBatchedTokens = intOption('--max-num-batched-tokens', o.maxNumBatchedTokens, 8192);
    const { replica, choice } = buildReplicaPerf(
      {
        model,
        accelerator,
        stack,
        tp: intOption('--tp', o.tp, 1),
        pp: intOption('--pp', o.pp, 1),
        weights: precisionOption('--weights', o.weights) ?? 'bf16',
        kv: precisionOption('--kv', o.kv) ?? 'bf16',
        blockSize: intOption('--block-size', o.blockSize, 16),
        maxNumSeqs,
        maxNumBatchedTokens,
      },
      profiles,
    );
    const batch = intOption('--batch', o.batch, 1);
    const context = intOption('--context', o.context, 2048);
    const step = emptyStep();
    if (o.prefill !== undefined) {
      const L = intOption('--prefill', o.prefill, 1);
      step.prefillSeqs = 1;
      step.prefillTokens = L;
      step.prefillAttnPairs = causalPairs(L, 0);
    } else {
      step.decodeSeqs = batch;
      step.decodeContextTokens = batch * context;
    }
    const b = replica.breakdown(step);
    const plan = replica.plan;
    // best decode throughput: the largest batch that fits at this context (within max_num_seqs)
    const fit = Math.min(maxNumSeqs, maxSequencesAt(plan, context));
    const best = emptyStep();
    best.decodeSeqs = fit;
    best.decodeContextTokens = fit * context;
    const bestS = fit > 0 ? replica.stepTimeS(best) : NaN;
    const result = {
      replica: replica.label,
      profile: {
        kernels: choice.kernelSource,
        overheads: choice.overheadSource,
        evidence: choice.profile.evidence,
        description: choice.description,
      },
      step: o.prefill !== undefined ? { prefillTokens: step.prefillTokens } : { batch, context },
      stepS: b.seconds,
      breakdown: b.components,
      decodeTokensPerS: o.prefill === undefined ? batch / b.seconds : null,
      prefillTokensPerS: o.prefill !== undefined ? step.prefillTokens / b.seconds : null,
      memory: plan,
      bestDecode: {
        batch: fit,
        context,
        stepS: bestS,
        tokensPerS: fit / bestS,
        tokensPerSPerChip: fit / bestS / plan.chips,
      },
    };
    if (o.json === true) return emit(toJson(result));
    const lines = [
      result.replica,
      `profile: ${choice.description} [evidence: ${choice.profile.evidence}]`,
      '',
      o.prefill !== undefined
        ? `prefill of ${step.prefillTokens} tokens`
        : `decode step: batch ${batch}, context ${context}`,
      breakdownTable(b),
      o.prefill !== undefined
        ? `prefill throughput: ${result.prefillTokensPerS!.toFixed(0)} tokens/s`
        : `decode: ${(b.seconds * 1e3).toFixed(3)} ms/step, ${result.decodeTokensPerS!.toFixed(1)} tokens/s`,
      '',
      `memory per chip: ${(plan.weightBytesPerChip / 1e9).toFixed(1)} GB weights, ${((plan.activationBytesPerChip + plan.workspaceBytesPerChip) / 1e9).toFixed(1)} GB activations+workspace, ${(plan.kvBytesPerChip / 1e9).toFixed(1)} GB KV of ${(plan.usableBytesPerChip / 1e9).toFixed(1)} GB usable`,
      `KV cache: ${plan.kvBytesPerToken.toLocaleString('en-US')} B/token, ${plan.kvCapacityTokens.toLocaleString('en-US')} tokens = ${plan.kvCapacityBlocks.toLocaleString('en-US')} blocks of ${plan.blockSize}`,
      `best decode at context ${context}: batch ${fit} → ${(bestS * 1e3).toFixed(2)} ms/step, ${result.bestDecode.tokensPerS.toFixed(0)} tokens/s (${result.bestDecode.tokensPerSPerChip.toFixed(0)} per chip)`,
      ...plan.notes.map((n) => `note: ${n}`),
    ];
    return emit(lines.join('\n'));
  });
}

export function registerCalibrate(program: Command): void {
  const cmd = program
    .command('calibrate')
    .description(
      'Fit a performance profile to a measured microbenchmark table, or a stack profile to published results (held-out error reported)',
    )
    .option('--table <file>', 'microbenchmark table (format of tools/profile-accelerator.py)')
    .option(
      '--published <file>',
      'published results (calibration/published-results.json format): fit --stack, optionally on --hardware only',
    )
    .option('--profiles <dir...>', 'extra profile directories the fit builds on (--published)')
    .option(
      '--hardware <key>',
      'catalog accelerator the table was measured on (default: from the table meta); with --published, fit that accelerator only',
    )
    .option('--stack <key>', 'stack the profile is for (measured tables are stack-neutral kernels)')
    .option('--out <file>', 'write the profile here')
    .option('--json', 'print the fit report as JSON');
  addCatalogOption(cmd).action(
    async (o: {
      table?: string;
      published?: string;
      profiles?: string[];
      hardware?: string;
      stack?: string;
      out?: string;
      json?: boolean;
      catalog?: string[];
    }) => {
      if (o.published !== undefined) {
        if (o.table !== undefined) throw new InputError('calibrate: give --table or --published, not both');
        return calibratePublished({ ...o, published: o.published });
      }
      if (o.table === undefined)
        throw new InputError(
          'calibrate: give --table <file> (a measured microbenchmark table) or --published <file> --stack <key>',
        );
      const catalog = await loadCatalog({ extraDirs: o.catalog ?? [] });
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(o.table, 'utf8'));
      } catch (err) {
        throw new InputError(`${o.table}: cannot read as JSON (${(err as Error).message})`);
      }
      const parsed = microbenchSchema.safeParse(raw);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new InputError(`${o.table}: ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
      }
      const table = parsed.data;
      const hwKey = o.hardware ?? guessHardware(table.meta.device, [...catalog.accelerators.keys()]);
      const acc = catalog.accelerator(hwKey);
      const cal = calibrateFromMeasurements(measurements(table), acc);
      const profile: PerfProfile = {
        key: `${acc.key}.measured`,
        source: 'measured',
        evidence: 'measured',
        hardware: acc.key,
        stack: o.stack ?? null,
        note: `${table.meta.device}, ${o.table}`,
        kernel: cal.params,
        corrections: cal.corrections,
        stepOverheadS: 1e-3,
        seqOverheadS: 0,
        allReduceLatencyS: 1e-5,
        computeEffScale: 1,
        memEffScale: 1,
        fit: {
          n: cal.heldOut.n + cal.train.n,
          heldOutN: cal.heldOut.n,
          heldOutMedianAbsErrorPct: cal.heldOut.medianAbsErrorPct,
          trainMedianAbsErrorPct: cal.train.medianAbsErrorPct,
        },
      };
      if (o.out !== undefined) await emit(toJson(profile), o.out);
      const report = {
        hardware: acc.key,
        heldOut: cal.heldOut,
        heldOutModelOnly: cal.heldOutModelOnly,
        train: cal.train,
        params: cal.params,
      };
      if (o.json === true) return emit(toJson(report));
      const kinds = Object.entries(cal.heldOut.byKind)
        .map(([k, v]) => `${k} ${v.medianAbsErrorPct.toFixed(1)} % (n=${v.n})`)
        .join(', ');
      await emit(
        [
          `calibrated ${acc.name} from ${o.table}: fit on ${cal.train.n} rows, scored on ${cal.heldOut.n} held-out rows`,
          `held-out median |error|: ${cal.heldOut.medianAbsErrorPct.toFixed(1)} % (${kinds})`,
          `  fitted curves alone (no measured-point corrections): ${cal.heldOutModelOnly.medianAbsErrorPct.toFixed(1)} %`,
          `  fit rows, curves alone: ${cal.train.medianAbsErrorPct.toFixed(1)} %`,
          `parameters (all rows): GEMM floor ${(cal.params.gemmFloorS * 1e6).toFixed(1)} µs, compute eff ${(100 * cal.params.gemmComputeEff).toFixed(0)} %, memory eff ${(100 * cal.params.memEff).toFixed(0)} %, decode-attention memory eff ${(100 * cal.params.attnDecodeMemEff).toFixed(0)} %, prefill-attention compute eff ${(100 * cal.params.attnPrefillComputeEff).toFixed(0)} %`,
        ].join('\n'),
      );
    },
  );
}

/** Match a device name like "NVIDIA H200" to an accelerator key. */
function guessHardware(device: string, keys: string[]): string {
  const d = device.toUpperCase().replace(/[^A-Z0-9]/g, '');
  const hits = keys.filter((k) =>
    d.includes(
      k
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, '')
        .replace('SXM', ''),
    ),
  );
  if (hits.length === 0)
    throw new InputError(`calibrate: cannot tell which accelerator "${device}" is; pass --hardware KEY`);
  return hits.sort((a, b) => b.length - a.length)[0]!;
}
