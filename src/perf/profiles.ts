/**
 * The shipped performance profiles (calibration/profiles/*.json, written by `pertoken calibrate`)
 * and the choice of one for a candidate: (a) a measured table of that hardware, (b) the stack's
 * fit to published results, (c) the generic default. Overheads (step, all-reduce) come from the
 * stack's published fit when there is one, whatever the kernel source.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Accelerator, Model, Precision } from '../catalog/schema.js';
import { InputError } from '../util/errors.js';
import { DEFAULT_PROFILE, perfProfileSchema, type PerfProfile } from './profile.js';
import { ReplicaModel } from './step.js';
import type { ReplicaSpec } from './memory.js';

export const BUNDLED_PROFILE_DIR = fileURLToPath(new URL('../../calibration/profiles/', import.meta.url));

/** Read and validate every profile file in the given directories (bundled first). */
export async function loadProfiles(dirs: string[] = [BUNDLED_PROFILE_DIR]): Promise<PerfProfile[]> {
  const out: PerfProfile[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    } catch {
      if (dir === BUNDLED_PROFILE_DIR) continue;
      throw new InputError(`${dir}: cannot read the profile directory`);
    }
    for (const name of names) {
      const file = join(dir, name);
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new InputError(`${file}: not valid JSON (${(err as Error).message})`);
      }
      const parsed = perfProfileSchema.safeParse(raw);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new InputError(`${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
      }
      out.push(parsed.data);
    }
  }
  return out;
}

export interface ProfileChoice {
  profile: PerfProfile;
  /** Where the kernel numbers and the overheads came from, for every output. */
  kernelSource: PerfProfile['source'];
  overheadSource: PerfProfile['source'];
  description: string;
}

/** Choose the profile for a hardware + stack: measured > published fit > default (later files win). */
export function chooseProfile(
  profiles: PerfProfile[],
  acceleratorKey: string,
  stackKey: string | null,
): ProfileChoice {
  const measured = profiles.filter((p) => p.source === 'measured' && p.hardware === acceleratorKey).at(-1);
  const published =
    profiles
      .filter((p) => p.source === 'published' && p.stack === stackKey && p.hardware === acceleratorKey)
      .at(-1) ??
    profiles.filter((p) => p.source === 'published' && p.stack === stackKey && p.hardware === null).at(-1);
  const overheads = published ?? DEFAULT_PROFILE;
  if (measured !== undefined) {
    return {
      profile: {
        ...measured,
        stepOverheadS: overheads.stepOverheadS,
        seqOverheadS: overheads.seqOverheadS,
        allReduceLatencyS: overheads.allReduceLatencyS,
        // a stack's fitted efficiency relative to the kernel model (1 for the default) applies on
        // top of measured kernels too: the published fits use the H200 kernel fit as their base
        computeEffScale: overheads.computeEffScale,
        memEffScale: overheads.memEffScale,
      },
      kernelSource: 'measured',
      overheadSource: overheads.source,
      description: `kernels: measured (${measured.note}); overheads: ${overheads.source === 'published' ? `${overheads.key} fit to published results` : 'default (estimated)'}`,
    };
  }
  if (published !== undefined)
    return {
      profile: published,
      kernelSource: 'published',
      overheadSource: 'published',
      description: `${published.key}: ${published.note}`,
    };
  return {
    profile: DEFAULT_PROFILE,
    kernelSource: 'default',
    overheadSource: 'default',
    description: DEFAULT_PROFILE.note,
  };
}

export interface ReplicaInput {
  model: Model;
  accelerator: Accelerator;
  stack: string | null;
  tp?: number;
  pp?: number;
  ep?: number;
  weights?: Precision;
  kv?: Precision;
  blockSize?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  memoryUtilization?: number;
}

/** vLLM's defaults for what the scenario leaves out (block 16, 256 sequences, 8192 tokens, 0.9 HBM). */
export function replicaSpec(i: ReplicaInput): ReplicaSpec {
  return {
    model: i.model,
    accelerator: i.accelerator,
    tp: i.tp ?? 1,
    pp: i.pp ?? 1,
    ep: i.ep ?? 1,
    weights: i.weights ?? 'bf16',
    kv: i.kv ?? 'bf16',
    blockSize: i.blockSize ?? 16,
    maxNumSeqs: i.maxNumSeqs ?? 256,
    maxNumBatchedTokens: i.maxNumBatchedTokens ?? 8192,
    memoryUtilization: i.memoryUtilization ?? 0.9,
  };
}

/** A replica's performance model with the best available profile. */
export function buildReplicaPerf(
  input: ReplicaInput,
  profiles: PerfProfile[],
): { replica: ReplicaModel; choice: ProfileChoice } {
  const choice = chooseProfile(profiles, input.accelerator.key, input.stack);
  return { replica: new ReplicaModel(replicaSpec(input), choice.profile), choice };
}
