import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../util/errors.js';
import { LENGTH_DISTS, parseSynthSpec, SYNTH_PRESETS, synthesize } from '../../workload/synth/index.js';
import type { PathLabeler, SynthSpec } from '../../workload/synth/index.js';
import { TRACE_FORMATS } from '../../workload/types.js';
import type { WriteSummary } from '../../workload/write.js';
import { genericFormatForPath, writeGenericTrace, writeGenericTraceFile } from '../../workload/write.js';

interface SynthFlags {
  preset?: string;
  spec?: string;
  rate?: string;
  duration?: string;
  requests?: string;
  seed?: string;
  arrivals?: string;
  cv?: string;
  peakToTrough?: string;
  peakHour?: string;
  hourly?: string;
  startHour?: string;
  trace?: string;
  traceFormat?: string;
  scale?: string;
  promptDist?: string;
  outputDist?: string;
  out?: string;
}

type Obj = Record<string, unknown>;

/** Spec paths set by flags: the flag's name and the raw text, for error messages. */
type FlagOrigins = Map<string, { name: string; raw: string }>;

/** Flags named after each spec path they can set (used for errors about missing values too). */
const FLAG_FOR_PATH: Record<string, string> = {
  preset: '--preset',
  rate: '--rate',
  duration_s: '--duration',
  requests: '--requests',
  seed: '--seed',
  'arrivals.kind': '--arrivals',
  'arrivals.cv': '--cv',
  'arrivals.peak_to_trough': '--peak-to-trough',
  'arrivals.peak_hour': '--peak-hour',
  'arrivals.hourly': '--hourly',
  'arrivals.start_hour': '--start-hour',
  'arrivals.trace': '--trace',
  'arrivals.format': '--trace-format',
  'arrivals.scale': '--scale',
  'prompt.trace': '--trace',
  'output.trace': '--trace',
  prompt: '--prompt-dist',
  output: '--output-dist',
};

