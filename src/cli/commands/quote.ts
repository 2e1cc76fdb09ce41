import type { Command } from 'commander';
import { InputError } from '../../util/errors.js';
import { addCatalogOption } from '../catalog-option.js';
import { runCompare, type CompareFlags } from './compare.js';

/** Raw flags of `pertoken quote`. */
export interface QuoteFlags extends Omit<CompareFlags, 'quote' | 'replicas'> {
  scenario?: string;
}

/**
 * `pertoken quote <quote...> --scenario S`: cost vendor offers on the scenario's trace, SLO and
 * window, in the same formats as `compare` (the scenario's own candidates are not run).
 */
export function registerQuote(program: Command): void {
  const cmd = program
    .command('quote')
    .description(
      "Cost vendor quotes (per-token, committed capacity, managed endpoint) on a scenario's trace, SLO and window",
    )
    .argument('<quote...>', 'quote files (YAML or JSON; examples in quotes/)')
    .option('--scenario <file>', 'the scenario whose trace, SLO, model and window the quotes are costed on')
    .option('--json', 'print the result as one JSON object')
    .option('--markdown', 'print the result as Markdown')
    .option('--csv', 'print one CSV row per quote')
    .option('--out <file>', 'also write a self-contained HTML report')
    .option('--workers <n>', 'worker threads for simulated (committed-capacity) quotes; 1 = sequential')
    .option('--quiet', 'no progress lines or warnings on stderr');
  addCatalogOption(cmd).action(async (quotes: string[], flags: QuoteFlags) => {
    if (flags.scenario === undefined)
      throw new InputError(
        'quote: expected --scenario FILE (the trace, SLO, model and window to cost the quotes on)',
      );
    const { scenario, ...rest } = flags;
    await runCompare(
      scenario,
      { ...rest, quote: quotes },
      { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) },
      { quotesOnly: true },
    );
  });
}
