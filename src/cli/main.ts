import { Command, CommanderError } from 'commander';
import { InputError } from '../util/errors.js';
import { registerProfile } from './commands/profile.js';
import { registerSynth } from './commands/synth.js';
import { registerCatalog } from './commands/catalog.js';
import { registerCheck } from './commands/check.js';
import { registerDemo } from './commands/demo.js';
import { registerCalibrate, registerPerf } from './commands/perf.js';
import { registerValidate } from './commands/validate.js';
import { registerSimulate } from './commands/simulate.js';
import { registerCompare } from './commands/compare.js';
import { registerQuote } from './commands/quote.js';

/** Build the command tree. Each command is a thin shell: parse, call the library, print. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('pertoken')
    .description(
      'Price an LLM inference workload: cost per 1M accepted output tokens on candidate serving stacks.',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerDemo(program);
  registerProfile(program);
  registerSynth(program);
  registerCatalog(program);
  registerCheck(program);
  registerPerf(program);
  registerCalibrate(program);
  registerValidate(program);
  registerSimulate(program);
  registerCompare(program);
  registerQuote(program);
  return program;
}

/** Run the CLI; resolves to the process exit code (0 ok, 1 internal error, 2 bad input). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors (unknown option, missing argument) are bad input
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof InputError) {
      process.stderr.write(`pertoken: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