/** A number when the text is one, else the text itself (so validation can say what was found). */
function num(raw: string): number | string {
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

function child(o: Obj, key: string): Obj {
  const v = o[key];
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Obj;
  const c: Obj = {};
  o[key] = c;
  return c;
}

const POSITIONAL: Record<string, string[]> = {
  fixed: ['value'],
  uniform: ['min', 'max'],
  lognormal: ['mean', 'median'],
};

/**
 * `fixed:N`, `uniform:MIN,MAX`, `lognormal:mean=M,median=P,min=A,max=B` (positional: mean, median),
 * `empirical` or `empirical:PATH`.
 */
export function parseDistFlag(flag: string, raw: string, at: string, origins: FlagOrigins): Obj {
  const colon = raw.indexOf(':');
  const dist = (colon < 0 ? raw : raw.slice(0, colon)).trim();
  const rest = colon < 0 ? '' : raw.slice(colon + 1);
  const d: Obj = { dist };
  origins.set(at, { name: flag, raw });
  if (!(LENGTH_DISTS as readonly string[]).includes(dist)) return d;
  if (dist === 'empirical') {
    if (rest !== '') {
      d.trace = rest;
      origins.set(`${at}.trace`, { name: flag, raw });
    }
    return d;
  }
  const positional = POSITIONAL[dist] ?? [];
  let i = 0;
  for (const part of rest === '' ? [] : rest.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? positional[i++] : part.slice(0, eq).trim();
    const value = eq < 0 ? part : part.slice(eq + 1);
    if (key === undefined) {
      throw new InputError(
        `synth: ${flag}: expected ${dist}:${positional.join(',')} or key=value pairs, found "${raw}"`,
      );
    }
    d[key] = num(value);
    origins.set(`${at}.${key}`, { name: `${flag} ${key}`, raw: value });
  }
  return d;
}

/** The spec input (snake_case) from the spec file and the flags (flags win), with their origins. */
export function flagsToSpecInput(
  flags: SynthFlags,
  fileSpec: Obj = {},
): { input: Obj; origins: FlagOrigins } {
  const input: Obj = structuredClone(fileSpec);
  const origins: FlagOrigins = new Map();
  const set = (
    path: string,
    raw: string | undefined,
    value: unknown = raw === undefined ? undefined : num(raw),
  ): void => {
    if (raw === undefined) return;
    const keys = path.split('.');
    const last = keys.pop() ?? path;
    let o = input;
    for (const k of keys) o = child(o, k);
    o[last] = value;
    origins.set(path, { name: FLAG_FOR_PATH[path] ?? path, raw });
  };
  set('preset', flags.preset, flags.preset);
  set('rate', flags.rate);
  set('duration_s', flags.duration);
  set('requests', flags.requests);
  set('seed', flags.seed);
  if (flags.arrivals !== undefined) {
    // A different kind replaces the file's arrivals object.
    const a = child(input, 'arrivals');
    if (a.kind !== flags.arrivals) input.arrivals = {};
    set('arrivals.kind', flags.arrivals, flags.arrivals);
  }
  set('arrivals.cv', flags.cv);
  set('arrivals.peak_to_trough', flags.peakToTrough);
  set('arrivals.peak_hour', flags.peakHour);
  set('arrivals.start_hour', flags.startHour);
  if (flags.hourly !== undefined) set('arrivals.hourly', flags.hourly, flags.hourly.split(',').map(num));
  set('arrivals.scale', flags.scale);
  if (flags.promptDist !== undefined)
    input.prompt = parseDistFlag('--prompt-dist', flags.promptDist, 'prompt', origins);
  if (flags.outputDist !== undefined)
    input.output = parseDistFlag('--output-dist', flags.outputDist, 'output', origins);
  // `--prompt-dist empirical` alone resamples (prompt, output) pairs jointly.
  const prompt = input.prompt as Obj | undefined;
  if (flags.promptDist !== undefined && flags.outputDist === undefined && prompt?.dist === 'empirical') {
    input.output = { ...prompt };
    const o = origins.get('prompt.trace');
    if (o) origins.set('output.trace', o);
  }
  if (flags.trace !== undefined || flags.traceFormat !== undefined) {
    const users: string[] = [];
    const arrivals = input.arrivals as Obj | undefined;
    if (arrivals?.kind === 'replay') users.push('arrivals');
    for (const k of ['prompt', 'output'])
      if ((input[k] as Obj | undefined)?.dist === 'empirical') users.push(k);
    if (users.length === 0) {
      throw new InputError(
        `synth: ${flags.trace !== undefined ? '--trace' : '--trace-format'}: only used with --arrivals replay or --prompt-dist/--output-dist empirical`,
      );
    }
    for (const u of users) {
      const o = child(input, u);
      // An `empirical:PATH` dist keeps its own path; otherwise --trace wins over the spec file.
      if (flags.trace !== undefined && !origins.has(`${u}.trace`)) {
        o.trace = flags.trace;
        origins.set(`${u}.trace`, { name: '--trace', raw: flags.trace });
      }
      if (flags.traceFormat !== undefined) {
        o.format = flags.traceFormat;
        origins.set(`${u}.format`, { name: '--trace-format', raw: flags.traceFormat });
      }
    }
  }
  return { input, origins };
}

/** Name errors after the flag (and its raw text) or the spec file path that gave the value. */
export function labeler(origins: FlagOrigins, fileSpec: Obj, specFile: string | undefined): PathLabeler {
  const inFile = (path: string): boolean => {
    let o: unknown = fileSpec;
    for (const k of path.split('.')) {
      if (typeof o !== 'object' || o === null) return false;
      o = (o as Obj)[k];
    }
    return o !== undefined;
  };
  return (path) => {
    const exact = origins.get(path);
    if (exact) return { name: exact.name, found: JSON.stringify(exact.raw) };
    // A value nobody gave (missing) is named after the flag that gives it.
    const flagForMissing = FLAG_FOR_PATH[path];
    if (flagForMissing && !inFile(path) && path.includes('.')) return { name: flagForMissing };
    for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
      const o = origins.get(p);
      if (o) return { name: o.name, found: JSON.stringify(o.raw) };
      if (specFile !== undefined && inFile(p)) return { name: `${specFile}: ${path}` };
    }
    const flag = FLAG_FOR_PATH[path];
    return flag ? { name: flag } : undefined;
  };
}

