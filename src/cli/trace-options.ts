import { Option, type Command } from 'commander';
import { TRACE_FORMATS, type ReadOptions, type TraceFormat } from '../workload/types.js';
import { InputError } from '../util/errors.js';

/** The options every command that reads a trace accepts. */
export function addTraceOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--format <format>', 'trace format (default: detected from the first line)').choices(
        TRACE_FORMATS,
      ),
    )
    .option(
      '--skip-bad-rows',
      'count malformed rows, show the first five, and go on (default: stop at the first)',
    )
    .option('--sort', 'sort rows by arrival in memory instead of rejecting an out-of-order row')
    .option('--seed <n>', 'seed for deterministic choices (bucket spreading, session placement)', '0')
    .option('--model <name>', 'keep only rows of this model (BurstGPT, agent traces)')
    .option('--kind <kind>', 'keep only rows of this kind (BurstGPT log type, e.g. "Conversation log")')
    .option(
      '--session-interarrival <s>',
      'agent traces without a global clock: mean seconds between session starts',
    );
}

export interface RawTraceOptions {
  format?: string;
  skipBadRows?: boolean;
  sort?: boolean;
  seed?: string;
  model?: string;
  kind?: string;
  sessionInterarrival?: string;
}

function parseNumber(flag: string, value: string, integer: boolean): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < 0)
    throw new InputError(
      `${flag}: expected a ${integer ? 'non-negative integer' : 'number ≥ 0'}, found ${JSON.stringify(value)}`,
    );
  return x;
}

export function toReadOptions(raw: RawTraceOptions): ReadOptions {
  const opts: ReadOptions = {};
  if (raw.format !== undefined) opts.format = raw.format as TraceFormat;
  if (raw.skipBadRows === true) opts.skipBadRows = true;
  if (raw.sort === true) opts.sort = true;
  if (raw.seed !== undefined) opts.seed = parseNumber('--seed', raw.seed, true);
  if (raw.model !== undefined) opts.model = raw.model;
  if (raw.kind !== undefined) opts.kind = raw.kind;
  if (raw.sessionInterarrival !== undefined)
    opts.sessionInterarrivalS = parseNumber('--session-interarrival', raw.sessionInterarrival, false);
  return opts;
}

/** Print what the reader wants the user to know (warnings, skipped rows) on stderr. */
export function printReadNotes(source: {
  warnings: string[];
  badRows: number;
  firstBadRows: string[];
}): void {
  for (const w of source.warnings) process.stderr.write(`warning: ${w}\n`);
  if (source.badRows > 0) {
    process.stderr.write(
      `warning: skipped ${source.badRows} bad row(s); the first ${source.firstBadRows.length}:\n`,
    );
    for (const b of source.firstBadRows) process.stderr.write(`  ${b}\n`);
  }
}