async function readSpecFile(file: string): Promise<Obj> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(
      `synth: --spec: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let doc: unknown;
  try {
    doc = file.toLowerCase().endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InputError(
      `synth: ${file}: not valid JSON/YAML: ${(err as Error).message.split('\n')[0] ?? ''}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InputError(`synth: ${file}: expected a mapping of synth fields (preset, rate, duration_s, …)`);
  }
  return doc as Obj;
}

/** Build and validate the spec from flags (and --spec). */
export async function specFromFlags(flags: SynthFlags): Promise<SynthSpec> {
  const fileSpec = flags.spec !== undefined ? await readSpecFile(flags.spec) : {};
  const { input, origins } = flagsToSpecInput(flags, fileSpec);
  return parseSynthSpec(input, { label: labeler(origins, fileSpec, flags.spec) });
}

function summaryLine(s: WriteSummary, dest: string): string {
  const span =
    s.firstArrivalS === undefined || s.lastArrivalS === undefined ? 0 : s.lastArrivalS - s.firstArrivalS;
  const sessions = s.sessions > 0 ? `, ${s.sessions} sessions` : '';
  return `synth: ${s.requests} requests${sessions}, ${span.toFixed(1)} s of arrivals, mean prompt ${(
    s.promptTokens / Math.max(1, s.requests)
  ).toFixed(0)} / output ${(s.outputTokens / Math.max(1, s.requests)).toFixed(0)} tokens → ${dest}\n`;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('Generate a synthetic workload trace in the generic format (JSONL; CSV for a .csv path)')
    .option('--preset <name>', `workload preset: ${SYNTH_PRESETS.join(', ')} (default chat)`)
    .option('--spec <file>', "JSON/YAML synth spec (the scenario's workload.synth block); flags override it")
    .option('--rate <req/s>', 'mean requests per second (sessions: requests, not sessions)')
    .option('--duration <s>', 'seconds over which requests (sessions: session starts) arrive')
    .option('--requests <n>', 'stop after N requests (batch: how many)')
    .option('--seed <n>', 'random seed, integer (default 1)')
    .option('--arrivals <kind>', 'poisson | gamma | diurnal | replay | batch')
    .option('--cv <x>', 'gamma: inter-arrival coefficient of variation (1 = Poisson)')
    .option('--peak-to-trough <x>', 'diurnal: peak/trough rate ratio (default 3)')
    .option('--peak-hour <h>', 'diurnal: hour of the peak, 0–24 (default 14)')
    .option('--hourly <list>', 'diurnal: 24 comma-separated relative hourly rates instead of a sinusoid')
    .option('--start-hour <h>', 'diurnal: clock hour at t = 0 (default 0)')
    .option('--trace <file>', 'trace to replay (--arrivals replay) or to resample lengths from (empirical)')
    .option('--trace-format <fmt>', `format of --trace: ${TRACE_FORMATS.join(', ')} (default: detected)`)
    .option('--scale <x>', 'replay: divide arrival times by this (2 = twice the rate)')
    .option(
      '--prompt-dist <spec>',
      'fixed:N | uniform:MIN,MAX | lognormal:mean=M,median=P[,min=A,max=B] | empirical[:TRACE]',
    )
    .option('--output-dist <spec>', 'as --prompt-dist (empirical prompt alone resamples prompt/output pairs)')
    .option('--out <file>', 'output file (.csv → CSV, else JSONL); - or none for stdout')
    .action(async (flags: SynthFlags) => {
      const spec = await specFromFlags(flags);
      const batches = synthesize(spec);
      const out = flags.out;
      let summary: WriteSummary;
      if (out === undefined || out === '-') {
        // A closed pipe (`| head`) ends the output quietly, as for any Unix filter.
        const epipe = (err: NodeJS.ErrnoException): void => {
          if (err.code !== 'EPIPE') throw err;
        };
        process.stdout.on('error', epipe);
        try {
          summary = await writeGenericTrace(batches, process.stdout, 'jsonl');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
          throw err;
        }
      } else {
        summary = await writeGenericTraceFile(batches, out, genericFormatForPath(out));
      }
      process.stderr.write(summaryLine(summary, out === undefined || out === '-' ? 'stdout' : out));
    });
}
